// RUN: the command runs in a temporary container from the step's starting image, with the
// stage's config and the build args it declared; the container's changes become the step's
// layer and the container goes (kept with rm=false; on failure kept unless forcerm, as Docker).
// BuildKit's additions arrive through the same path: heredoc scripts, --mount, --network.
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
  id?: string;
  readOnly: boolean;
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

export function parseRunMount(spec: string): RunMountSpec {
  const kv = new Map<string, string>();
  for (const part of spec.split(',')) {
    const eq = part.indexOf('=');
    kv.set((eq < 0 ? part : part.slice(0, eq)).trim().toLowerCase(), eq < 0 ? 'true' : part.slice(eq + 1));
  }
  const type = (kv.get('type') ?? 'bind') as RunMountSpec['type'];
  if (!['cache', 'bind', 'tmpfs'].includes(type)) throw new InvalidParameterError(`unsupported mount type "${type}"`);
  const target = kv.get('target') ?? kv.get('dst') ?? kv.get('destination');
  if (!target) throw new InvalidParameterError('mount target is required');
  const ro = kv.get('readonly') ?? kv.get('ro');
  const rw = kv.get('rw') ?? kv.get('readwrite');
  return {
    type,
    target,
    source: kv.get('source') ?? kv.get('src'),
    from: kv.get('from'),
    id: kv.get('id'),
    // Bind mounts are read-only unless rw; cache mounts are writable unless ro.
    readOnly: type === 'bind' ? rw !== 'true' : ro === 'true',
  };
}

export interface RunResources {
  hostConfig: RunHostConfig;
  /** Resolves a mount's `from` (a stage or an image) and a context source to host directories. */
  mountSource(spec: RunMountSpec): Promise<string>;
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

  const mounts: RunMount[] = [];
  for (const spec of (flags.get('mount') ?? '').split('\n').filter(Boolean).map(parseRunMount)) {
    if (spec.type === 'tmpfs') mounts.push({ Type: 'tmpfs', Target: spec.target });
    else mounts.push({ Type: 'bind', Source: await res.mountSource(spec), Target: spec.target, ReadOnly: spec.readOnly });
  }
  const network = flags.get('network');
  if (network !== undefined && !['none', 'host', 'default'].includes(network)) throw new InvalidParameterError(`unsupported network mode ${network}`);
  const runConfig = {
    ...structuredClone(state.runConfig),
    Cmd: cmd,
    Entrypoint: null,
    Env: [...(state.runConfig.Env ?? [DEFAULT_PATH]), ...args.env],
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
