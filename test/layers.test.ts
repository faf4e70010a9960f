// Layers you can see and move: diff, commit, history and export through the real docker CLI and
// berth, checked against Docker's output and against what lands on disk (snapshots shared rather
// than copied, committed layers without a stored tar, nothing left behind by failures).
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { packDirectory } from '../src/archive/pack.js';
import { busyboxTar, lines, mountsUnder, sleep, startDaemon, stopAndCheckClean, type TestDaemon, waitFor } from './harness.js';
import { haveRegistry, startRegistry } from './registry/registry.js';

let d: TestDaemon;

before(async () => {
  d = await startDaemon();
  // An image that has no /dev, /proc, /sys or /etc: the runtime creates them in the upper dir.
  await d.dockerOk(['import', '-c', 'CMD ["sh"]', '-', 'mini:1'], { input: busyboxTar() });
});

after(() => stopAndCheckClean(d));

const blobsDir = (): string => path.join(d.dataRoot, 'content', 'blobs', 'sha256');
const blobs = (): Set<string> => new Set(fs.readdirSync(blobsDir()));
const snapshots = (): Set<string> => new Set(fs.readdirSync(path.join(d.dataRoot, 'snapshots')).filter((n) => n !== 'empty'));
const imageIds = async (): Promise<string[]> => lines(await d.dockerOk(['images', '-aq', '--no-trunc'])).sort();

async function inspectImage(ref: string): Promise<any> {
  return JSON.parse(await d.dockerOk(['image', 'inspect', ref]))[0];
}

/** The image config blob as stored (what `docker save` would ship). */
function rawConfig(id: string): any {
  return JSON.parse(fs.readFileSync(path.join(blobsDir(), id.replace('sha256:', '')), 'utf8'));
}

/** A layer's tar as `docker save` ships it (a committed layer's is regenerated from its directory). */
async function savedLayer(ref: string, diffId: string): Promise<Buffer> {
  const saved = await d.api('GET', `/images/${ref}/get`);
  assert.equal(saved.status, 200, saved.text);
  return execFileSync('tar', ['-xOf', '-', `blobs/sha256/${diffId.replace('sha256:', '')}`], { input: saved.raw, maxBuffer: 256 << 20 });
}

/** `tar -tv`-like listing of a layer tar as saved: "type name[ -> link]". */
async function layerEntries(ref: string, diffId: string): Promise<string[]> {
  return tarEntries(await savedLayer(ref, diffId));
}

function tarEntries(tar: Buffer): string[] {
  return execFileSync('tar', ['-tvf', '-'], { input: tar, maxBuffer: 64 << 20 })
    .toString()
    .split('\n')
    .filter(Boolean)
    .map((l) => {
      const f = l.split(/\s+/);
      return `${l[0]} ${f.slice(5).join(' ').replace(/ link to .*$/, '')}`;
    });
}

const sha = (b: Buffer): string => `sha256:${createHash('sha256').update(b).digest('hex')}`;

async function runToExit(name: string, image: string, script: string): Promise<void> {
  await d.dockerOk(['run', '--name', name, image, 'sh', '-c', script]);
}

async function events(since: number, filter: string[]): Promise<string[]> {
  const until = Math.ceil(Date.now() / 1000) + 1;
  return lines(await d.dockerOk(['events', '--since', String(since), '--until', String(until), ...filter, '--format', '{{.Type}} {{.Action}} {{.Actor.Attributes.imageRef}}']));
}

describe('diff', () => {
  test('added, changed and deleted paths as Docker prints them; the runtime mount points are not changes', async () => {
    const script = 'echo x > /tmp/testfile; rm /etc/group; mkdir -p /new/d; touch /new/d/f';
    await runToExit('df1', 'busybox', script);
    const expected = 'C /etc\nD /etc/group\nA /new\nA /new/d\nA /new/d/f\nC /tmp\nA /tmp/testfile\n';
    assert.equal(await d.dockerOk(['diff', 'df1']), expected);
    assert.equal(await d.berthOk(['container', 'diff', 'df1']), expected);
    // On an image without /etc, /dev, /proc and /sys the runtime made them (and /etc/hosts...).
    await runToExit('df2', 'mini:1', 'echo y > /tmp/y');
    assert.equal(await d.dockerOk(['diff', 'df2']), 'C /tmp\nA /tmp/y\n');
    const upper = (await d.dockerOk(['inspect', '-f', '{{.GraphDriver.Data.UpperDir}}', 'df2'])).trim();
    assert.ok(fs.existsSync(path.join(upper, 'etc', 'hosts')) && fs.existsSync(path.join(upper, 'proc')), 'the stubs exist in the upper dir');
    // Nothing changed: Docker answers null.
    await d.dockerOk(['create', '--name', 'df3', 'busybox', 'true']);
    const none = await d.api('GET', '/containers/df3/changes');
    assert.equal(none.status, 200);
    assert.equal(none.text, 'null');
    assert.equal(await d.dockerOk(['diff', 'df3']), '');
    assert.equal((await d.docker(['diff', 'nosuch'])).stderr.trim(), 'Error response from daemon: No such container: nosuch');
    await d.dockerOk(['rm', 'df1', 'df2', 'df3']);
  });

  test('a directory deleted and re-created (opaque) lists what it lost; running containers too', async () => {
    await d.dockerOk(['run', '-d', '--name', 'df4', 'busybox', 'sh', '-c', 'rm -rf /var && mkdir /var && echo n > /var/n && touch /ready && sleep 1000']);
    await waitFor(async () => (await d.dockerOk(['diff', 'df4'])).includes('A /ready'), 'changes of the running container');
    const expected = 'A /ready\nC /var\nA /var/n\nD /var/spool\nD /var/www\n';
    assert.equal(await d.dockerOk(['diff', 'df4']), expected);
    assert.equal(await d.berthOk(['diff', 'df4']), expected);
    await d.dockerOk(['stop', '-t', '0', 'df4']);
    assert.equal(await d.dockerOk(['diff', 'df4']), expected, 'the same once stopped');
    await d.dockerOk(['rm', 'df4']);
  });
});

describe('commit', () => {
  test('one new layer on the parent, shared not copied; config, history and events as Docker', async () => {
    const parent = await inspectImage('busybox');
    const snapsBefore = snapshots();
    await runToExit('cm1', 'busybox', 'echo x > /tmp/testfile; rm /etc/group; rm -rf /var && mkdir /var && echo n > /var/n');
    const since = Math.floor(Date.now() / 1000);
    const id = (
      await d.dockerOk([
        'commit', '-m', 'first commit', '-a', 'Jane <jane@example.com>',
        '-c', 'CMD ["cat","/tmp/testfile"]', '-c', 'ENV A=1 B="two words"', '-c', 'EXPOSE 8080 9000-9001/udp', '-c', 'LABEL k=v',
        '-c', 'USER root', '-c', 'WORKDIR /tmp', '-c', 'VOLUME /data', '-c', 'STOPSIGNAL SIGINT', '-c', 'HEALTHCHECK --interval=5s CMD true',
        'cm1', 'layers/one:v1',
      ])
    ).trim();
    assert.match(id, /^sha256:[0-9a-f]{64}$/);
    const img = await inspectImage('layers/one:v1');
    assert.equal(img.Id, id);
    assert.equal(img.Parent, parent.Id);
    assert.equal(img.Comment, 'first commit');
    assert.equal(img.Author, 'Jane <jane@example.com>');
    assert.deepEqual(img.Config.Cmd, ['cat', '/tmp/testfile']);
    assert.ok(img.Config.Env.includes('A=1') && img.Config.Env.includes('B=two words'), img.Config.Env);
    assert.deepEqual(Object.keys(img.Config.ExposedPorts).sort(), ['8080/tcp', '9000/udp', '9001/udp']);
    assert.equal(img.Config.Labels.k, 'v');
    assert.equal(img.Config.User, 'root');
    assert.equal(img.Config.WorkingDir, '/tmp');
    assert.deepEqual(Object.keys(img.Config.Volumes), ['/data']);
    assert.equal(img.Config.StopSignal, 'SIGINT');
    assert.deepEqual(img.Config.Healthcheck, { Test: ['CMD-SHELL', 'true'], Interval: 5_000_000_000 });
    // One more diff id; the parent's layers are the same ones.
    assert.deepEqual(img.RootFS.Layers.slice(0, -1), parent.RootFS.Layers);
    assert.equal(img.RootFS.Layers.length, parent.RootFS.Layers.length + 1);
    // The raw config: container, container_config, history as moby's NewChildImage writes them.
    const cfg = rawConfig(id);
    const cm1 = JSON.parse(await d.dockerOk(['inspect', 'cm1']))[0];
    assert.equal(cfg.container, cm1.Id);
    assert.deepEqual(cfg.container_config.Cmd, ['sh', '-c', 'echo x > /tmp/testfile; rm /etc/group; rm -rf /var && mkdir /var && echo n > /var/n']);
    assert.equal(cfg.history.length, rawConfig(parent.Id).history.length + 1);
    const h = cfg.history.at(-1);
    assert.equal(h.created_by, 'sh -c echo x > /tmp/testfile; rm /etc/group; rm -rf /var && mkdir /var && echo n > /var/n');
    assert.equal(h.comment, 'first commit');
    assert.equal(h.author, 'Jane <jane@example.com>');
    assert.equal(h.empty_layer, undefined);
    assert.equal(cfg.comment, undefined, 'the comment lives in history, as Docker writes it');
    // The layer: one uncompressed tar (digest = diff id) with whiteouts and the opaque marker,
    // none of the runtime's mount points.
    const diffId = img.RootFS.Layers.at(-1);
    assert.deepEqual(await layerEntries(id, diffId), [
      'd etc/', '- etc/.wh.group', 'd tmp/', '- tmp/testfile', 'd var/', '- var/.wh..wh..opq', '- var/n',
    ]);
    // Shared, not copied: exactly one new snapshot, the parent's layer dir is the new image's lower.
    const added = [...snapshots()].filter((s) => !snapsBefore.has(s));
    assert.equal(added.length, 2, `the container's and the new layer's snapshots: ${added}`);
    assert.equal(img.GraphDriver.Data.LowerDir, parent.GraphDriver.Data.UpperDir);
    const newLayerDir = img.GraphDriver.Data.UpperDir;
    assert.deepEqual(fs.readdirSync(newLayerDir).sort(), ['etc', 'tmp', 'var']);
    // Inside a container of the new image, /bin/busybox is the parent layer's very file.
    const hostInode = fs.statSync(path.join(parent.GraphDriver.Data.UpperDir, 'bin', 'busybox')).ino;
    const seenInode = await d.dockerOk(['run', '--rm', '--entrypoint', 'stat', 'layers/one:v1', '-c', '%i', '/bin/busybox']);
    assert.equal(seenInode.trim(), String(hostInode));
    // A container of the new image sees the committed files and not the deleted ones.
    assert.equal(await d.dockerOk(['run', '--name', 'cm1b', 'layers/one:v1']), 'x\n');
    const seen = await d.dockerOk(['run', '--rm', '--entrypoint', 'sh', 'layers/one:v1', '-c', 'ls /var; test -e /etc/group && echo group; cat /etc/passwd | head -1']);
    assert.equal(seen, 'n\nroot:x:0:0:root:/root:/bin/sh\n');
    // Events: the image is created, tagged, and the container says commit.
    const evs = await events(since, ['--filter', 'event=commit', '--filter', 'event=create', '--filter', 'event=tag']);
    assert.ok(evs.includes('container commit layers/one:v1'), evs.join('\n'));
    assert.ok(evs.includes('image create <no value>') && evs.includes('image tag <no value>'), evs.join('\n'));
    await d.dockerOk(['rm', 'cm1', 'cm1b']);
  });

  test('a running container is paused while committed unless --pause=false; berth commit', async () => {
    await d.dockerOk(['run', '-d', '--name', 'cm2', 'busybox', 'sh', '-c', 'echo live > /live; sleep 1000']);
    await waitFor(async () => (await d.dockerOk(['diff', 'cm2'])).includes('A /live'), 'the running container wrote /live');
    let since = Math.floor(Date.now() / 1000);
    const id = (await d.berthOk(['commit', 'cm2', 'layers/run'])).trim();
    let evs = await events(since, ['--filter', 'container=cm2']);
    assert.deepEqual(evs.filter((e) => /pause|commit/.test(e)), ['container pause <no value>', 'container unpause <no value>', 'container commit layers/run:latest']);
    assert.equal(JSON.parse(await d.dockerOk(['inspect', '-f', '{{json .State.Status}}', 'cm2'])), 'running');
    assert.equal(await d.dockerOk(['run', '--rm', 'layers/run', 'cat', '/live']), 'live\n');
    await sleep(1100);
    since = Math.floor(Date.now() / 1000);
    await d.dockerOk(['container', 'commit', '--pause=false', 'cm2', 'layers/run:nopause']);
    evs = await events(since, ['--filter', 'container=cm2']);
    assert.deepEqual(evs.filter((e) => /pause|commit/.test(e)), ['container commit layers/run:nopause']);
    // Committing the same changes again gives the same layer (one snapshot, shared).
    const a = (await inspectImage(id)).RootFS.Layers.at(-1);
    const b = (await inspectImage('layers/run:nopause')).RootFS.Layers.at(-1);
    assert.equal(a, b);
    await d.dockerOk(['rm', '-f', 'cm2']);
    await d.dockerOk(['rmi', 'layers/run', 'layers/run:nopause']);
  });

  test('a container without changes commits no layer (an empty_layer history entry)', async () => {
    await d.dockerOk(['create', '--name', 'cm3', 'busybox', 'true']);
    await d.dockerOk(['start', '-a', 'cm3']);
    const parent = await inspectImage('busybox');
    const blobsBefore = blobs();
    const id = (await d.dockerOk(['commit', 'cm3', 'layers/empty'])).trim();
    const img = await inspectImage(id);
    assert.deepEqual(img.RootFS.Layers, parent.RootFS.Layers);
    assert.equal(rawConfig(id).history.at(-1).empty_layer, true);
    assert.deepEqual([...blobs()].filter((b) => !blobsBefore.has(b)), [id.replace('sha256:', '')], 'only the config blob is new');
    const hist = lines(await d.dockerOk(['history', '--format', '{{.ID}} {{.Size}} {{.CreatedBy}}', 'layers/empty']));
    assert.equal(hist[0], `${id.slice(7, 19)} 0B true`);
    // Such an image runs like its parent.
    assert.equal(await d.dockerOk(['run', '--rm', 'layers/empty', 'echo', 'ok']), 'ok\n');
    await d.dockerOk(['rm', 'cm3']);
    await d.dockerOk(['rmi', 'layers/empty']);
  });

  test('bad input: Docker statuses and messages, and nothing left behind', async () => {
    await runToExit('cm4', 'busybox', 'echo x > /x');
    const before = { blobs: blobs(), snaps: snapshots(), images: await imageIds() };
    const cli = await d.docker(['commit', 'nosuch']);
    assert.equal(cli.code, 1);
    assert.equal(cli.stderr.trim(), 'Error response from daemon: No such container: nosuch');
    const badRef = await d.docker(['commit', 'cm4', 'Bad:Repo']);
    assert.equal(badRef.code, 1);
    assert.equal(badRef.stderr.trim(), 'invalid reference format: repository name (library/Bad) must be lowercase');
    const berthBadRef = await d.berth(['commit', 'cm4', 'Bad:Repo']);
    assert.equal(berthBadRef.stderr.trim(), 'invalid reference format: repository name (library/Bad) must be lowercase');
    const badChange = await d.docker(['commit', '-c', 'FROM scratch', 'cm4']);
    assert.equal(badChange.stderr.trim(), 'Error response from daemon: from is not a valid change command');
    const cases: [string, number, string][] = [
      ['container=nosuch', 404, 'No such container: nosuch'],
      ['container=', 400, 'invalid name or ID supplied: ""'],
      ['container=cm4&repo=Bad', 400, 'invalid reference format: repository name (library/Bad) must be lowercase'],
      ['container=nosuch&repo=Bad', 400, 'invalid reference format: repository name (library/Bad) must be lowercase'],
      ['container=cm4&repo=a&tag=b:c', 400, 'invalid tag format'],
      ['container=cm4&repo=x@sha256:' + 'a'.repeat(64), 400, 'cannot import digest reference'],
      ['container=cm4&changes=EXPOSE%20abc', 400, 'invalid containerPort: abc'],
      ['container=cm4&changes=RUN%20true', 400, 'run is not a valid change command'],
      ['container=cm4&changes=USER', 400, 'USER requires exactly one argument'],
      ['container=cm4&changes=ENV', 400, 'ENV requires at least one argument'],
      ['container=cm4&changes=LABEL%20a', 400, 'LABEL must have two arguments'],
      ['container=cm4&changes=HEALTHCHECK%20foo', 400, 'Unknown type "FOO" in HEALTHCHECK (try CMD)'],
      ['container=cm4&changes=STOPSIGNAL%20NOPE', 400, 'Invalid signal: NOPE'],
    ];
    for (const [q, status, message] of cases) {
      const r = await d.api('POST', `/v1.47/commit?${q}`);
      assert.equal(r.status, status, `${q}: ${r.text}`);
      assert.equal(r.body.message, message, q);
    }
    for (const body of ['{bad', '[1]', '"x"']) {
      const r = await d.api('POST', '/commit?container=cm4', body);
      assert.equal(r.status, 400, `${body}: ${r.text}`);
    }
    assert.deepEqual({ blobs: blobs(), snaps: snapshots(), images: await imageIds() }, before);
    // A failure after the layer was written (the image record cannot be stored): the layer,
    // its tar and the config blob all go.
    const imagesDir = path.join(d.dataRoot, 'metadata', 'images');
    // The image record cannot be written: its dir is bound read-only over itself (works on any
    // filesystem, unlike chattr +i, which tmpfs lacks).
    execFileSync('mount', ['--bind', imagesDir, imagesDir]);
    try {
      execFileSync('mount', ['-o', 'remount,bind,ro', imagesDir]);
      const r = await d.api('POST', '/commit?container=cm4&repo=late/fail');
      assert.equal(r.status, 500, r.text);
    } finally {
      execFileSync('umount', [imagesDir]);
    }
    assert.deepEqual({ blobs: blobs(), snaps: snapshots(), images: await imageIds() }, before);
    // A body overrides the container's config; `{}` and `null` mean none.
    const withBody = await d.api('POST', '/commit?container=cm4&repo=layers/body', { Cmd: ['cat', '/x'], Env: ['FROM_BODY=1'] });
    assert.equal(withBody.status, 201, withBody.text);
    const bodyImg = await inspectImage(withBody.body.Id);
    assert.deepEqual(bodyImg.Config.Cmd, ['cat', '/x']);
    // The container's Env (here none: the image sets no PATH; dockerd adds PATH only to the process) merged under the body's.
    assert.ok(bodyImg.Config.Env.includes('FROM_BODY=1'), bodyImg.Config.Env);
    assert.equal(await d.dockerOk(['run', '--rm', 'layers/body']), 'x\n');
    for (const body of ['{}', 'null']) {
      const r = await d.api('POST', '/commit?container=cm4', body);
      assert.equal(r.status, 201, r.text);
      assert.deepEqual((await inspectImage(r.body.Id)).Config.Cmd, ['sh', '-c', 'echo x > /x']);
      await d.dockerOk(['rmi', r.body.Id]);
    }
    // ENTRYPOINT alone drops the inherited CMD, as the builder does.
    const ep = await d.api('POST', `/commit?container=cm4&changes=${encodeURIComponent('ENTRYPOINT ["echo"]')}`);
    assert.equal(ep.status, 201, ep.text);
    const epImg = await inspectImage(ep.body.Id);
    assert.deepEqual([epImg.Config.Entrypoint, epImg.Config.Cmd], [['echo'], null]);
    await d.dockerOk(['rmi', ep.body.Id, 'layers/body']);
    await d.dockerOk(['rm', 'cm4']);
  });
});

describe('history', () => {
  test('image → commit → commit: ids along the parent chain, tags, sizes, <missing> without parents', async () => {
    const base = await inspectImage('busybox');
    await runToExit('hi1', 'busybox', 'echo one > /one');
    const a = (await d.dockerOk(['commit', '-m', 'A', 'hi1', 'hist/a:1'])).trim();
    await d.dockerOk(['create', '--name', 'hi2', 'hist/a:1', 'true']);
    const b = (await d.dockerOk(['commit', '-m', 'B', 'hi2'])).trim(); // untagged, empty layer
    await runToExit('hi3', b, 'echo three-three > /three');
    const c = (await d.dockerOk(['commit', 'hi3', 'hist/c:1'])).trim();
    const hist = async (ref: string) => (await d.api('GET', `/images/${encodeURIComponent(ref)}/history`)).body;
    const hc = await hist('hist/c:1');
    assert.deepEqual(hc.map((h: any) => h.Id), [c, b, a, base.Id]);
    assert.deepEqual(hc.map((h: any) => h.Tags), [['hist/c:1'], null, ['hist/a:1'], ['busybox:latest']]);
    assert.deepEqual(hc.map((h: any) => h.Comment), ['', 'B', 'A', rawConfig(base.Id).history[0].comment ?? '']);
    assert.deepEqual(hc.map((h: any) => h.CreatedBy), ['sh -c echo three-three > /three', 'true', 'sh -c echo one > /one', rawConfig(base.Id).history[0].created_by ?? '']);
    assert.deepEqual(hc.slice(0, 3).map((h: any) => h.Size), [12, 0, 4], 'layer sizes; 0 for the empty one');
    assert.ok(hc[3].Size > 1_000_000);
    assert.deepEqual((await hist(b)).map((h: any) => h.Id), [b, a, base.Id]);
    assert.deepEqual((await hist('hist/a:1')).map((h: any) => h.Id), [a, base.Id]);
    assert.deepEqual((await hist('busybox')).map((h: any) => h.Id), [base.Id]);
    assert.equal((await d.api('GET', '/images/nosuch/history')).status, 404);

    // docker history and berth history print the same, in Docker's layout.
    for (const args of [[], ['--no-trunc'], ['-q'], ['--no-trunc', '-q'], ['-H=false'], ['--human=false', '--no-trunc'], ['--format', '{{.ID}}|{{.CreatedBy}}|{{.Size}}|{{.Comment}}'], ['--format', '{{json .}}'], ['--format', 'table {{.ID}}\t{{.Size}}']]) {
      for (const words of [['history'], ['image', 'history']]) {
        // CREATED is relative to now and the two runs are apart (seconds on a loaded machine): its numbers are not compared.
        const since = (s: string): string => s.replace(/\b(\d+|About an?|Less than a) (second|minute|hour)s? ago/g, 'N $2s ago').replace(/ {2,}/g, '  ');
        await waitFor(async () => since(await d.dockerOk(['history', ...args, 'hist/c:1'])) === since(await d.berthOk([...words, ...args, 'hist/c:1'])), `${words.join(' ')} ${args.join(' ')} as docker prints it`, 10_000, 200);
      }
    }
    const table = lines(await d.berthOk(['history', 'hist/c:1']));
    assert.match(table[0], /^IMAGE +CREATED +CREATED BY +SIZE +COMMENT$/);
    assert.match(table[1], new RegExp(`^${c.slice(7, 19)} +\\S.* ago +sh -c echo three-three > /three +12B +$`));
    assert.match(table[2], new RegExp(`^${b.slice(7, 19)} .* true +0B +B$`));
    const plain = lines(await d.berthOk(['history', '-H=false', 'hist/c:1']));
    assert.match(plain[1], /\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(Z|[+-]\d\d:\d\d) +sh -c echo three-three > \/three +12 +$/);

    // CREATED BY is cut at 45 characters with "…".
    await runToExit('hi4', 'busybox', 'echo a-rather-long-command-line-that-goes-on-and-on > /long');
    await d.dockerOk(['commit', 'hi4', 'hist/long']);
    const long = lines(await d.berthOk(['history', '--format', '{{.CreatedBy}}', 'hist/long']))[0];
    assert.equal(long, 'sh -c echo a-rather-long-command-line-that-g…');
    assert.equal([...long].length, 45);
    assert.equal(long, lines(await d.dockerOk(['history', '--format', '{{.CreatedBy}}', 'hist/long']))[0]);

    // An image whose parent record is gone (as for a pulled or loaded image) keeps its own id;
    // the older entries are <missing>.
    await d.dockerOk(['rm', 'hi1', 'hi2', 'hi3', 'hi4']);
    const recordFile = path.join(d.dataRoot, 'metadata', 'images', `${c.slice(7)}.json`);
    await d.terminate();
    const rec = JSON.parse(fs.readFileSync(recordFile, 'utf8'));
    delete rec.parent;
    fs.writeFileSync(recordFile, JSON.stringify(rec));
    await d.start();
    const orphan = await hist('hist/c:1');
    assert.deepEqual(orphan.map((h: any) => h.Id), [c, '<missing>', '<missing>', '<missing>']);
    assert.deepEqual(orphan.map((h: any) => h.Tags), [['hist/c:1'], null, null, null]);
    assert.match(lines(await d.dockerOk(['history', 'hist/c:1']))[2], /^<missing> /);
    await d.dockerOk(['rmi', 'hist/c:1', 'hist/long', b, 'hist/a:1']);
  });
});

describe('export', () => {
  test('stopped and running containers as one flat tar; importing it gives an image that runs the same', async () => {
    await runToExit('ex1', 'busybox', 'echo x > /tmp/testfile; rm /etc/group; rm -rf /var && mkdir /var && echo n > /var/n');
    const out = path.join(d.root, 'ex1.tar');
    await d.dockerOk(['export', '-o', out, 'ex1']);
    assert.equal(fs.statSync(out).mode & 0o777, 0o600);
    const entries = tarEntries(fs.readFileSync(out));
    const names = entries.map((e) => e.slice(2));
    assert.ok(names.includes('tmp/testfile') && names.includes('var/n') && names.includes('bin/busybox') && names.includes('etc/passwd'), names.join('\n'));
    assert.ok(!names.includes('etc/group') && !names.some((n) => n.startsWith('var/spool')), 'deleted paths are gone');
    assert.ok(!names.some((n) => n.includes('.wh.')), 'no whiteouts in a flat export');
    assert.ok(!names.some((n) => n.startsWith('./') || n.startsWith('/')), 'relative names, no root entry');
    // berth and stdout give the same tar.
    const viaStdout = execFileSync('docker', ['-H', d.host, 'export', 'ex1'], { maxBuffer: 64 << 20, env: { ...process.env, DOCKER_CONFIG: d.dockerConfig } });
    assert.deepEqual(tarEntries(viaStdout), entries);
    const berthOut = path.join(d.root, 'ex1-berth.tar');
    await d.berthOk(['container', 'export', '--output', berthOut, 'ex1']);
    assert.deepEqual(tarEntries(fs.readFileSync(berthOut)), entries);
    // docker import of it: one layer, the same files.
    const imported = (await d.dockerOk(['import', out, 'layers/flat'])).trim();
    assert.equal((await inspectImage(imported)).RootFS.Layers.length, 1);
    const script = 'cat /tmp/testfile; ls /var; test -e /etc/group || echo no-group';
    assert.equal(await d.dockerOk(['run', '--rm', 'layers/flat', 'sh', '-c', script]), 'x\nn\nno-group\n');
    // A running container exports too, including what it writes while running.
    await d.dockerOk(['run', '-d', '--name', 'ex2', 'busybox', 'sh', '-c', 'echo live > /live; sleep 1000']);
    await waitFor(async () => (await d.dockerOk(['diff', 'ex2'])).includes('A /live'), '/live written');
    assert.equal((await d.berth(['export', 'ex2'])).code, 0);
    const res = await d.api('GET', '/containers/ex2/export');
    assert.equal(res.status, 200);
    assert.equal(res.headers['content-type'], 'application/octet-stream');
    assert.ok(tarEntries(res.raw).includes('- live'));
    assert.equal((await d.api('GET', '/containers/nosuch/export')).status, 404);
    const missing = await d.berth(['export', 'nosuch']);
    assert.deepEqual([missing.code, missing.stderr.trim()], [1, 'Error response from daemon: No such container: nosuch']);
    // No view stays mounted and no view directory is left.
    assert.deepEqual(mountsUnder(path.join(d.execRoot, 'export')), []);
    assert.deepEqual(fs.readdirSync(path.join(d.execRoot, 'export')), []);
    await d.dockerOk(['rm', '-f', 'ex1', 'ex2']);
    await d.dockerOk(['rmi', 'layers/flat']);
  });

  test('the packer never follows a directory swapped for a symlink while it packs (deterministic)', async () => {
    // A tree being packed; the packer is paused inside a big file, then the directory it is in
    // is swapped for a symlink to a host directory holding a file of the same name as the next entry.
    const tree = fs.mkdtempSync(path.join(d.root, 'pack-'));
    const host = fs.mkdtempSync(path.join(d.root, 'host-'));
    fs.mkdirSync(path.join(tree, 'x'));
    fs.writeFileSync(path.join(tree, 'x', 'aaa'), Buffer.alloc(8 << 20, 0x61));
    fs.writeFileSync(path.join(tree, 'x', 'secret'), 'decoy\n');
    fs.mkdirSync(path.join(tree, 'x', 'sub'));
    fs.writeFileSync(path.join(host, 'secret'), 'host secret\n');
    fs.mkdirSync(path.join(host, 'sub'));
    fs.writeFileSync(path.join(host, 'sub', 'host-only'), 'host secret\n');
    const tar = packDirectory(tree);
    const chunks: Buffer[] = [];
    const it = tar[Symbol.asyncIterator]();
    let got = 0;
    while (got < 1 << 20) {
      const r = await it.next();
      assert.ok(!r.done);
      chunks.push(r.value as Buffer);
      got += (r.value as Buffer).length;
    }
    fs.renameSync(path.join(tree, 'x'), path.join(tree, 'x-old'));
    fs.symlinkSync(host, path.join(tree, 'x'));
    for (let r = await it.next(); !r.done; r = await it.next()) chunks.push(r.value as Buffer);
    const all = Buffer.concat(chunks);
    assert.ok(!all.includes(Buffer.from('host secret')), 'host files were packed through the swapped symlink');
    const entries = tarEntries(all);
    assert.deepEqual(entries, ['d x/', '- x/aaa', '- x/secret', 'd x/sub/'], 'the walk went on in the directory it had open');
  });

  test('a container swapping a directory for a symlink to / cannot make export, commit or diff read the host', async () => {
    // A marker only the host has: if it shows up in any output, the packer followed the link.
    const marker = `berth-host-marker-${process.pid}`;
    fs.writeFileSync(path.join(d.root, marker), 'host secret');
    const swap = `while :; do mkdir /tmp/d 2>/dev/null; rmdir /tmp/d 2>/dev/null; ln -s ${d.root} /tmp/d 2>/dev/null; rm -f /tmp/d; ln -s / /tmp/e 2>/dev/null; rm -f /tmp/e; mkdir /tmp/e 2>/dev/null; rmdir /tmp/e 2>/dev/null; done`;
    await d.dockerOk(['run', '-d', '--name', 'race', 'busybox', 'sh', '-c', swap]);
    for (let i = 0; i < 8; i++) {
      const res = await d.api('GET', '/containers/race/export');
      assert.equal(res.status, 200);
      const names = tarEntries(res.raw).map((e) => e.slice(2));
      assert.ok(!names.some((n) => /^tmp\/[de]\/./.test(n)), `export followed a symlink: ${names.filter((n) => n.startsWith('tmp/')).join(', ')}`);
      assert.ok(!res.raw.includes(Buffer.from(marker)));
      const diff = await d.api('GET', '/containers/race/changes');
      assert.ok(!(diff.body ?? []).some((c: { Path: string }) => /^\/tmp\/[de]\/./.test(c.Path)), JSON.stringify(diff.body));
    }
    const blobsBefore = blobs();
    const commit = await d.api('POST', '/commit?container=race&pause=0');
    assert.equal(commit.status, 201, commit.text);
    const img = await inspectImage(commit.body.Id);
    const layer = img.RootFS.Layers.at(-1);
    if (!blobsBefore.has(layer.replace('sha256:', ''))) {
      const names = (await layerEntries(commit.body.Id, layer)).map((e) => e.slice(2));
      assert.ok(!names.some((n) => /^tmp\/[de]\/./.test(n)), names.join(', '));
    }
    await d.dockerOk(['rm', '-f', 'race']);
    await d.dockerOk(['rmi', commit.body.Id]);
    assert.deepEqual(mountsUnder(path.join(d.execRoot, 'export')), []);
  });
});

describe('layer lifecycle', () => {
  test('rmi of a committed image removes exactly its own snapshot, not the parent\'s (a committed layer stores no tar)', async () => {
    const parent = await inspectImage('busybox');
    const parentLayer = parent.RootFS.Layers[0].replace('sha256:', '');
    await runToExit('lc1', 'busybox', 'echo own > /own');
    const before = { blobs: blobs(), snaps: snapshots() };
    const id = (await d.dockerOk(['commit', 'lc1', 'lc/one'])).trim();
    const layer = (await inspectImage(id)).RootFS.Layers.at(-1).replace('sha256:', '');
    const newBlobs = [...blobs()].filter((b) => !before.blobs.has(b)).sort();
    assert.deepEqual(newBlobs, [id.slice(7)], 'the config only: the layer tar is regenerated from its directory');
    const newSnaps = [...snapshots()].filter((s) => !before.snaps.has(s));
    assert.equal(newSnaps.length, 1);
    await d.dockerOk(['rm', 'lc1']);
    const out = await d.dockerOk(['rmi', 'lc/one']);
    assert.equal(out, `Untagged: lc/one:latest\nDeleted: ${id}\n`);
    const afterSnaps = snapshots();
    const afterBlobs = blobs();
    assert.ok(!afterBlobs.has(layer) && !afterBlobs.has(id.slice(7)), 'its config is gone');
    assert.ok(!afterSnaps.has(newSnaps[0]), 'its snapshot is gone');
    assert.ok(afterBlobs.has(parentLayer), "the parent's layer tar stays");
    assert.ok(fs.existsSync(path.join(parent.GraphDriver.Data.UpperDir, 'bin', 'busybox')), "the parent's layer stays");

    // An image with children cannot be deleted by id; by name it is only untagged.
    await runToExit('lc2', 'busybox', 'echo p > /p');
    const p = (await d.dockerOk(['commit', 'lc2', 'lc/parent'])).trim();
    await runToExit('lc3', 'lc/parent', 'echo c > /c');
    const child = (await d.dockerOk(['commit', 'lc3', 'lc/child'])).trim();
    await d.dockerOk(['rm', 'lc2', 'lc3']);
    const byId = await d.docker(['rmi', '-f', p]);
    assert.equal(byId.stderr.trim(), `Error response from daemon: conflict: unable to delete ${p.slice(7, 19)} (cannot be forced) - image has dependent child images`);
    assert.equal(await d.dockerOk(['rmi', 'lc/parent']), 'Untagged: lc/parent:latest\n');
    assert.deepEqual((await d.api('GET', '/images/lc/child/history')).body.slice(0, 2).map((h: any) => h.Id), [child, p]);
    // Removing the child takes the untagged parent with it, layers and tars included.
    const rmChild = await d.dockerOk(['rmi', 'lc/child']);
    assert.equal(rmChild, `Untagged: lc/child:latest\nDeleted: ${child}\nDeleted: ${p}\n`);
    assert.deepEqual({ blobs: blobs(), snaps: snapshots() }, { blobs: afterBlobs, snaps: afterSnaps });
  });

  test('a layer shared by two snapshots (same diff id, different parents) saves from the one left when the other goes', async () => {
    // The same bytes committed on two different images: fixed names, modes and times.
    const script = 'busybox mkdir /same && echo same > /same/f && busybox touch -d "2020-01-02 03:04:05" /same/f /same';
    await runToExit('sh1', 'busybox', script);
    await runToExit('sh2', 'mini:1', script);
    const one = (await d.dockerOk(['commit', 'sh1', 'shared/one'])).trim();
    const two = (await d.dockerOk(['commit', 'sh2', 'shared/two'])).trim();
    await d.dockerOk(['rm', 'sh1', 'sh2']);
    const l1 = (await inspectImage(one)).RootFS.Layers.at(-1);
    const l2 = (await inspectImage(two)).RootFS.Layers.at(-1);
    assert.equal(l1, l2, 'the same diff id');
    assert.notEqual((await inspectImage(one)).GraphDriver.Data.UpperDir, (await inspectImage(two)).GraphDriver.Data.UpperDir, 'two snapshots');
    await d.dockerOk(['rmi', 'shared/one']);
    assert.equal(sha(await savedLayer('shared/two', l2)), l2, "regenerated from the other snapshot's directory");
    await d.dockerOk(['run', '--rm', 'shared/two', 'cat', '/same/f']);
    await d.dockerOk(['rmi', 'shared/two']);
  });
});

describe('committed layers: no stored tar, regenerated byte for byte', () => {
  test('commit → save (digest = diff id, twice the same bytes) → load into another daemon; push → pull; a changed layer directory fails the save', async (t) => {
    // Every kind of entry the packer writes: files, a hard link, a symlink, a fifo, setuid and
    // owners, a whiteout, an opaque directory, nested dirs; then a second commit on top.
    const script = [
      'echo one > /one && ln /one /one-link && ln -s /one /one-sym && mkfifo /fifo',
      'mkdir -p /deep/a/b && echo b > /deep/a/b/f && chown 12:34 /deep/a/b/f && chmod 4755 /deep/a/b/f',
      'rm /etc/group && rm -rf /var && mkdir /var && echo n > /var/n',
    ].join(' && ');
    await runToExit('rt1', 'busybox', script);
    await d.dockerOk(['commit', 'rt1', 'rt/base']);
    await runToExit('rt2', 'rt/base', 'echo two > /two && rm /one-sym');
    const id = (await d.dockerOk(['commit', 'rt2', 'rt/img:1'])).trim();
    await d.dockerOk(['rm', 'rt1', 'rt2']);
    const img = await inspectImage(id);
    const mine = img.RootFS.Layers.slice(1) as string[];
    assert.equal(mine.length, 2);
    for (const l of mine) assert.ok(!blobs().has(l.replace('sha256:', '')), `no stored tar for ${l}`);

    const first = await d.api('GET', '/images/rt/img:1/get');
    const second = await d.api('GET', '/images/rt/img:1/get');
    assert.equal(first.status, 200, first.text);
    assert.ok(first.raw.equals(second.raw), 'two saves give the same bytes');
    for (const l of mine) assert.equal(sha(await savedLayer('rt/img:1', l)), l, 'the regenerated tar is the diff id');
    assert.deepEqual(await layerEntries('rt/img:1', mine[1]!), ['- .wh.one-sym', '- two']);

    const other = await startDaemon({ noDefaultImage: true });
    t.after(() => stopAndCheckClean(other));
    const loaded = await other.dockerOk(['load'], { input: first.raw });
    assert.equal(loaded, 'Loaded image: rt/img:1\n');
    assert.equal(JSON.parse(await other.dockerOk(['image', 'inspect', 'rt/img:1']))[0].Id, id, 'the same image id');
    const seen = await other.dockerOk(['run', '--rm', 'rt/img:1', 'sh', '-c', 'cat /one /two /deep/a/b/f /var/n; stat -c "%a %u:%g %h" /deep/a/b/f /one; test -p /fifo && echo fifo; test -e /one-sym || echo nosym; test -e /etc/group || echo nogroup']);
    assert.equal(seen, 'one\ntwo\nb\nn\n4755 12:34 1\n644 0:0 2\nfifo\nnosym\nnogroup\n');

    if (haveRegistry()) {
      const reg = await startRegistry();
      t.after(() => reg.stop());
      const name = `${reg.host}/rt/img:1`;
      await d.dockerOk(['tag', 'rt/img:1', name]);
      assert.match(await d.dockerOk(['push', name]), /: Pushed/);
      await other.dockerOk(['rmi', 'rt/img:1']);
      await other.dockerOk(['pull', name]);
      const pulled = JSON.parse(await other.dockerOk(['image', 'inspect', name]))[0];
      assert.equal(pulled.Id, id, 'pulled (diff ids verified by the puller): the same image');
      assert.equal(await other.dockerOk(['run', '--rm', name, 'cat', '/two']), 'two\n');
      await d.dockerOk(['rmi', name]);
    }

    // A layer directory changed behind Berth's back: save refuses rather than ship other bytes.
    const dir = img.GraphDriver.Data.UpperDir;
    fs.writeFileSync(path.join(dir, 'two'), 'tampered\n');
    const bad = await d.docker(['save', '-o', path.join(d.root, 'bad.tar'), 'rt/img:1']);
    assert.notEqual(bad.code, 0, 'save of a changed layer fails');
    // The daemon logs why once the broken stream is torn down, which the CLI may see first.
    await waitFor(() => /changed on disk/.test(d.log()), 'the daemon logs the changed layer', 10_000);
    await d.dockerOk(['rmi', 'rt/img:1', 'rt/base']);
  });
});
