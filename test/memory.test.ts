// What berthd keeps after a burst: per-container tables emptied, and the idle reclaim freeing the
// garbage a full GC frees. Deterministic checks (counts, V8's own figures), never an RSS threshold.
import assert from 'node:assert/strict';
import path from 'node:path';
import { describe, test } from 'node:test';
import { PendingAttaches } from '../src/engine/containers/pending-attach.js';
import { IdleMemory } from '../src/daemon/idle-memory.js';
import { REPO, run } from './harness.js';

describe('per-container tables', () => {
  test('an attach given up on a created container leaves no entry behind (loop)', async () => {
    const pending = new PendingAttaches();
    for (let i = 0; i < 50; i++) {
      const id = `c${i}`;
      const one = new AbortController();
      const two = new AbortController();
      const a = pending.add(id, one.signal);
      const b = pending.add(id, two.signal);
      one.abort();
      await assert.rejects(a, /attach cancelled/);
      assert.equal(pending.size, 1, 'the other waiter still waits');
      two.abort();
      await assert.rejects(b, /attach cancelled/);
      assert.equal(pending.size, 0, `container ${id}: nothing left once its last waiter went`);
    }
    // connect and fail empty it too
    const c = pending.add('x');
    const s = { close: () => undefined } as never;
    await pending.connect('x', async () => s);
    assert.equal(await c, s);
    const f = pending.add('y');
    pending.fail('y', new Error('no such container'));
    await assert.rejects(f, /no such container/);
    assert.equal(pending.size, 0);
  });
});

describe('idle reclaim', () => {
  // In a process of its own started as berthd's launcher starts it (--expose-gc): Buffers and an
  // object dropped stay until a full GC (a WeakRef to the object says whether it was collected);
  // one reclaim collects them.
  test('collects what only a full GC frees, and runs only when the loop was idle', async () => {
    const mod = path.join(REPO, 'dist', 'src', 'daemon', 'idle-memory.js');
    const script = `
      const { reclaim, IdleMemory } = await import(${JSON.stringify(mod)});
      let keep = { bufs: [] };
      for (let i = 0; i < 16; i++) keep.bufs.push(Buffer.alloc(1 << 20, 1));
      const ref = new WeakRef(keep);
      keep = null;
      // a WeakRef's target lives at least until the end of the job that made it
      await new Promise((r) => setImmediate(r));
      const r = reclaim();
      const never = new IdleMemory({ intervalMs: 1000, idleBelow: 0, minGrowthBytes: 0 }).tick();
      process.stdout.write(JSON.stringify({ collected: ref.deref() === undefined, after: process.memoryUsage().arrayBuffers, gc: r.gcMs !== null, never }));
    `;
    const out = await run(process.execPath, ['--expose-gc', '--input-type=module', '-e', script]);
    assert.equal(out.code, 0, out.stderr);
    const r = JSON.parse(out.stdout) as { collected: boolean; after: number; gc: boolean; never: unknown };
    assert.equal(r.gc, true);
    assert.equal(r.collected, true, 'the dropped object was collected');
    assert.ok(r.after < 4 << 20, `its 16 MiB of Buffers freed: ${r.after} bytes left`);
    assert.equal(r.never, null, 'a loop busy above the threshold is never interrupted');
  });

  test('a quiet loop with grown RSS gets one reclaim, then none until it grows again', () => {
    // a negative growth: whatever the RSS did since, it counts as grown
    const m = new IdleMemory({ intervalMs: 1000, idleBelow: 1.01, minGrowthBytes: -(1 << 40) });
    assert.notEqual(m.tick(), null);
    assert.equal(m.reclaims, 1);
    const grow = new IdleMemory({ intervalMs: 1000, idleBelow: 1.01, minGrowthBytes: 1 << 40 });
    assert.equal(grow.tick(), null, 'no growth worth it: nothing runs');
    assert.equal(grow.reclaims, 0);
    // a request since the last look: not idle, however quiet the loop
    let requests = 0;
    const busy = new IdleMemory({ intervalMs: 60_000, idleBelow: 1.01, minGrowthBytes: -(1 << 40) });
    busy.start(() => requests);
    try {
      requests++;
      assert.equal(busy.tick(), null, 'a request came: nothing runs');
      assert.notEqual(busy.tick(), null, 'none since: it runs');
    } finally {
      busy.stop();
    }
  });
});
