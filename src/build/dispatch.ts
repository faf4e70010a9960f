// The instructions that only change the image's configuration (ENV, LABEL, ARG, CMD,
// ENTRYPOINT, EXPOSE, VOLUME, USER, WORKDIR, STOPSIGNAL, HEALTHCHECK, SHELL, ONBUILD,
// MAINTAINER): each updates the stage's run config and says how Docker's legacy builder records
// the step (`/bin/sh -c #(nop)  ENV A=b` in the history).
import { applyChanges } from './changes.js';
import { InvalidParameterError } from '../errors.js';
import type { ImageRunConfig } from '../oci/image-spec.js';
import { parseFlags } from './flags.js';
import { DockerfileParseError, type Node } from './parser.js';
import { processWord, processWords } from './shell-lex.js';

export const DEFAULT_SHELL = ['/bin/sh', '-c'];
export const DEFAULT_PATH = 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/** What a stage carries from step to step besides its image. */
export interface StageState {
  runConfig: ImageRunConfig;
  author?: string;
  /** CMD was set in this stage (an ENTRYPOINT then keeps it). */
  cmdSet: boolean;
  /** ARGs declared in this stage and their values (undefined: declared without one). */
  args: Map<string, string | undefined>;
  /** Values a bare `ARG NAME` takes: the ARGs before the first FROM and the platform args. */
  globals: ReadonlyMap<string, string>;
  escape: string;
}

export interface MetaStep {
  /** The history comment: `#(nop) ` + comment (Docker's withCmdComment) … */
  comment: string;
  /** … or `#(nop) comment` as one word (withCmdCommentString: WORKDIR). */
  oneWord?: boolean;
}

export function shellOf(state: StageState): string[] {
  return state.runConfig.Shell && state.runConfig.Shell.length > 0 ? state.runConfig.Shell : DEFAULT_SHELL;
}

/** The environment variables are expanded with: the ARGs with values, then ENV (which wins). */
export function expansionEnv(state: StageState): Map<string, string> {
  const env = new Map<string, string>();
  for (const [k, v] of state.args) if (v !== undefined) env.set(k, v);
  for (const e of state.runConfig.Env ?? []) {
    const eq = e.indexOf('=');
    env.set(eq < 0 ? e : e.slice(0, eq), eq < 0 ? '' : e.slice(eq + 1));
  }
  return env;
}

/** Go's %q of a []string: `["a" "b"]`. */
export function goQuoteList(list: readonly string[]): string {
  return `[${list.map((s) => JSON.stringify(s)).join(' ')}]`;
}

/** Go's time.Duration String() of nanoseconds. */
function goDurationString(ns: number | undefined): string {
  const n = ns ?? 0;
  if (n === 0) return '0s';
  if (n < 1e3) return `${n}ns`;
  if (n < 1e6) return `${n / 1e3}µs`;
  if (n < 1e9) return `${n / 1e6}ms`;
  let s = n / 1e9;
  const h = Math.floor(s / 3600);
  s -= h * 3600;
  const m = Math.floor(s / 60);
  s -= m * 60;
  const sec = `${Number(s.toFixed(9))}s`;
  if (h > 0) return `${h}h${m}m${sec}`;
  if (m > 0) return `${m}m${sec}`;
  return sec;
}

function needArgs(node: Node, min: number): void {
  if (node.args.length < min) {
    const name = node.cmd.toUpperCase();
    throw new DockerfileParseError(node.startLine, min === 1 ? `${name} requires at least one argument` : `${name} requires at least ${min} arguments`);
  }
}

function setEnv(env: string[] | undefined, key: string, value: string): string[] {
  const out = (env ?? []).filter((e) => e.split('=')[0] !== key);
  out.push(`${key}=${value}`);
  return out;
}

/** Applies a metadata instruction to the state; returns how the step is recorded. */
export function dispatchMeta(state: StageState, node: Node, buildArgs: ReadonlyMap<string, string | null>): MetaStep {
  const env = expansionEnv(state);
  const word = (s: string): string => processWord(s, env, state.escape);
  const c = state.runConfig;
  switch (node.cmd) {
    case 'env': {
      needArgs(node, 1);
      const pairs: string[] = [];
      for (let i = 0; i < node.args.length; i += 2) {
        const k = word(node.args[i]);
        const v = word(node.args[i + 1] ?? '');
        if (k === '') throw new DockerfileParseError(node.startLine, 'ENV names can not be blank');
        c.Env = setEnv(c.Env, k, v);
        env.set(k, v);
        pairs.push(`${k}=${v}`);
      }
      return { comment: `ENV ${pairs.join(' ')}` };
    }
    case 'label': {
      needArgs(node, 1);
      const pairs: string[] = [];
      c.Labels = { ...(c.Labels ?? {}) };
      for (let i = 0; i < node.args.length; i += 2) {
        const k = word(node.args[i]);
        const v = word(node.args[i + 1] ?? '');
        if (k === '') throw new DockerfileParseError(node.startLine, 'LABEL names can not be blank');
        c.Labels[k] = v;
        pairs.push(`${k}=${v}`);
      }
      return { comment: `LABEL ${pairs.join(' ')}` };
    }
    case 'arg':
      return dispatchArg(state, node, env, buildArgs);
    case 'cmd':
    case 'entrypoint': {
      const cmd = node.json ? node.args : node.args.length > 0 ? [...shellOf(state), node.args[0]] : [];
      if (node.cmd === 'cmd') {
        c.Cmd = cmd;
        state.cmdSet = true;
      } else {
        c.Entrypoint = cmd;
        if (!state.cmdSet) c.Cmd = null;
      }
      return { comment: `${node.cmd.toUpperCase()} ${goQuoteList(cmd)}` };
    }
    case 'expose': {
      needArgs(node, 1);
      const ports = node.args.flatMap((a) => processWords(a, env, state.escape));
      Object.assign(state.runConfig, applyChanges(c, [`EXPOSE ${ports.join(' ')}`]));
      return { comment: `EXPOSE ${[...ports].sort().join(' ')}` };
    }
    case 'volume': {
      const vols = node.json ? node.args.map(word) : node.args.flatMap((a) => processWords(a, env, state.escape));
      if (vols.length === 0) throw new DockerfileParseError(node.startLine, 'VOLUME requires at least one argument');
      Object.assign(state.runConfig, applyChanges(c, [`VOLUME ${JSON.stringify(vols)}`]));
      return { comment: `VOLUME [${vols.join(' ')}]` };
    }
    case 'user':
    case 'stopsignal': {
      needArgs(node, 1);
      const value = word(node.args[0]);
      Object.assign(state.runConfig, applyChanges(c, [`${node.cmd.toUpperCase()} ${value}`]));
      return { comment: `${node.cmd.toUpperCase()} ${value}` };
    }
    case 'workdir': {
      needArgs(node, 1);
      Object.assign(state.runConfig, applyChanges(c, [`WORKDIR ${word(node.args[0]).replace(/\s/g, '\\ ')}`]));
      return { comment: `WORKDIR ${state.runConfig.WorkingDir}`, oneWord: true };
    }
    case 'healthcheck':
      return dispatchHealthcheck(state, node);
    case 'shell': {
      if (!node.json) throw new DockerfileParseError(node.startLine, 'SHELL requires the arguments to be in JSON form');
      if (node.args.length === 0) throw new DockerfileParseError(node.startLine, 'SHELL requires at least one argument');
      c.Shell = [...node.args];
      return { comment: `SHELL [${node.args.join(' ')}]` };
    }
    case 'onbuild': {
      if (!node.next) throw new DockerfileParseError(node.startLine, 'ONBUILD requires at least one argument');
      const inner = node.next.cmd;
      if (inner === 'onbuild') throw new DockerfileParseError(node.startLine, 'Chaining ONBUILD via `ONBUILD ONBUILD` isn\'t allowed');
      if (inner === 'from' || inner === 'maintainer') throw new DockerfileParseError(node.startLine, `${inner.toUpperCase()} isn't allowed as an ONBUILD trigger`);
      const expr = node.args[0].replace(/^\S+/, (w) => w.toUpperCase());
      c.OnBuild = [...(c.OnBuild ?? []), expr];
      return { comment: `ONBUILD ${expr}` };
    }
    case 'maintainer': {
      needArgs(node, 1);
      state.author = node.args[0];
      return { comment: `MAINTAINER ${node.args[0]}` };
    }
    default:
      throw new InvalidParameterError(`unsupported instruction ${node.cmd}`);
  }
}

/** Proxy variables may be passed without an ARG and are left out of the history. */
export const PREDEFINED_ARGS = new Set(['HTTP_PROXY', 'http_proxy', 'HTTPS_PROXY', 'https_proxy', 'FTP_PROXY', 'ftp_proxy', 'NO_PROXY', 'no_proxy', 'ALL_PROXY', 'all_proxy']);

function dispatchArg(state: StageState, node: Node, env: Map<string, string>, buildArgs: ReadonlyMap<string, string | null>): MetaStep {
  needArgs(node, 1);
  const parts: string[] = [];
  for (const raw of node.args) {
    const eq = raw.indexOf('=');
    const name = eq < 0 ? raw : raw.slice(0, eq);
    if (name === '') throw new DockerfileParseError(node.startLine, 'ARG names can not be blank');
    const dflt = eq < 0 ? undefined : processWord(raw.slice(eq + 1), env, state.escape);
    const given = buildArgs.get(name);
    // A value from --build-arg wins; a bare `ARG NAME` in a stage takes the global one.
    const value = given !== undefined && given !== null ? given : (dflt ?? state.args.get(name) ?? state.globals.get(name));
    state.args.set(name, value);
    if (value !== undefined) env.set(name, value);
    parts.push(dflt === undefined ? name : `${name}=${dflt}`);
  }
  return { comment: `ARG ${parts.join(' ')}` };
}

function dispatchHealthcheck(state: StageState, node: Node): MetaStep {
  const flags = parseFlags(node, ['interval', 'timeout', 'start-period', 'start-interval', 'retries']);
  const flagText = [...flags].map(([k, v]) => `--${k}=${v}`).join(' ');
  const body = node.args[0] === 'NONE' ? 'NONE' : `${node.args[0] ?? ''} ${node.json ? JSON.stringify(node.args.slice(1)) : (node.args[1] ?? '')}`;
  const next = applyChanges(state.runConfig, [`HEALTHCHECK ${flagText} ${body}`.replace(/\n/g, ' ')]);
  state.runConfig.Healthcheck = next.Healthcheck;
  const h = next.Healthcheck!;
  const retries = h.Retries ?? 0;
  const rq = retries < 0x20 ? `'\\x${retries.toString(16).padStart(2, '0')}'` : `'${String.fromCharCode(retries)}'`;
  const comment = `HEALTHCHECK &{${goQuoteList(h.Test ?? [])} "${goDurationString(h.Interval)}" "${goDurationString(h.Timeout)}" "${goDurationString(h.StartPeriod)}" ${rq}}`;
  return { comment };
}
