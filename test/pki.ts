// Test certificates made with openssl: a CA, a server certificate for 127.0.0.1, client
// certificates (good, from another CA, expired), for the remote API's and the syslog driver's TLS.
import fs from 'node:fs';
import path from 'node:path';
import { run } from './harness.js';

async function openssl(args: string[]): Promise<void> {
  const r = await run('openssl', args);
  if (r.code !== 0) throw new Error(`openssl ${args.join(' ')}: ${r.stderr}`);
}

/**
 * In `dir`: ca.pem/ca-key.pem, server-cert.pem/server-key.pem (127.0.0.1), client-…, stranger-…
 * (from other-ca), expired-…, and client-dir/ in DOCKER_CERT_PATH's layout.
 * A CA, a server certificate for 127.0.0.1, client certificates: good, from another CA, expired. */
export async function makePki(dir: string): Promise<void> {
  const f = (n: string): string => path.join(dir, n);
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  for (const ca of ['ca', 'other-ca']) {
    await openssl(['req', '-x509', ...ec, '-keyout', f(`${ca}-key.pem`), '-out', f(`${ca}.pem`), '-days', '2', '-subj', `/CN=berth test ${ca}`]);
  }
  const sign = async (name: string, ca: string, ext: string, dates?: [string, string]): Promise<void> => {
    await openssl(['req', ...ec, '-keyout', f(`${name}-key.pem`), '-out', f(`${name}.csr`), '-subj', `/CN=${name}`]);
    fs.writeFileSync(f(`${name}.ext`), ext);
    if (!dates) {
      await openssl(['x509', '-req', '-in', f(`${name}.csr`), '-CA', f(`${ca}.pem`), '-CAkey', f(`${ca}-key.pem`), '-CAcreateserial', '-out', f(`${name}-cert.pem`), '-days', '2', '-extfile', f(`${name}.ext`)]);
      return;
    }
    // `openssl ca` is the tool that sets arbitrary validity dates (an expired certificate).
    fs.writeFileSync(f('index.txt'), '');
    fs.writeFileSync(f('serial'), '1000\n');
    fs.writeFileSync(
      f('ca.cnf'),
      `[ca]\ndefault_ca=d\n[d]\ndatabase=${f('index.txt')}\nserial=${f('serial')}\nnew_certs_dir=${dir}\ndefault_md=sha256\npolicy=p\ncopy_extensions=none\n[p]\ncommonName=supplied\n`,
    );
    await openssl(['ca', '-batch', '-config', f('ca.cnf'), '-cert', f(`${ca}.pem`), '-keyfile', f(`${ca}-key.pem`), '-in', f(`${name}.csr`), '-out', f(`${name}-cert.pem`), '-startdate', dates[0], '-enddate', dates[1], '-extfile', f(`${name}.ext`), '-notext']);
  };
  await sign('server', 'ca', 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n');
  await sign('client', 'ca', 'extendedKeyUsage=clientAuth\n');
  await sign('stranger', 'other-ca', 'extendedKeyUsage=clientAuth\n');
  await sign('expired', 'ca', 'extendedKeyUsage=clientAuth\n', ['20200101000000Z', '20200102000000Z']);
  // DOCKER_CERT_PATH layout for the clients.
  const certPath = f('client-dir');
  fs.mkdirSync(certPath);
  fs.copyFileSync(f('ca.pem'), path.join(certPath, 'ca.pem'));
  fs.copyFileSync(f('client-cert.pem'), path.join(certPath, 'cert.pem'));
  fs.copyFileSync(f('client-key.pem'), path.join(certPath, 'key.pem'));
}

