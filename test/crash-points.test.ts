// The crash points behind "failed to start daemon: snapshot … does not exist", made deterministic
// instead of waiting for a SIGKILL to land in them (test/crash.test.ts does that at random):
// - races between the removal of unused layers (every rmi runs it) and the writes that stand on
//   a layer before they are recorded — an image record, a child layer, a container's snapshot, a
//   creation that found its layer present — each of which used to leave on disk a record naming a
//   layer that was gone, which the next start-up refused;
// - the state such a record leaves (an image whose layer is gone, a container on it, a layer whose
//   parent is gone, a record that is not JSON): berthd starts, serves the rest, drops and reports
//   the broken image, answers a clean error for it, and sweeps what it left.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { EventService } from '../src/engine/events.js';
import { ImageService } from '../src/engine/images/image-service.js';
import type { ImageConfig } from '../src/engine/images/image-types.js';
import { Snapshotter, type SnapshotInfo } from '../src/snapshot/overlay.js';
import { ContentStore } from '../src/store/content.js';
import { ReferenceStore } from '../src/store/references.js';
import { busyboxTar, sleep, startDaemon, stopAndCheckClean, type TestDaemon } from './harness.js';

const sha = (s: string): string => `sha256:${createHash('sha256').update(s).digest('hex')}`;

interface Stores {
  root: string;
  content: ContentStore;
  snapshots: Snapshotter;
  images: ImageService;
}

/** The image side of an engine on `root` (made fresh, or opened again as a restarted daemon would). */
async function openStores(root: string): Promise<Stores> {
  const content = new ContentStore(root);
  await content.init();
  fs.mkdirSync(path.join(root, 'metadata'), { recursive: true });
  const references = new ReferenceStore(path.join(root, 'metadata'));
  await references.init();
  const snapshots = new Snapshotter(root);
  await snapshots.init();
  const images = new ImageService({ root, content, references, snapshots, events: new EventService(), containersUsing: () => [] });
  await images.init();
  return { root, content, snapshots, images };
}

function layer(snapshots: Snapshotter, parent: string | undefined, name: string): Promise<SnapshotInfo> {
  return snapshots.createLayer(parent, async (dir) => {
    fs.writeFileSync(path.join(dir, name), name);
    return { diffId: sha(name), size: name.length };
  });
}

function configOn(diffIds: string[], tag: string): ImageConfig {
  return { architecture: 'amd64', os: 'linux', created: new Date().toISOString(), config: { Labels: { tag } }, rootfs: { type: 'layers', diff_ids: diffIds } };
}

/** What the next start-up does with the data root: it must neither throw nor find a broken chain. */
async function restart(root: string): Promise<Stores> {
  const s = await openStores(root);
  await s.images.removeOrphans(new Set());
  for (const image of s.images.all()) s.snapshots.chain(image.topLayer);
  return s;
}

describe('layer removal racing the writes that stand on layers', () => {
  const roots: string[] = [];
  const fresh = async (): Promise<Stores> => {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-crash-points-'));
    roots.push(root);
    return openStores(root);
  };
  after(() => {
    for (const r of roots) fs.rmSync(r, { recursive: true, force: true });
  });

  test('an image recorded while unused layers are removed keeps its layer (a pull finishing as an rmi sweeps)', async () => {
    const s = await fresh();
    const l = await layer(s.snapshots, undefined, 'pulled');
    // create() checks the layer, then awaits its config blob and its record: the sweep runs meanwhile.
    const [image] = await Promise.all([s.images.create(configOn([l.diffId!], 'a')), s.images.removeUnusedLayers()]);
    assert.deepEqual(s.snapshots.chain(image.topLayer), [l.key]);
    assert.ok(fs.existsSync(s.snapshots.fsDir(l.key)), 'the image layer was removed under it');
    const again = await restart(s.root);
    assert.ok(again.images.get(image.record.id), 'the image is gone after a restart');
  });

  test('a layer being committed keeps its parent (a pull or a commit building on an unused layer)', async () => {
    const s = await fresh();
    const p = await layer(s.snapshots, undefined, 'parent');
    const child = await s.snapshots.unpackDetached(async (dir) => {
      fs.writeFileSync(path.join(dir, 'child'), 'child');
      return { diffId: sha('child'), size: 5 };
    });
    const [c] = await Promise.all([s.snapshots.commitDetached(p.key, child), s.images.removeUnusedLayers()]);
    assert.deepEqual(s.snapshots.chain(c.key), [c.key, p.key]);
    const image = await s.images.create(configOn([p.diffId!, c.diffId!], 'b'));
    await restart(s.root);
    assert.ok(fs.existsSync(s.snapshots.fsDir(p.key)));
    assert.ok(image);
  });

  test("a container's snapshot being prepared keeps its image's layers (a create racing rmi -f)", async () => {
    const s = await fresh();
    const p = await layer(s.snapshots, undefined, 'image-layer');
    await Promise.all([s.snapshots.prepare('c'.repeat(64), p.key), s.images.removeUnusedLayers()]);
    assert.deepEqual(s.snapshots.chain(s.snapshots.get('c'.repeat(64))!.parent), [p.key]);
    const again = await restart(s.root);
    // No container record names it here, so the restart sweeps both: what matters is that it could.
    assert.equal(again.snapshots.get('c'.repeat(64)), undefined);
    assert.equal(again.snapshots.get(p.key), undefined);
  });

  test('a layer a creation under way found present is kept until its image is recorded (pull, load, an identical commit)', async () => {
    const s = await fresh();
    const p = await layer(s.snapshots, undefined, 'present');
    await sleep(5); // the layer is older than the creation
    const image = await s.images.creating(async () => {
      assert.ok(s.snapshots.get(p.key), 'the creation finds the layer present');
      await s.images.removeUnusedLayers(); // a concurrent rmi's sweep
      return s.images.create(configOn([p.diffId!], 'c'));
    });
    assert.deepEqual(s.snapshots.chain(image.topLayer), [p.key]);
    // Once the image goes, the layer is unused and goes with the next sweep.
    await s.images.remove(image.record.id, { force: true, noPrune: false });
    assert.equal(s.snapshots.get(p.key), undefined);
    assert.equal(fs.existsSync(s.snapshots.layerDir(p.key)), false);
  });

  test('start-up after an rmi cut short (record gone; a layer half removed): the rest is swept, other images keep theirs', async () => {
    const s = await fresh();
    const shared = await layer(s.snapshots, undefined, 'shared');
    const mine = await layer(s.snapshots, shared.key, 'mine');
    const theirs = await layer(s.snapshots, shared.key, 'theirs');
    const removed = await s.images.create(configOn([shared.diffId!, mine.diffId!], 'removed'));
    const kept = await s.images.create(configOn([shared.diffId!, theirs.diffId!], 'kept'));
    // rmi's order: the record, then the config blob, then each unused layer's metadata, then its directory.
    fs.rmSync(path.join(s.root, 'metadata', 'images', `${removed.record.id.slice(7)}.json`));
    fs.rmSync(path.join(s.root, 'metadata', 'snapshots', `${mine.key}.json`));
    const again = await restart(s.root);
    assert.equal(again.images.get(removed.record.id), undefined);
    assert.equal(fs.existsSync(again.snapshots.layerDir(mine.key)), false, 'the half-removed layer is still there');
    assert.equal(await again.content.has(removed.record.id), false, 'the config blob of the removed image is still there');
    assert.deepEqual(again.snapshots.chain(again.images.get(kept.record.id)!.topLayer), [theirs.key, shared.key]);
  });

  test('start-up with an image whose lower layer is gone: the image is dropped with a reason, the rest swept, nothing thrown', async () => {
    const s = await fresh();
    const a = await layer(s.snapshots, undefined, 'lower');
    const b = await layer(s.snapshots, a.key, 'upper');
    const ok = await layer(s.snapshots, undefined, 'fine');
    const broken = await s.images.create(configOn([a.diffId!, b.diffId!], 'broken'));
    const kept = await s.images.create(configOn([ok.diffId!], 'kept'));
    // What the old races left: the lower layer's record and directory gone, the rest in place.
    fs.rmSync(path.join(s.root, 'metadata', 'snapshots', `${a.key}.json`));
    fs.rmSync(s.snapshots.layerDir(a.key), { recursive: true });
    const again = await restart(s.root);
    assert.equal(again.images.get(broken.record.id), undefined);
    assert.ok(again.images.get(kept.record.id));
    assert.throws(() => again.images.resolve(broken.record.id), (err: Error) => err.constructor.name === 'NotFoundError' && err.message.includes(`its layer ${a.key} was missing at start-up`));
    assert.equal(again.snapshots.get(b.key), undefined, 'the layer above the missing one was not swept');
    assert.equal(fs.existsSync(again.snapshots.layerDir(b.key)), false);
    assert.equal(await again.content.has(broken.record.id), false, 'the config blob of the dropped image was not swept');
    assert.equal(fs.existsSync(path.join(s.root, 'metadata', 'images', `${broken.record.id.slice(7)}.json`)), false);
  });
});

describe('berthd after a crash left an image without its layer', () => {
  let d: TestDaemon;
  before(async () => {
    d = await startDaemon();
  });
  after(() => stopAndCheckClean(d));

  test('berthd starts and serves; the image is reported and gone, its container stays removable, a bad record is skipped', async () => {
    const r = await d.api('POST', '/images/create?fromSrc=-&repo=crash-points/broken&tag=v1', busyboxTar([{ name: 'only-here', content: 'x' }]));
    assert.equal(r.status, 200, r.text);
    const image = (await d.api('GET', `/images/${encodeURIComponent('crash-points/broken:v1')}/json`)).body;
    const layerDir = path.dirname(image.GraphDriver.Data.UpperDir as string);
    const key = path.basename(layerDir);
    const onIt = await d.create({ Image: 'crash-points/broken:v1', Cmd: ['true'] }, 'on-broken');
    await d.kill();
    fs.rmSync(path.join(d.dataRoot, 'metadata', 'snapshots', `${key}.json`));
    fs.rmSync(layerDir, { recursive: true });
    // A record cut short outside an atomic write (power loss): skipped, not fatal.
    const bad = path.join(d.dataRoot, 'metadata', 'images', `${'d'.repeat(64)}.json`);
    fs.writeFileSync(bad, '{"id": "sha256:');
    await d.start();

    assert.match(d.log(), new RegExp(`image ${image.Id} \\(crash-points/broken:v1\\): layer ${key} does not exist; removing the image`));
    assert.match(d.log(), /skipping .*d{64}\.json: not valid JSON/);
    const gone = await d.api('GET', `/images/${encodeURIComponent('crash-points/broken:v1')}/json`);
    assert.equal(gone.status, 404, gone.text);
    assert.match(gone.body.message, new RegExp(`^No such image: crash-points/broken:v1 \\(its layer ${key} was missing at start-up`));
    const list = (await d.api('GET', '/images/json')).body as { Id: string }[];
    assert.equal(list.some((i) => i.Id === image.Id), false);
    assert.equal(fs.existsSync(path.join(d.dataRoot, 'content', 'blobs', 'sha256', image.Id.slice(7))), false, 'its config blob was not swept');
    // The rest serves.
    assert.equal(await d.dockerOk(['run', '--rm', 'busybox', 'echo', 'ok']), 'ok\n');
    // The container on it is kept, shown, refuses to start with a reason (no 500), and goes with rm.
    assert.equal((await d.inspect(onIt)).Id, onIt);
    const start = await d.api('POST', `/containers/${onIt}/start`);
    assert.equal(start.status, 409, start.text);
    assert.match(start.body.message, new RegExp(`layer ${key} below snapshot ${onIt} does not exist`));
    await d.dockerOk(['rm', onIt]);
    assert.equal(fs.existsSync(path.join(d.dataRoot, 'snapshots', onIt)), false);
    fs.rmSync(bad);
    // Pulled, loaded or imported again under the same name, it is an image like any other.
    const again = await d.api('POST', '/images/create?fromSrc=-&repo=crash-points/broken&tag=v1', busyboxTar([{ name: 'only-here', content: 'x' }]));
    assert.equal(again.status, 200, again.text);
    assert.equal(await d.dockerOk(['run', '--rm', 'crash-points/broken:v1', 'cat', '/only-here']), 'x');
    await d.dockerOk(['rmi', 'crash-points/broken:v1']);
  });
});
