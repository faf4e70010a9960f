// The client configuration file, ~/.docker/config.json, shared with the Docker CLI: same
// location rules (--config, $DOCKER_CONFIG, ~/.docker), same "auths" encoding (base64 of
// "user:password"), same JSON layout (tab indent, Go's key order and escaping), written atomically
// with mode 0600. Keys Berth does not know are kept as they are.

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { AuthConfig } from '../../types/api.js';
import { goJSON } from '../../client/registry.js';

export const CONFIG_FILE_NAME = 'config.json';

/** The key Docker Hub's credentials are stored under. */
export const INDEX_SERVER = 'https://index.docker.io/v1/';

/** Docker's ConfigFile fields in struct order: the order they are written in. */
const KNOWN_KEYS = [
  'auths', 'HttpHeaders', 'psFormat', 'imagesFormat', 'networksFormat', 'pluginsFormat', 'volumesFormat', 'statsFormat',
  'detachKeys', 'credsStore', 'credHelpers', 'serviceInspectFormat', 'servicesFormat', 'tasksFormat', 'secretFormat',
  'configFormat', 'nodesFormat', 'pruneFilters', 'proxies', 'currentContext', 'cliPluginsExtraDirs', 'plugins', 'aliases',
  'features', 'experimental',
];
/** Known fields that are Go maps: their keys are written sorted. */
const MAP_KEYS = new Set(['HttpHeaders', 'credHelpers', 'proxies', 'plugins', 'aliases', 'features']);

/** The configuration directory: --config, then $DOCKER_CONFIG, then ~/.docker. */
export function configDir(flag?: string, env: NodeJS.ProcessEnv = process.env): string {
  if (flag) return flag;
  if (env.DOCKER_CONFIG) return env.DOCKER_CONFIG;
  return path.join(env.HOME || os.homedir(), '.docker');
}

/** An auth entry as held in memory: decoded, with the key it came from as serveraddress. */
export type StoredAuth = AuthConfig;

export class ConfigError extends Error {}

function decodeAuth(auth: string): { username: string; password: string } {
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(auth) || auth.length % 4 !== 0) throw new ConfigError('illegal base64 data in auth');
  const decoded = Buffer.from(auth, 'base64').toString('utf8');
  const i = decoded.indexOf(':');
  if (i <= 0) throw new ConfigError('Invalid auth configuration file');
  return { username: decoded.slice(0, i), password: decoded.slice(i + 1).replace(/^\0+|\0+$/g, '') };
}

function encodeAuth(a: AuthConfig): string {
  if (!a.username && !a.password) return '';
  return Buffer.from(`${a.username ?? ''}:${a.password ?? ''}`).toString('base64');
}

function sortKeys(v: unknown, depth: number): unknown {
  if (!v || typeof v !== 'object' || Array.isArray(v)) return v;
  const o: Record<string, unknown> = {};
  for (const k of Object.keys(v).sort()) o[k] = depth > 1 ? sortKeys((v as Record<string, unknown>)[k], depth - 1) : (v as Record<string, unknown>)[k];
  return o;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return !!v && typeof v === 'object' && !Array.isArray(v);
}

function onPath(bin: string): boolean {
  for (const dir of (process.env.PATH ?? '').split(':')) {
    if (!dir) continue;
    try {
      fs.accessSync(path.join(dir, bin), fs.constants.X_OK);
      return true;
    } catch {
      /* next */
    }
  }
  return false;
}

export class ConfigFile {
  /** Every key of the file as read, in file order (auths is re-encoded from `auths` on save). */
  private raw: Record<string, unknown> = {};
  readonly auths = new Map<string, StoredAuth>();
  credsStore: string | undefined;
  credHelpers: Record<string, string> = {};
  /** Set when the file exists but cannot be used: saving would destroy it. */
  loadError: string | undefined;

  constructor(readonly filename: string) {}

  /** Loads <dir>/config.json; a missing file is an empty configuration. Problems are reported
   *  as Docker reports them (a warning) and make the file read-only for this run. */
  static load(dir: string, warn: (s: string) => void = (s) => process.stderr.write(s)): ConfigFile {
    const cfg = new ConfigFile(path.join(dir, CONFIG_FILE_NAME));
    let text: string | undefined;
    try {
      text = fs.readFileSync(cfg.filename, 'utf8');
    } catch (e) {
      const err = e as NodeJS.ErrnoException;
      if (err.code !== 'ENOENT') cfg.fail(`loading config file: open ${cfg.filename}: ${err.message}`, warn);
    }
    if (text !== undefined && text.trim() !== '') {
      try {
        cfg.parse(text);
      } catch (e) {
        cfg.fail(`parsing config file (${cfg.filename}): ${(e as Error).message}`, warn);
      }
    }
    if (!cfg.loadError) cfg.detectDefaultStore();
    return cfg;
  }

  private fail(message: string, warn: (s: string) => void): void {
    this.loadError = message;
    warn(`WARNING: Error ${message}\n`);
  }

  private parse(text: string): void {
    const v: unknown = JSON.parse(text);
    if (!isObject(v)) throw new ConfigError('json: cannot unmarshal into Go value of type configfile.ConfigFile');
    const auths = v.auths ?? {};
    if (!isObject(auths)) throw new ConfigError('json: cannot unmarshal auths into Go value of type map[string]types.AuthConfig');
    const decoded = new Map<string, StoredAuth>();
    for (const [key, entry] of Object.entries(auths)) {
      if (!isObject(entry)) throw new ConfigError(`json: cannot unmarshal auths.${key} into Go value of type types.AuthConfig`);
      const a: StoredAuth = {};
      for (const f of ['username', 'password', 'email', 'identitytoken', 'registrytoken'] as const) {
        if (typeof entry[f] === 'string' && entry[f]) a[f] = entry[f] as string;
      }
      if (typeof entry.auth === 'string' && entry.auth) Object.assign(a, decodeAuth(entry.auth));
      a.serveraddress = key;
      decoded.set(key, a);
    }
    if (v.credsStore !== undefined && typeof v.credsStore !== 'string') throw new ConfigError('json: cannot unmarshal credsStore into Go value of type string');
    if (v.credHelpers !== undefined && v.credHelpers !== null && !isObject(v.credHelpers)) throw new ConfigError('json: cannot unmarshal credHelpers into Go value of type map[string]string');
    this.raw = v;
    for (const [k, a] of decoded) this.auths.set(k, a);
    this.credsStore = (v.credsStore as string | undefined) || undefined;
    this.credHelpers = { ...((v.credHelpers as Record<string, string> | undefined) ?? {}) };
  }

  /** credentials.DetectDefaultStore: with no auth configured at all, use `pass` or `secretservice` if its helper is installed. */
  private detectDefaultStore(): void {
    if (this.credsStore || Object.keys(this.credHelpers).length || this.auths.size) return;
    const platformDefault = onPath('pass') ? 'pass' : 'secretservice';
    if (onPath(`docker-credential-${platformDefault}`)) this.credsStore = platformDefault;
  }

  /** The credential helper for a registry: credHelpers[host], else credsStore. */
  helperFor(serverAddress: string): string | undefined {
    if (serverAddress && Object.prototype.hasOwnProperty.call(this.credHelpers, serverAddress)) return this.credHelpers[serverAddress];
    return this.credsStore;
  }

  /** The file's content as Docker writes it. */
  serialize(): string {
    const out: Record<string, unknown> = {};
    const auths: Record<string, Record<string, string>> = {};
    for (const key of [...this.auths.keys()].sort()) {
      const a = this.auths.get(key)!;
      const e: Record<string, string> = {};
      const auth = encodeAuth(a);
      if (auth) e.auth = auth;
      if (a.email) e.email = a.email;
      if (a.identitytoken) e.identitytoken = a.identitytoken;
      if (a.registrytoken) e.registrytoken = a.registrytoken;
      auths[key] = e;
    }
    const fields: Record<string, unknown> = { ...this.raw, auths };
    if (this.credsStore) fields.credsStore = this.credsStore;
    else delete fields.credsStore;
    if (Object.keys(this.credHelpers).length) fields.credHelpers = this.credHelpers;
    if (isObject(fields.HttpHeaders)) {
      fields.HttpHeaders = Object.fromEntries(Object.entries(fields.HttpHeaders).filter(([k]) => k.toLowerCase() !== 'user-agent'));
    }
    for (const k of KNOWN_KEYS) {
      const v = fields[k];
      if (k !== 'auths' && omitEmpty(v)) continue;
      out[k] = MAP_KEYS.has(k) ? sortKeys(v, k === 'plugins' || k === 'proxies' ? 2 : 1) : v;
    }
    // Docker drops keys it does not know; Berth keeps them, after Docker's own.
    for (const [k, v] of Object.entries(fields)) if (!KNOWN_KEYS.includes(k)) out[k] = v;
    return goJSON(out, '\t');
  }

  /** Writes the file atomically (temp file in the same directory, then rename), mode 0600 or the old file's. */
  save(): void {
    if (this.loadError) throw new ConfigError(`refusing to overwrite ${this.filename}: ${this.loadError}`);
    const dir = path.dirname(this.filename);
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
    let target = this.filename;
    try {
      target = fs.realpathSync(this.filename);
    } catch {
      // missing or a dangling symlink: write where the link points, or the path itself
      try {
        const link = fs.readlinkSync(this.filename);
        target = path.resolve(dir, link);
      } catch {
        target = this.filename;
      }
    }
    let mode = 0o600;
    let owner: { uid: number; gid: number } | undefined;
    try {
      const st = fs.statSync(target);
      if (st.isFile()) mode = st.mode & 0o7777;
      if (st.uid > 0 && st.gid > 0) owner = { uid: st.uid, gid: st.gid };
    } catch {
      /* new file */
    }
    const tmp = path.join(path.dirname(target), `${path.basename(this.filename)}${process.pid}${Math.floor(Math.random() * 1e9)}`);
    const fd = fs.openSync(tmp, fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL, 0o600);
    try {
      fs.writeSync(fd, this.serialize());
      fs.fchmodSync(fd, mode);
      if (owner) fs.fchownSync(fd, owner.uid, owner.gid);
      fs.closeSync(fd);
      fs.renameSync(tmp, target);
    } catch (e) {
      try {
        fs.closeSync(fd);
      } catch {
        /* closed */
      }
      fs.rmSync(tmp, { force: true });
      throw e;
    }
  }
}

/** Go's omitempty: "", 0, false, null, empty maps and slices. */
function omitEmpty(v: unknown): boolean {
  if (v === undefined || v === null || v === '' || v === false || v === 0) return true;
  if (Array.isArray(v)) return v.length === 0;
  if (isObject(v)) return Object.keys(v).length === 0;
  return false;
}
