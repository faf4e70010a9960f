// `docker import --change` / `commit --change`: Dockerfile instructions applied to an image config.
import { InvalidParameterError } from '../../errors.js';
import type { ImageRunConfig } from './image-types.js';

const ALLOWED = new Set(['CMD', 'ENTRYPOINT', 'ENV', 'EXPOSE', 'LABEL', 'ONBUILD', 'USER', 'VOLUME', 'WORKDIR', 'STOPSIGNAL', 'HEALTHCHECK']);

/** Exec form (`["a","b"]`) or shell form (`a b` → `/bin/sh -c "a b"`). */
function execOrShell(rest: string): string[] {
  const t = rest.trim();
  if (t.startsWith('[')) {
    try {
      const v = JSON.parse(t) as unknown;
      if (Array.isArray(v) && v.every((x) => typeof x === 'string')) return v as string[];
    } catch {
      // Docker falls back to shell form when the JSON does not parse.
    }
  }
  return ['/bin/sh', '-c', t];
}

/** `k=v k2="v 2"` or the legacy `k v` form. */
function keyValues(rest: string, instr: string): [string, string][] {
  const t = rest.trim();
  if (!t.includes('=') || /^[^=\s]+\s/.test(t) && !/^[^=\s]+=/.test(t)) {
    const m = /^(\S+)\s+(.*)$/s.exec(t);
    if (!m) throw new InvalidParameterError(`${instr} requires at least one argument`);
    return [[m[1], m[2]]];
  }
  const out: [string, string][] = [];
  const re = /([^=\s]+)=("((?:[^"\\]|\\.)*)"|'([^']*)'|(\S*))/g;
  let m: RegExpExecArray | null;
  while ((m = re.exec(t)) !== null) {
    const value = m[3] !== undefined ? m[3].replace(/\\(.)/g, '$1') : m[4] !== undefined ? m[4] : m[5];
    out.push([m[1], value]);
  }
  if (out.length === 0) throw new InvalidParameterError(`${instr} requires at least one argument`);
  return out;
}

function setEnv(env: string[], key: string, value: string): string[] {
  const out = env.filter((e) => e.split('=')[0] !== key);
  out.push(`${key}=${value}`);
  return out;
}

export function applyChanges(config: ImageRunConfig, changes: string[]): ImageRunConfig {
  const c: ImageRunConfig = structuredClone(config);
  for (const raw of changes) {
    const line = raw.trim();
    if (!line) continue;
    const m = /^(\S+)\s*(.*)$/s.exec(line);
    const instr = (m?.[1] ?? '').toUpperCase();
    const rest = m?.[2] ?? '';
    if (!ALLOWED.has(instr)) throw new InvalidParameterError(`${instr} is not a valid change command`);
    switch (instr) {
      case 'CMD':
        c.Cmd = execOrShell(rest);
        break;
      case 'ENTRYPOINT':
        c.Entrypoint = execOrShell(rest);
        break;
      case 'ENV':
        for (const [k, v] of keyValues(rest, instr)) c.Env = setEnv(c.Env ?? [], k, v);
        break;
      case 'LABEL':
        c.Labels = { ...(c.Labels ?? {}) };
        for (const [k, v] of keyValues(rest, instr)) c.Labels[k] = v;
        break;
      case 'EXPOSE':
        c.ExposedPorts = { ...(c.ExposedPorts ?? {}) };
        for (const p of rest.trim().split(/\s+/)) c.ExposedPorts[p.includes('/') ? p : `${p}/tcp`] = {};
        break;
      case 'VOLUME': {
        c.Volumes = { ...(c.Volumes ?? {}) };
        const t = rest.trim();
        const vols = t.startsWith('[') ? (JSON.parse(t) as string[]) : t.split(/\s+/);
        for (const v of vols) c.Volumes[v] = {};
        break;
      }
      case 'USER':
        c.User = rest.trim();
        break;
      case 'WORKDIR':
        c.WorkingDir = rest.trim();
        break;
      case 'STOPSIGNAL':
        c.StopSignal = rest.trim();
        break;
      case 'ONBUILD':
        c.OnBuild = [...(c.OnBuild ?? []), rest.trim()];
        break;
      case 'HEALTHCHECK': {
        const t = rest.trim();
        if (/^NONE$/i.test(t)) c.Healthcheck = { Test: ['NONE'] };
        else {
          const cm = /^CMD\s+(.*)$/is.exec(t);
          if (!cm) throw new InvalidParameterError('HEALTHCHECK requires CMD or NONE');
          const cmd = execOrShell(cm[1]);
          c.Healthcheck = { Test: cmd[0] === '/bin/sh' ? ['CMD-SHELL', cmd[2]] : ['CMD', ...cmd] };
        }
        break;
      }
    }
  }
  return c;
}
