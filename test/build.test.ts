// Dockerfile builds through the real docker CLI (the legacy POST /build it sends without buildx)
// and `berth build`: output lines and the resulting images compared with a dockerd started here,
// the cache (hits, invalidation, --no-cache, across a restart), failures and hostile input
// cleaned up, a client that goes away, and BuildKit's conveniences that the same API accepts.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { lines, makeTar, mountsUnder, startDaemon, stopAndCheckClean, type TestDaemon, waitFor } from './harness.js';
import { peersMissing, startDockerd, type Dockerd } from './peers.js';

let d: TestDaemon;
const dirs: string[] = [];

before(async () => {
  d = await startDaemon();
});

after(async () => {
  for (const dir of dirs) fs.rmSync(dir, { recursive: true, force: true });
  await stopAndCheckClean(d);
});

/** A build context directory with these files. */
function context(files: Record<string, string>): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bctx-'));
  dirs.push(dir);
  for (const [name, content] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(dir, name)), { recursive: true });
    fs.writeFileSync(path.join(dir, name), content);
  }
  return dir;
}

/** Build output with ids replaced, so that two daemons' runs compare. */
function normalise(out: string): string[] {
  return lines(out)
    .filter((l) => !/^(DEPRECATED|\s+Install the buildx|\s+https:\/\/docs.docker.com\/go\/buildx|Sending build context)/.test(l))
    .map((l) => l.replace(/\b[0-9a-f]{12}\b/g, '<id>'));
}

const historyOf = async (ref: string): Promise<string[]> =>
  JSON.parse((await d.api('GET', `/images/${ref}/history`)).text).map((h: { CreatedBy: string }) => h.CreatedBy.replace(/(file|dir|multi):[0-9a-f]{64}/, '$1:<sum>'));

/** Mounts under the daemon's roots besides its own (its crun binary, its netns directory and keeper). */
const buildMounts = (): string[] => mountsUnder(d.root).filter((m) => !m.endsWith('/runtime/bin/crun') && !m.endsWith('/netns') && !/\/netns\/keeper-/.test(m));

const containerIds = async (): Promise<string[]> => lines(await d.dockerOk(['ps', '-aq']));

/** A raw POST /build of a tar; resolves with the JSON messages. */
async function postBuild(tar: Buffer, query = ''): Promise<{ status: number; messages: any[]; text: string }> {
  const r = await d.api('POST', `/build?${query}`, tar, { 'Content-Type': 'application/x-tar' });
  const messages = r.status === 200 ? r.text.split('\r\n').filter(Boolean).map((l: string) => JSON.parse(l)) : [];
  return { status: r.status, messages, text: r.text };
}

const FULL = `# syntax=docker/dockerfile:1
ARG BASE=busybox
FROM $BASE
LABEL org.example.name="a b" \\
      version=1
ENV GREETING=hello PATH_EXTRA=/opt
ARG WHO=world
COPY greeting.txt /etc/greeting
COPY dir/ /data/
COPY --chown=1:2 greeting.txt dir/a /multi/
RUN echo "$GREETING $WHO" > /hello && cat /etc/greeting
WORKDIR app
USER 0:0
EXPOSE 8080 53/udp
VOLUME /cache
STOPSIGNAL SIGINT
HEALTHCHECK --interval=30s CMD true
SHELL ["/bin/sh", "-ec"]
ENTRYPOINT ["sh", "-c"]
CMD echo "\${GREETING}"
`;

describe('docker build against dockerd', { skip: peersMissing(['dockerd', 'docker']) }, () => {
  let peer: Dockerd;
  before(async () => {
    peer = await startDockerd({ busybox: true });
  });
  after(async () => {
    await peer?.stop();
  });

  test('the same lines, history and config as dockerd legacy builder', async () => {
    const dir = context({ Dockerfile: FULL, 'greeting.txt': 'hi\n', 'dir/a': '1', 'dir/sub/b': '2' });
    fs.symlinkSync('sub/b', path.join(dir, 'dir', 'link'));
    fs.chmodSync(path.join(dir, 'dir', 'a'), 0o4755);
    const args = ['build', '--network', 'none', '--build-arg', 'WHO=you', '-t', 'full:1', dir];
    const ours = await d.docker(args);
    const theirs = await peer.docker(args);
    assert.equal(ours.code, 0, ours.stderr);
    assert.equal(theirs.code, 0, theirs.stderr);
    assert.deepEqual(normalise(ours.stdout), normalise(theirs.stdout));
    const peerHistory = JSON.parse(await peer.dockerOk(['image', 'inspect', 'full:1', '--format', '{{json .}}']));
    const peerLines = JSON.parse(await peer.dockerOk(['image', 'history', '--no-trunc', '--format', '{{json .CreatedBy}}', 'full:1']).then((o) => `[${lines(o).join(',')}]`)).map((l: string) => l.replace(/(file|dir|multi):[0-9a-f]{64}/, '$1:<sum>'));
    // COPY's entries have dockerd's shape (`--chown=1:2multi:<sum>`, no space: dockerd's); the sums
    // themselves differ (dockerd hashes the client's tar headers, Berth the extracted files: docs).
    const copies = (createdBy: string[]): string[] => createdBy.filter((l) => /#\(nop\) (COPY|ADD) /.test(l)).map((l) => l.replace(/(file|dir|multi):[0-9a-f]{64}/, '$1:<sum>'));
    const ourRaw = JSON.parse((await d.api('GET', '/images/full:1/history')).text).map((h: { CreatedBy: string }) => h.CreatedBy);
    const theirRaw = lines(await peer.dockerOk(['image', 'history', '--no-trunc', '--format', '{{json .CreatedBy}}', 'full:1'])).map((l) => JSON.parse(l) as string);
    assert.equal(copies(ourRaw).length, 3);
    assert.deepEqual(copies(ourRaw), copies(theirRaw));
    // Our busybox comes from the host's busybox-static, theirs from an import: the base's own entry differs.
    assert.deepEqual((await historyOf('full:1')).slice(0, -1), peerLines.slice(0, -1));
    const ourConfig = JSON.parse(await d.dockerOk(['image', 'inspect', 'full:1', '--format', '{{json .Config}}']));
    const theirConfig = peerHistory.Config;
    for (const key of ['Env', 'Cmd', 'Entrypoint', 'WorkingDir', 'User', 'ExposedPorts', 'Volumes', 'Labels', 'StopSignal', 'Healthcheck', 'Shell']) {
      assert.deepEqual(ourConfig[key], theirConfig[key], key);
    }
    assert.equal(lines(await d.dockerOk(['run', '--rm', '--entrypoint', 'cat', 'full:1', '/hello']))[0], 'hello you');
    assert.deepEqual(await containerIds(), []);
  });

  test('a failing RUN: Docker\'s message and exit code, no tag, the container kept as dockerd keeps it', async () => {
    const dir = context({ Dockerfile: 'FROM busybox\nRUN echo out; exit 3\n' });
    const ours = await d.docker(['build', '--network', 'none', '-t', 'broken:1', dir]);
    const theirs = await peer.docker(['build', '--network', 'none', '-t', 'broken:1', dir]);
    assert.equal(ours.code, 3);
    assert.equal(theirs.code, ours.code);
    assert.deepEqual(normalise(ours.stdout), normalise(theirs.stdout));
    assert.match(ours.stderr, /The command '\/bin\/sh -c echo out; exit 3' returned a non-zero code: 3/);
    assert.equal((await d.docker(['image', 'inspect', 'broken:1'])).code, 1);
    const kept = await containerIds();
    assert.equal(kept.length, 1);
    await d.dockerOk(['rm', ...kept]);
    const forced = await d.docker(['build', '--network', 'none', '--force-rm', dir]);
    assert.equal(forced.code, 3);
    assert.deepEqual(await containerIds(), []);
    await waitFor(() => buildMounts().length === 0, `no mounts left (${buildMounts().join(', ')})`, 10_000);
  });

  test('FROM scratch metadata steps print dockerd\'s lines: each step a container of no image, removed (kept with --rm=false)', async () => {
    const dir = context({ Dockerfile: 'FROM scratch\nENV A=b\nLABEL x=y\n' });
    const ours = await d.docker(['build', '--no-cache', dir]);
    const theirs = await peer.docker(['build', '--no-cache', dir]);
    assert.equal(ours.code, 0, ours.stderr);
    assert.deepEqual(normalise(ours.stdout), normalise(theirs.stdout));
    assert.equal([...ours.stdout.matchAll(/ ---> Running in /g)].length, 2, ours.stdout);
    const kept = await d.dockerOk(['build', '--no-cache', '--rm=false', dir]);
    const ids = [...kept.matchAll(/ ---> Running in ([0-9a-f]{12})/g)].map((m) => m[1]!);
    assert.equal(ids.length, 2, kept);
    const first = JSON.parse(await d.dockerOk(['inspect', ids[0]!]))[0];
    assert.equal(first.Image, '');
    assert.equal(first.State.Status, 'created');
    assert.deepEqual(first.Config.Cmd, ['/bin/sh', '-c', '#(nop) ', 'ENV A=b']);
    await d.dockerOk(['rm', ...ids]);
    assert.deepEqual(await containerIds(), []);
  });

  test('the build\'s containers send dockerd\'s events in its order (RUN: create, attach, connect, start, die, disconnect, destroy; ENV: create, destroy)', async () => {
    const dir = context({ Dockerfile: 'FROM busybox\nRUN echo hi > /f\nENV A=b\nRUN echo two\n' });
    const eventsOfBuild = async (side: { docker(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> }): Promise<string[]> => {
      const t0 = Math.floor(Date.now() / 1000) - 1;
      const r = await side.docker(['build', '--no-cache', '-t', 'evbuild:1', dir]);
      assert.equal(r.code, 0, r.stderr);
      const t1 = Math.ceil(Date.now() / 1000) + 1;
      const out = (await side.docker(['events', '--since', String(t0), '--until', String(t1), '--filter', 'type=container', '--filter', 'type=network', '--format', '{{json .}}'])).stdout;
      // This build's containers only (the window's second before it may hold an earlier test's).
      const steps = [...r.stdout.matchAll(/ ---> Running in ([0-9a-f]{12})/g)].map((m) => m[1]!);
      assert.equal(steps.length, 3, r.stdout);
      const nth = (id: string): number => steps.findIndex((s) => id.startsWith(s)) + 1;
      return lines(out)
        .map((l) => JSON.parse(l))
        .map((e) => [e, nth(e.Type === 'network' ? e.Actor.Attributes.container : e.Actor.ID)] as const)
        .filter(([, n]) => n > 0)
        .map(([e, n]) => (e.Type === 'network' ? `network ${e.Action} ${e.Actor.Attributes.name} c${n}` : `container ${e.Action} c${n}`));
    };
    const ours = await eventsOfBuild(d);
    const theirs = await eventsOfBuild(peer);
    assert.deepEqual(ours, theirs);
    assert.deepEqual(ours.slice(0, 9), [
      'container create c1', 'container attach c1', 'network connect bridge c1', 'container start c1', 'container die c1', 'network disconnect bridge c1', 'container destroy c1',
      'container create c2', 'container destroy c2',
    ]);
    await d.dockerOk(['rmi', 'evbuild:1']);
  });
});

describe('cache', () => {
  test('a rebuild hits every step; a changed file invalidates from its step; --no-cache; the cache survives a restart', async () => {
    const dir = context({ Dockerfile: 'FROM busybox\nENV A=1\nCOPY a.txt /a\nRUN cat /a > /b\nCOPY b.txt /c\nLABEL x=y\n', 'a.txt': 'one', 'b.txt': 'two' });
    const first = await d.dockerOk(['build', '-t', 'cached:1', dir]);
    assert.equal(first.match(/Using cache/g)?.length ?? 0, 0);
    const id = (await d.dockerOk(['image', 'inspect', '-f', '{{.Id}}', 'cached:1'])).trim();
    const again = await d.dockerOk(['build', '-t', 'cached:1', dir]);
    assert.equal(again.match(/Using cache/g)?.length, 5);
    assert.equal((await d.dockerOk(['image', 'inspect', '-f', '{{.Id}}', 'cached:1'])).trim(), id);
    // mtime alone changes nothing; content does.
    fs.utimesSync(path.join(dir, 'a.txt'), new Date(2000, 1, 1), new Date(2000, 1, 1));
    assert.equal((await d.dockerOk(['build', dir])).match(/Using cache/g)?.length, 5);
    fs.writeFileSync(path.join(dir, 'b.txt'), 'changed');
    const changed = normalise(await d.dockerOk(['build', dir]));
    assert.deepEqual(
      changed.filter((l) => /^Step|Using cache/.test(l)),
      ['Step 1/6 : FROM busybox', 'Step 2/6 : ENV A=1', ' ---> Using cache', 'Step 3/6 : COPY a.txt /a', ' ---> Using cache', 'Step 4/6 : RUN cat /a > /b', ' ---> Using cache', 'Step 5/6 : COPY b.txt /c', 'Step 6/6 : LABEL x=y'],
    );
    assert.equal((await d.dockerOk(['build', '--no-cache', dir])).match(/Using cache/g)?.length ?? 0, 0);
    // Metadata-only steps make no layer; the RUN and COPY steps make one each.
    const history = JSON.parse((await d.api('GET', '/images/cached:1/history')).text) as { Size: number; CreatedBy: string }[];
    assert.deepEqual(history.slice(0, 5).map((h) => h.Size > 0), [false, true, true, true, false]);
    await d.terminate();
    await d.start();
    assert.equal((await d.dockerOk(['build', '-t', 'cached:1', dir])).match(/Using cache/g)?.length, 5);
  });

  test('--cache-from uses a loaded image\'s history', async () => {
    const dir = context({ Dockerfile: 'FROM busybox\nRUN echo layer > /f\nENV Z=1\n' });
    await d.dockerOk(['build', '-t', 'src:1', dir]);
    const saved = execFileSync('docker', ['-H', d.host, 'save', 'src:1'], { maxBuffer: 64 << 20, env: { ...process.env, DOCKER_CONFIG: d.dockerConfig } });
    // Drop the parent links the build left: only the loaded history remains to match on.
    await d.dockerOk(['rmi', 'src:1']);
    await d.dockerOk(['load'], { input: saved });
    const out = await d.dockerOk(['build', '--cache-from', 'src:1', dir]);
    assert.equal(out.match(/Using cache/g)?.length, 2);
  });
});

describe('bad input', () => {
  test('parse errors and bad parameters are 400s before any output; the daemon keeps serving', async () => {
    const tar = makeTar([{ name: 'Dockerfile', content: 'FROM busybox\n\nFRUM x\n' }]);
    const r = await postBuild(tar);
    assert.equal(r.status, 400);
    assert.equal(JSON.parse(r.text).message, 'dockerfile parse error line 3: unknown instruction: FRUM');
    const dockerCli = await d.docker(['build', '-'], { input: 'FROM busybox\nFRUM x\n' });
    assert.match(dockerCli.stderr, /dockerfile parse error line 2: unknown instruction: FRUM/);
    assert.equal((await postBuild(makeTar([{ name: 'Dockerfile', content: 'FROM busybox\n' }]), 'squash=1')).status, 400);
    assert.equal((await postBuild(makeTar([{ name: 'Dockerfile', content: 'FROM busybox\n' }]), 'buildargs=nope')).status, 400);
    assert.equal((await postBuild(makeTar([{ name: 'Dockerfile', content: 'FROM busybox\n' }]), 't=Bad:Tag')).status, 400);
    assert.equal((await postBuild(makeTar([{ name: 'x', content: '' }]))).status, 400);
    assert.equal((await d.api('GET', '/_ping')).status, 200);
  });

  test('hostile contexts: traversal, device nodes, COPY ../ and symlinks out of the context are refused', async () => {
    const traversal = await postBuild(makeTar([{ name: 'Dockerfile', content: 'FROM busybox\n' }, { name: '../escape', content: 'x' }]));
    assert.equal(traversal.status, 400);
    assert.equal(fs.existsSync(path.join(d.dataRoot, 'builder', 'escape')), false);
    const devDir = fs.mkdtempSync(path.join(os.tmpdir(), 'bdev-'));
    dirs.push(devDir);
    fs.writeFileSync(path.join(devDir, 'Dockerfile'), 'FROM busybox\n');
    execFileSync('mknod', [path.join(devDir, 'null'), 'c', '1', '3']);
    const device = await postBuild(execFileSync('tar', ['-C', devDir, '-c', '.']));
    assert.equal(device.status, 400);
    assert.match(JSON.parse(device.text).message, /device/);
    const up = await d.docker(['build', '-'], { input: makeTar([{ name: 'Dockerfile', content: 'FROM busybox\nCOPY ../etc/passwd /x\n' }]) });
    assert.notEqual(up.code, 0);
    assert.match(up.stderr, /forbidden path outside the build context/);
    const link = await d.docker(['build', '-'], {
      input: makeTar([{ name: 'Dockerfile', content: 'FROM busybox\nCOPY evil/passwd /x\n' }, { name: 'evil', type: 'symlink', linkname: '/etc' }]),
    });
    assert.notEqual(link.code, 0);
    assert.match(link.stderr, /file not found in build context/);
    assert.deepEqual(fs.readdirSync(path.join(d.dataRoot, 'builder', 'contexts')), []);
    assert.deepEqual(await containerIds(), []);
  });

  test('a client that goes away stops the build: its container is removed', async () => {
    const tar = makeTar([{ name: 'Dockerfile', content: 'FROM busybox\nRUN echo started; sleep 30\n' }]);
    for (let i = 0; i < 3; i++) {
      await new Promise<void>((resolve, reject) => {
        const req = http.request({ socketPath: d.sock, method: 'POST', path: '/build?rm=1', headers: { 'Content-Type': 'application/x-tar', 'Content-Length': tar.length } }, (res) => {
          res.on('data', (chunk: Buffer) => {
            // The RUN's own output, not the Step line naming it.
            if (chunk.toString().includes('"started\\n"')) {
              req.destroy();
              resolve();
            }
          });
          res.on('error', () => undefined);
        });
        req.on('error', () => undefined);
        setTimeout(() => reject(new Error('the build never started')), 20_000).unref();
        req.end(tar);
      });
      await waitFor(async () => (await containerIds()).length === 0, 'the build container to go', 15_000);
    }
    await waitFor(() => buildMounts().length === 0, `no mounts left (${buildMounts().join(', ')})`, 10_000);
  });
});

describe('berth build', () => {
  test('-t, -f -, a tar on stdin, -q and --iidfile, --target with an unused stage skipped, .dockerignore', async () => {
    const dir = context({
      Dockerfile: 'FROM busybox AS base\nRUN echo base > /base\nFROM busybox AS unused\nRUN echo never-built\nFROM base AS final\nCOPY . /ctx/\nRUN ls /ctx | tr "\\n" " " > /listing\n',
      '.dockerignore': 'secret*\n*.md\n!keep.md\nDockerfile\n',
      'secret.txt': 's',
      'notes.md': 'n',
      'keep.md': 'k',
      'app.txt': 'a',
    });
    const out = await d.berthOk(['build', '-t', 'bb:1', '--target', 'final', dir]);
    assert.doesNotMatch(out, /never-built/);
    assert.match(out, /Successfully tagged bb:1/);
    const listing = await d.dockerOk(['run', '--rm', 'bb:1', 'cat', '/listing']);
    assert.equal(listing.trim(), 'app.txt keep.md');
    const iid = path.join(dirs[dirs.length - 1], 'iid');
    const quiet = await d.berthOk(['build', '-q', '--iidfile', iid, '-f', '-', dir], { input: 'FROM busybox\nRUN echo stdin > /s\n' });
    assert.match(quiet.trim(), /^sha256:[0-9a-f]{64}$/);
    assert.equal(fs.readFileSync(iid, 'utf8'), quiet.trim());
    const tar = execFileSync('tar', ['-C', dir, '-c', '.']);
    const fromTar = await d.berthOk(['build', '-t', 'bb:2', '-'], { input: tar });
    assert.match(fromTar, /Successfully tagged bb:2/);
    const failed = await d.berth(['build', '-'], { input: 'FROM busybox\nRUN exit 7\n' });
    assert.equal(failed.code, 7);
    assert.match(failed.stderr, /returned a non-zero code: 7/);
    for (const c of await containerIds()) await d.dockerOk(['rm', c]);
  });

  test('BuildKit conveniences: heredocs, RUN --mount=type=cache kept across builds, COPY <<EOF, independent stages', async () => {
    const df = [
      'FROM busybox AS one',
      'RUN <<EOF',
      'echo first > /one',
      'echo second >> /one',
      'EOF',
      'FROM busybox AS two',
      'RUN --mount=type=cache,target=/cache echo run >> /cache/log && wc -l < /cache/log > /count',
      'FROM busybox',
      'COPY <<EOF /greeting',
      'hello $HOSTNAME',
      'EOF',
      'COPY --from=one /one /one',
      'COPY --from=two /count /count',
    ].join('\n');
    const dir = context({ Dockerfile: `${df}\n` });
    await d.berthOk(['build', '-t', 'bk:1', dir]);
    assert.equal(await d.dockerOk(['run', '--rm', 'bk:1', 'cat', '/one', '/greeting', '/count']), 'first\nsecond\nhello \n1\n');
    await d.berthOk(['build', '--no-cache', '-t', 'bk:2', dir]);
    assert.equal((await d.dockerOk(['run', '--rm', 'bk:2', 'cat', '/count'])).trim(), '2');
  });

  test('metadata steps name real containers, as dockerd\'s legacy builder: created, never started, committed, removed (kept with --rm=false)', async () => {
    const dir = context({ Dockerfile: 'FROM busybox\nENV A=1\nLABEL b=2\n' });
    const running = (out: string): string[] => [...out.matchAll(/ ---> Running in ([0-9a-f]{12})/g)].map((m) => m[1]!);
    const kept = await d.dockerOk(['build', '--rm=false', '--no-cache', '-t', 'meta:1', dir]);
    const ids = running(kept);
    assert.equal(ids.length, 2, kept);
    assert.doesNotMatch(kept, /Removing intermediate container/);
    const cmds = [];
    for (const id of ids) {
      const c = JSON.parse(await d.dockerOk(['inspect', id]))[0];
      assert.equal(c.State.Status, 'created', 'never started');
      cmds.push(c.Config.Cmd.join(' '));
    }
    assert.deepEqual(cmds, ['/bin/sh -c #(nop)  ENV A=1', '/bin/sh -c #(nop)  LABEL b=2']);
    // Image.Container is gone from the API since 1.45: ask as an older client.
    const image = (await d.api('GET', '/v1.41/images/meta:1/json')).body;
    assert.equal(String(image.Container).slice(0, 12), ids[1]);
    await d.dockerOk(['rm', ...ids]);
    const removed = await d.dockerOk(['build', '--no-cache', dir]);
    assert.deepEqual([...removed.matchAll(/Removing intermediate container ([0-9a-f]{12})/g)].map((m) => m[1]), running(removed));
    assert.deepEqual(await containerIds(), []);
  });

  test('RUN --mount=type=cache honours id, mode, uid, gid and sharing=shared|private|locked as BuildKit; bad values are refused', async () => {
    // Three stages at once (independent stages run concurrently): `locked` steps never overlap,
    // `private` steps never see each other's files, a cache made with mode/uid/gid has them and is
    // another cache than the plain one of the same id.
    const locked = (n: string): string => `RUN --mount=type=cache,id=lk,target=/c,sharing=locked mkdir /c/inside && sleep 2 && rmdir /c/inside && echo ${n} > /locked-${n}`;
    const priv = (n: string): string => `RUN --mount=type=cache,id=pv,target=/c,sharing=private echo ${n} > /c/who && sleep 2 && cat /c/who > /private-${n}`;
    const df = [
      'FROM busybox AS a', locked('a'), priv('a'),
      'FROM busybox AS b', locked('b'), priv('b'),
      'FROM busybox AS c',
      'WORKDIR /w',
      'RUN --mount=type=cache,id=own,target=c,mode=0710,uid=1000,gid=2000 stat -c "%a %u %g" /w/c > /own && touch /w/c/mark',
      'RUN --mount=type=cache,id=own,target=/p ls -A /p > /plain',
      'RUN --mount=type=cache,id=own,target=/again,mode=0710,uid=1000,gid=2000 ls /again > /again.txt',
      'FROM busybox',
      'COPY --from=a /locked-a /private-a /',
      'COPY --from=b /locked-b /private-b /',
      'COPY --from=c /own /plain /again.txt /',
    ].join('\n');
    const dir = context({ Dockerfile: `${df}\n` });
    await d.berthOk(['build', '-t', 'cachemounts:1', dir]);
    const seen = await d.dockerOk(['run', '--rm', 'cachemounts:1', 'cat', '/locked-a', '/locked-b', '/private-a', '/private-b', '/own', '/plain', '/again.txt']);
    assert.equal(seen, 'a\nb\na\nb\n710 1000 2000\nmark\n', 'the plain cache of id own is empty');
    for (const [mount, message] of [
      ['type=cache,target=/c,sharing=bogus', 'unsupported sharing value "bogus"'],
      ['type=cache,target=/c,mode=999', 'invalid value 999 for mode'],
      ['type=cache,target=/c,uid=-1', 'invalid value -1 for uid'],
      ['type=bind,target=/c,uid=1', 'uid not allowed for "bind" type mounts'],
      ['type=tmpfs,target=/c,sharing=locked', 'invalid cache sharing set for tmpfs mount'],
    ]) {
      const bad = await d.docker(['build', context({ Dockerfile: `FROM busybox\nRUN --mount=${mount} true\n` })]);
      assert.notEqual(bad.code, 0, mount);
      assert.match(bad.stderr, new RegExp(message!.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')), mount);
    }
  });

  test('ONBUILD triggers, COPY --chown/--chmod/--parents, ADD of a loopback URL and a local tar, a remote context', async () => {
    const server = http.createServer((req, res) => {
      if (req.url === '/file.txt') res.end('downloaded\n');
      else if (req.url === '/Dockerfile') res.end('FROM busybox\nRUN echo remote > /r\n');
      else res.writeHead(404).end();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
    const port = (server.address() as { port: number }).port;
    try {
      const parentDir = context({ Dockerfile: 'FROM busybox\nONBUILD RUN echo triggered > /onbuild\n' });
      await d.berthOk(['build', '-t', 'onbuild-parent:1', parentDir]);
      const dir = context({
        Dockerfile: [
          'FROM onbuild-parent:1',
          'COPY --chown=1:2 --chmod=0640 a/b/c.txt /owned',
          'COPY --parents a/b/c.txt /tree/',
          `ADD http://127.0.0.1:${port}/file.txt /dl/`,
          'ADD layer.tar /unpacked/',
          '',
        ].join('\n'),
        'a/b/c.txt': 'c',
      });
      fs.writeFileSync(path.join(dir, 'layer.tar'), makeTar([{ name: 'inner/x', content: 'x' }]));
      const out = await d.dockerOk(['build', '-t', 'child:1', dir]);
      assert.match(out, /# Executing 1 build trigger/);
      const check = await d.dockerOk(['run', '--rm', 'child:1', 'sh', '-c', 'cat /onbuild /tree/a/b/c.txt /dl/file.txt /unpacked/inner/x; echo; stat -c "%u:%g %a" /owned /dl/file.txt']);
      assert.equal(check, 'triggered\ncdownloaded\nx\n1:2 640\n0:0 600\n');
      // The `remote` parameter (the CLI downloads URLs itself; other clients let the daemon fetch).
      const remote = await postBuild(Buffer.alloc(0), `t=remote:1&remote=${encodeURIComponent(`http://127.0.0.1:${port}/Dockerfile`)}`);
      assert.equal(remote.status, 200);
      assert.deepEqual(remote.messages.at(-1), { stream: 'Successfully tagged remote:1\n' });
      // Only loopback: the address is refused before any connection is tried.
      const far = await postBuild(Buffer.alloc(0), `remote=${encodeURIComponent('http://192.0.2.1/Dockerfile')}`);
      assert.equal(far.status, 400);
      assert.match(JSON.parse(far.text).message, /loopback/);
    } finally {
      server.close();
    }
  });
});
