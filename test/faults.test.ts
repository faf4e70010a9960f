// Faults that lose nothing: an interrupted metadata write (the temporary file left beside the
// real one, as a SIGKILL between write and rename leaves it) does not replace or hide the data,
// and the next berthd removes the leftover.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { startDaemon, stopAndCheckClean, type TestDaemon } from './harness.js';

export const COUNTER = 'i=0; while :; do echo $i; i=$((i+1)); sleep 0.05; done';

describe('interrupted writes', () => {
  let d: TestDaemon;
  const counters: string[] = [];
  before(async () => {
    d = await startDaemon();
    for (let i = 0; i < 1; i++) counters.push((await d.dockerOk(['run', '-d', '--name', `counter${i}`, 'busybox', 'sh', '-c', COUNTER])).trim());
  });
  after(() => stopAndCheckClean(d));

  test('a kill between write and rename leaves the old metadata whole; the leftover is not taken for data', async () => {
    const id = counters[0];
    const dir = path.join(d.dataRoot, 'metadata');
    // Find this container's metadata file and plant what an interrupted atomic write leaves.
    const files = fs.readdirSync(dir, { recursive: true }).map(String).filter((f) => f.includes(id) && f.endsWith('.json'));
    assert.ok(files.length > 0, 'no metadata file for the container');
    const planted = files.map((f) => path.join(dir, path.dirname(f), `.${path.basename(f)}.deadbeef0000.tmp`));
    for (const p of planted) fs.writeFileSync(p, '{"Id": "trunc');
    await d.kill();
    await d.start();
    const s = (await d.api('GET', `/containers/${id}/json`)).body;
    assert.equal(s.Id, id);
    assert.equal(s.State.Running, true);
    for (const p of planted) assert.equal(fs.existsSync(p), false, `${p} was left behind at start-up`);
  });
});
