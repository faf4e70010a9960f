// berthd's daemon.json (--config-file, default /etc/berth/daemon.json): dockerd's keys where they
// apply, checked as dockerd checks them (an unknown key, a bad value, or a key given both as a
// flag and in the file stops the daemon with a message naming it), and the part dockerd reloads
// on SIGHUP (labels, log level, debug, registry mirrors, insecure registries).
import { promises as fsp } from 'node:fs';
import type { Ulimit } from '../types/api.js';

export const DEFAULT_CONFIG_FILE = '/etc/berth/daemon.json';

/** The settings berthd takes from flags and daemon.json, under daemon.json's names. */
export interface DaemonConfig {
  hosts?: string[];
  'data-root'?: string;
  'exec-root'?: string;
  pidfile?: string;
  'log-level'?: string;
  debug?: boolean;
  'log-driver'?: string;
  'log-opts'?: Record<string, string>;
  'default-runtime'?: string;
  runtimes?: Record<string, { path: string; runtimeArgs?: string[] }>;
  'insecure-registries'?: string[];
  'registry-mirrors'?: string[];
  'max-concurrent-downloads'?: number;
  'max-concurrent-uploads'?: number;
  'live-restore'?: boolean;
  'default-ulimits'?: Record<string, Ulimit>;
  labels?: string[];
  /** default, USER[:GROUP] or UID[:GID]: containers' root is that user's first subordinate id. */
  'userns-remap'?: string;
}

type Kind = 'string' | 'strings' | 'bool' | 'int' | 'map' | 'object';

const KEYS: Record<keyof DaemonConfig, Kind> = {
  hosts: 'strings',
  'data-root': 'string',
  'exec-root': 'string',
  pidfile: 'string',
  'log-level': 'string',
  debug: 'bool',
  'log-driver': 'string',
  'log-opts': 'map',
  'default-runtime': 'string',
  runtimes: 'object',
  'insecure-registries': 'strings',
  'registry-mirrors': 'strings',
  'max-concurrent-downloads': 'int',
  'max-concurrent-uploads': 'int',
  'live-restore': 'bool',
  'default-ulimits': 'object',
  labels: 'strings',
  'userns-remap': 'string',
};

/** What SIGHUP re-reads (dockerd's reloadable subset that Berth has). */
export const RELOADABLE: (keyof DaemonConfig)[] = ['labels', 'log-level', 'debug', 'registry-mirrors', 'insecure-registries'];

export class ConfigError extends Error {}

function typeOk(kind: Kind, v: unknown): boolean {
  switch (kind) {
    case 'string':
      return typeof v === 'string';
    case 'strings':
      return Array.isArray(v) && v.every((s) => typeof s === 'string');
    case 'bool':
      return typeof v === 'boolean';
    case 'int':
      return typeof v === 'number' && Number.isInteger(v);
    case 'map':
      return !!v && typeof v === 'object' && !Array.isArray(v) && Object.values(v).every((s) => typeof s === 'string');
    case 'object':
      return !!v && typeof v === 'object' && !Array.isArray(v);
  }
}

/** Reads and checks the file; a missing file is an empty configuration unless it was named. */
export async function readConfigFile(file: string, named: boolean): Promise<DaemonConfig> {
  let text: string;
  try {
    text = await fsp.readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT' && !named) return {};
    throw new ConfigError(`unable to configure the Docker daemon with file ${file}: ${(err as Error).message}`);
  }
  return parseConfig(text, file);
}

export function parseConfig(text: string, file: string): DaemonConfig {
  const fail = (msg: string): never => {
    throw new ConfigError(`unable to configure the Docker daemon with file ${file}: ${msg}`);
  };
  let raw: unknown;
  try {
    raw = text.trim() === '' ? {} : JSON.parse(text);
  } catch (err) {
    fail((err as Error).message);
  }
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) fail('the configuration is not a JSON object');
  const obj = raw as Record<string, unknown>;
  const unknown = Object.keys(obj).filter((k) => !(k in KEYS));
  if (unknown.length) fail(`the following directives don't match any configuration option: ${unknown.join(', ')}`);
  for (const [k, v] of Object.entries(obj)) {
    if (!typeOk(KEYS[k as keyof DaemonConfig], v)) fail(`invalid value for ${k}: ${JSON.stringify(v)}`);
  }
  const cfg = obj as DaemonConfig;
  checkValues(cfg, fail);
  return cfg;
}

const LOG_LEVELS = ['debug', 'info', 'warn', 'error', 'fatal'];

/** Value checks shared by the file and the flags (dockerd's messages where it has them). */
export function checkValues(cfg: DaemonConfig, fail: (msg: string) => never): void {
  if (cfg['log-level'] !== undefined && !LOG_LEVELS.includes(cfg['log-level'])) fail(`invalid log level: ${cfg['log-level']}`);
  for (const k of ['max-concurrent-downloads', 'max-concurrent-uploads'] as const) {
    const v = cfg[k];
    if (v !== undefined && v < 0) fail(`invalid max concurrent ${k.endsWith('downloads') ? 'downloads' : 'uploads'}: ${v}`);
  }
  for (const l of cfg.labels ?? []) if (!/^[^=]+=/.test(l)) fail(`bad attribute format: ${l}`);
  for (const m of cfg['registry-mirrors'] ?? []) {
    let ok = false;
    try {
      ok = ['http:', 'https:'].includes(new URL(m).protocol);
    } catch {
      /* not a URL */
    }
    if (!ok) fail(`invalid mirror: unsupported scheme "${m}" in "${m}"`);
  }
  for (const [name, rt] of Object.entries(cfg.runtimes ?? {})) {
    if (name === 'crun' || name === 'runc') fail(`runtime name '${name}' is reserved`);
    if (!rt || typeof rt.path !== 'string' || !rt.path) fail(`runtime ${name}: a "path" is required`);
  }
  const dflt = cfg['default-runtime'];
  if (dflt !== undefined && dflt !== 'crun' && dflt !== 'runc' && !cfg.runtimes?.[dflt]) {
    fail(`default runtime ${dflt} cannot be used: Berth runs crun, runc or a runtime of "runtimes" (with runc's command line)`);
  }
  for (const [name, u] of Object.entries(cfg['default-ulimits'] ?? {})) {
    if (!u || typeof u !== 'object' || typeof u.Soft !== 'number' || typeof u.Hard !== 'number') fail(`invalid default-ulimits entry ${name}`);
    if (u.Soft > u.Hard) fail(`ulimit soft limit must be less than or equal to hard limit: ${u.Soft} > ${u.Hard}`);
  }
}

/** dockerd's rule: a directive may come from the flags or from the file, not both. */
export function checkConflicts(flags: DaemonConfig, file: DaemonConfig, path: string): void {
  const both = (Object.keys(flags) as (keyof DaemonConfig)[]).filter((k) => flags[k] !== undefined && file[k] !== undefined);
  if (both.length === 0) return;
  const show = (v: unknown): string => (Array.isArray(v) ? `[${v.join(' ')}]` : typeof v === 'object' ? JSON.stringify(v) : String(v));
  const list = both.map((k) => `${k}: (from flag: ${show(flags[k])}, from file: ${show(file[k])})`).join(', ');
  throw new ConfigError(`unable to configure the Docker daemon with file ${path}: the following directives are specified both as a flag and in the configuration file: ${list}`);
}
