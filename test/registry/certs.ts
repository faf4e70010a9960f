// Test PKI made with openssl: a CA, a server certificate for 127.0.0.1 and 0.0.0.0 (IP SANs) and a
// client certificate signed by it, and a self-signed certificate the token server signs JWTs with.
// (0.0.0.0 reaches the loopback interface but is not a loopback name, so a registry addressed
// by it is a secure one: its certificate is verified.)
import fs from 'node:fs';
import path from 'node:path';
import { run } from '../harness.js';

async function openssl(args: string[], cwd: string): Promise<void> {
  const r = await run('openssl', args, { env: { OPENSSL_CONF: '/dev/null' }, timeoutMs: 60_000 });
  if (r.code !== 0) throw new Error(`openssl ${args.join(' ')} (in ${cwd}): ${r.stderr}`);
}

export interface TestPki {
  dir: string;
  caCert: string;
  serverCert: string;
  serverKey: string;
  clientCert: string;
  clientKey: string;
}

export async function makeServerPki(dir: string): Promise<TestPki> {
  fs.mkdirSync(dir, { recursive: true });
  const p = (n: string): string => path.join(dir, n);
  await openssl(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', p('ca.key'), '-out', p('ca.crt'), '-days', '2', '-subj', '/CN=Berth Test CA'], dir);
  await openssl(['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', p('server.key'), '-out', p('server.csr'), '-subj', '/CN=127.0.0.1'], dir);
  fs.writeFileSync(p('ext.cnf'), 'subjectAltName=IP:127.0.0.1,IP:0.0.0.0\nextendedKeyUsage=serverAuth\n');
  await openssl(['x509', '-req', '-in', p('server.csr'), '-CA', p('ca.crt'), '-CAkey', p('ca.key'), '-CAcreateserial', '-out', p('server.crt'), '-days', '2', '-extfile', p('ext.cnf')], dir);
  await openssl(['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', p('client.key'), '-out', p('client.csr'), '-subj', '/CN=berth-test-client'], dir);
  fs.writeFileSync(p('client-ext.cnf'), 'extendedKeyUsage=clientAuth\n');
  await openssl(['x509', '-req', '-in', p('client.csr'), '-CA', p('ca.crt'), '-CAkey', p('ca.key'), '-CAcreateserial', '-out', p('client.cert'), '-days', '2', '-extfile', p('client-ext.cnf')], dir);
  return { dir, caCert: p('ca.crt'), serverCert: p('server.crt'), serverKey: p('server.key'), clientCert: p('client.cert'), clientKey: p('client.key') };
}

/** A self-signed RSA certificate and key (PEM paths) for signing tokens. */
export async function makeSigningCert(dir: string): Promise<{ cert: string; key: string }> {
  fs.mkdirSync(dir, { recursive: true });
  const cert = path.join(dir, 'token.crt');
  const key = path.join(dir, 'token.key');
  await openssl(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '2', '-subj', '/CN=Berth Test Token Issuer'], dir);
  return { cert, key };
}
