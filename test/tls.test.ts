// The remote API: berthd on TCP with TLS (--tlsverify and its three files, as dockerd), reached by
// the real docker CLI and by berth (flags, and DOCKER_TLS_VERIFY/DOCKER_CERT_PATH); clients with
// no certificate, one from another CA or an expired one are refused. A non-loopback address
// without TLS is refused unless --tls=false; the unix socket is 0660 and owned by --group.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import https from 'node:https';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { REPO, run, startDaemon, stopAndCheckClean, TestDaemon } from './harness.js';
import { makePki } from './pki.js';
import { freePort } from './tcp.js';

const BERTH = path.join(REPO, 'dist', 'berth.cjs');

/** One HTTPS request to /_ping with the given client certificate (or none). */
function ping(port: number, dir: string, client?: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const f = (n: string): Buffer => fs.readFileSync(path.join(dir, n));
    const req = https.request(
      {
        host: '127.0.0.1',
        port,
        path: '/_ping',
        ca: f('ca.pem'),
        ...(client ? { cert: f(`${client}-cert.pem`), key: f(`${client}-key.pem`) } : {}),
      },
      (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      },
    );
    req.on('error', reject);
    req.end();
  });
}

describe('remote API over TLS', () => {
  let d: TestDaemon;
  let pki: string;
  let port: number;
  let tcp: string;

  before(async () => {
    pki = fs.mkdtempSync('/tmp/bt-pki-');
    await makePki(pki);
    port = await freePort();
    tcp = `tcp://127.0.0.1:${port}`;
    const f = (n: string): string => path.join(pki, n);
    d = await startDaemon({ args: ['-H', tcp, '--tlsverify', '--tlscacert', f('ca.pem'), '--tlscert', f('server-cert.pem'), '--tlskey', f('server-key.pem')] });
  });
  after(async () => {
    await stopAndCheckClean(d);
    fs.rmSync(pki, { recursive: true, force: true });
  });

  test('the docker CLI and berth connect with their certificates (flags and DOCKER_TLS_VERIFY/DOCKER_CERT_PATH)', async () => {
    const f = (n: string): string => path.join(pki, n);
    const env = { DOCKER_TLS_VERIFY: '1', DOCKER_CERT_PATH: f('client-dir'), DOCKER_CONFIG: d.dockerConfig };
    const viaEnv = await run('docker', ['-H', tcp, 'version', '--format', '{{.Server.APIVersion}}'], { env });
    assert.equal(viaEnv.code, 0, viaEnv.stderr);
    assert.equal(viaEnv.stdout.trim(), '1.47');
    const flags = ['--tlsverify', '--tlscacert', f('ca.pem'), '--tlscert', f('client-cert.pem'), '--tlskey', f('client-key.pem')];
    const dockerFlags = await run('docker', ['-H', tcp, ...flags, 'run', '--rm', 'busybox', 'echo', 'over tls'], { env: { DOCKER_CONFIG: d.dockerConfig } });
    assert.equal(dockerFlags.code, 0, dockerFlags.stderr);
    assert.equal(dockerFlags.stdout, 'over tls\n');
    const berthFlags = await run(process.execPath, [BERTH, '-H', tcp, ...flags, 'run', '--rm', 'busybox', 'echo', 'berth over tls']);
    assert.equal(berthFlags.code, 0, berthFlags.stderr);
    assert.equal(berthFlags.stdout, 'berth over tls\n');
    const berthEnv = await run(process.execPath, [BERTH, 'ps', '-a', '--format', '{{.ID}}'], { env: { ...env, DOCKER_HOST: tcp } });
    assert.equal(berthEnv.code, 0, berthEnv.stderr);
  });

  test('no client certificate, another CA, an expired certificate, plain http: refused', async () => {
    assert.equal(await ping(port, pki, 'client'), 200);
    for (const client of [undefined, 'stranger', 'expired']) {
      await assert.rejects(ping(port, pki, client), (e: NodeJS.ErrnoException) => /ECONNRESET|alert|certificate|EPROTO|socket hang up/i.test(`${e.code} ${e.message}`), `client ${client ?? '(none)'} was let in`);
    }
    const f = (n: string): string => path.join(pki, n);
    // The CLIs say why.
    const noCert = await run('docker', ['-H', tcp, '--tlsverify', '--tlscacert', f('ca.pem'), 'ps'], { env: { DOCKER_CONFIG: d.dockerConfig, DOCKER_CERT_PATH: pki } });
    assert.notEqual(noCert.code, 0);
    const expired = await run(process.execPath, [BERTH, '-H', tcp, '--tlsverify', '--tlscacert', f('ca.pem'), '--tlscert', f('expired-cert.pem'), '--tlskey', f('expired-key.pem'), 'ps']);
    assert.notEqual(expired.code, 0);
    assert.match(expired.stderr, /error during connect|certificate|alert/i);
    const plain = await run('docker', ['-H', tcp, 'version', '--format', '{{.Server.Version}}'], { env: { DOCKER_CONFIG: d.dockerConfig } });
    assert.notEqual(plain.code, 0);
    // A server the client does not trust: berth refuses it too.
    const wrongCa = await run(process.execPath, [BERTH, '-H', tcp, '--tlsverify', '--tlscacert', f('other-ca.pem'), '--tlscert', f('client-cert.pem'), '--tlskey', f('client-key.pem'), 'ps']);
    assert.notEqual(wrongCa.code, 0);
    // The daemon is unharmed.
    assert.equal(await ping(port, pki, 'client'), 200);
  });
});

describe('listening safely', () => {
  /** Starts a daemon with extra flags; resolves with its log, whether it started or stopped. */
  async function attempt(args: string[]): Promise<{ started: boolean; log: string; d: TestDaemon }> {
    const d = new TestDaemon({ noDefaultImage: true, args });
    try {
      await d.start();
      return { started: true, log: d.log(), d };
    } catch (e) {
      return { started: false, log: `${d.log()}\n${(e as Error).message}`, d };
    }
  }

  test('a non-loopback TCP address without TLS is refused; --tls=false starts with the warning', async () => {
    const port = await freePort();
    const refused = await attempt(['-H', `tcp://0.0.0.0:${port}`]);
    try {
      assert.equal(refused.started, false);
      assert.match(refused.log, /Refusing to listen on tcp:\/\/0\.0\.0\.0:\d+ without TLS/);
    } finally {
      await stopAndCheckClean(refused.d);
    }
    const allowed = await attempt(['-H', `tcp://0.0.0.0:${port}`, '--tls=false']);
    try {
      assert.equal(allowed.started, true, allowed.log);
      assert.match(allowed.log, /without encryption/);
    } finally {
      await stopAndCheckClean(allowed.d);
    }
  });

  test('the unix socket is 0660 and owned by --group; an unknown group stops the daemon', async () => {
    const grouped = await attempt(['--group', '1']);
    try {
      assert.equal(grouped.started, true, grouped.log);
      const st = fs.statSync(grouped.d.sock);
      assert.equal(st.gid, 1);
      assert.equal(st.mode & 0o777, 0o660);
    } finally {
      await stopAndCheckClean(grouped.d);
    }
    const bad = await attempt(['--group', 'no-such-group-here']);
    try {
      assert.equal(bad.started, false);
      assert.match(bad.log, /group no-such-group-here not found/);
    } finally {
      await stopAndCheckClean(bad.d);
    }
  });
});
