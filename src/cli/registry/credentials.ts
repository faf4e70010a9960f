// Credential stores, as docker/cli's: the config file itself, or a `docker-credential-<name>`
// helper (credsStore / credHelpers) spoken to through its get/store/erase protocol, with the
// config file keeping only an empty entry per registry.

import { spawnSync } from 'node:child_process';
import { goJSON } from '../../client/registry.js';
import { ConfigFile, type StoredAuth } from './config.js';

export interface CredentialStore {
  get(serverAddress: string): StoredAuth;
  store(auth: StoredAuth): void;
  erase(serverAddress: string): void;
}

/** `http://host:port/path` → `host:port`; `host/path` → `host` (credentials.ConvertToHostname). */
export function convertToHostname(maybeURL: string): string {
  if (maybeURL.includes('://')) {
    try {
      const u = new URL(maybeURL);
      if (u.hostname) {
        const host = u.hostname.startsWith('[') ? u.hostname : u.hostname.includes(':') ? `[${u.hostname}]` : u.hostname;
        return u.port ? `${host}:${u.port}` : host;
      }
    } catch {
      /* not a URL: fall through */
    }
  }
  const i = maybeURL.indexOf('/');
  return i < 0 ? maybeURL : maybeURL.slice(0, i);
}

/** The warning docker prints (once) after writing a password into the config file. */
export function unencryptedWarning(filename: string): string {
  return `\nWARNING! Your credentials are stored unencrypted in '${filename}'.\nConfigure a credential helper to remove this warning. See\nhttps://docs.docker.com/go/credential-store/\n\n`;
}

function sameAuth(a: StoredAuth, b: StoredAuth): boolean {
  const keys = ['username', 'password', 'auth', 'email', 'serveraddress', 'identitytoken', 'registrytoken'] as const;
  return keys.every((k) => (a[k] ?? '') === (b[k] ?? ''));
}

export class FileStore implements CredentialStore {
  constructor(
    private readonly cfg: ConfigFile,
    private readonly warn: (s: string) => void = (s) => process.stderr.write(s),
  ) {}

  get(serverAddress: string): StoredAuth {
    const exact = this.cfg.auths.get(serverAddress);
    if (exact) return { ...exact };
    // legacy keys stored as URLs ("https://host/v1/")
    for (const [key, a] of this.cfg.auths) if (convertToHostname(key) === serverAddress) return { ...a };
    return {};
  }

  store(auth: StoredAuth): void {
    const key = auth.serveraddress ?? '';
    const old = this.cfg.auths.get(key);
    if (old && sameAuth(old, auth)) return;
    this.cfg.auths.set(key, { ...auth });
    this.cfg.save();
    if (auth.password && !warned) {
      warned = true;
      this.warn(unencryptedWarning(this.cfg.filename));
    }
  }

  erase(serverAddress: string): void {
    if (!this.cfg.auths.has(serverAddress)) return;
    this.cfg.auths.delete(serverAddress);
    this.cfg.save();
  }
}

let warned = false;

const NOT_FOUND = 'credentials not found in native keychain';
const TOKEN_USERNAME = '<token>';

/** Go's exec error text for a helper that failed. */
function execError(bin: string, r: ReturnType<typeof spawnSync>): string | undefined {
  if (r.error) {
    const code = (r.error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return `exec: "${bin}": executable file not found in $PATH`;
    return r.error.message;
  }
  if (r.signal) return `signal: ${signalName(r.signal)}`;
  if (r.status !== 0) return `exit status ${r.status}`;
  return undefined;
}

function signalName(sig: NodeJS.Signals): string {
  const names: Record<string, string> = { SIGKILL: 'killed', SIGTERM: 'terminated', SIGINT: 'interrupt', SIGSEGV: 'segmentation fault', SIGABRT: 'aborted' };
  return names[sig] ?? sig;
}

/** A docker-credential-<helper> program; the config file keeps the (empty) entry, as docker's nativeStore. */
export class HelperStore implements CredentialStore {
  private readonly bin: string;
  private readonly file: FileStore;

  constructor(cfg: ConfigFile, helper: string) {
    this.bin = `docker-credential-${helper}`;
    this.file = new FileStore(cfg);
  }

  private run(action: string, input: string): { out: string; err?: string } {
    const r = spawnSync(this.bin, [action], { input, stdio: ['pipe', 'pipe', 'inherit'], encoding: 'utf8' });
    return { out: String(r.stdout ?? ''), err: execError(this.bin, r) };
  }

  get(serverAddress: string): StoredAuth {
    const auth = this.file.get(serverAddress);
    const r = this.run('get', serverAddress);
    if (r.err) {
      if (r.out.trim() === NOT_FOUND) return { ...auth, username: undefined, password: undefined, identitytoken: undefined, serveraddress: undefined };
      throw new Error(`error getting credentials - err: ${r.err}, out: \`${r.out.trim()}\``);
    }
    let creds: { ServerURL?: string; Username?: string; Secret?: string };
    try {
      creds = JSON.parse(r.out);
    } catch (e) {
      throw new Error((e as Error).message);
    }
    const out: StoredAuth = { ...auth, username: undefined, password: undefined, identitytoken: undefined };
    if (creds.Username === TOKEN_USERNAME) out.identitytoken = creds.Secret || undefined;
    else {
      out.username = creds.Username || undefined;
      out.password = creds.Secret || undefined;
    }
    out.serveraddress = serverAddress;
    return out;
  }

  store(auth: StoredAuth): void {
    const creds =
      auth.identitytoken
        ? { ServerURL: auth.serveraddress ?? '', Username: TOKEN_USERNAME, Secret: auth.identitytoken }
        : { ServerURL: auth.serveraddress ?? '', Username: auth.username ?? '', Secret: auth.password ?? '' };
    const r = this.run('store', goJSON(creds) + '\n');
    if (r.err) throw new Error(`error storing credentials - err: ${r.err}, out: \`${r.out.trim()}\``);
    this.file.store({ ...auth, username: undefined, password: undefined, identitytoken: undefined });
  }

  erase(serverAddress: string): void {
    const r = this.run('erase', serverAddress);
    if (r.err) throw new Error(`error erasing credentials - err: ${r.err}, out: \`${r.out.trim()}\``);
    this.file.erase(serverAddress);
  }
}

/** configfile.GetCredentialsStore: the helper configured for this registry, else the file. */
export function credentialStore(cfg: ConfigFile, serverAddress: string): CredentialStore {
  const helper = cfg.helperFor(serverAddress);
  return helper ? new HelperStore(cfg, helper) : new FileStore(cfg);
}

/** configfile.GetAuthConfig. */
export function getAuthConfig(cfg: ConfigFile, serverAddress: string): StoredAuth {
  return credentialStore(cfg, serverAddress).get(serverAddress);
}
