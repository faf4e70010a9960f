// Unit tests of the Engine API client (framing, host resolution, errors, hijack) and of the
// CLI's formatting (Go templates, tables, sizes, durations) and flag parsing.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as http from 'node:http';
import * as net from 'node:net';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { spawn, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Client, encodeQuery, readBody } from '../src/client/client.js';
import { compareVersions } from '../src/util/versions.js';
import { Readable } from 'node:stream';
import { ApiError, ConnectionError } from '../src/client/errors.js';
import { DEFAULT_HOST, parseHost, resolveHost } from '../src/client/host.js';
import { FrameDecoder, demux, encodeFrame } from '../src/client/stdcopy.js';
import { JSONSplitter } from '../src/client/jsonstream.js';
import { Template, goString } from '../src/cli/format/template.js';
import { renderList, resolveFormat } from '../src/cli/format/formatter.js';
import { tabulate } from '../src/cli/format/tabwriter.js';
import { formatG, humanDuration, humanSize, bytesSize, ramInBytes, since, truncateId, ellipsis } from '../src/cli/format/units.js';
import { fromHumanSize } from '../src/util/units.js';
import { command, parse, StatusError, collect, type Ctx } from '../src/cli/cli.js';
import { EscapeProxy, parseDetachKeys, startFailureStatus } from '../src/cli/streams.js';
import { displayablePorts } from '../src/cli/container/ps.js';
import { buildCreateRequest, parseEnvFile, parseUlimit } from '../src/cli/container/opts.js';
import { parseMountFlag } from '../src/cli/container/mount-opts.js';
import { imageRows } from '../src/cli/image/list.js';
import { timestampArg } from '../src/cli/container/logs.js';
import { formatEvent } from '../src/cli/system/events.js';
import { renderInspect } from '../src/cli/inspect.js';
import type { ImageSummary } from '../src/types/api.js';

const here = dirname(fileURLToPath(import.meta.url));

// ---------- client: framing ----------

test('FrameDecoder reassembles frames split at any byte', () => {
  const wire = Buffer.concat([encodeFrame(1, 'hello\n'), encodeFrame(2, 'oops\n'), encodeFrame(1, '')]);
  for (let cut = 0; cut <= wire.length; cut++) {
    const d = new FrameDecoder();
    const frames = [...d.push(wire.subarray(0, cut)), ...d.push(wire.subarray(cut))];
    assert.deepEqual(
      frames.map((f) => [f.stream, f.data.toString()]),
      [
        [1, 'hello\n'],
        [2, 'oops\n'],
        [1, ''],
      ],
      `cut at ${cut}`,
    );
    assert.equal(d.pending, 0);
  }
});

test('FrameDecoder reads the 32-bit big-endian length and rejects bad stream ids', () => {
  const big = Buffer.alloc(70000, 0x61);
  const d = new FrameDecoder();
  const f = d.push(encodeFrame(2, big));
  assert.equal(f.length, 1);
  assert.equal(f[0].data.length, 70000);
  assert.deepEqual([...encodeFrame(1, 'ab').subarray(0, 8)], [1, 0, 0, 0, 0, 0, 0, 2]);
  assert.throws(() => new FrameDecoder().push(Buffer.from([9, 0, 0, 0, 0, 0, 0, 1, 0x41])), /unrecognized input header: 9/);
});

test('demux routes stdout and stderr and fails on a system error frame', async () => {
  const { PassThrough } = await import('node:stream');
  const src = new PassThrough();
  const out: string[] = [];
  const err: string[] = [];
  const p = demux(src, { write: (b: Buffer) => out.push(b.toString()) }, { write: (b: Buffer) => err.push(b.toString()) });
  src.write(encodeFrame(1, 'a'));
  src.write(encodeFrame(2, 'b'));
  src.end(encodeFrame(1, 'c'));
  await p;
  assert.deepEqual(out, ['a', 'c']);
  assert.deepEqual(err, ['b']);
  const src2 = new PassThrough();
  const p2 = demux(src2, null, null);
  src2.end(encodeFrame(3, 'boom'));
  await assert.rejects(p2, /boom/);
});

test('JSONSplitter splits concatenated objects across chunk boundaries, braces in strings included', () => {
  const text = '{"status":"a {"}\r\n{"id":"x","progressDetail":{"current":1}}{"s":"\\"}"}\n';
  for (let cut = 0; cut <= text.length; cut++) {
    const sp = new JSONSplitter();
    const got = [...sp.push(text.slice(0, cut)), ...sp.push(text.slice(cut))];
    assert.deepEqual(got, [{ status: 'a {' }, { id: 'x', progressDetail: { current: 1 } }, { s: '"}' }], `cut at ${cut}`);
  }
});

// ---------- client: hosts ----------

test('host resolution order: flag, BERTH_HOST, DOCKER_HOST, default', () => {
  assert.equal(resolveHost('tcp://a:1', { BERTH_HOST: 'unix:///b', DOCKER_HOST: 'unix:///c' }), 'tcp://a:1');
  assert.equal(resolveHost(undefined, { BERTH_HOST: 'unix:///b', DOCKER_HOST: 'unix:///c' }), 'unix:///b');
  assert.equal(resolveHost(undefined, { DOCKER_HOST: 'unix:///c' }), 'unix:///c');
  assert.equal(resolveHost(undefined, {}), DEFAULT_HOST);
  assert.equal(DEFAULT_HOST, 'unix:///run/berth/berth.sock');
});

test('parseHost understands unix, tcp (default port 2375), IPv6, and rejects the rest', () => {
  assert.deepEqual(parseHost('unix:///run/x.sock'), { kind: 'unix', path: '/run/x.sock', url: 'unix:///run/x.sock' });
  assert.deepEqual(parseHost('tcp://10.0.0.1'), { kind: 'tcp', host: '10.0.0.1', port: 2375, url: 'tcp://10.0.0.1:2375' });
  assert.deepEqual(parseHost('tcp://h:99'), { kind: 'tcp', host: 'h', port: 99, url: 'tcp://h:99' });
  assert.equal((parseHost('tcp://[::1]:5') as { host: string }).host, '::1');
  assert.throws(() => parseHost('ssh://x'), /unsupported protocol/);
  assert.throws(() => parseHost('tcp://h:notaport'), /bad port/);
  assert.throws(() => parseHost('nonsense'), /missing scheme/);
});

test('encodeQuery: booleans as 1/0, arrays repeat, objects as JSON, undefined dropped', () => {
  assert.equal(encodeQuery({ all: true, x: undefined, changes: ['CMD ["a"]', 'ENV A=1'], f: { a: { b: true } } }), '?all=1&changes=CMD%20%5B%22a%22%5D&changes=ENV%20A%3D1&f=%7B%22a%22%3A%7B%22b%22%3Atrue%7D%7D');
  assert.equal(encodeQuery({}), '');
});

// ---------- client: against a tiny in-test daemon ----------

interface Seen {
  method?: string;
  url?: string;
  body?: string;
}

async function withServer(
  handler: (req: http.IncomingMessage, res: http.ServerResponse, seen: Seen[]) => void,
  fn: (host: string, seen: Seen[], server: http.Server) => Promise<void>,
): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'berth-cli-test-'));
  const sock = join(dir, 's.sock');
  const seen: Seen[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      seen.push({ method: req.method, url: req.url, body: Buffer.concat(chunks).toString() });
      handler(req, res, seen);
    });
  });
  await new Promise<void>((r) => server.listen(sock, r));
  try {
    await fn(`unix://${sock}`, seen, server);
  } finally {
    server.closeAllConnections?.();
    await new Promise<void>((r) => server.close(() => r()));
    rmSync(dir, { recursive: true, force: true });
  }
}

function pingOr(apiVersion: string, req: http.IncomingMessage, res: http.ServerResponse): boolean {
  if (req.url === '/_ping') {
    res.writeHead(200, { 'API-Version': apiVersion, 'Content-Type': 'text/plain' });
    res.end('OK');
    return true;
  }
  return false;
}

/**
 * A daemon of API version `version`, as dockerd answers: every answer carries Api-Version (unless
 * `header` is false), and a request at a newer version is refused with 400 before anything is done.
 */
function daemonAt(version: string, header = true) {
  return (req: http.IncomingMessage, res: http.ServerResponse): boolean => {
    const h: Record<string, string> = header ? { 'API-Version': version, 'Content-Type': 'application/json' } : { 'Content-Type': 'application/json' };
    if (req.url === '/_ping') {
      res.writeHead(200, { 'API-Version': version, 'Content-Type': 'text/plain' });
      res.end('OK');
      return true;
    }
    const asked = /^\/v([\d.]+)\//.exec(req.url ?? '')?.[1];
    if (asked && compareVersions(asked, version) > 0) {
      res.writeHead(400, h);
      res.end(JSON.stringify({ message: `client version ${asked} is too new. Maximum supported API version is ${version}` }));
      return true;
    }
    res.writeHead(200, h);
    res.end('{"ok":true}');
    return true;
  };
}

test('version negotiation: the first request goes at 1.47 at once, and follows an older daemon', async () => {
  // a newer daemon answers it: no ping, and 1.47 from then on
  await withServer(daemonAt('1.50'), async (host, seen) => {
    const c = new Client(host);
    assert.deepEqual(await c.get('/info'), { ok: true });
    assert.deepEqual(await c.get('/version'), { ok: true });
    assert.equal(await c.apiVersion(), '1.47');
    c.close();
    assert.deepEqual(seen.map((s) => s.url), ['/v1.47/info', '/v1.47/version']);
  });
  // an older one refuses it naming its version: sent again at that version, which sticks
  await withServer(daemonAt('1.41'), async (host, seen) => {
    const c = new Client(host);
    assert.deepEqual(await c.post('/containers/create', { name: 'x' }, { Image: 'busybox' }), { ok: true });
    assert.deepEqual(await c.get('/info'), { ok: true });
    c.close();
    assert.deepEqual(seen.map((s) => s.url), ['/v1.47/containers/create?name=x', '/v1.41/containers/create?name=x', '/v1.41/info']);
    assert.deepEqual(JSON.parse(seen[1].body!), { Image: 'busybox' }, 'the body is sent again');
  });
  // an older one that names no version in its refusal: the ping tells it
  await withServer(daemonAt('1.41', false), async (host, seen) => {
    const c = new Client(host);
    assert.deepEqual(await c.get('/info'), { ok: true });
    c.close();
    assert.deepEqual(seen.map((s) => s.url), ['/v1.47/info', '/_ping', '/v1.41/info']);
  });
  // a 400 that is not about the version is the answer
  await withServer(
    (req, res) => {
      res.writeHead(400, { 'API-Version': '1.47', 'Content-Type': 'application/json' });
      res.end('{"message":"bad parameter"}');
    },
    async (host, seen) => {
      const c = new Client(host);
      await assert.rejects(c.get('/info'), (e: unknown) => e instanceof ApiError && e.statusCode === 400 && e.message === 'bad parameter');
      c.close();
      assert.deepEqual(seen.map((s) => s.url), ['/v1.47/info']);
    },
  );
  // a streamed body can't be sent twice: it waits for the ping
  await withServer(daemonAt('1.41'), async (host, seen) => {
    const c = new Client(host);
    await c.post('/images/load', undefined, Readable.from([Buffer.from('tar')]));
    c.close();
    assert.deepEqual(seen.map((s) => s.url), ['/_ping', '/v1.41/images/load']);
  });
});

test('hijack against an older daemon: refused at 1.47, upgraded at its version', async () => {
  await withServer(daemonAt('1.41'), async (host, _seen, server) => {
    const urls: string[] = [];
    server.on('upgrade', (req: http.IncomingMessage, socket: net.Socket) => {
      urls.push(req.url!);
      if (req.url!.startsWith('/v1.47/')) {
        socket.end('HTTP/1.1 400 Bad Request\r\nApi-Version: 1.41\r\nContent-Type: application/json\r\nContent-Length: 75\r\n\r\n{"message":"client version 1.47 is too new. Maximum supported API version"}');
        return;
      }
      socket.end('HTTP/1.1 101 UPGRADED\r\nContent-Type: application/vnd.docker.raw-stream\r\nConnection: Upgrade\r\nUpgrade: tcp\r\nApi-Version: 1.41\r\n\r\nhello');
    });
    const c = new Client(host);
    const h = await c.hijack('POST', '/exec/x/start', { body: { Detach: false } });
    assert.equal(h.upgraded, true);
    assert.equal(await readBody(h.socket), 'hello');
    c.close();
    assert.deepEqual(urls, ['/v1.47/exec/x/start', '/v1.41/exec/x/start']);
  });
});

test('non-2xx answers become ApiError with the daemon message; JSON bodies are sent', async () => {
  await withServer(
    (req, res) => {
      if (pingOr('1.47', req, res)) return;
      if (req.url!.startsWith('/v1.47/containers/nosuch')) {
        res.writeHead(404, { 'Content-Type': 'application/json' });
        res.end('{"message":"No such container: nosuch"}\n');
      } else if (req.url!.startsWith('/v1.47/containers/create')) {
        res.writeHead(201, { 'Content-Type': 'application/json' });
        res.end('{"Id":"abc","Warnings":[]}');
      } else {
        res.writeHead(500, { 'Content-Type': 'text/plain' });
        res.end('plain failure');
      }
    },
    async (host, seen) => {
      const c = new Client(host);
      await assert.rejects(c.get('/containers/nosuch/json'), (e: unknown) => {
        assert.ok(e instanceof ApiError);
        assert.equal(e.statusCode, 404);
        assert.equal(e.message, 'No such container: nosuch');
        return true;
      });
      await assert.rejects(c.get('/other'), (e: unknown) => e instanceof ApiError && e.statusCode === 500 && e.message === 'plain failure');
      const r = await c.post<{ Id: string }>('/containers/create', { name: 'x' }, { Image: 'busybox' });
      assert.equal(r.Id, 'abc');
      const create = seen.find((s) => s.url!.includes('/containers/create'))!;
      assert.equal(create.url, '/v1.47/containers/create?name=x');
      assert.deepEqual(JSON.parse(create.body!), { Image: 'busybox' });
      c.close();
    },
  );
});

test('an unreachable socket is a ConnectionError with docker wording', async () => {
  const c = new Client('unix:///nonexistent/berth-test.sock');
  await assert.rejects(c.get('/info'), (e: unknown) => {
    assert.ok(e instanceof ConnectionError);
    assert.equal(e.message, 'Cannot connect to the Docker daemon at unix:///nonexistent/berth-test.sock. Is the docker daemon running?');
    return true;
  });
});

test('hijack: 101 UPGRADED turns the socket into a raw bidirectional stream', async () => {
  await withServer(
    (req, res) => {
      if (pingOr('1.47', req, res)) return;
      res.writeHead(400);
      res.end('{"message":"expected upgrade"}');
    },
    async (host, seen, server) => {
      let upgradeReq: http.IncomingMessage | undefined;
      server.on('upgrade', (req: http.IncomingMessage, socket: net.Socket) => {
        upgradeReq = req;
        socket.write('HTTP/1.1 101 UPGRADED\r\nContent-Type: application/vnd.docker.multiplexed-stream\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n');
        // an early frame may arrive in the same packet as the headers
        socket.write(encodeFrame(1, 'ready\n'));
        const got: Buffer[] = [];
        socket.on('data', (c: Buffer) => got.push(c));
        socket.on('end', () => {
          socket.write(encodeFrame(2, `got:${Buffer.concat(got).toString()}`));
          socket.end();
        });
      });
      const c = new Client(host);
      const h = await c.hijack('POST', '/containers/x/attach', { query: { stream: 1, stdin: 1 } });
      assert.equal(h.upgraded, true);
      assert.equal(h.contentType, 'application/vnd.docker.multiplexed-stream');
      assert.equal(upgradeReq!.headers.upgrade, 'tcp');
      assert.equal(upgradeReq!.headers.connection, 'Upgrade');
      assert.equal(upgradeReq!.url, '/v1.47/containers/x/attach?stream=1&stdin=1');
      const out: string[] = [];
      const err: string[] = [];
      const done = demux(h.socket, { write: (b: Buffer) => out.push(b.toString()) }, { write: (b: Buffer) => err.push(b.toString()) });
      h.socket.write('input data');
      h.socket.end(); // half-close: we still read the answer
      await done;
      assert.deepEqual(out, ['ready\n']);
      assert.deepEqual(err, ['got:input data']);
      c.close();
      void seen;
    },
  );
});

test('hijack: an error answer instead of an upgrade rejects with ApiError', async () => {
  await withServer(
    (req, res) => {
      if (pingOr('1.47', req, res)) return;
      res.writeHead(409, { 'Content-Type': 'application/json' });
      res.end('{"message":"container x is not running"}');
    },
    async (host, _seen, server) => {
      server.removeAllListeners('upgrade');
      server.on('upgrade', (_req: http.IncomingMessage, socket: net.Socket) => {
        socket.end('HTTP/1.1 409 Conflict\r\nContent-Type: application/json\r\nContent-Length: 40\r\n\r\n{"message":"container x is not running"}');
      });
      const c = new Client(host);
      await assert.rejects(c.hijack('POST', '/exec/x/start', { body: { Detach: false } }), (e: unknown) => e instanceof ApiError && e.statusCode === 409 && e.message === 'container x is not running');
      c.close();
    },
  );
});

// ---------- formatting ----------

test('Go templates: fields, nesting, json, index, join, lower/upper, range, if/else, variables', () => {
  const data = {
    Id: 'abc',
    State: { Status: 'running', Pid: 42 },
    Config: { Cmd: ['sh', '-c', 'x'], Labels: { 'com.x': 'y', a: 'b' }, Env: null },
    Names: ['one', 'two'],
  };
  const t = (src: string) => new Template(src).execute(data);
  assert.equal(t('{{.Id}} {{.State.Status}} {{.State.Pid}}'), 'abc running 42');
  assert.equal(t('{{json .Config.Cmd}}'), '["sh","-c","x"]');
  assert.equal(t('{{json .State}}'), '{"Status":"running","Pid":42}');
  assert.equal(t('{{index .Config.Labels "com.x"}}'), 'y');
  assert.equal(t('{{join .Names ","}}'), 'one,two');
  assert.equal(t('{{upper .State.Status}}/{{lower "AbC"}}'), 'RUNNING/abc');
  assert.equal(t('{{range .Names}}[{{.}}]{{end}}'), '[one][two]');
  assert.equal(t('{{range $i, $n := .Names}}{{$i}}={{$n}} {{end}}'), '0=one 1=two ');
  assert.equal(t('{{range $k, $v := .Config.Labels}}{{$k}}:{{$v}};{{end}}'), 'a:b;com.x:y;');
  assert.equal(t('{{if eq .State.Status "running"}}up{{else}}down{{end}}'), 'up');
  assert.equal(t('{{if .Config.Env}}env{{else if .Names}}names{{else}}none{{end}}'), 'names');
  assert.equal(t('{{with .State}}{{.Pid}}{{end}}'), '42');
  assert.equal(t('{{$s := .State.Status}}{{$s}}-{{$.Id}}'), 'running-abc');
  assert.equal(t('{{.State.Status | upper | printf "%s!"}}'), 'RUNNING!');
  assert.equal(t('{{.Config.Cmd}} {{.Config.Labels}}'), '[sh -c x] map[a:b com.x:y]');
  assert.equal(t('{{printf "%d-%5s|%-3s|" .State.Pid "ab" "c"}}'), '42-   ab|c  |');
  assert.equal(t('{{len .Names}} {{index .Names 1}} {{split "a,b" ","}}'), '2 two [a b]');
  assert.equal(t('{{- " x " -}}  {{"y"}}'), ' x y');
  assert.equal(t('{{/* comment */}}{{.Missing}}'), '<no value>');
  assert.equal(t('{{(index .Names 0)}}{{if and .Names (not .Config.Env)}}!{{end}}'), 'one!');
  assert.throws(() => new Template('{{.Id'), /unclosed action/);
  assert.throws(() => new Template('{{nosuchfunc .Id}}').execute(data), /function "nosuchfunc" not defined/);
});

test('typed inspect rendering prints null slices as [] and null maps as map[]; missing top-level keys error', () => {
  const img = { Id: 'x', Config: { Entrypoint: null, Cmd: ['/bin/sh'], Labels: null, Env: null } };
  assert.equal(renderInspect([img], '{{.Config.Entrypoint}}|{{.Config.Cmd}}|{{.Config.Labels}}|{{json .Config.Entrypoint}}|{{.Config.ExposedPorts}}'), '[]|[/bin/sh]|map[]|null|map[]\n');
  assert.throws(() => renderInspect([img], '{{.Foo}}'), (e: unknown) => e instanceof StatusError && /map has no entry for key "Foo"/.test(e.message));
  assert.equal(renderInspect([{ A: 1 }], undefined), '[\n    {\n        "A": 1\n    }\n]\n');
});

test('tabwriter lays out columns like Go text/tabwriter (minwidth 10, padding 3)', () => {
  const text = 'REPOSITORY\tTAG\tIMAGE ID\tCREATED\tSIZE\nbusybox\tlatest\t1f0eef68827c\t5 minutes ago\t1.98MB\nbb\t1\t1f0eef68827c\t5 minutes ago\t1.98MB\n';
  assert.equal(
    tabulate(text),
    'REPOSITORY   TAG       IMAGE ID       CREATED         SIZE\n' +
      'busybox      latest    1f0eef68827c   5 minutes ago   1.98MB\n' +
      'bb           1         1f0eef68827c   5 minutes ago   1.98MB\n',
  );
  // a line without tabs ends the column block
  assert.equal(tabulate('Client:\n a:\tx\nServer:\n bbbbbbbbbb:\ty\n', 5, 1), 'Client:\n a:  x\nServer:\n bbbbbbbbbb: y\n');
});

test('renderList: table header from the template, json, quiet, custom', () => {
  const rows = [{ ID: 'a1', Image: 'busybox', Names: 'x' }, { ID: 'b2', Image: 'alpine:3', Names: 'longer-name' }];
  const headers = { ID: 'CONTAINER ID', Image: 'IMAGE', Names: 'NAMES' };
  assert.equal(
    renderList('table {{.ID}}\\t{{.Image}}\\t{{.Names}}', rows, headers),
    'CONTAINER ID   IMAGE      NAMES\na1             busybox    x\nb2             alpine:3   longer-name\n',
  );
  assert.equal(renderList(resolveFormat({ format: 'json', defaultTable: '' }), rows.slice(0, 1), headers), '{"ID":"a1","Image":"busybox","Names":"x"}\n');
  assert.equal(renderList(resolveFormat({ format: '', defaultTable: 'table {{.Names}}', quiet: true }), rows, headers), 'a1\nb2\n');
  assert.equal(renderList('{{.Names}}: {{.Image}}', rows, headers), 'x: busybox\nlonger-name: alpine:3\n');
  assert.equal(renderList('table {{json .Names}}', rows.slice(0, 1), headers), 'NAMES\n"x"\n');
});

test('image rows: one per repo:tag, dangling as <none>, json escapes HTML like docker', () => {
  const img: ImageSummary = {
    Id: 'sha256:1f0eef68827ca640d95ddc488849df1c66469662f9e9c9af57702ab8bb3969e5',
    ParentId: '',
    RepoTags: ['busybox:latest', 'docker.io/library/bb:1'],
    RepoDigests: [],
    Created: Math.floor(Date.now() / 1000) - 300,
    Size: 1984227,
    SharedSize: -1,
    Labels: {},
    Containers: -1,
  };
  const dangling = { ...img, RepoTags: [], Id: 'sha256:' + 'a'.repeat(64) };
  const rows = imageRows([img, dangling], true, false, false);
  assert.deepEqual(
    rows.map((r) => [r.Repository, r.Tag, r.ID, r.Size, r.CreatedSince]),
    [
      ['busybox', 'latest', '1f0eef68827c', '1.98MB', '5 minutes ago'],
      ['bb', '1', '1f0eef68827c', '1.98MB', '5 minutes ago'],
      ['<none>', '<none>', 'aaaaaaaaaaaa', '1.98MB', '5 minutes ago'],
    ],
  );
  assert.match(new Template('{{json .}}').execute(rows[0]), /"Digest":"\\u003cnone\\u003e"/);
});

test('human sizes and durations follow go-units', () => {
  assert.equal(humanSize(1982256, 3), '1.98MB');
  assert.equal(humanSize(1984227), '1.984MB');
  assert.equal(humanSize(0, 3), '0B');
  assert.equal(humanSize(999, 3), '999B');
  assert.equal(humanSize(1000, 3), '1kB');
  assert.equal(humanSize(4260000, 3), '4.26MB');
  assert.equal(humanSize(123456789012, 3), '123GB');
  assert.equal(bytesSize(1024 * 1024 * 1.5), '1.5MiB');
  assert.equal(bytesSize(25276026880), '23.54GiB');
  assert.equal(formatG(999.9, 3), '1e+03');
  // FromHumanSize (the logging drivers' max-size) is decimal, RAMInBytes (--memory, --shm-size) binary
  assert.equal(fromHumanSize('10m'), 10_000_000);
  assert.equal(fromHumanSize('1.5GB'), 1_500_000_000);
  assert.equal(fromHumanSize('100'), 100);
  assert.throws(() => fromHumanSize('10 megs'), /invalid size: '10 megs'/);
  assert.equal(ramInBytes('10m'), 10 * 1024 * 1024);
  assert.equal(humanDuration(500), 'Less than a second');
  assert.equal(humanDuration(1000), '1 second');
  assert.equal(humanDuration(59_000), '59 seconds');
  assert.equal(humanDuration(60_000), 'About a minute');
  assert.equal(humanDuration(2 * 60_000), '2 minutes');
  assert.equal(humanDuration(60 * 60_000), 'About an hour');
  assert.equal(humanDuration(3 * 3600_000), '3 hours');
  assert.equal(humanDuration(3 * 86400_000), '3 days');
  assert.equal(humanDuration(20 * 86400_000), '2 weeks');
  assert.equal(humanDuration(90 * 86400_000), '3 months');
  assert.equal(humanDuration(800 * 86400_000), '2 years');
  assert.equal(since(1000, 1000 * 1000 + 120_000), '2 minutes ago');
  assert.equal(ramInBytes('512m'), 512 * 1024 * 1024);
  assert.equal(ramInBytes('1g'), 1024 ** 3);
  assert.throws(() => ramInBytes('lots'));
  assert.equal(truncateId('sha256:0123456789abcdef'), '0123456789ab');
  assert.equal(ellipsis('sh -c while true; do echo', 20), 'sh -c while true; d…');
});

test('displayablePorts groups ranges and host mappings like docker ps', () => {
  assert.equal(
    displayablePorts([
      { PrivatePort: 9001, Type: 'tcp' },
      { PrivatePort: 9000, Type: 'tcp' },
      { PrivatePort: 53, Type: 'udp' },
      { IP: '0.0.0.0', PrivatePort: 80, PublicPort: 8080, Type: 'tcp' },
      { IP: '0.0.0.0', PrivatePort: 443, PublicPort: 443, Type: 'tcp' },
    ]),
    '53/udp, 0.0.0.0:443->443/tcp, 9000-9001/tcp, 0.0.0.0:8080->80/tcp',
  );
  assert.equal(displayablePorts([]), '');
});

// ---------- flags ----------

function ctxFor(path: string): Ctx {
  return { prog: 'berth', host: DEFAULT_HOST, debug: false, path, client: () => assert.fail('no client in this test') };
}

test('flag parsing has pflag semantics', () => {
  const ctx = ctxFor('run');
  const c = command(ctx, { usage: '[OPTIONS] IMAGE [COMMAND] [ARG...]', description: 'run', args: { min: 1 }, positional: true });
  c.option('-i, --interactive', '')
    .option('-t, --tty', '')
    .option('-e, --env <list>', '', collect)
    .option('--name <string>', '')
    .option('--no-sig-proxy', '')
    .option('-p, --publish <list>', '', collect);
  const { opts, args } = parse<Record<string, unknown>>(ctx, c, ['-it', '-eA=1', '-e=B=2', '--env', 'C', '--name=x', '--sig-proxy=false', '-p8080:80', 'busybox', 'sh', '-c', 'echo -e']);
  assert.deepEqual(opts, { sigProxy: false, interactive: true, tty: true, env: ['A=1', 'B=2', 'C'], name: 'x', publish: ['8080:80'] });
  assert.deepEqual(args, ['busybox', 'sh', '-c', 'echo -e']);
  assert.equal(parse<Record<string, unknown>>(ctx, c, ['--no-sig-proxy', 'img']).opts.sigProxy, false);
  assert.equal(parse<Record<string, unknown>>(ctx, c, ['img']).opts.sigProxy, true);

  const expectStatus = (argv: string[], status: number, re: RegExp) =>
    assert.throws(() => parse(ctx, c, argv), (e: unknown) => e instanceof StatusError && e.status === status && re.test(e.message));
  expectStatus(['--foo', 'img'], 125, /^unknown flag: --foo\n\nUsage:  berth run \[OPTIONS\] IMAGE \[COMMAND\] \[ARG\.\.\.\]\n\nRun 'berth run --help' for more information$/);
  expectStatus(['-x', 'img'], 125, /^unknown shorthand flag: 'x' in -x/);
  expectStatus(['--name'], 125, /^flag needs an argument: --name/);
  expectStatus([], 1, /^berth: 'berth run' requires at least 1 argument/);
  expectStatus(['-i=maybe', 'img'], 125, /invalid argument "maybe" for "-i, --interactive" flag/);

  // interspersed flags for non-positional commands
  const rmCtx = ctxFor('rm');
  const rm = command(rmCtx, { usage: '[OPTIONS] CONTAINER [CONTAINER...]', description: 'rm', args: { min: 1 } }).option('-f, --force', '');
  const r = parse<{ force?: boolean }>(rmCtx, rm, ['a', '-f', 'b', '--', '-c']);
  assert.equal(r.opts.force, true);
  assert.deepEqual(r.args, ['a', 'b', '-c']);
});

test('run flags translate into the create request', () => {
  const req = buildCreateRequest(
    {
      interactive: true,
      tty: true,
      env: ['A=1', 'NOT_SET_ANYWHERE_XYZ'],
      label: ['k=v', 'flag'],
      memory: '64m',
      cpus: '1.5',
      pidsLimit: '50',
      ulimit: ['nofile=100:200'],
      volume: ['/tmp:/mnt:ro'],
      tmpfs: ['/run:size=1m', '/x'],
      entrypoint: '',
      network: 'none',
      rm: true,
      init: true,
      stopSignal: 'SIGUSR1',
      stopTimeout: '3',
      capAdd: ['NET_ADMIN'],
      readOnly: true,
      sigProxy: true,
    },
    'busybox',
    ['sh'],
  );
  assert.equal(req.Image, 'busybox');
  assert.deepEqual(req.Cmd, ['sh']);
  assert.deepEqual(req.Env, ['A=1']);
  assert.deepEqual(req.Labels, { k: 'v', flag: '' });
  assert.deepEqual(req.Entrypoint, ['']);
  assert.equal(req.AttachStdin, true);
  assert.equal(req.OpenStdin, true);
  assert.equal(req.StdinOnce, true);
  assert.equal(req.Tty, true);
  assert.equal(req.StopSignal, 'SIGUSR1');
  assert.equal(req.StopTimeout, 3);
  const h = req.HostConfig!;
  assert.equal(h.Memory, 64 * 1024 * 1024);
  assert.equal(h.NanoCpus, 1.5e9);
  assert.equal(h.PidsLimit, 50);
  assert.deepEqual(h.Ulimits, [{ Name: 'nofile', Soft: 100, Hard: 200 }]);
  assert.deepEqual(h.Binds, ['/tmp:/mnt:ro']);
  assert.deepEqual(h.Tmpfs, { '/run': 'size=1m', '/x': '' });
  assert.equal(h.NetworkMode, 'none');
  assert.equal(h.AutoRemove, true);
  assert.equal(h.Init, true);
  assert.equal(h.ReadonlyRootfs, true);
  assert.deepEqual(h.CapAdd, ['NET_ADMIN']);
  // -v: binds and named volumes go to Binds (./relative host paths made absolute), a lone path to Volumes
  const vols = buildCreateRequest({ sigProxy: true, volume: ['named:/x', './here:/y:ro', '/anon'], volumesFrom: ['other:ro'] }, 'i', []);
  assert.deepEqual(vols.HostConfig!.Binds, ['named:/x', `${process.cwd()}/here:/y:ro`]);
  assert.deepEqual(vols.Volumes, { '/anon': {} });
  assert.deepEqual(vols.HostConfig!.VolumesFrom, ['other:ro']);
  // --mount as the docker CLI parses it
  assert.deepEqual(parseMountFlag('type=bind,src=/a,dst=/b,readonly,bind-propagation=rshared'), {
    Type: 'bind', Source: '/a', Target: '/b', ReadOnly: true, BindOptions: { Propagation: 'rshared' },
  });
  assert.deepEqual(parseMountFlag('target=/v,source=vol,volume-nocopy,volume-opt=type=tmpfs,volume-label=a=b,ro=false'), {
    Type: 'volume', Source: 'vol', Target: '/v', ReadOnly: false, VolumeOptions: { NoCopy: true, DriverConfig: { Options: { type: 'tmpfs' } }, Labels: { a: 'b' } },
  });
  assert.deepEqual(parseMountFlag('type=tmpfs,dst=/t,tmpfs-size=1m,tmpfs-mode=1777'), { Type: 'tmpfs', Target: '/t', TmpfsOptions: { SizeBytes: 1048576, Mode: 0o1777 } });
  assert.throws(() => parseMountFlag('type=tmpfs,dst=/t,tmpfs-size=lots'), /^Error: invalid value for tmpfs-size: lots$/);
  assert.throws(() => parseMountFlag('type=bind,src=/a'), /^Error: target is required$/);
  assert.throws(() => parseMountFlag('type=bind,src=/a,dst=/b,volume-nocopy'), /^Error: cannot mix 'volume-\*' options with mount type 'bind'$/);
  assert.throws(() => parseMountFlag('dst=/b,bogus=1'), /^Error: unexpected key 'bogus' in 'bogus=1'$/);
  assert.throws(() => buildCreateRequest({ sigProxy: true, mount: ['dst=/b,bogus=1'] }, 'i', []), /^StatusError: invalid argument "dst=\/b,bogus=1" for "--mount" flag: unexpected key 'bogus' in 'bogus=1'$/);
  assert.throws(() => parseUlimit('nofile=10:5'), /soft limit/);
  assert.deepEqual(parseEnvFile('# c\nA=1\n\nHOME_XYZ_UNSET\nB= sp \n', {}), ['A=1', 'B= sp ']);
});

test('detach keys and the escape proxy', () => {
  assert.deepEqual(parseDetachKeys('ctrl-p,ctrl-q'), [16, 17]);
  assert.deepEqual(parseDetachKeys('a,ctrl-@,ctrl-['), [97, 0, 27]);
  assert.throws(() => parseDetachKeys('ctrl-1'), /Unknown character/);
  const p = new EscapeProxy([16, 17]);
  let r = p.push(Buffer.from([104, 16]));
  assert.deepEqual([...r.data], [104]);
  assert.equal(r.detach, false);
  r = p.push(Buffer.from([105]));
  assert.deepEqual([...r.data], [16, 105], 'a broken sequence is passed on');
  r = p.push(Buffer.from([16, 17, 120]));
  assert.equal(r.detach, true);
  assert.equal(startFailureStatus('exec: "x": executable file not found in $PATH'), 127);
  assert.equal(startFailureStatus('permission denied'), 126);
  assert.equal(startFailureStatus('cgroup error'), 125);
});

test('logs --since/--until and events text form', () => {
  assert.equal(timestampArg('1700000000'), '1700000000');
  assert.equal(timestampArg('10m', 1_700_000_600_000), '1700000000');
  assert.equal(timestampArg('2023-11-14T22:13:20Z'), '1700000000');
  assert.equal(timestampArg('2023-11-14T22:13:20.5Z'), '1700000000.500000000');
  assert.throws(() => timestampArg('yesterday'), /failed to parse/);
  const prevTZ = process.env.TZ;
  process.env.TZ = 'UTC';
  try {
    assert.equal(
      formatEvent({ Type: 'container', Action: 'start', Actor: { ID: 'abc', Attributes: { name: 'x', image: 'busybox' } }, scope: 'local', time: 1700000000, timeNano: 1700000000123456789 }),
      '2023-11-14T22:13:20.123456768Z container start abc (image=busybox, name=x)',
    );
  } finally {
    if (prevTZ === undefined) delete process.env.TZ;
    else process.env.TZ = prevTZ;
  }
  assert.equal(goString([1, 'a', null]), '[1 a <nil>]');
});

// ---------- end to end ----------

const root = join(here, '..');
const daemonMain = join(root, 'src', 'daemon', 'main.js');
const cliMain = join(root, 'src', 'cli', 'main.js');

test('CLI without a daemon: docker wording, exit codes', () => {
  const env = { ...process.env, BERTH_HOST: 'unix:///nonexistent/berth-e2e.sock' };
  const ps = spawnSync(process.execPath, [cliMain, 'ps'], { env, encoding: 'utf8' });
  assert.equal(ps.status, 1);
  assert.equal(ps.stderr, 'Cannot connect to the Docker daemon at unix:///nonexistent/berth-e2e.sock. Is the docker daemon running?\n');
  const bad = spawnSync(process.execPath, [cliMain, 'ps', '--bogus'], { env, encoding: 'utf8' });
  assert.equal(bad.status, 125);
  assert.match(bad.stderr, /^unknown flag: --bogus\n/);
  const unknown = spawnSync(process.execPath, [cliMain, 'frobnicate'], { env, encoding: 'utf8' });
  assert.equal(unknown.status, 1);
  assert.match(unknown.stderr, /unknown command: berth frobnicate/);
  const runNoImage = spawnSync(process.execPath, [cliMain, 'run'], { env, encoding: 'utf8' });
  assert.equal(runNoImage.status, 1);
  assert.match(runNoImage.stderr, /'berth run' requires at least 1 argument/);
});

test('the bundled CLI keeps V8\'s code cache of a command: written once, then used; a bad one is replaced', () => {
  const bin = join(root, 'berth.cjs');
  assert.ok(existsSync(bin), `${bin} does not exist (npm run build makes it)`);
  const cache = mkdtempSync(join(tmpdir(), 'berth-code-cache-'));
  try {
    const env = { ...process.env, XDG_CACHE_HOME: cache, BERTH_HOST: 'unix:///nonexistent/berth-cache.sock' };
    const ps = () => spawnSync(bin, ['ps', '--format', '{{.ID}}'], { env, encoding: 'utf8' });
    const files = () => (existsSync(join(cache, 'berth', 'code-cache')) ? readdirSync(join(cache, 'berth', 'code-cache')) : []);
    const first = ps();
    assert.equal(first.status, 1);
    assert.match(first.stderr, /^Cannot connect to the Docker daemon/);
    const made = files();
    assert.equal(made.length, 1, 'one file, for the ps bundle');
    assert.match(made[0]!, /container_ps\.cjs-\d+-\d+$/);
    const file = join(cache, 'berth', 'code-cache', made[0]!);
    const written = statSync(file);
    // Accepted by V8: the next run reads it and writes nothing.
    const second = ps();
    assert.deepEqual([second.status, second.stdout, second.stderr], [first.status, first.stdout, first.stderr]);
    assert.equal(statSync(file).mtimeMs, written.mtimeMs);
    // A file V8 refuses is compiled around and written anew.
    writeFileSync(file, 'not a code cache');
    const third = ps();
    assert.deepEqual([third.status, third.stdout, third.stderr], [first.status, first.stdout, first.stderr]);
    assert.notEqual(readFileSync(file, 'latin1'), 'not a code cache', 'written anew');
    assert.ok(statSync(file).size > 1000);
    // No usable cache directory: the CLI works the same.
    const fourth = spawnSync(bin, ['ps', '--format', '{{.ID}}'], { env: { ...env, XDG_CACHE_HOME: '/dev/null' }, encoding: 'utf8' });
    assert.deepEqual([fourth.status, fourth.stdout, fourth.stderr], [first.status, first.stdout, first.stderr]);
  } finally {
    rmSync(cache, { recursive: true, force: true });
  }
});

test('end to end against berthd', { skip: existsSync(daemonMain) ? false : `skipped: ${daemonMain} does not exist (build the daemon first)` }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'berth-cli-e2e-'));
  const sock = join(dir, 'b.sock');
  const d = spawn(process.execPath, [daemonMain, '-H', `unix://${sock}`, '--data-root', join(dir, 'root'), '--exec-root', join(dir, 'exec')], { stdio: 'ignore' });
  try {
    for (let i = 0; i < 100 && !existsSync(sock); i++) await new Promise((r) => setTimeout(r, 100));
    assert.ok(existsSync(sock), 'berthd did not create its socket');
    const env = { ...process.env, BERTH_HOST: `unix://${sock}` };
    const v = spawnSync(process.execPath, [cliMain, 'version', '--format', '{{.Client.Version}} {{.Server.ApiVersion}}'], { env, encoding: 'utf8' });
    assert.equal(v.status, 0, v.stderr);
    assert.match(v.stdout, /^0\.1\.0 1\.\d+\n$/);
    const ps = spawnSync(process.execPath, [cliMain, 'ps', '-a'], { env, encoding: 'utf8' });
    assert.equal(ps.status, 0, ps.stderr);
    assert.match(ps.stdout, /^CONTAINER ID   IMAGE     COMMAND   CREATED   STATUS    PORTS     NAMES\n/);
    const missing = spawnSync(process.execPath, [cliMain, 'inspect', 'no-such-thing-xyz'], { env, encoding: 'utf8' });
    assert.equal(missing.status, 1);
    assert.equal(missing.stdout, '[]\n');
    assert.equal(missing.stderr, 'Error: No such object: no-such-thing-xyz\n');
  } finally {
    d.kill('SIGTERM');
    await new Promise((r) => setTimeout(r, 300));
    rmSync(dir, { recursive: true, force: true });
  }
});
