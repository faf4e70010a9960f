// IPv6 networks: `network create --ipv6 --subnet fd…/64` (unique local subnets only, on the test
// daemon's own bridges), containers with GlobalIPv6Address/GlobalIPv6PrefixLen/IPv6Gateway as a
// test-started dockerd fills them, names that resolve to both families through aardvark-dns,
// published ports on 127.0.0.1, [::1] and both wildcards, Docker's errors for bad IPv6 input.
// Traffic stays between the host and the bridges and namespaces the tests made.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { after, before, test } from 'node:test';
import { tcpRead } from './tcp.js';
import { startDaemon, stopAndCheckClean, type TestDaemon, waitFor } from './harness.js';
import { peersMissing, startDockerd, type Dockerd } from './peers.js';

let d: TestDaemon;
let peer: Dockerd | undefined;
const peerNets: string[] = [];
// netavark (and dockerd) turn IPv6 forwarding on for an IPv6 network, host-wide: the test gives
// the host back the values it found.
const FORWARDING = ['/proc/sys/net/ipv6/conf/all/forwarding', '/proc/sys/net/ipv6/conf/default/forwarding'];
const forwardingBefore = FORWARDING.map((f) => fs.readFileSync(f, 'utf8'));

before(async () => {
  d = await startDaemon();
});

after(async () => {
  if (peer) {
    // dockerd keeps a user network's bridge after it stops: remove ours first.
    for (const n of peerNets) await peer.docker(['network', 'rm', n]).catch(() => undefined);
    await peer.stop();
  }
  await stopAndCheckClean(d);
  FORWARDING.forEach((f, i) => fs.writeFileSync(f, forwardingBefore[i]!));
});

const SERVE = 'nc -ll -p 80 -e echo v6-hello';

test('a dual-stack network: addresses, inspect, /etc/hosts, names of both families, ports on 127.0.0.1, [::1] and the wildcards', async () => {
  const o = d.net.octet;
  const id = (await d.dockerOk(['network', 'create', '--ipv6', '--subnet', `fd00:${o}:1::/64`, 'six'])).trim();
  const n = JSON.parse(await d.dockerOk(['network', 'inspect', 'six']))[0];
  assert.equal(n.EnableIPv6, true);
  assert.equal(n.IPAM.Config.length, 2);
  assert.match(n.IPAM.Config[0].Subnet, new RegExp(`^10\\.${o}\\.\\d+\\.0/24$`), 'an IPv4 subnet from the pool as well');
  assert.deepEqual(n.IPAM.Config[1], { Subnet: `fd00:${o}:1::/64` }, 'the IPv6 config as given: dockerd shows no gateway it chose');

  const srv = (await d.dockerOk(['run', '-d', '--name', 'srv6', '--hostname', 'srv6', '--network', 'six', '-p', '127.0.0.1::80', '-p', '[::1]::80', '-p', '80', 'busybox', 'sh', '-c', SERVE])).trim();
  const ep = (await d.inspect(srv)).NetworkSettings.Networks.six;
  assert.equal(ep.GlobalIPv6Address, `fd00:${o}:1::2`, 'the lowest address after the gateway');
  assert.equal(ep.GlobalIPv6PrefixLen, 64);
  assert.equal(ep.IPv6Gateway, `fd00:${o}:1::1`);
  const top = (await d.inspect(srv)).NetworkSettings;
  assert.equal(top.GlobalIPv6Address, '', 'top-level fields are the default bridge network only, as dockerd');
  const members = (await d.api('GET', `/networks/${id}`)).body.Containers;
  assert.equal(members[srv].IPv6Address, `fd00:${o}:1::2/64`);
  const hosts = await d.dockerOk(['exec', srv, 'cat', '/etc/hosts']);
  assert.match(hosts, new RegExp(`^${ep.IPAddress.replace(/\./g, '\\.')}\\tsrv6\\nfd00:${o}:1::2\\tsrv6\\n$`, 'm'));

  // Names resolve to both families from another container; IPv6 traffic between them.
  const out = await d.dockerOk(['run', '--rm', '--network', 'six', 'busybox', 'sh', '-c',
    `for i in 1 2 3 4 5; do nslookup -type=AAAA srv6 2>/dev/null | grep -q 'fd00:' && break; sleep 0.3; done; nslookup -type=AAAA srv6; nslookup -type=A srv6; nc fd00:${o}:1::2 80`]);
  assert.match(out, new RegExp(`Address:\\s+fd00:${o}:1::2$`, 'm'));
  assert.match(out, new RegExp(`Address:\\s+${ep.IPAddress.replace(/\./g, '\\.')}$`, 'm'));
  assert.match(out, /v6-hello\n$/);

  // Published ports: each binding answers, [::1] through the wildcard too.
  const ports = (await d.inspect(srv)).NetworkSettings.Ports['80/tcp'] as { HostIp: string; HostPort: string }[];
  assert.deepEqual(ports.map((p) => p.HostIp), ['127.0.0.1', '::1', '0.0.0.0', '::']);
  const shown = ports.map((p) => `${p.HostIp.includes(':') ? `[${p.HostIp}]` : p.HostIp}:${p.HostPort}`).sort();
  assert.deepEqual((await d.dockerOk(['port', srv, '80'])).trim().split('\n'), shown, 'docker port sorts them');
  const reach = (p: { HostIp: string; HostPort: string }): Promise<string> => tcpRead(p.HostIp === '0.0.0.0' ? '127.0.0.1' : p.HostIp === '::' ? '::1' : p.HostIp, Number(p.HostPort));
  await waitFor(async () => (await reach(ports[0]!).catch(() => '')) === 'v6-hello\n', 'first published port');
  for (let round = 0; round < 3; round++) {
    for (const p of ports) assert.equal(await reach(p), 'v6-hello\n', `[${p.HostIp}]:${p.HostPort}`);
  }

  // --ip6, and connect with --ip6: the address asked for; /etc/hosts gains both lines.
  const fixed = (await d.berthOk(['run', '-d', '--network', 'six', '--ip6', `fd00:${o}:1::99`, 'busybox', 'sleep', '60'])).trim();
  const fixedEp = (await d.inspect(fixed)).NetworkSettings.Networks.six;
  assert.equal(fixedEp.GlobalIPv6Address, `fd00:${o}:1::99`);
  assert.deepEqual(fixedEp.IPAMConfig, { IPv6Address: `fd00:${o}:1::99` });
  const plain = (await d.dockerOk(['run', '-d', '--hostname', 'plain', 'busybox', 'sleep', '60'])).trim();
  await d.dockerOk(['network', 'connect', '--ip6', `fd00:${o}:1::77`, 'six', plain]);
  assert.match(await d.dockerOk(['exec', plain, 'cat', '/etc/hosts']), new RegExp(`\\tplain\\nfd00:${o}:1::77\\tplain\\n$`));
  assert.equal(await d.dockerOk(['exec', plain, 'sh', '-c', `for i in 1 2 3 4 5; do nc srv6 80 && exit 0; sleep 0.2; done; exit 1`]), 'v6-hello\n');
  await d.dockerOk(['rm', '-f', srv, fixed, plain]);
  await d.dockerOk(['network', 'rm', 'six']);
});

test('bad IPv6 input: Docker status and message, nothing made', async () => {
  const o = d.net.octet;
  // berth's CLI gives the IPv6 gateway to the IPv6 subnet, as docker's does.
  await d.berthOk(['network', 'create', '--ipv6', '--subnet', `10.${o}.61.0/24`, '--subnet', `fd00:${o}:2::/64`, '--gateway', `fd00:${o}:2::fe`, 'dual']);
  const cases: [string, unknown, number, RegExp][] = [
    ['no subnet', { Name: 'x1', EnableIPv6: true }, 403, /could not find an available, non-overlapping IPv6 address pool among the defaults/],
    ['overlap', { Name: 'x2', EnableIPv6: true, IPAM: { Config: [{ Subnet: `fd00:${o}:2::/80` }] } }, 403, /Pool overlaps with other one on this address space/],
    ['not unique local', { Name: 'x3', EnableIPv6: true, IPAM: { Config: [{ Subnet: '2001:db8::/64' }] } }, 400, /only unique local IPv6 subnets \(fc00::\/7\)/],
    ['bad subnet', { Name: 'x4', EnableIPv6: true, IPAM: { Config: [{ Subnet: 'fd00:zz::/64' }] } }, 400, /invalid subnet/],
    ['gateway outside', { Name: 'x5', EnableIPv6: true, IPAM: { Config: [{ Subnet: `fd00:${o}:5::/64`, Gateway: `fd00:${o}:6::1` }] } }, 403, /no matching subnet for gateway/],
  ];
  for (const [what, body, status, msg] of cases) {
    const r = await d.api('POST', '/networks/create', body);
    assert.equal(r.status, status, `${what}: ${r.text}`);
    assert.match(r.body.message, msg, what);
  }
  const names = (await d.dockerOk(['network', 'ls', '--format', '{{.Name}}'])).trim().split('\n').sort();
  assert.deepEqual(names, ['bridge', 'dual', 'host', 'none']);
  const dual = JSON.parse(await d.dockerOk(['network', 'inspect', 'dual']))[0];
  assert.deepEqual(dual.IPAM.Config, [{ Subnet: `10.${o}.61.0/24` }, { Subnet: `fd00:${o}:2::/64`, Gateway: `fd00:${o}:2::fe` }]);
  const runs: [string[], RegExp][] = [
    [['--network', 'dual', '--ip6', 'zz'], /invalid IPv6 address: zz/],
    [['--network', 'dual', '--ip6', `fd00:${o}:9::9`], new RegExp(`Invalid address fd00:${o}:9::9: It does not belong to any of this network's subnets`)],
    [['--ip6', `fd00:${o}:2::9`], /user specified IP address is supported on user defined networks only/],
  ];
  for (const [args, msg] of runs) {
    const r = await d.docker(['run', '--rm', ...args, 'busybox', 'true']);
    assert.notEqual(r.code, 0, args.join(' '));
    assert.match(r.stderr, msg);
  }
  await d.dockerOk(['network', 'rm', 'dual']);
});

test('the IPv6 endpoint and IPAM shapes are those of a dockerd', { skip: peersMissing(['dockerd', 'docker']) }, async () => {
  peer = await startDockerd({ busybox: true });
  const o = d.net.octet;
  const make = async (run: (a: string[]) => Promise<string>, name: string, k: number): Promise<{ net: Record<string, unknown>; ep: Record<string, unknown> }> => {
    await run(['network', 'create', '--ipv6', '--subnet', `10.${o}.${70 + k}.0/24`, '--subnet', `fd00:${o}:${70 + k}::/64`, name]);
    const id = (await run(['run', '-d', '--network', name, '--ip6', `fd00:${o}:${70 + k}::99`, 'busybox', 'sleep', '60'])).trim();
    const ep = JSON.parse(await run(['inspect', '--format', `{{json .NetworkSettings.Networks.${name}}}`, id]));
    const net = JSON.parse(await run(['network', 'inspect', name]))[0];
    await run(['rm', '-f', id]);
    return { net, ep };
  };
  const ours = await make((a) => d.dockerOk(a), 'sixcmp', 0);
  peerNets.push('sixcmp');
  const theirs = await make((a) => peer!.dockerOk(a), 'sixcmp', 1);
  await d.dockerOk(['network', 'rm', 'sixcmp']);
  const norm = (x: unknown, k: number): unknown => JSON.parse(JSON.stringify(x).replaceAll(`.${70 + k}.`, '.N.').replaceAll(`:${70 + k}::`, ':N::'));
  const pick = (ep: Record<string, unknown>): Record<string, unknown> => ({
    IPAMConfig: ep['IPAMConfig'], Gateway: ep['Gateway'], IPAddress: ep['IPAddress'], IPPrefixLen: ep['IPPrefixLen'],
    IPv6Gateway: ep['IPv6Gateway'], GlobalIPv6Address: ep['GlobalIPv6Address'], GlobalIPv6PrefixLen: ep['GlobalIPv6PrefixLen'],
  });
  assert.deepEqual(norm(pick(ours.ep), 0), norm(pick(theirs.ep), 1));
  assert.deepEqual(norm(ours.net['IPAM'], 0), norm(theirs.net['IPAM'], 1));
  assert.equal(ours.net['EnableIPv6'], theirs.net['EnableIPv6']);
});
