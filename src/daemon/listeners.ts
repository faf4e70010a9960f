// Where berthd listens (-H), as dockerd does: unix sockets (0660, owned by --group) and TCP,
// with TLS (--tls, --tlsverify and the three --tls* files). A TCP address that is not loopback
// without TLS is refused unless --tls=false says so explicitly.
import { promises as fsp, readFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import type { ApiServer } from '../api/server.js';
import { logger } from '../util/logger.js';
import type { TlsFlags } from '../client/tls.js';

/** The same flags as the CLI's; here `tls: false` means --tls=false was given explicitly. */
export interface ListenOptions extends TlsFlags {
  /** --group: the unix socket's group; undefined means dockerd's default (here `berth`, when it exists). */
  group?: string;
}

const DEFAULT_GROUP = 'berth';

/** dockerd's default certificate directory: $DOCKER_CERT_PATH, else ~/.docker. */
function certDir(): string {
  return process.env.DOCKER_CERT_PATH || path.join(os.homedir(), '.docker');
}

/** The gid of a group name or number from /etc/group; undefined when there is no such group. */
export function lookupGroup(group: string): number | undefined {
  if (/^\d+$/.test(group)) return Number(group);
  let text = '';
  try {
    text = readFileSync('/etc/group', 'utf8');
  } catch {
    return undefined;
  }
  for (const line of text.split('\n')) {
    const [name, , gid] = line.split(':');
    if (name === group && gid !== undefined && /^\d+$/.test(gid)) return Number(gid);
  }
  return undefined;
}

async function socketInUse(file: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(file);
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

async function listenUnix(api: ApiServer, file: string, opts: ListenOptions): Promise<void> {
  await fsp.mkdir(path.dirname(file), { recursive: true });
  if (await socketInUse(file)) throw new Error(`another daemon is already listening on ${file}`);
  await fsp.rm(file, { force: true });
  const gid = lookupGroup(opts.group ?? DEFAULT_GROUP);
  if (gid === undefined && opts.group !== undefined) throw new Error(`group ${opts.group} not found`);
  await api.listen(file);
  await fsp.chmod(file, 0o660);
  if (gid !== undefined) await fsp.chown(file, 0, gid);
  else logger.debug(`no group ${DEFAULT_GROUP}: ${file} stays root:root`);
}

function isLoopback(host: string): boolean {
  if (host === 'localhost') return true;
  if (net.isIPv4(host)) return host.startsWith('127.');
  return host === '::1';
}

async function readTlsFiles(flags: TlsFlags): Promise<{ ca?: Buffer; cert: Buffer; key: Buffer }> {
  const dir = certDir();
  const file = (given: string | undefined, name: string): string => given ?? path.join(dir, name);
  const read = async (f: string, what: string): Promise<Buffer> => {
    try {
      return await fsp.readFile(f);
    } catch (err) {
      throw new Error(`could not load ${what} ${f}: ${(err as Error).message}`);
    }
  };
  const cert = await read(file(flags.tlscert, 'cert.pem'), 'X509 key pair: certificate');
  const key = await read(file(flags.tlskey, 'key.pem'), 'X509 key pair: key');
  const ca = flags.tlsverify ? await read(file(flags.tlscacert, 'ca.pem'), 'CA certificate') : undefined;
  return { ca, cert, key };
}

async function listenTcp(api: ApiServer, host: string, port: number, opts: ListenOptions): Promise<void> {
  const tls = opts.tlsverify === true || opts.tls === true;
  if (tls) {
    const files = await readTlsFiles(opts);
    // --tlsverify: a client must present a certificate signed by --tlscacert; --tls alone accepts any client.
    await api.listenTls(host, port, { ...files, requestCert: opts.tlsverify === true, rejectUnauthorized: opts.tlsverify === true });
    return;
  }
  if (!isLoopback(host)) {
    const warning = `Binding to IP address without --tlsverify is insecure and gives root access on this machine to everyone who has access to your network.`;
    if (opts.tls !== false) {
      throw new Error(`${warning} Refusing to listen on tcp://${host}:${port} without TLS: pass --tlsverify with --tlscacert, --tlscert and --tlskey, or --tls=false to accept the risk`);
    }
    logger.warn(`[DEPRECATION NOTICE]: API is accessible on http://${host}:${port} without encryption. ${warning}`);
  }
  await api.listenTcp(host, port);
}

/** Listens on one -H address: unix:///path, /path, tcp://host:port (host defaults to 127.0.0.1). */
export async function listenOn(api: ApiServer, address: string, opts: ListenOptions): Promise<void> {
  if (address.startsWith('unix://') || address.startsWith('/')) return listenUnix(api, address.replace(/^unix:\/\//, ''), opts);
  const m = /^tcp:\/\/(\[[^\]]*\]|[^:]*):(\d+)$/.exec(address);
  if (!m) throw new Error(`invalid host: ${address}`);
  return listenTcp(api, m[1].replace(/^\[|\]$/g, '') || '127.0.0.1', Number(m[2]), opts);
}

/**
 * dockerd spells booleans as `--tls`, `--tls=true` and `--tls=false`; node's parseArgs knows only
 * the first. The others become `--tls`/`--no-tls` (and likewise for --tlsverify).
 */
export function normaliseBoolFlags(argv: string[], names: string[]): string[] {
  return argv.map((a) => {
    const m = /^--([\w-]+)=(true|false|1|0)$/i.exec(a);
    if (!m || !names.includes(m[1])) return a;
    return ['true', '1'].includes(m[2].toLowerCase()) ? `--${m[1]}` : `--no-${m[1]}`;
  });
}
