// Berth against dockerd, route by route, success and failure (see differential.ts for what is
// compared and how to add a scenario). Every route Berth serves from Docker's API is here; the
// /berth/* routes are Berth's own and have no peer. Requests that would leave this host (pulls,
// pushes, logins to a real registry) go to a closed loopback port instead.
import { after, before, describe, test } from 'node:test';
import { ACCEPTED } from './differential-accepted.js';
import { api, assertNoDifferences, cli, prepare, raw, runScenario, unaccepted, type Scenario, type Side } from './differential.js';
import { busyboxTar, makeTar, startDaemon, stopAndCheckClean, type TestDaemon } from './harness.js';
import { startDockerd, which, type Dockerd } from './peers.js';

let berthd: TestDaemon;
let dockerd: Dockerd | undefined;
let skip: string | undefined;
let berth: Side;
let peer: Side;

before(async () => {
  berthd = await startDaemon();
  berth = { name: 'berth', sock: berthd.sock, docker: (args, opts) => berthd.docker(args, opts) };
  if (process.getuid?.() !== 0 || !which('dockerd')) {
    skip = 'dockerd is not installed (Debian package docker.io) or not root: no peer to compare with';
    return;
  }
  try {
    dockerd = await startDockerd({ busybox: true });
  } catch (e) {
    skip = `dockerd could not start here, nothing to compare with: ${(e as Error).message.split('\n')[0]}`;
    return;
  }
  const d = dockerd;
  peer = { name: 'dockerd', sock: d.sock, docker: (args, opts) => d.docker(args, opts) };
});
after(async () => {
  await dockerd?.stop();
  await stopAndCheckClean(berthd);
});

/** Removes the containers a scenario left, on both daemons (by id). */
async function removeContainers(): Promise<void> {
  for (const side of [berth, peer]) {
    const ids = (await side.docker(['ps', '-aq', '--no-trunc'])).stdout.split('\n').filter(Boolean);
    if (ids.length) await side.docker(['rm', '-f', ...ids]);
  }
}

function scenario(name: string, steps: Scenario['steps']): void {
  test(name, async (t) => {
    if (skip) return t.skip(skip);
    try {
      assertNoDifferences(unaccepted(await runScenario({ name, steps }, berth, peer), ACCEPTED));
    } finally {
      await removeContainers();
    }
  });
}

const running = (save = 'ctr', name?: string) => [
  api('create', 'POST', `/containers/create${name ? `?name=${name}` : ''}`, { Image: 'busybox', Cmd: ['sleep', '600'] }, { save: { [save]: 'Id' } }),
  api('start', 'POST', `/containers/{{${save}}}/start`),
];
const ghost = '/containers/no-such-container';

describe('system', () => {
  scenario('ping, version, info, df', [
    api('ping', 'GET', '/_ping', undefined, { read: 'raw' }),
    api('head ping', 'HEAD', '/_ping'),
    api('version', 'GET', '/version'),
    api('info', 'GET', '/info'),
    api('df', 'GET', '/system/df'),
    api('events until now', 'GET', `/events?since=0&until=1`, undefined, { read: 'json-lines' }),
  ]);
  scenario('api versions, unknown routes, wrong methods', [
    api('too old', 'GET', '/v1.11/version'),
    api('too new', 'GET', '/v9.99/version'),
    api('unknown route', 'GET', '/no/such/route'),
    api('wrong method', 'PUT', '/containers/json'),
    api('events bad since', 'GET', '/events?since=abc'),
    api('events bad filters', 'GET', '/events?filters=notjson'),
  ]);
  scenario('malformed HTTP', [
    raw('garbage request line', 'HELLO\r\n\r\n'),
    raw('bad header', 'GET /_ping HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n'),
    raw('bad content-length', 'POST /containers/create HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n{}'),
  ]);
  scenario('docker CLI: version and info exit codes', [cli('info format', ['info', '--format', '{{.OSType}}']), cli('bad format', ['info', '--format', '{{.Nope}}'])]);
});

describe('containers: create, list, inspect', () => {
  scenario('create', [
    api('ok', 'POST', '/containers/create?name=web', { Image: 'busybox', Cmd: ['true'] }, { save: { ctr: 'Id' } }),
    api('name taken', 'POST', '/containers/create?name=web', { Image: 'busybox', Cmd: ['true'] }),
    api('bad name', 'POST', '/containers/create?name=a%20b', { Image: 'busybox', Cmd: ['true'] }),
    api('no such image', 'POST', '/containers/create', { Image: 'no-such-image:1' }),
    api('empty body', 'POST', '/containers/create', ''),
    api('malformed JSON', 'POST', '/containers/create', '{"Image":'),
    api('Cmd wrongly typed', 'POST', '/containers/create', { Image: 'busybox', Cmd: 7 }),
    api('Env wrongly typed', 'POST', '/containers/create', { Image: 'busybox', Env: 'A=1' }),
    api('no image', 'POST', '/containers/create', { Cmd: ['true'] }),
    api('bad restart policy', 'POST', '/containers/create', { Image: 'busybox', HostConfig: { RestartPolicy: { Name: 'sometimes' } } }),
  ]);
  scenario('list and inspect', [
    ...running(),
    api('create exited', 'POST', '/containers/create?name=done', { Image: 'busybox', Cmd: ['true'] }),
    api('list', 'GET', '/containers/json'),
    api('list all, sizes', 'GET', '/containers/json?all=1&size=1'),
    api('list filter', 'GET', `/containers/json?all=1&filters=${encodeURIComponent('{"status":["created"]}')}`),
    api('list bad filters', 'GET', '/containers/json?filters=notjson'),
    api('list unknown filter', 'GET', `/containers/json?filters=${encodeURIComponent('{"nope":["x"]}')}`),
    api('list bad limit', 'GET', '/containers/json?limit=abc'),
    api('inspect', 'GET', '/containers/{{ctr}}/json'),
    api('inspect size', 'GET', '/containers/{{ctr}}/json?size=1'),
    api('inspect by name', 'GET', '/containers/done/json'),
    api('inspect missing', 'GET', `${ghost}/json`),
  ]);
  scenario('ambiguous id prefix', [
    ...Array.from({ length: 17 }, (_, i) => api(`create ${i}`, 'POST', '/containers/create', { Image: 'busybox', Cmd: ['true'] })),
    prepare('find a shared first digit', async (side, vars) => {
      const ids = (await side.docker(['ps', '-aq', '--no-trunc'])).stdout.split('\n').filter(Boolean);
      vars['prefix'] = ids.map((id) => id[0]!).find((c, i, all) => all.indexOf(c) !== i)!;
    }),
    api('inspect ambiguous', 'GET', '/containers/{{prefix}}/json'),
    api('start ambiguous', 'POST', '/containers/{{prefix}}/start'),
  ]);
});

describe('containers: lifecycle', () => {
  scenario('start, stop, restart, kill, wait', [
    ...running(),
    api('start again', 'POST', '/containers/{{ctr}}/start'),
    api('kill bad signal', 'POST', '/containers/{{ctr}}/kill?signal=SIGNOPE'),
    api('stop bad t', 'POST', '/containers/{{ctr}}/stop?t=abc'),
    api('restart', 'POST', '/containers/{{ctr}}/restart?t=0'),
    api('kill', 'POST', '/containers/{{ctr}}/kill'),
    api('inspect after kill', 'GET', '/containers/{{ctr}}/json'),
    api('kill not running', 'POST', '/containers/{{ctr}}/kill'),
    api('stop not running', 'POST', '/containers/{{ctr}}/stop'),
    api('wait', 'POST', '/containers/{{ctr}}/wait'),
    api('wait bad condition', 'POST', '/containers/{{ctr}}/wait?condition=never'),
    api('start missing', 'POST', `${ghost}/start`),
    api('stop missing', 'POST', `${ghost}/stop`),
    api('restart missing', 'POST', `${ghost}/restart`),
    api('kill missing', 'POST', `${ghost}/kill`),
    api('wait missing', 'POST', `${ghost}/wait`),
  ]);
  scenario('pause, unpause, rename, update', [
    ...running(),
    api('create other', 'POST', '/containers/create?name=other', { Image: 'busybox', Cmd: ['true'] }),
    api('unpause not paused', 'POST', '/containers/{{ctr}}/unpause'),
    api('pause', 'POST', '/containers/{{ctr}}/pause'),
    api('pause paused', 'POST', '/containers/{{ctr}}/pause'),
    api('unpause', 'POST', '/containers/{{ctr}}/unpause'),
    api('rename', 'POST', '/containers/{{ctr}}/rename?name=renamed'),
    api('rename taken', 'POST', '/containers/{{ctr}}/rename?name=other'),
    api('rename empty', 'POST', '/containers/{{ctr}}/rename?name='),
    api('update', 'POST', '/containers/{{ctr}}/update', { CpuShares: 512 }),
    api('update wrongly typed', 'POST', '/containers/{{ctr}}/update', { CpuShares: 'many' }),
    api('pause missing', 'POST', `${ghost}/pause`),
    api('unpause missing', 'POST', `${ghost}/unpause`),
    api('rename missing', 'POST', `${ghost}/rename?name=x`),
    api('update missing', 'POST', `${ghost}/update`, {}),
  ]);
  scenario('remove and prune', [
    ...running(),
    api('remove running', 'DELETE', '/containers/{{ctr}}'),
    api('remove forced', 'DELETE', '/containers/{{ctr}}?force=1'),
    api('remove missing', 'DELETE', ghost),
    api('create exited', 'POST', '/containers/create', { Image: 'busybox', Cmd: ['true'] }),
    api('prune', 'POST', '/containers/prune'),
    api('prune bad filters', 'POST', '/containers/prune?filters=notjson'),
  ]);
});

describe('containers: what runs inside', () => {
  scenario('logs, top, changes, stats, export, resize, attach', [
    api('create', 'POST', '/containers/create', { Image: 'busybox', Cmd: ['sh', '-c', 'echo err >&2; sleep 0.2; echo out; sleep 600'] }, { save: { ctr: 'Id' } }),
    api('start', 'POST', '/containers/{{ctr}}/start'),
    prepare('let it print', () => new Promise((r) => setTimeout(r, 500))),
    api('logs', 'GET', '/containers/{{ctr}}/logs?stdout=1&stderr=1', undefined, { read: 'multiplexed' }),
    api('logs tail', 'GET', '/containers/{{ctr}}/logs?stdout=1&stderr=1&tail=1', undefined, { read: 'multiplexed' }),
    api('logs no stream chosen', 'GET', '/containers/{{ctr}}/logs'),
    api('logs bad tail', 'GET', '/containers/{{ctr}}/logs?stdout=1&tail=x', undefined, { read: 'multiplexed' }),
    api('logs bad since', 'GET', '/containers/{{ctr}}/logs?stdout=1&since=abc', undefined, { read: 'multiplexed' }),
    api('top', 'GET', '/containers/{{ctr}}/top'),
    api('top ps args', 'GET', '/containers/{{ctr}}/top?ps_args=-o%20pid'),
    api('changes', 'GET', '/containers/{{ctr}}/changes'),
    api('stats once', 'GET', '/containers/{{ctr}}/stats?stream=0'),
    api('export', 'GET', '/containers/{{ctr}}/export', undefined, { read: 'bytes' }),
    api('resize', 'POST', '/containers/{{ctr}}/resize?h=20&w=80'),
    api('resize bad', 'POST', '/containers/{{ctr}}/resize?h=abc&w=80'),
    api('attach no stream', 'POST', '/containers/{{ctr}}/attach?logs=1&stdout=1&stderr=1', undefined, { read: 'multiplexed' }),
    api('logs missing', 'GET', `${ghost}/logs?stdout=1`),
    api('top missing', 'GET', `${ghost}/top`),
    api('changes missing', 'GET', `${ghost}/changes`),
    api('stats missing', 'GET', `${ghost}/stats?stream=0`),
    api('export missing', 'GET', `${ghost}/export`),
    api('resize missing', 'POST', `${ghost}/resize?h=1&w=1`),
    api('attach missing', 'POST', `${ghost}/attach?stream=1&stdout=1`),
  ]);
  scenario('top and stats of a stopped container', [
    api('create', 'POST', '/containers/create', { Image: 'busybox', Cmd: ['true'] }, { save: { ctr: 'Id' } }),
    api('top', 'GET', '/containers/{{ctr}}/top'),
    api('resize', 'POST', '/containers/{{ctr}}/resize?h=20&w=80'),
  ]);
  scenario('exec', [
    ...running(),
    api('create exec', 'POST', '/containers/{{ctr}}/exec', { Cmd: ['sh', '-c', 'echo out; echo err >&2; exit 3'], AttachStdout: true, AttachStderr: true }, { save: { exec: 'Id' } }),
    api('start exec', 'POST', '/exec/{{exec}}/start', { Detach: false, Tty: false }, { read: 'multiplexed' }),
    api('inspect exec', 'GET', '/exec/{{exec}}/json'),
    api('start exec again', 'POST', '/exec/{{exec}}/start', { Detach: false }),
    api('exec without Cmd', 'POST', '/containers/{{ctr}}/exec', { AttachStdout: true }),
    api('exec Cmd wrongly typed', 'POST', '/containers/{{ctr}}/exec', { Cmd: 'ls' }),
    api('exec empty body', 'POST', '/containers/{{ctr}}/exec', ''),
    api('exec tty', 'POST', '/containers/{{ctr}}/exec', { Cmd: ['echo', 'hi'], AttachStdout: true, Tty: true }, { save: { tty: 'Id' } }),
    api('start tty exec', 'POST', '/exec/{{tty}}/start', { Tty: true }, { read: 'raw' }),
    api('resize exec missing', 'POST', '/exec/no-such-exec/resize?h=1&w=1'),
    api('inspect exec missing', 'GET', '/exec/no-such-exec/json'),
    api('start exec missing', 'POST', '/exec/no-such-exec/start', {}),
    api('exec on missing', 'POST', `${ghost}/exec`, { Cmd: ['true'] }),
    api('kill', 'POST', '/containers/{{ctr}}/kill'),
    api('exec on stopped', 'POST', '/containers/{{ctr}}/exec', { Cmd: ['true'] }),
  ]);
  scenario('archive', [
    ...running(),
    api('head', 'HEAD', '/containers/{{ctr}}/archive?path=/etc/hostname'),
    api('get', 'GET', '/containers/{{ctr}}/archive?path=/etc/hostname', undefined, { read: 'bytes' }),
    api('get missing path', 'GET', '/containers/{{ctr}}/archive?path=/no/such'),
    api('get no path', 'GET', '/containers/{{ctr}}/archive'),
    api('put', 'PUT', '/containers/{{ctr}}/archive?path=/tmp', makeTar([{ name: 'f.txt', content: 'hi' }])),
    api('put into missing dir', 'PUT', '/containers/{{ctr}}/archive?path=/no/such', makeTar([{ name: 'f.txt', content: 'hi' }])),
    api('head missing container', 'HEAD', `${ghost}/archive?path=/`),
    api('get missing container', 'GET', `${ghost}/archive?path=/`),
  ]);
  scenario('docker CLI: run, exec, logs exit codes and output', [
    cli('run', ['run', '--rm', 'busybox', 'sh', '-c', 'echo out; echo err >&2; exit 4']),
    cli('run missing image', ['run', '--pull', 'never', '--rm', 'no-such-image:1', 'true']),
    cli('run missing command', ['run', '--rm', 'busybox', '/no/such/binary']),
    cli('create', ['create', '--name', 'c1', 'busybox', 'sleep', '600']),
    cli('start', ['start', 'c1']),
    cli('exec', ['exec', 'c1', 'sh', '-c', 'echo in; exit 2']),
    cli('exec -i', ['exec', '-i', 'c1', 'cat'], { input: 'piped\n' }),
    cli('stop missing', ['stop', 'no-such-container']),
    cli('rm running', ['rm', 'c1']),
    cli('rm -f', ['rm', '-f', 'c1']),
  ]);
});

describe('images', () => {
  scenario('list, inspect, history, tag, remove', [
    api('list', 'GET', '/images/json'),
    api('list bad filters', 'GET', '/images/json?filters=notjson'),
    api('inspect', 'GET', '/images/busybox/json'),
    api('inspect missing', 'GET', '/images/no-such-image/json'),
    api('history', 'GET', '/images/busybox/history'),
    api('history missing', 'GET', '/images/no-such-image/history'),
    api('tag', 'POST', '/images/busybox/tag?repo=mine&tag=v1'),
    api('tag bad repo', 'POST', '/images/busybox/tag?repo=Not_Valid&tag=v1'),
    api('tag missing', 'POST', '/images/no-such-image/tag?repo=x'),
    api('remove tag', 'DELETE', '/images/mine:v1'),
    api('remove missing', 'DELETE', '/images/no-such-image'),
    api('create user', 'POST', '/containers/create', { Image: 'busybox', Cmd: ['true'] }),
    api('remove in use', 'DELETE', '/images/busybox'),
    api('prune', 'POST', '/images/prune'),
  ]);
  scenario('save, load, pull, push, commit', [
    api('save', 'GET', '/images/busybox/get', undefined, { read: 'bytes' }),
    api('save missing', 'GET', '/images/no-such-image/get'),
    api('save many missing', 'GET', '/images/get?names=no-such-image'),
    api('load not a tar', 'POST', '/images/load', Buffer.from('not a tar')),
    api('load empty tar', 'POST', '/images/load', makeTar([])),
    api('pull unreachable', 'POST', '/images/create?fromImage=127.0.0.1:9/nothing&tag=1', undefined, { read: 'json-lines' }),
    api('pull bad reference', 'POST', '/images/create?fromImage=Bad_Ref', undefined, { read: 'json-lines' }),
    api('import', 'POST', '/images/create?fromSrc=-&repo=imported&tag=1', busyboxTar(), { read: 'json-lines' }),
    api('push missing', 'POST', '/images/no-such-image/push', undefined, { headers: { 'X-Registry-Auth': 'e30=' }, read: 'json-lines' }),
    api('distribution unreachable', 'GET', '/distribution/127.0.0.1:9/nothing/json'),
    ...running(),
    api('commit', 'POST', '/commit?container={{ctr}}&repo=committed&tag=1'),
    api('commit missing', 'POST', '/commit?container=no-such-container&repo=x'),
    api('commit bad repo', 'POST', '/commit?container={{ctr}}&repo=Bad_Repo'),
  ]);
});
