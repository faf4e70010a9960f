// Networks and published ports, through the real docker CLI, berth and the API: the default
// bridge, user networks with names (aardvark-dns), isolation, published ports from the host and
// from containers (TCP, UDP, IPv6 loopback), Docker's errors with nothing left behind, and a
// SIGKILLed daemon that keeps addresses and ports. Each daemon has a bridge and /16 of its own.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import dgram from 'node:dgram';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { freePort, tcpRead } from './tcp.js';
import { pidAlive, startDaemon, stopAndCheckClean, type TestDaemon, waitFor } from './harness.js';

let d: TestDaemon;

before(async () => {
  d = await startDaemon();
});

after(() => stopAndCheckClean(d));

/** The host's own non-loopback IPv4 address (published ports answer there too). */
function hostAddress(): string | undefined {
  for (const list of Object.values(os.networkInterfaces())) {
    for (const a of list ?? []) if (a.family === 'IPv4' && !a.internal && !a.address.startsWith(`10.${d.net.octet}.`)) return a.address;
  }
  return undefined;
}

function iptablesLinesFor(prefix: string): string[] {
  return execFileSync('iptables-save', { encoding: 'utf8' })
    .split('\n')
    .filter((l) => l.includes(prefix));
}

function netnsFiles(): string[] {
  try {
    return fs.readdirSync(path.join(d.execRoot, 'netns'));
  } catch {
    return [];
  }
}

/** A TCP server that answers every connection with one line (nc -ll keeps listening). */
const SERVE = (text: string, port = 80): string => `nc -ll -p ${port} -e echo ${text}`;

test('the default bridge: address, gateway, default route, /etc/hosts, inspect and /networks', async () => {
  const out = await d.dockerOk(['run', '--rm', '--hostname', 'box', '--add-host', 'gw:host-gateway', 'busybox', 'sh', '-c', 'ip -4 -o addr show eth0; ip route; cat /etc/hosts']);
  const prefix = `10.${d.net.octet}.0.`;
  assert.match(out, new RegExp(`inet ${prefix.replace(/\./g, '\\.')}\\d+/24`));
  assert.match(out, new RegExp(`default via ${prefix.replace(/\./g, '\\.')}1 dev eth0`));
  assert.match(out, new RegExp(`${prefix.replace(/\./g, '\\.')}1\\tgw\\n`), 'host-gateway is the bridge gateway');
  assert.match(out, new RegExp(`${prefix.replace(/\./g, '\\.')}\\d+\\tbox\\n`));

  const id = (await d.dockerOk(['run', '-d', 'busybox', 'sleep', '60'])).trim();
  const ns = (await d.inspect(id)).NetworkSettings;
  assert.ok(ns.IPAddress.startsWith(prefix));
  assert.equal(ns.Gateway, `${prefix}1`);
  assert.equal(ns.IPPrefixLen, 24);
  assert.match(ns.MacAddress, /^02:42:/);
  const bridgeNet = (await d.api('GET', '/networks/bridge')).body;
  assert.deepEqual(bridgeNet.IPAM.Config, [{ Subnet: `${prefix}0/24`, Gateway: `${prefix}1` }]);
  assert.equal(ns.Networks.bridge.NetworkID, bridgeNet.Id);
  assert.equal(ns.Networks.bridge.IPAddress, ns.IPAddress);
  assert.equal(bridgeNet.Containers[id].IPv4Address, `${ns.IPAddress}/24`);
  assert.equal(bridgeNet.Options['com.docker.network.bridge.name'], d.net.bridge);
  const names = (await d.dockerOk(['network', 'ls', '--format', '{{.Name}} {{.Driver}}'])).trim().split('\n').sort();
  assert.deepEqual(names, ['bridge bridge', 'host host', 'none null']);
  await d.dockerOk(['rm', '-f', id]);
  const stopped = (await d.api('GET', '/networks/bridge')).body;
  assert.deepEqual(stopped.Containers, {});

  assert.equal((await d.dockerOk(['run', '--rm', '--network', 'none', 'busybox', 'sh', '-c', 'ls /sys/class/net'])).trim(), 'lo');
  const hostIfs = (await d.dockerOk(['run', '--rm', '--network', 'host', 'busybox', 'ls', '/sys/class/net'])).trim().split('\n');
  assert.ok(hostIfs.includes('eth0'), `host network sees the host's interfaces: ${hostIfs}`);
});

test('published ports: -p forms, -P, docker/berth port, ps PORTS, from host, host address, containers, UDP and ::1', async () => {
  const [p1, p2] = [await freePort('0.0.0.0'), await freePort('0.0.0.0')];
  const server = `${SERVE('tcp-hello')} & ${SERVE('loop-hello', 81)} & ${SERVE('any', 90)} & wait`;
  const id = (
    await d.dockerOk(['run', '-d', '--name', 'web', '-p', `${p1}:80`, '-p', '127.0.0.1::81', '-p', `${p2}:82/udp`, '--expose', '90', '-P', '--expose', '91/udp',
      '-v', '/usr:/host/usr:ro', '-v', '/lib:/lib:ro', '-v', '/lib64:/lib64:ro', '-e', 'PYTHONHOME=/host/usr', 'busybox', 'sh', '-c', server])
  ).trim();
  const ports = (await d.inspect(id)).NetworkSettings.Ports;
  assert.deepEqual(ports[`80/tcp`], [{ HostIp: '0.0.0.0', HostPort: String(p1) }, { HostIp: '::', HostPort: String(p1) }]);
  assert.equal(ports['81/tcp'].length, 1);
  assert.equal(ports['81/tcp'][0].HostIp, '127.0.0.1');
  const p81 = Number(ports['81/tcp'][0].HostPort);
  assert.ok(p81 > 1024);
  const p90 = Number(ports['90/tcp'][0].HostPort);
  assert.ok(p90 > 1024, '-P publishes --expose ports');
  assert.ok(ports['91/udp'][0].HostPort);

  // docker port / berth port agree, one port and all.
  assert.equal(await d.dockerOk(['port', 'web', '80']), `0.0.0.0:${p1}\n[::]:${p1}\n`);
  assert.equal(await d.berthOk(['port', 'web', '80/tcp']), `0.0.0.0:${p1}\n[::]:${p1}\n`);
  assert.equal(await d.dockerOk(['port', 'web', '82/udp']), `0.0.0.0:${p2}\n[::]:${p2}\n`);
  const all = await d.berthOk(['port', 'web']);
  assert.equal(all, await d.dockerOk(['port', 'web']));
  assert.match(all, new RegExp(`^81/tcp -> 127\\.0\\.0\\.1:${p81}$`, 'm'));
  const psPorts = (await d.dockerOk(['ps', '--filter', 'name=web', '--format', '{{.Ports}}'])).trim();
  assert.ok(psPorts.includes(`0.0.0.0:${p1}->80/tcp, [::]:${p1}->80/tcp`), psPorts);
  assert.ok(psPorts.includes(`127.0.0.1:${p81}->81/tcp`), psPorts);
  assert.equal((await d.berthOk(['ps', '--filter', 'name=web', '--format', '{{.Ports}}'])).trim(), psPorts);

  await waitFor(async () => (await tcpRead('127.0.0.1', p1).catch(() => '')).includes('tcp-hello'), 'published port on 127.0.0.1');
  for (let i = 0; i < 3; i++) assert.equal(await tcpRead('127.0.0.1', p1), 'tcp-hello\n');
  assert.equal(await tcpRead('127.0.0.1', p81), 'loop-hello\n');
  const own = hostAddress();
  if (own) assert.equal(await tcpRead(own, p1), 'tcp-hello\n', 'on the host address');
  assert.equal(await tcpRead('::1', p1), 'tcp-hello\n', 'on ::1');
  if (own) assert.equal(await d.dockerOk(['run', '--rm', 'busybox', 'nc', own, String(p1)]), 'tcp-hello\n', 'from another container');

  // UDP: the container echoes one datagram back through the published port (python from the host's /usr).
  await d.dockerOk(['exec', '-d', 'web', '/host/usr/bin/python3', '-c',
    'import socket;s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM);s.bind(("",82))\nwhile True:\n d,a=s.recvfrom(100);s.sendto(b"udp:"+d,a)']);
  const reply = await waitFor(async () => {
    const sock = dgram.createSocket('udp4');
    try {
      return await new Promise<string>((resolve) => {
        const t = setTimeout(() => resolve(''), 300);
        sock.on('message', (m) => {
          clearTimeout(t);
          resolve(m.toString());
        });
        sock.send('ping', p2, '127.0.0.1');
      });
    } finally {
      sock.close();
    }
  }, 'udp reply', 8000);
  assert.equal(reply, 'udp:ping');

  // A taken port: Docker's error, the container left Created with nothing held.
  const before = netnsFiles().length;
  const r = await d.docker(['run', '-d', '--name', 'clash', '-p', `${p1}:80`, 'busybox', 'sleep', '30']);
  assert.equal(r.code, 125);
  assert.match(r.stderr, new RegExp(`driver failed programming external connectivity on endpoint clash \\([0-9a-f]{64}\\): Bind for 0\\.0\\.0\\.0:${p1} failed: port is already allocated`));
  assert.equal((await d.inspect('clash')).State.Status, 'created');
  assert.equal(netnsFiles().length, before, 'no namespace left by the failed start');
  await d.dockerOk(['rm', 'clash']);
  // A malformed -p through the API.
  const bad = await d.api('POST', '/containers/create', { Image: 'busybox', HostConfig: { PortBindings: { 'x/tcp': [{ HostPort: '80' }] } } });
  assert.equal(bad.status, 400);
  assert.match(bad.body.message, /invalid port specification/);

  await d.dockerOk(['rm', '-f', 'web']);
  await waitFor(async () => !(await tcpRead('127.0.0.1', p1, 500).then(() => true, () => false)), 'port closed after rm');
});

test('user networks: names, aliases and short ids resolve; other networks cannot reach; connect/disconnect; internal', async () => {
  await d.dockerOk(['network', 'create', '--label', 'team=a', 'front']);
  await d.berthOk(['network', 'create', '--subnet', `10.${d.net.octet}.200.0/24`, '--gateway', `10.${d.net.octet}.200.254`, 'back']);
  const inspectBack = JSON.parse(await d.dockerOk(['network', 'inspect', 'back']))[0];
  assert.deepEqual(inspectBack.IPAM.Config, [{ Subnet: `10.${d.net.octet}.200.0/24`, Gateway: `10.${d.net.octet}.200.254` }]);
  const srv = (await d.dockerOk(['run', '-d', '--name', 'srv', '--network', 'front', '--network-alias', 'api', 'busybox', 'sh', '-c', SERVE('srv-hello')])).trim();
  const ip = (await d.inspect(srv)).NetworkSettings.Networks.front.IPAddress as string;
  assert.ok(ip.startsWith(`10.${d.net.octet}.`));
  for (const name of ['srv', 'api', srv.slice(0, 12)]) {
    const got = await d.dockerOk(['run', '--rm', '--network', 'front', 'busybox', 'sh', '-c', `for i in 1 2 3 4 5; do nc ${name} 80 && exit 0; sleep 0.2; done; exit 1`]);
    assert.equal(got, 'srv-hello\n', `by ${name}`);
  }
  // From another network: no name, no route to the address.
  const other = await d.docker(['run', '--rm', '--network', 'back', 'busybox', 'sh', '-c', `nslookup srv >/dev/null 2>&1 && echo resolved; nc -w 2 ${ip} 80 && echo reached; echo done`]);
  assert.equal(other.stdout, 'done\n', other.stderr);

  // connect a running container on back to front: it reaches srv by name; disconnect: it no longer does.
  const c3 = (await d.dockerOk(['run', '-d', '--name', 'c3', '--network', 'back', '--ip', `10.${d.net.octet}.200.7`, 'busybox', 'sleep', '60'])).trim();
  assert.equal((await d.inspect(c3)).NetworkSettings.Networks.back.IPAddress, `10.${d.net.octet}.200.7`);
  await d.dockerOk(['network', 'connect', '--alias', 'third', 'front', 'c3']);
  assert.equal(await d.dockerOk(['exec', 'c3', 'sh', '-c', 'for i in 1 2 3 4 5; do nc srv 80 && exit 0; sleep 0.2; done; exit 1']), 'srv-hello\n');
  assert.equal(await d.dockerOk(['ps', '--filter', 'network=back', '--format', '{{.Names}}']), 'c3\n');
  const frontNet = JSON.parse(await d.dockerOk(['network', 'inspect', 'front']))[0];
  assert.deepEqual(Object.keys(frontNet.Containers).sort(), [c3, srv].sort());
  await d.dockerOk(['network', 'disconnect', 'front', 'c3']);
  const after = await d.docker(['exec', 'c3', 'sh', '-c', 'nc -w 2 srv 80; echo rc=$?']);
  assert.match(after.stdout, /rc=1/);

  // --internal: no default route out.
  await d.dockerOk(['network', 'create', '--internal', 'sealed']);
  assert.doesNotMatch(await d.dockerOk(['run', '--rm', '--network', 'sealed', 'busybox', 'ip', 'route']), /default/);
  // ls filters and prune.
  assert.equal(await d.dockerOk(['network', 'ls', '--filter', 'label=team=a', '--format', '{{.Name}}']), 'front\n');
  assert.equal(await d.berthOk(['network', 'ls', '-q', '--filter', 'name=sealed']), (await d.dockerOk(['network', 'ls', '-q', '--filter', 'name=sealed'])));
  await d.dockerOk(['rm', '-f', 'srv', 'c3']);
  const subnets = await Promise.all(['front', 'back', 'sealed'].map(async (n) => (await d.api('GET', `/networks/${n}`)).body.IPAM.Config[0].Subnet as string));
  const bridgeRules = iptablesLinesFor(`10.${d.net.octet}.0.0/24`).length;
  assert.ok(bridgeRules > 0, 'the default bridge keeps its rules between containers');
  const pruned = await d.dockerOk(['network', 'prune', '-f']);
  for (const n of ['front', 'back', 'sealed']) assert.match(pruned, new RegExp(`^${n}$`, 'm'));
  // Removing the networks removed their bridges' rules, and nothing else.
  const left = (): string[] => subnets.flatMap((s) => iptablesLinesFor(s));
  await waitFor(() => left().length === 0, 'no iptables rule left for the removed networks').catch((e: Error) => {
    throw new Error(`${e.message}:\n${left().join('\n')}`);
  });
  assert.equal(iptablesLinesFor(`10.${d.net.octet}.0.0/24`).length, bridgeRules);
  assert.deepEqual(netnsFiles().filter((f) => f.startsWith('keeper-')).length, 1, 'only the default bridge keeps an endpoint');
});

test('bad input: Docker status and message, nothing left behind', async () => {
  const pre = `10.${d.net.octet}`;
  const takenId = (await d.dockerOk(['network', 'create', '--subnet', `${pre}.210.0/24`, 'taken'])).trim();
  const cases: [string, unknown, number, RegExp][] = [
    ['overlap', { Name: 'o', IPAM: { Config: [{ Subnet: `${pre}.210.128/25` }] } }, 403, /Pool overlaps with other one on this address space/],
    ['gateway', { Name: 'g', IPAM: { Config: [{ Subnet: `${pre}.211.0/24`, Gateway: `${pre}.99.1` }] } }, 403, /no matching subnet for gateway/],
    ['duplicate', { Name: 'taken' }, 409, /network with name taken already exists/],
    ['bad subnet', { Name: 'b', IPAM: { Config: [{ Subnet: '300.1.0.0/24' }] } }, 400, /invalid subnet/],
    ['bad name', { Name: 'a b' }, 400, /invalid network name/],
  ];
  for (const [what, body, status, msg] of cases) {
    const r = await d.api('POST', '/networks/create', body);
    assert.equal(r.status, status, `${what}: ${r.text}`);
    assert.match(r.body.message, msg, what);
  }
  const ctr = (await d.dockerOk(['run', '-d', '--network', 'taken', 'busybox', 'sleep', '60'])).trim();
  const rm = await d.docker(['network', 'rm', 'taken']);
  assert.notEqual(rm.code, 0);
  assert.match(rm.stderr, /error while removing network: network taken has active endpoints/);
  assert.equal((await d.api('DELETE', '/networks/taken')).status, 409);
  const twice = await d.api('POST', '/networks/taken/connect', { Container: ctr });
  assert.equal(twice.status, 403);
  assert.match(twice.body.message, /already exists in network taken/);
  const outside = await d.docker(['run', '--rm', '--network', 'taken', '--ip', `${pre}.99.9`, 'busybox', 'true']);
  assert.match(outside.stderr, /Invalid address .*: It does not belong to any of this network's subnets/);
  const missing = await d.docker(['run', '--rm', '--network', 'container:nosuch', 'busybox', 'true']);
  assert.match(missing.stderr, /No such container: nosuch/);
  await d.dockerOk(['create', '--name', 'idle', 'busybox', 'true']);
  const stopped = await d.docker(['run', '--rm', '--network', 'container:idle', 'busybox', 'true']);
  assert.match(stopped.stderr, /cannot join network namespace of a non running container/);
  const joined = await d.dockerOk(['run', '--rm', `--network=container:${ctr}`, 'busybox', 'ip', '-4', '-o', 'addr', 'show', 'eth0']);
  assert.match(joined, new RegExp(`inet ${pre}\\.210\\.`));
  assert.equal((await d.api('DELETE', '/networks/bridge')).status, 403);
  assert.equal((await d.api('GET', '/networks/nosuch')).status, 404);
  await d.dockerOk(['rm', '-f', ctr, 'idle']);
  await d.dockerOk(['network', 'rm', 'taken']);
  await waitFor(() => netnsFiles().filter((f) => !f.startsWith('keeper-')).length === 0, 'no container namespace left');
  assert.ok(!netnsFiles().includes(`keeper-${takenId.slice(0, 12)}`), 'the removed network keeps no endpoint');
  await waitFor(() => iptablesLinesFor(`${pre}.210.`).length === 0, 'no rule left for the removed network');
});

test('a SIGKILLed daemon: running containers keep addresses and ports, exits meanwhile release theirs', async () => {
  await d.dockerOk(['network', 'create', 'keep']);
  const port = await freePort('0.0.0.0');
  const a = (await d.dockerOk(['run', '-d', '--name', 'ka', '--network', 'keep', '-p', `${port}:80`, 'busybox', 'sh', '-c', SERVE('still-here')])).trim();
  const b = (await d.dockerOk(['run', '-d', '--name', 'kb', '--network', 'keep', 'busybox', 'sh', '-c', 'sleep 1']).then((s) => s.trim()));
  const ipA = (await d.inspect(a)).NetworkSettings.Networks.keep.IPAddress;
  const ipB = (await d.inspect(b)).NetworkSettings.Networks.keep.IPAddress;
  await waitFor(async () => (await tcpRead('127.0.0.1', port).catch(() => '')) === 'still-here\n', 'port before');
  const pidB = (await d.inspect(b)).State.Pid;
  await d.kill();
  // b's `sleep 1` ends while no daemon runs (by its pid, not by a fixed wait: a loaded host is slow)
  await waitFor(() => pidB === 0 || !pidAlive(pidB), "b's exit while the daemon is down", 20_000, 50);
  assert.equal(await tcpRead('127.0.0.1', port), 'still-here\n', 'the port answers while no daemon runs');
  await d.start();
  assert.equal((await d.inspect(a)).NetworkSettings.Networks.keep.IPAddress, ipA);
  assert.equal((await d.inspect(b)).State.Status, 'exited');
  assert.equal((await d.inspect(b)).NetworkSettings.Networks.keep.IPAddress, '');
  assert.equal(await tcpRead('127.0.0.1', port), 'still-here\n');
  assert.equal(await d.dockerOk(['port', 'ka', '80']), `0.0.0.0:${port}\n[::]:${port}\n`);
  // The address b had is free again: the next container gets it; a's port is still held.
  const c = (await d.dockerOk(['run', '-d', '--network', 'keep', 'busybox', 'sleep', '30'])).trim();
  assert.equal((await d.inspect(c)).NetworkSettings.Networks.keep.IPAddress, ipB);
  const clash = await d.docker(['run', '--rm', '-p', `${port}:80`, 'busybox', 'true']);
  assert.match(clash.stderr, /port is already allocated/);
  assert.equal(await d.dockerOk(['exec', c, 'sh', '-c', 'nc ka 80']), 'still-here\n');
  await d.dockerOk(['rm', '-f', a, b, c]);
  await d.dockerOk(['network', 'rm', 'keep']);
});
