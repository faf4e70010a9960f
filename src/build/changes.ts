// `docker import --change` / `commit --change`: Dockerfile instructions applied to an image
// config, with the instructions, argument rules and error messages of Docker's builder.
import { InvalidParameterError } from '../errors.js';
import { parseSignal } from '../oci/signals.js';
import type { ImageHealthcheck, ImageRunConfig } from '../oci/image-spec.js';
import { parseGoDuration } from '../util/duration.js';

const ALLOWED = new Set(['CMD', 'ENTRYPOINT', 'ENV', 'EXPOSE', 'LABEL', 'ONBUILD', 'USER', 'VOLUME', 'WORKDIR', 'STOPSIGNAL', 'HEALTHCHECK']);
const DEFAULT_SHELL = ['/bin/sh', '-c'];

function bad(msg: string): InvalidParameterError {
  return new InvalidParameterError(msg);
}

/** `["a","b"]` → the array, or undefined when the text is not a JSON array of strings. */
export function jsonArgs(rest: string): string[] | undefined {
  const t = rest.trim();
  if (!t.startsWith('[')) return undefined;
  try {
    const v = JSON.parse(t) as unknown;
    if (Array.isArray(v) && v.every((x) => typeof x === 'string')) return v as string[];
  } catch {
    // Docker falls back to shell form when the JSON does not parse.
  }
  return undefined;
}

/** Exec form (`["a","b"]`) or shell form (`a b` → `<shell> "a b"`); empty gives no command. */
function execOrShell(rest: string, shell: string[]): string[] | null {
  const t = rest.trim();
  const json = jsonArgs(t);
  if (json) return json;
  if (t === '') return null;
  return [...shell, t];
}

/** Whitespace-separated words (USER, WORKDIR, STOPSIGNAL, EXPOSE, VOLUME). */
function words(rest: string): string[] {
  return rest.trim().split(/\s+/).filter(Boolean);
}

function exactlyOne(rest: string, instr: string): string {
  const w = words(rest);
  if (w.length !== 1) throw bad(`${instr} requires exactly one argument`);
  return w[0];
}

/** `k=v k2="v 2"` or the legacy `k v` form (ENV, LABEL). */
function keyValues(rest: string, instr: string): [string, string][] {
  const t = rest.trim();
  if (t === '') throw bad(`${instr} requires at least one argument`);
  const first = /^\S+/.exec(t)![0];
  if (!first.includes('=')) {
    const m = /^(\S+)\s+(.*)$/s.exec(t);
    if (!m) throw bad(`${instr} must have two arguments`);
    return [[m[1], m[2]]];
  }
  const out: [string, string][] = [];
  const re = /([^=\s]*)=("((?:[^"\\]|\\.)*)"|'([^']*)'|(\S*))/g;
  let m: RegExpExecArray | null;
  while ((m = re.exec(t)) !== null) {
    if (m[1] === '') throw bad(`${instr} names can not be blank`);
    const value = m[3] !== undefined ? m[3].replace(/\\(.)/g, '$1') : m[4] !== undefined ? m[4] : m[5];
    out.push([m[1], value]);
  }
  if (out.length === 0) throw bad(`${instr} requires at least one argument`);
  return out;
}

function setEnv(env: string[], key: string, value: string): string[] {
  const out = env.filter((e) => e.split('=')[0] !== key);
  out.push(`${key}=${value}`);
  return out;
}

/** `80`, `80/udp`, `8000-8002/tcp` → the port keys Docker stores (ranges expanded). */
function exposedPorts(spec: string): string[] {
  const slash = spec.lastIndexOf('/');
  const port = slash < 0 ? spec : spec.slice(0, slash);
  const proto = (slash < 0 ? 'tcp' : spec.slice(slash + 1)).toLowerCase();
  if (port === '') throw bad(`no port specified: ${spec}<empty>`);
  if (!['tcp', 'udp', 'sctp'].includes(proto)) throw bad(`invalid proto: ${proto}`);
  const m = /^(\d+)(?:-(\d+))?$/.exec(port);
  const start = m ? Number(m[1]) : NaN;
  const end = m?.[2] !== undefined ? Number(m[2]) : start;
  if (!m || start > 65535 || end > 65535 || end < start) throw bad(`invalid containerPort: ${port}`);
  const out: string[] = [];
  for (let p = start; p <= end; p++) out.push(`${p}/${proto}`);
  return out;
}

/** A HEALTHCHECK flag's duration in nanoseconds, with Docker's 1ms floor. */
function goDuration(s: string, flag: string): number {
  let total: number;
  try {
    total = parseGoDuration(s);
  } catch (err) {
    throw bad((err as Error).message);
  }
  if (total !== 0 && total < 1e6) throw bad(`${flag} cannot be less than 1ms`);
  return total;
}

function healthcheck(rest: string): ImageHealthcheck {
  const flags: Record<string, string> = {};
  let t = rest.trim();
  for (let m = /^--([a-z-]+)=(\S*)\s*/.exec(t); m; m = /^--([a-z-]+)=(\S*)\s*/.exec(t)) {
    if (!['interval', 'timeout', 'start-period', 'start-interval', 'retries'].includes(m[1])) throw bad(`Unknown flag: ${m[1]}`);
    flags[m[1]] = m[2];
    t = t.slice(m[0].length);
  }
  if (t === '') throw bad('HEALTHCHECK requires at least one argument');
  const typ = /^\S+/.exec(t)![0].toUpperCase();
  const args = t.slice(typ.length).trim();
  if (typ === 'NONE') {
    if (args !== '') throw bad('HEALTHCHECK NONE takes no arguments');
    return { Test: ['NONE'] };
  }
  if (typ !== 'CMD') throw bad(`Unknown type ${JSON.stringify(typ)} in HEALTHCHECK (try CMD)`);
  const json = jsonArgs(args);
  if (json ? json.length === 0 : args === '') throw bad('Missing command after HEALTHCHECK CMD');
  const hc: ImageHealthcheck = { Test: json ? ['CMD', ...json] : ['CMD-SHELL', args] };
  if (flags.interval !== undefined) hc.Interval = goDuration(flags.interval, 'Interval');
  if (flags.timeout !== undefined) hc.Timeout = goDuration(flags.timeout, 'Timeout');
  if (flags['start-period'] !== undefined) hc.StartPeriod = goDuration(flags['start-period'], 'StartPeriod');
  if (flags['start-interval'] !== undefined) hc.StartInterval = goDuration(flags['start-interval'], 'StartInterval');
  if (flags.retries !== undefined) {
    if (!/^-?\d+$/.test(flags.retries)) throw bad(`strconv.ParseInt: parsing ${JSON.stringify(flags.retries)}: invalid syntax`);
    const n = Number(flags.retries);
    if (n < 0) throw bad(`--retries cannot be negative (${n})`);
    hc.Retries = n;
  }
  return hc;
}

/** A relative WORKDIR is taken from the current one, as the builder does. */
function workdir(current: string | undefined, dir: string): string {
  const joined = dir.startsWith('/') ? dir : `${current || '/'}/${dir}`;
  const parts: string[] = [];
  for (const p of joined.split('/')) {
    if (p === '' || p === '.') continue;
    if (p === '..') parts.pop();
    else parts.push(p);
  }
  return '/' + parts.join('/');
}

/** Splits the changes into instructions the way the Dockerfile parser does (one per line). */
function instructions(changes: string[]): { instr: string; keyword: string; rest: string }[] {
  const out: { instr: string; keyword: string; rest: string }[] = [];
  for (const raw of changes.join('\n').split('\n')) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    const m = /^(\S+)\s*(.*)$/s.exec(line)!;
    out.push({ instr: m[1].toUpperCase(), keyword: m[1].toLowerCase(), rest: m[2] });
  }
  return out;
}

/** Applies the instructions to a copy of `config`; a bad one is a 400 with Docker's message. */
export function applyChanges(config: ImageRunConfig, changes: string[]): ImageRunConfig {
  const c: ImageRunConfig = structuredClone(config);
  const list = instructions(changes);
  for (const { keyword } of list) {
    if (!ALLOWED.has(keyword.toUpperCase())) throw bad(`${keyword} is not a valid change command`);
  }
  let cmdSet = false;
  for (const { instr, rest } of list) {
    const shell = c.Shell && c.Shell.length > 0 ? c.Shell : DEFAULT_SHELL;
    switch (instr) {
      case 'CMD':
        c.Cmd = execOrShell(rest, shell);
        if (c.Cmd && c.Cmd.length > 0) cmdSet = true;
        break;
      case 'ENTRYPOINT':
        c.Entrypoint = execOrShell(rest, shell);
        // The builder drops an inherited CMD when ENTRYPOINT changes, unless CMD was set here.
        if (!cmdSet) c.Cmd = null;
        break;
      case 'ENV':
        for (const [k, v] of keyValues(rest, instr)) c.Env = setEnv(c.Env ?? [], k, v);
        break;
      case 'LABEL':
        c.Labels = { ...(c.Labels ?? {}) };
        for (const [k, v] of keyValues(rest, instr)) c.Labels[k] = v;
        break;
      case 'EXPOSE': {
        const ports = words(rest);
        if (ports.length === 0) throw bad('EXPOSE requires at least one argument');
        c.ExposedPorts = { ...(c.ExposedPorts ?? {}) };
        for (const p of ports) for (const key of exposedPorts(p)) c.ExposedPorts[key] = {};
        break;
      }
      case 'VOLUME': {
        const vols = jsonArgs(rest) ?? words(rest);
        if (vols.length === 0) throw bad('VOLUME requires at least one argument');
        c.Volumes = { ...(c.Volumes ?? {}) };
        for (const v of vols) {
          if (v.trim() === '') throw bad('VOLUME specified can not be an empty string');
          c.Volumes[v.trim()] = {};
        }
        break;
      }
      case 'USER':
        c.User = exactlyOne(rest, instr);
        break;
      case 'WORKDIR':
        c.WorkingDir = workdir(c.WorkingDir, exactlyOne(rest, instr));
        break;
      case 'STOPSIGNAL': {
        const sig = exactlyOne(rest, instr);
        try {
          parseSignal(sig);
        } catch {
          throw bad(`Invalid signal: ${sig}`);
        }
        c.StopSignal = sig;
        break;
      }
      case 'ONBUILD':
        if (rest.trim() === '') throw bad('ONBUILD requires at least one argument');
        c.OnBuild = [...(c.OnBuild ?? []), rest.trim()];
        break;
      case 'HEALTHCHECK':
        c.Healthcheck = healthcheck(rest);
        break;
    }
  }
  return c;
}
