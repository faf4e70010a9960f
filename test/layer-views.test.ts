// Berth's layer views: the /berth/ endpoints (graph, union views with origin layers, whiteouts and
// hidden copies, efficiency, image comparison) and the terminal views drawn from them by `berth`.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { busyboxTar, startDaemon, stopAndCheckClean, type TestDaemon } from './harness.js';

let d: TestDaemon;
let base: string;
let mid: string;
let top: string;

before(async () => {
  d = await startDaemon({ noDefaultImage: true });
  base = (await d.dockerOk(['import', '-c', 'CMD ["sh"]', '-', 'lv-base:1'], { input: busyboxTar([{ name: 'etc', type: 'dir' }, { name: 'etc/motd', content: 'hello\n' }]) })).trim();
  // mid: adds a 300 kB file, overwrites motd, deletes /bin/ls; top: deletes the big file again.
  await d.dockerOk(['run', '--name', 'lv-c1', 'lv-base:1', 'sh', '-c', 'mkdir /data && head -c 300000 /bin/busybox > /data/big && echo bye > /etc/motd && rm /bin/ls']);
  mid = (await d.dockerOk(['commit', 'lv-c1', 'lv-mid:1'])).trim();
  await d.dockerOk(['run', '--name', 'lv-c2', 'lv-mid:1', 'sh', '-c', 'rm /data/big && echo new > /data/small']);
  top = (await d.dockerOk(['commit', 'lv-c2', 'lv-top:1'])).trim();
});

after(async () => {
  for (const c of ['lv-c1', 'lv-c2', 'lv-c3']) await d?.docker(['rm', '-f', c]);
  await stopAndCheckClean(d);
});

describe('/berth/ endpoints', () => {
  test('the layer graph draws each layer once, with created-by, and containers on their image top', async () => {
    const g = (await d.api('GET', '/berth/layers')).body;
    const images = new Map(g.Images.map((i: any) => [i.Id, i]));
    const [b, m, t] = [base, mid, top].map((id) => images.get(id) as any);
    assert.equal(b.Layers.length, 1);
    assert.deepEqual(m.Layers.slice(0, 1), b.Layers);
    assert.deepEqual(t.Layers.slice(0, 2), m.Layers);
    const ids = g.Layers.map((l: any) => l.Id);
    assert.equal(new Set(ids).size, ids.length, 'every layer once');
    assert.equal(ids.length, 3);
    const midLayer = g.Layers.find((l: any) => l.Id === m.Layers[1]);
    assert.match(midLayer.CreatedBy, /head -c 300000/);
    assert.ok(midLayer.Size >= 300000);
    const c1 = g.Containers.find((c: any) => c.Name === 'lv-c1');
    assert.equal(c1.Parent, b.Layers[0]);
    assert.ok(c1.WritableSize >= 300000);
    assert.equal(m.Container, c1.Id, 'the image names the container it was committed from');
    assert.equal(b.Container, '');
  });

  test('a container being removed stays on its layer until it is gone', async () => {
    // rm removes the writable layer before the record: a graph read in between once put the
    // container on no layer (the web view then lost its leaving frame). Read the graph without
    // pause while containers go, and look at every container seen on the way.
    const layer = (await d.api('GET', '/berth/layers')).body.Images.find((i: any) => i.Id === base).Layers[0];
    const ids: string[] = [];
    for (let i = 0; i < 8; i++) ids.push((await d.dockerOk(['create', 'lv-base:1', 'true'])).trim());
    const wrong: string[] = [];
    let reads = 0;
    let removing = true;
    const reading = (async () => {
      while (removing) {
        reads++;
        for (const c of (await d.api('GET', '/berth/layers')).body.Containers) if (ids.includes(c.Id) && c.Parent !== layer) wrong.push(`${c.State}: ${JSON.stringify(c.Parent)}`);
      }
    })();
    try {
      for (const id of ids) await d.api('DELETE', `/containers/${id}`);
    } finally {
      removing = false;
      await reading;
    }
    assert.deepEqual(wrong, [], `${reads} reads`);
  });

  test('the union view names each entry\'s origin layer, the copies it hides and whiteouts', async () => {
    const etc = (await d.api('GET', '/berth/images/lv-top:1/files?path=/etc')).body;
    assert.equal(etc.Layers.length, 3);
    const motd = etc.Entries.find((e: any) => e.Name === 'motd');
    assert.equal(motd.Layer, 1, 'motd comes from the middle layer');
    assert.deepEqual(motd.Hidden, [{ Layer: 2, Type: 'file', Size: 6 }]);
    const data = (await d.api('GET', '/berth/images/lv-top:1/files?path=/data')).body;
    const big = data.Entries.find((e: any) => e.Name === 'big');
    assert.equal(big.Whiteout, true);
    assert.equal(big.Layer, 0);
    assert.deepEqual(big.Hidden, [{ Layer: 1, Type: 'file', Size: 300000 }]);
    const ls = (await d.api('GET', '/berth/images/lv-top:1/files?path=/bin')).body.Entries.find((e: any) => e.Name === 'ls');
    assert.equal(ls.Whiteout, true);
    assert.equal(ls.Layer, 1);
    const one = (await d.api('GET', `/berth/layers/${(await d.api('GET', '/berth/layers')).body.Images.find((i: any) => i.Id === top).Layers[2]}/files?recursive=1`)).body;
    assert.equal(one.Layers.length, 1);
    assert.ok(one.Entries.find((e: any) => e.Name === 'data').Children.some((e: any) => e.Name === 'big' && e.Whiteout));
  });

  test('a container view marks its diff', async () => {
    const v = (await d.api('GET', '/berth/containers/lv-c2/files?path=/data')).body;
    assert.equal(v.Layers[0].Writable, true);
    const small = v.Entries.find((e: any) => e.Name === 'small');
    assert.equal(small.Change, 'A');
    assert.equal(small.Layer, 0);
    assert.equal(v.Entries.find((e: any) => e.Name === 'big').Change, 'D');
  });

  test('efficiency counts overwritten and deleted bytes', async () => {
    const e = (await d.api('GET', `/berth/images/${top}/efficiency`)).body;
    assert.equal(e.WastedBytes, 300000 + 6, 'the deleted big file and the overwritten motd');
    assert.ok(e.Score > 0 && e.Score < 1);
    assert.equal(e.Inefficiencies[0].Path, '/data/big');
    const b = (await d.api('GET', `/berth/images/${base}/efficiency`)).body;
    assert.equal(b.WastedBytes, 0);
    assert.equal(b.Score, 1);
  });

  test('comparison: shared layers and the file-level difference', async () => {
    const r = (await d.api('GET', '/berth/images/compare?a=lv-base:1&b=lv-top:1')).body;
    assert.equal(r.SharedLayers.length, 1);
    assert.equal(r.OnlyB.length, 2);
    const kinds = Object.fromEntries(r.Changes.map((c: any) => [c.Path, c.Kind]));
    assert.equal(kinds['/etc/motd'], 'C');
    assert.equal(kinds['/bin/ls'], 'D');
    assert.equal(kinds['/data/small'], 'A');
    assert.equal(kinds['/data/big'], undefined, 'added and deleted again: no difference');
    assert.equal(kinds['/bin/sh'], undefined, 'from the shared layer');
  });

  test('bad input: Docker\'s statuses and messages', async () => {
    assert.equal((await d.api('GET', '/berth/images/nope:1/files')).status, 404);
    assert.equal((await d.api('GET', '/berth/images/lv-top:1/files?path=/nope')).status, 404);
    const rel = await d.api('GET', '/berth/images/lv-top:1/files?path=../../etc');
    assert.equal(rel.status, 400);
    assert.match(rel.body.message, /absolute/);
    assert.equal((await d.api('GET', '/berth/images/lv-top:1/files?path=/etc/../..')).status, 400);
    assert.equal((await d.api('GET', '/berth/layers/abc/files')).status, 404);
    assert.equal((await d.api('GET', '/berth/images/compare?a=lv-top:1')).status, 400);
    assert.equal((await d.api('GET', '/berth/containers/nope/files')).status, 404);
  });
});

describe('terminal views', () => {
  test('berth image tree draws shared layers once, with sizes, created-by and tags; plain when piped', async () => {
    const out = await d.berthOk(['image', 'tree']);
    assert.doesNotMatch(out, /\x1b\[/);
    const lines = out.trimEnd().split('\n');
    const baseLine = lines.findIndex((l) => l.includes('lv-base:1'));
    assert.ok(baseLine >= 0 && lines[baseLine].startsWith('■'), out);
    assert.equal(lines.filter((l) => l.includes('lv-base:1')).length, 1);
    assert.match(out, /├─ ■ \w{12} +300kB +sh -c mkdir \/data.*lv-mid:1/);
    assert.match(out, /□ lv-c1 \(exited\) 30\dkB writable/);
    const json = JSON.parse(await d.berthOk(['image', 'tree', '--format', 'json', 'lv-base:1']));
    assert.equal(json.Images.length, 1);
    assert.equal(json.Layers.length, 1);
  });

  test('berth container layers: writable size, diff summary and the stack', async () => {
    const out = await d.berthOk(['container', 'layers', 'lv-c1']);
    assert.match(out, /rw writable +30\dkB +A \d+ C \d+ D 1/);
    assert.equal(out.trimEnd().split('\n').filter((l) => l.trimStart().startsWith('ro ')).length, 1);
    const j = JSON.parse(await d.berthOk(['container', 'layers', '--format', 'json', 'lv-c2']));
    assert.equal(j.Layers.length, 2);
    assert.equal(j.Changes.Deleted, 1);
  });

  test('berth image files: the union view with origin layers and whiteouts', async () => {
    const out = await d.berthOk(['image', 'files', 'lv-top:1', '/data']);
    assert.match(out, /✕ big \(whiteout: deleted in L0 \w{12}, hides 300kB in L1 \w{12}\)/);
    assert.match(out, /small 4B {2}L0/);
    const j = JSON.parse(await d.berthOk(['image', 'files', '--format', 'json', 'lv-top:1', '/etc/motd']));
    assert.equal(j.Entries[0].Layer, 1);
    const r = await d.berth(['image', 'files', 'lv-top:1', '/missing']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /no such file or directory/);
  });

  test('berth image diff, in text and JSON', async () => {
    const out = await d.berthOk(['image', 'diff', 'lv-base:1', 'lv-top:1']);
    assert.match(out, /^C \/etc\/motd/m);
    assert.match(out, /^D \/bin\/ls/m);
    assert.match(out, /^A \/data\/small {2}4B/m);
    const j = JSON.parse(await d.berthOk(['image', 'diff', '--format', 'json', 'lv-mid:1', 'lv-top:1']));
    assert.equal(j.SharedLayers.length, 2);
    assert.deepEqual(j.Changes.map((c: any) => `${c.Kind} ${c.Path}`), ['D /data/big', 'A /data/small']);
  });

  test('berth image efficiency: dive\'s CI gate exits non-zero when the image wastes more', async () => {
    const pass = await d.berth(['image', 'efficiency', 'lv-top:1', '--lowest-efficiency', '0.1', '--highest-wasted-bytes', '20MB']);
    assert.equal(pass.code, 0, pass.stderr);
    assert.match(pass.stdout, /PASS/);
    const bytes = await d.berth(['image', 'efficiency', 'lv-top:1', '--highest-wasted-bytes', '200kB']);
    assert.equal(bytes.code, 1);
    assert.match(bytes.stdout, /FAIL: 300kB wasted is more than 200kB/);
    const ratio = await d.berth(['image', 'efficiency', '--format', 'json', 'lv-top:1', '--lowest-efficiency', '0.99']);
    assert.equal(ratio.code, 1);
    assert.equal(JSON.parse(ratio.stdout).Pass, false);
    assert.equal((await d.berth(['image', 'efficiency', 'lv-base:1', '--lowest-efficiency', '1'])).code, 0);
    assert.equal((await d.berth(['image', 'efficiency', 'lv-top:1', '--highest-wasted-bytes', 'lots'])).code, 125);
  });
});
