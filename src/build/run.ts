// RUN: the command runs in a temporary container from the step's starting image, with the
// stage's config and the build args it declared; the container's changes become the step's
// layer and the container goes (kept with rm=false; on failure kept unless forcerm, as Docker).
// BuildKit's additions arrive through the same path: heredoc scripts, --mount, --network.
import path from 'node:path';
import { InvalidParameterError } from '../errors.js';
import type { RunHostConfig, RunMount } from './backend.js';
import { DEFAULT_PATH, expansionEnv, PREDEFINED_ARGS, shellOf, type StageState } from './dispatch.js';
import { parseFlags } from './flags.js';
import type { Node } from './parser.js';
import { processWord } from './shell-lex.js';
import { childConfig, fromCache, shortId, stepConfig, type StepContext } from './steps.js';
import type { BuildImage } from './backend.js';

export class StepFailedError extends InvalidParameterError {
  constructor(
    message: string,
    readonly code: number,
  ) {
    super(message);
  }
}

export interface RunMountSpec {
  type: 'cache' | 'bind' | 'tmpfs';
  target: string;
  source?: string;
  from?: string;
  /** A cache's id (its target when not given). */
  id?: string;
  readOnly: boolean;
  sharing: 'shared' | 'private' | 'locked';
  mode?: number;
  uid?: number;
  gid?: number;
}

/** The command line RUN runs: exec form as is, shell form (or a heredoc script) through SHELL. */
export function runCommand(state: StageState, node: Node): string[] {
  if (node.json) {
    if (node.args.length === 0) throw new InvalidParameterError('RUN requires at least one argument');
    return node.args;
  }
  const line = node.args[0] ?? '';
  if (line === '') throw new InvalidParameterError('RUN requires at least one argument');
  if (node.heredocs.length === 0) return [...shellOf(state), line];
  const env = expansionEnv(state);
  const body = (h: Node['heredocs'][number]): string => (h.expand ? processWord(h.content, env, state.escape) : h.content).replace(/\n$/, '');
  // `RUN <<EOF` alone runs the heredoc as the script; otherwise the heredocs feed the command line.
  if (/^<<-?["']?[A-Za-z_][A-Za-z0-9_.-]*["']?$/.test(line.trim()) && node.heredocs.length === 1) {
    return [...shellOf(state), body(node.heredocs[0])];
  }
  const script = [line, ...node.heredocs.map((h) => `${h.content}${h.name}`)].join('\n');
  return [...shellOf(state), script];
}

/** The declared build args with values, as `NAME=value`, sorted (what RUN gets and records). */
export function usedBuildArgs(state: StageState): { env: string[]; recorded: string[] } {
  const envKeys = new Set((state.runConfig.Env ?? []).map((e) => e.split('=')[0]));
  const env: string[] = [];
  const recorded: string[] = [];
  for (const [k, v] of [...state.args].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    if (v === undefined || envKeys.has(k)) continue;
    env.push(`${k}=${v}`);
    if (!PREDEFINED_ARGS.has(k)) recorded.push(`${k}=${v}`);
  }
  return { env, recorded };
}

const SHARING = ['shared', 'private', 'locked'];

/** A `--mount=` value, with BuildKit's checks and messages. A relative target is under `workdir`. */
export function parseRunMount(spec: string, workdir = '/'): RunMountSpec {
  const kv = new Map<string, string>();
  for (const part of spec.split(',')) {
    const eq = part.indexOf('=');
    kv.set((eq < 0 ? part : part.slice(0, eq)).trim().toLowerCase(), eq < 0 ? 'true' : part.slice(eq + 1));
  }
  const type = (kv.get('type') ?? 'bind').toLowerCase() as RunMountSpec['type'];
  if (!['cache', 'bind', 'tmpfs'].includes(type)) throw new InvalidParameterError(`unsupported mount type "${type}"`);
  let target = kv.get('target') ?? kv.get('dst') ?? kv.get('destination');
  if (!target) throw new InvalidParameterError('mount target is required');
  if (!path.posix.isAbsolute(target)) target = path.posix.join('/', workdir, target);
  if (path.posix.normalize(target) === '/') throw new InvalidParameterError(`invalid mount target "${target}"`);
  const ro = kv.get('readonly') ?? kv.get('ro');
  const rw = kv.get('rw') ?? kv.get('readwrite');
  const sharing = kv.get('sharing')?.toLowerCase();
  if (sharing !== undefined && !SHARING.includes(sharing)) throw new InvalidParameterError(`unsupported sharing value "${kv.get('sharing')}"`);
  if (sharing !== undefined && type !== 'cache') throw new InvalidParameterError(`invalid cache sharing set for ${type} mount`);
  const number = (key: 'mode' | 'uid' | 'gid', radix: number): number | undefined => {
    const v = kv.get(key);
    if (v === undefined) return undefined;
    const n = radix === 8 ? (/^[0-7]+$/.test(v) ? parseInt(v, 8) : NaN) : /^[0-9]+$/.test(v) ? Number(v) : NaN;
    if (!Number.isSafeInteger(n) || n > 0xffffffff) throw new InvalidParameterError(`invalid value ${v} for ${key}`);
    if (type !== 'cache') throw new InvalidParameterError(`${key} not allowed for "${type}" type mounts`);
    return n;
  };
  return {
    type,
    target,
    source: kv.get('source') ?? kv.get('src'),
    from: kv.get('from'),
    id: kv.get('id'),
    // Bind mounts are read-only unless rw; cache mounts are writable unless ro.
    readOnly: type === 'bind' ? rw !== 'true' : ro === 'true',
    sharing: (sharing ?? 'shared') as RunMountSpec['sharing'],
    mode: number('mode', 8),
    uid: number('uid', 10),
    gid: number('gid', 10),
  };
}

export interface RunResources {
  hostConfig: RunHostConfig;
  /**
   * Resolves a mount's `from` (a stage or an image) and a context source to host directories; a
   * cache mount's directory is held (`release`) until the step ends.
   */
  mountSource(spec: RunMountSpec, cmd: string[]): Promise<{ source: string; release?: () => void }>;
}

/** Runs a RUN step; returns the step's image (from the cache or committed). */
export async function runStep(ctx: StepContext, parent: BuildImage | undefined, state: StageState, node: Node, res: RunResources): Promise<BuildImage> {
  const flags = parseFlags(node, ['mount', 'network', 'security']);
  const cmd = runCommand(state, node);
  const args = usedBuildArgs(state);
  const recordedCmd = args.recorded.length > 0 ? [`|${args.recorded.length}`, ...args.recorded, ...cmd] : cmd;
  const step = stepConfig(state, parent, recordedCmd);
  const cached = await fromCache(ctx, parent, step, state);
  if (cached) return cached;
  if (!parent) throw new InvalidParameterError('Please provide a source image with `from` prior to run');

  const specs = (flags.get('mount') ?? '').split('\n').filter(Boolean).map((m) => parseRunMount(m, state.runConfig.WorkingDir || '/'));
  const network = flags.get('network');
  if (network !== undefined && !['none', 'host', 'default'].includes(network)) throw new InvalidParameterError(`unsupported network mode ${network}`);
  const releases: (() => void)[] = [];
  try {
    const mounts: RunMount[] = [];
    for (const spec of specs) {
      if (spec.type === 'tmpfs') {
        mounts.push({ Type: 'tmpfs', Target: spec.target });
        continue;
      }
      const { source, release } = await res.mountSource(spec, cmd);
      if (release) releases.push(release);
      mounts.push({ Type: 'bind', Source: source, Target: spec.target, ReadOnly: spec.readOnly });
    }
    return await runContainerStep(ctx, parent, state, { cmd, env: args.env, step, mounts, network }, res);
  } finally {
    for (const release of releases) release();
  }
}

interface RunPlan {
  cmd: string[];
  /** The build args the step gets. */
  env: string[];
  step: ReturnType<typeof stepConfig>;
  mounts: RunMount[];
  network?: string;
}

/** The step's container: created, run with its output streamed, committed and removed. */
async function runContainerStep(ctx: StepContext, parent: BuildImage, state: StageState, plan: RunPlan, res: RunResources): Promise<BuildImage> {
  const { cmd, step, mounts, network } = plan;
  const runConfig = {
    ...structuredClone(state.runConfig),
    Cmd: cmd,
    Entrypoint: null,
    Env: [...(state.runConfig.Env ?? [DEFAULT_PATH]), ...plan.env],
  };
  const hostConfig: RunHostConfig = { ...res.hostConfig, ...(network ? { NetworkMode: network === 'default' ? res.hostConfig.NetworkMode : network } : {}), Mounts: mounts };
  const id = await ctx.backend.createContainer({ image: parent.id, config: runConfig, hostConfig });
  ctx.out.stream(` ---> Running in ${shortId(id)}\n`);
  let ok = false;
  try {
    const code = await ctx.backend.runContainer(id, (_s, chunk) => ctx.out.stream(chunk.toString('utf8')), ctx.signal);
    if (ctx.signal.aborted) throw new InvalidParameterError('build cancelled');
    if (code !== 0) throw new StepFailedError(`The command '${cmd.join(' ')}' returned a non-zero code: ${code}`, code);
    const diffId = await ctx.backend.commitContainer(id, ctx.rm);
    const image = await ctx.backend.createImage(childConfig(parent, state, step, diffId, id, ctx), parent.id);
    ok = true;
    if (ctx.rm) {
      await ctx.backend.removeContainer(id);
      ctx.out.stream(`Removing intermediate container ${shortId(id)}\n`);
    }
    ctx.out.stream(` ---> ${shortId(image.id)}\n`);
    return image;
  } finally {
    if (!ok && (ctx.forceRm || ctx.signal.aborted)) await ctx.backend.removeContainer(id).catch(() => undefined);
  }
}
