// network connect/disconnect of a running container as a user sees it inside: /etc/hosts gains
// and loses the line of each address (as dockerd 20.10 does on connect; on disconnect it drops
// every line of the hostname, Berth only the lost address's), resolv.conf names the resolvers of
// the networks it is on now — unless the user edited it. Through the docker CLI and berth. And
// the address of a network's keeper (keepers.ts), which no user may notice.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { startDaemon, stopAndCheckClean, type TestDaemon, waitFor } from './harness.js';

let d: TestDaemon;

before(async () => {
  d = await startDaemon();
});

after(() => stopAndCheckClean(d));

const nameservers = (resolv: string): string[] => [...resolv.matchAll(/^nameserver (\S+)$/gm)].map((m) => m[1]!);

test('connect/disconnect rewrite /etc/hosts and resolv.conf of a running container', async () => {
  const pre = `10.${d.net.octet}`;
  await d.dockerOk(['network', 'create', '--subnet', `${pre}.31.0/24`, 'n1']);
  await d.berthOk(['network', 'create', '--subnet', `${pre}.32.0/24`, 'n2']);
  const peer = (await d.dockerOk(['run', '-d', '--name', 'peer', '--network', 'n1', 'busybox', 'sleep', '120'])).trim();
  const id = (await d.dockerOk(['run', '-d', '--name', 'box', '--hostname', 'ha', 'busybox', 'sleep', '120'])).trim();
  const cat = async (file: string): Promise<string> => d.dockerOk(['exec', id, 'cat', file]);
  const ownLines = async (): Promise<string[]> => (await cat('/etc/hosts')).split('\n').filter((l) => l.endsWith('\tha'));
  const hostResolv = await cat('/etc/resolv.conf');
  const ip0 = (await d.inspect(id)).NetworkSettings.IPAddress as string;
  assert.deepEqual(await ownLines(), [`${ip0}\tha`]);

  await d.dockerOk(['network', 'connect', '--alias', 'al', 'n1', 'box']);
  const ip1 = (await d.inspect(id)).NetworkSettings.Networks.n1.IPAddress as string;
  assert.deepEqual(await ownLines(), [`${ip0}\tha`, `${ip1}\tha`]);
  assert.deepEqual(nameservers(await cat('/etc/resolv.conf')), [`${pre}.31.1`], "n1's resolver (aardvark-dns on its gateway)");
  // ...and it answers: the peer on n1 by name.
  const peerIp = (await d.inspect(peer)).NetworkSettings.Networks.n1.IPAddress as string;
  await waitFor(async () => (await d.docker(['exec', id, 'nslookup', 'peer'])).stdout.includes(peerIp), 'peer resolved after connect', 10_000);

  await d.berthOk(['network', 'connect', 'n2', 'box']);
  const ip2 = (await d.inspect(id)).NetworkSettings.Networks.n2.IPAddress as string;
  assert.deepEqual(await ownLines(), [`${ip0}\tha`, `${ip1}\tha`, `${ip2}\tha`]);
  assert.deepEqual(nameservers(await cat('/etc/resolv.conf')), [`${pre}.31.1`, `${pre}.32.1`]);

  await d.dockerOk(['network', 'disconnect', 'n1', 'box']);
  assert.deepEqual(await ownLines(), [`${ip0}\tha`, `${ip2}\tha`], "only n1's address goes");
  assert.deepEqual(nameservers(await cat('/etc/resolv.conf')), [`${pre}.32.1`], "n1's resolver is unreachable now: it goes too");
  await d.berthOk(['network', 'disconnect', 'n2', 'box']);
  assert.deepEqual(await ownLines(), [`${ip0}\tha`]);
  assert.equal(await cat('/etc/resolv.conf'), hostResolv, 'back on the default bridge alone: the resolv.conf it started with');

  // An edited resolv.conf is left alone (Docker's header promises it); /etc/hosts is still edited line by line.
  await d.dockerOk(['exec', id, 'sh', '-c', 'echo "# mine" >> /etc/resolv.conf; echo "1.2.3.4\tmine" >> /etc/hosts']);
  const edited = await cat('/etc/resolv.conf');
  await d.dockerOk(['network', 'connect', 'n1', 'box']);
  assert.equal(await cat('/etc/resolv.conf'), edited);
  const ip1b = (await d.inspect(id)).NetworkSettings.Networks.n1.IPAddress as string;
  assert.deepEqual((await cat('/etc/hosts')).split('\n').slice(-3), ['1.2.3.4\tmine', `${ip1b}\tha`, '']);

  // A stopped container: only the record changes; its next start writes both files afresh.
  await d.dockerOk(['stop', '-t', '0', 'box']);
  await d.dockerOk(['network', 'disconnect', 'n1', 'box']);
  await d.dockerOk(['start', 'box']);
  assert.deepEqual(nameservers(await cat('/etc/resolv.conf')), nameservers(hostResolv));
  await d.dockerOk(['rm', '-f', id, peer]);
  await d.dockerOk(['network', 'rm', 'n1', 'n2']);
});

/** The IPv4 address of a network's keeper (its namespace under the exec root), or undefined. */
function keeperIp(networkId: string): string | undefined {
  const ns = path.join(d.execRoot, 'netns', `keeper-${networkId.slice(0, 12)}`);
  if (!fs.existsSync(ns)) return undefined;
  const out = execFileSync('nsenter', [`--net=${ns}`, 'ip', '-4', '-o', 'addr', 'show', 'eth0'], { encoding: 'utf8' });
  return /inet (\S+)\//.exec(out)?.[1];
}

test("the keeper's address: never the gateway, outside --ip-range, given up to an --ip; a /30 still takes its one container", async () => {
  const pre = `10.${d.net.octet}.41`;
  const net = (await d.dockerOk(['network', 'create', '--subnet', `${pre}.0/24`, '--ip-range', `${pre}.0/25`, '--gateway', `${pre}.254`, 'ranged'])).trim();
  const a = (await d.dockerOk(['run', '-d', '--network', 'ranged', 'busybox', 'sleep', '120'])).trim();
  assert.equal((await d.inspect(a)).NetworkSettings.Networks.ranged.IPAddress, `${pre}.1`, 'dynamic addresses from the range, lowest first');
  const held = keeperIp(net);
  assert.equal(held, `${pre}.253`, 'the highest address that is not the gateway, outside the range');
  // Docker gives a container any free address of the subnet with --ip: the keeper's too.
  const b = (await d.berthOk(['run', '-d', '--network', 'ranged', '--ip', held!, 'busybox', 'sh', '-c', 'nc -ll -p 80 -e echo moved'])).trim();
  assert.equal((await d.inspect(b)).NetworkSettings.Networks.ranged.IPAddress, held);
  const moved = keeperIp(net);
  assert.ok(moved && moved !== held && moved !== `${pre}.254` && moved !== `${pre}.1`, `the keeper moved: ${moved}`);
  assert.equal(await d.dockerOk(['exec', a, 'sh', '-c', `for i in 1 2 3 4 5; do nc ${held} 80 && exit 0; sleep 0.2; done; exit 1`]), 'moved\n');
  await d.dockerOk(['rm', '-f', a, b]);
  await d.dockerOk(['network', 'rm', 'ranged']);
  assert.equal(keeperIp(net), undefined);

  // A /30: the gateway and one container, as with dockerd; no keeper then.
  const tiny = (await d.dockerOk(['network', 'create', '--subnet', `10.${d.net.octet}.42.0/30`, 'tiny'])).trim();
  const one = (await d.dockerOk(['run', '-d', '--network', 'tiny', 'busybox', 'sleep', '120'])).trim();
  assert.equal((await d.inspect(one)).NetworkSettings.Networks.tiny.IPAddress, `10.${d.net.octet}.42.2`);
  assert.equal(await d.dockerOk(['exec', one, 'sh', '-c', 'ip route | grep -c default']), '1\n');
  const full = await d.docker(['run', '--rm', '--network', 'tiny', 'busybox', 'true']);
  assert.notEqual(full.code, 0);
  assert.match(full.stderr, /no available IPv4 addresses on this network's address pools: tiny/);
  await d.dockerOk(['rm', '-f', one]);
  await d.dockerOk(['network', 'rm', 'tiny']);
  assert.equal(keeperIp(tiny), undefined);
});

/** The interfaces enslaved to a bridge (ip link show master <bridge>). */
function bridgePorts(bridge: string): string[] {
  return execFileSync('ip', ['-o', 'link', 'show', 'master', bridge], { encoding: 'utf8' }).split('\n').filter(Boolean);
}

test('an exited container of the default bridge leaves no interface behind (its veth goes with its namespace)', async () => {
  // The kernel destroys a dropped namespace's veth in its own time (a workqueue): wait for it, by deadline.
  const keeperAlone = (): Promise<boolean> => waitFor(() => bridgePorts(d.net.bridge).length === 1, 'only the keeper on the bridge', 20_000);
  await d.dockerOk(['run', '--rm', 'busybox', 'true']); // the keeper is there from now on
  await keeperAlone();
  for (let i = 0; i < 5; i++) await d.dockerOk(['run', '--rm', 'busybox', 'true']);
  await keeperAlone();
  const id = (await d.dockerOk(['run', '-d', 'busybox', 'sleep', '60'])).trim();
  assert.equal(bridgePorts(d.net.bridge).length, 2);
  await d.dockerOk(['rm', '-f', id]);
  await keeperAlone();
});
