// The test dockerd leaves the host's network alone: it runs on a bridge the test created (a
// random name and /24), its containers get addresses there, and stopping it deletes that bridge
// and nothing else (docker0 is neither created nor deleted).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { linkExists } from './peer-bridge.js';
import { startDockerd, which } from './peers.js';

test('the test dockerd runs on a bridge of its own and removes only that', async (t) => {
  if (process.getuid?.() !== 0 || !which('dockerd')) return t.skip('dockerd is not installed or not root: the peer bridge cannot be tried');
  const docker0Before = linkExists('docker0');
  const d = await startDockerd({ busybox: true });
  const name = d.bridgeName!;
  try {
    assert.match(name, /^bt\d+[0-9a-f]+$/);
    assert.ok(linkExists(name), `bridge ${name} exists while dockerd runs`);
    assert.equal(linkExists('docker0'), docker0Before, 'docker0 untouched by dockerd start');
    // the container's default route goes through the bridge's address (little-endian hex in /proc/net/route)
    const route = await d.dockerOk(['run', '--rm', 'busybox', 'cat', '/proc/net/route']);
    const gw = route.split('\n').find((l) => l.split('\t')[1] === '00000000')?.split('\t')[2];
    assert.ok(gw, `a default route in ${route}`);
    const gwAddr = Buffer.from(gw, 'hex').reverse().join('.');
    const br = (await import('node:child_process')).execFileSync('ip', ['-4', '-o', 'addr', 'show', 'dev', name], { encoding: 'utf8' });
    assert.ok(br.includes(`inet ${gwAddr}/24`), `gateway ${gwAddr} is the bridge's address: ${br}`);
  } finally {
    await d.stop();
  }
  assert.equal(linkExists(name), false, `bridge ${name} deleted by stop`);
  assert.equal(linkExists('docker0'), docker0Before, 'docker0 untouched by dockerd stop');
});
