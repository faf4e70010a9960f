// The client side of a TLS daemon, as the docker CLI decides it: --tlsverify or DOCKER_TLS_VERIFY
// verify the daemon against a CA; --tls alone encrypts without verifying it. Certificates come
// from --tlscacert/--tlscert/--tlskey, else from $DOCKER_CERT_PATH (default ~/.docker) as
// ca.pem, cert.pem and key.pem; a client certificate is sent when there is one.
import { existsSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/** What main.ts parsed: plain data (it crosses CLI bundles). */
export interface TlsFlags {
  tls?: boolean;
  tlsverify?: boolean;
  tlscacert?: string;
  tlscert?: string;
  tlskey?: string;
}

export interface ClientTls {
  verify: boolean;
  ca?: Buffer;
  cert?: Buffer;
  key?: Buffer;
}

export function resolveTls(flags: TlsFlags, env: NodeJS.ProcessEnv = process.env): ClientTls | undefined {
  const verify = flags.tlsverify ?? (env.DOCKER_TLS_VERIFY !== undefined && env.DOCKER_TLS_VERIFY !== '');
  if (!verify && !flags.tls) return undefined;
  const dir = env.DOCKER_CERT_PATH || path.join(os.homedir(), '.docker');
  const file = (given: string | undefined, name: string): string | undefined => {
    const f = given ?? path.join(dir, name);
    if (given === undefined && !existsSync(f)) return undefined;
    return f;
  };
  const read = (f: string | undefined): Buffer | undefined => {
    if (f === undefined) return undefined;
    try {
      return readFileSync(f);
    } catch (e) {
      throw new Error(`could not read TLS file ${f}: ${(e as Error).message}`);
    }
  };
  const ca = verify ? read(file(flags.tlscacert, 'ca.pem')) : undefined;
  if (verify && !ca) throw new Error(`could not read CA certificate "${path.join(dir, 'ca.pem')}": no such file`);
  return { verify, ca, cert: read(file(flags.tlscert, 'cert.pem')), key: read(file(flags.tlskey, 'key.pem')) };
}
