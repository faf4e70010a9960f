// Logging drivers and create-time refusals: real receivers on loopback (a syslog UDP socket, a
// syslog TCP listener, a unix datagram socket, a fluentd forward listener that decodes
// MessagePack) and what arrived; Docker's 400s for what dockerd refuses at create; legacy links.
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { DgramSocket } from 'node-unix-socket';
import { lines, startDaemon, stopAndCheckClean, waitFor, type TestDaemon } from './harness.js';
import { fluentdReceiver, tcpReceiver, udpReceiver } from './log-receivers.js';
import { freePort } from './tcp.js';
import { makePki } from './pki.js';

describe('logging drivers, create-time refusals and links', () => {
  let d: TestDaemon;

  before(async () => {
    d = await startDaemon();
  });

  after(async () => {
    await stopAndCheckClean(d);
  });

  const count = async (): Promise<number> => lines(await d.dockerOk(['ps', '-aq'])).length;

  test('what dockerd refuses at create gets its 400 and message, and nothing is created', async () => {
    const before = await count();
    const cases: [Record<string, unknown>, RegExp][] = [
      [{ LogConfig: { Type: 'foo' } }, /^error looking up logging plugin foo: plugin "foo" not found$/],
      [{ LogConfig: { Type: 'json-file', Config: { foo: 'bar' } } }, /^unknown log opt 'foo' for json-file log driver$/],
      [{ LogConfig: { Type: 'local', Config: { tag: 'x' } } }, /^unknown log opt 'tag' for log driver local$/],
      [{ LogConfig: { Type: 'syslog', Config: { 'syslog-address': 'foo://x' } } }, /^syslog-address should be in form proto:\/\/address, got foo:\/\/x$/],
      [{ LogConfig: { Type: 'syslog', Config: { 'syslog-format': 'bad' } } }, /^Invalid syslog format$/],
      [{ Runtime: 'foo' }, /^Unknown runtime specified foo$/],
      [{ Isolation: 'hyperv' }, /^Invalid isolation: "hyperv" - linux only supports 'default'$/],
      [{ RestartPolicy: { Name: 'sometimes' } }, /restart policy/],
      [{ Links: ['no-such-container:db'] }, /^could not get container for no-such-container: No such container: no-such-container$/],
    ];
    for (const [hc, msg] of cases) {
      const r = await d.api('POST', '/containers/create', { Image: 'busybox', Cmd: ['true'], HostConfig: hc });
      assert.equal(r.status, 400, `${JSON.stringify(hc)}: ${r.text}`);
      assert.match(r.body.message, msg);
    }
    const cli = await d.docker(['create', '--log-driver', 'foo', 'busybox', 'true']);
    assert.equal(cli.code, 1);
    assert.match(cli.stderr, /error looking up logging plugin foo/);
    assert.equal(await count(), before);
  });

  test('json-file option values are checked at start, as dockerd, and the container stays created', async () => {
    for (const [opt, msg] of [
      ['max-size=abc', "failed to initialize logging driver: invalid size: 'abc'"],
      ['max-file=0', 'failed to initialize logging driver: max-file cannot be less than 1'],
      ['compress=maybe', 'failed to initialize logging driver: strconv.ParseBool: parsing "maybe": invalid syntax'],
    ]) {
      const id = (await d.dockerOk(['create', '--log-opt', opt, 'busybox', 'true'])).trim();
      const r = await d.docker(['start', id]);
      assert.notEqual(r.code, 0);
      assert.match(r.stderr, new RegExp(msg.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')));
      assert.equal((await d.inspect(id)).State.Status, 'created');
      await d.dockerOk(['rm', id]);
    }
    assert.equal(await d.dockerOk(['run', '--rm', '--log-opt', 'max-size=10m', '--log-opt', 'max-file=3', 'busybox', 'echo', 'ok']), 'ok\n');
  });

  test('none keeps nothing and logs says so, as dockerd', async () => {
    const id = (await d.dockerOk(['run', '-d', '--log-driver', 'none', 'busybox', 'echo', 'hi'])).trim();
    await d.dockerOk(['wait', id]);
    const r = await d.docker(['logs', id]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /configured logging driver does not support reading/);
    assert.equal((await d.api('GET', `/containers/${id}/logs?stdout=1`)).status, 501);
    assert.ok(!fs.existsSync(path.join(d.dataRoot, 'containers', id, 'container.log')));
    await d.dockerOk(['rm', id]);
  });

  test('syslog over UDP, TCP (rfc5424, octet-counted) and a unix datagram socket, with tag and severity', async () => {
    const udp = await udpReceiver();
    const tcp = await tcpReceiver();
    const sockPath = path.join(d.root, 'syslog.sock');
    const unix = new DgramSocket();
    const unixGot: string[] = [];
    unix.on('data', (b: Buffer) => unixGot.push(b.toString()));
    unix.bind(sockPath);
    try {
      const script = 'echo one; echo two >&2; echo three';
      await d.dockerOk(['run', '--rm', '--name', 'sl1', '--log-driver', 'syslog', '--log-opt', `syslog-address=udp://127.0.0.1:${udp.port}`, '--log-opt', 'tag={{.Name}}', '--log-opt', 'syslog-format=rfc3164', 'busybox', 'sh', '-c', script]);
      await d.dockerOk(['run', '--rm', '--log-driver', 'syslog', '--log-opt', `syslog-address=tcp://127.0.0.1:${tcp.port}`, '--log-opt', 'syslog-format=rfc5424', '--log-opt', 'tag=t5424', 'busybox', 'sh', '-c', script]);
      await d.dockerOk(['run', '--rm', '--log-driver', 'syslog', '--log-opt', `syslog-address=unixgram://${sockPath}`, '--log-opt', 'tag=ux', 'busybox', 'sh', '-c', script]);
      await waitFor(() => udp.got.length >= 3 && tcp.got.length >= 3 && unixGot.length >= 3, 'syslog messages', 10_000);
      // facility daemon (3): stdout is info (6) → <30>, stderr is err (3) → <27>; order kept per stream.
      assert.match(udp.got.find((m) => m.endsWith('one'))!, /^<30>\w{3} [ \d]\d \d\d:\d\d:\d\d \S+ sl1\[\d+\]: one$/);
      assert.match(udp.got.find((m) => m.endsWith('two'))!, /^<27>/);
      assert.deepEqual(udp.got.filter((m) => m.startsWith('<30>')).map((m) => m.split(': ')[1]), ['one', 'three']);
      assert.match(tcp.got[0], /^<30>1 \d{4}-\d\d-\d\dT\S+ \S+ t5424 \d+ t5424 - one$/);
      assert.match(unixGot.find((m) => m.endsWith('one'))!, /^<30>\w{3} [ \d]\d \d\d:\d\d:\d\d ux\[\d+\]: one$/);
      // docker logs still reads the local copy (dual logging).
      const id = (await d.dockerOk(['run', '-d', '--log-driver', 'syslog', '--log-opt', `syslog-address=udp://127.0.0.1:${udp.port}`, 'busybox', 'echo', 'kept'])).trim();
      await d.dockerOk(['wait', id]);
      assert.equal(await d.dockerOk(['logs', id]), 'kept\n');
      await d.dockerOk(['rm', id]);
    } finally {
      udp.close();
      tcp.close();
      unix.close();
    }
  });

  test('syslog over TLS: the CA, a client certificate, skip-verify, and a receiver that is not trusted', async () => {
    const pki = path.join(d.root, 'pki');
    fs.mkdirSync(pki);
    await makePki(pki);
    const f = (n: string): string => path.join(pki, n);
    const read = (n: string): Buffer => fs.readFileSync(f(n));
    // A receiver that insists on a client certificate from the CA.
    const mutual = await tcpReceiver({ cert: read('server-cert.pem'), key: read('server-key.pem'), ca: read('ca.pem'), requestCert: true, rejectUnauthorized: true });
    try {
      const tlsOpts = (port: number, ...more: string[]): string[] => ['--log-driver', 'syslog', '--log-opt', `syslog-address=tcp+tls://127.0.0.1:${port}`, '--log-opt', 'syslog-format=rfc5424', ...more.flatMap((o) => ['--log-opt', o])];
      const client = [`syslog-tls-ca-cert=${f('ca.pem')}`, `syslog-tls-cert=${f('client-cert.pem')}`, `syslog-tls-key=${f('client-key.pem')}`];
      await d.dockerOk(['run', '--rm', ...tlsOpts(mutual.port, ...client, 'tag=tls1'), 'busybox', 'sh', '-c', 'echo one; echo two >&2; echo three']);
      await waitFor(() => mutual.got.filter((m) => m.includes(' tls1 ')).length >= 3, 'messages over TLS');
      assert.deepEqual(mutual.got.filter((m) => m.includes(' tls1 ')).map((m) => m.slice(m.indexOf(' - ') + 3)).sort(), ['one', 'three', 'two']);
      assert.match(mutual.got.find((m) => m.endsWith(' - two'))!, /^<27>1 /);
      // Without the CA the receiver's certificate is not trusted: the start fails, nothing hangs.
      const untrusted = await d.docker(['run', '--rm', ...tlsOpts(mutual.port, `syslog-tls-cert=${f('client-cert.pem')}`, `syslog-tls-key=${f('client-key.pem')}`), 'busybox', 'true']);
      assert.notEqual(untrusted.code, 0);
      assert.match(untrusted.stderr, /failed to initialize logging driver: tls: .*certificate/);
      // skip-verify trusts any receiver (the client certificate is still shown).
      await d.dockerOk(['run', '--rm', ...tlsOpts(mutual.port, 'syslog-tls-skip-verify=true', `syslog-tls-cert=${f('client-cert.pem')}`, `syslog-tls-key=${f('client-key.pem')}`, 'tag=tls2'), 'busybox', 'echo', 'skipped']);
      await waitFor(() => mutual.got.some((m) => m.includes(' tls2 ') && m.endsWith(' - skipped')), 'message with skip-verify');
      // A file that is not there: dockerd's open error.
      const missing = await d.docker(['run', '--rm', ...tlsOpts(mutual.port, `syslog-tls-ca-cert=${f('nope.pem')}`), 'busybox', 'true']);
      assert.match(missing.stderr, new RegExp(`failed to initialize logging driver: open ${f('nope.pem').replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: no such file or directory`));
    } finally {
      mutual.close();
    }
  });

  test('a syslog or fluentd receiver that is down fails the start as dockerd; fluentd-async buffers', async () => {
    const port = await freePort();
    for (const args of [
      ['--log-driver', 'syslog', '--log-opt', `syslog-address=tcp://127.0.0.1:${port}`],
      ['--log-driver', 'fluentd', '--log-opt', `fluentd-address=127.0.0.1:${port}`],
    ]) {
      const r = await d.docker(['run', '--rm', ...args, 'busybox', 'true']);
      assert.notEqual(r.code, 0);
      assert.match(r.stderr, new RegExp(`failed to initialize logging driver: dial tcp 127.0.0.1:${port}: connect: connection refused`));
    }
    // Async: starts although nobody listens; lines written meanwhile arrive once fluentd is up.
    const id = (await d.dockerOk(['run', '-d', '--log-driver', 'fluentd', '--log-opt', `fluentd-address=127.0.0.1:${port}`, '--log-opt', 'fluentd-async=true', '--log-opt', 'fluentd-retry-wait=100', 'busybox', 'sh', '-c', 'echo early; sleep 2; echo late'])).trim();
    const f = await fluentdReceiver(port);
    try {
      await waitFor(() => f.records.length >= 2, 'async fluentd records', 10_000);
      assert.deepEqual(f.records.map((r) => r[2].log), ['early', 'late']);
      await d.dockerOk(['wait', id]);
      await d.dockerOk(['rm', id]);
    } finally {
      f.close();
    }
  });

  test('fluentd forward protocol: tag, record fields, streams, 16 KiB pieces, env/labels attributes', async () => {
    const f = await fluentdReceiver();
    try {
      const long = 40 * 1024;
      const id = (
        await d.dockerOk([
          'run', '-d', '--name', 'fl1', '-e', 'STAGE=test', '-l', 'team=a', '--log-driver', 'fluentd', '--log-opt', `fluentd-address=tcp://127.0.0.1:${f.port}`,
          '--log-opt', 'env=STAGE', '--log-opt', 'labels=team', 'busybox', 'sh', '-c', `echo out; echo err >&2; head -c ${long} /dev/zero | tr '\\0' x; echo`,
        ])
      ).trim();
      await d.dockerOk(['wait', id]);
      await waitFor(() => f.records.length >= 5, 'fluentd records', 10_000);
      const [tag, time, rec] = f.records.find((r) => r[2].log === 'out')!;
      assert.equal(tag, id.slice(0, 12), 'the default tag is the short id');
      assert.equal(typeof time, 'number');
      assert.deepEqual(rec, { container_id: id, container_name: '/fl1', source: 'stdout', log: 'out', STAGE: 'test', team: 'a' });
      assert.equal(f.records.find((r) => r[2].log === 'err')![2].source, 'stderr');
      const pieces = f.records.filter((r) => /^x+$/.test(r[2].log));
      const seen = JSON.stringify(f.records.map((r) => [r[2].source, r[2].log.length, r[2].partial_message, r[2].log.slice(0, 30), r[2].log.replace(/x/g, '').slice(0, 60)]));
      assert.deepEqual(pieces.map((r) => r[2].log.length), [16384, 16384, long - 32768], seen);
      assert.deepEqual(pieces.map((r) => r[2].partial_message), ['true', 'true', undefined]);
      await d.dockerOk(['rm', id]);
    } finally {
      f.close();
    }
  });

  test('a container writing faster than the receiver reads never blocks the daemon', async () => {
    // A TCP syslog receiver that accepts and never reads.
    const conns: net.Socket[] = [];
    const srv = net.createServer((c) => {
      c.pause();
      conns.push(c);
    });
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
    try {
      const port = (srv.address() as net.AddressInfo).port;
      const t0 = Date.now();
      const id = (await d.dockerOk(['run', '-d', '--log-driver', 'syslog', '--log-opt', `syslog-address=tcp://127.0.0.1:${port}`, 'busybox', 'sh', '-c', 'seq 1 200000'])).trim();
      assert.equal((await d.dockerOk(['wait', id])).trim(), '0');
      const ping = Date.now();
      assert.equal((await d.api('GET', '/_ping')).status, 200);
      assert.ok(Date.now() - ping < 1000 && Date.now() - t0 < 30_000);
      assert.equal(lines(await d.dockerOk(['logs', '--tail', '1', id]))[0], '200000');
      await d.dockerOk(['rm', id]);
    } finally {
      for (const c of conns) c.destroy();
      srv.close();
    }
  });

  test('legacy links: <ALIAS>_NAME and <ALIAS>_ENV_* variables, Docker\'s recorded form, rm --link', async () => {
    await d.dockerOk(['run', '-d', '--name', 'lk-db', '-e', 'PASSWORD=s3cret', 'busybox', 'sleep', '300']);
    const env = await d.dockerOk(['run', '--rm', '--name', 'lk-web', '--link', 'lk-db:my-db', 'busybox', 'env']);
    assert.match(env, /^MY_DB_NAME=\/lk-web\/my-db$/m);
    assert.match(env, /^MY_DB_ENV_PASSWORD=s3cret$/m);
    assert.doesNotMatch(env, /^MY_DB_ENV_PATH=/m);
    await d.dockerOk(['create', '--name', 'lk-app', '--link', 'lk-db', 'busybox', 'env']);
    assert.deepEqual((await d.inspect('lk-app')).HostConfig.Links, ['/lk-db:/lk-app/lk-db']);
    assert.match(await d.dockerOk(['start', '-a', 'lk-app']), /^LK_DB_NAME=\/lk-app\/lk-db$/m);
    await d.dockerOk(['rm', '--link', '/lk-app/lk-db']);
    assert.equal((await d.inspect('lk-app')).HostConfig.Links, null);
    const gone = await d.api('DELETE', '/containers/lk-app?link=1');
    assert.equal(gone.status, 409, gone.text);
    await d.dockerOk(['rm', '-f', 'lk-db', 'lk-app']);
  });
});
