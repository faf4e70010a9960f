// A build: the Dockerfile parsed and planned (errors before any output), then the needed stages
// run — each as soon as the stages it uses are built, so independent stages run at the same
// time — with their output kept in stage order, and the target's image tagged. Output follows
// Docker's legacy builder line for line (`Step N/M : …`, ` ---> …`, `Successfully built …`).
import { InvalidParameterError } from '../errors.js';
import { formatPlatform, hostPlatform, parsePlatform, type PlatformSpec } from '../util/platform.js';
import type { BuildImage, BuilderBackend, RunHostConfig } from './backend.js';
import { BuildCache } from './cache.js';
import type { BuildContext } from './context.js';
import { copyStep, workdirStep, type CopyRoots } from './copy-step.js';
import { DEFAULT_PATH, dispatchMeta, PREDEFINED_ARGS, type StageState } from './dispatch.js';
import { OrderedOutput } from './output.js';
import { parseDockerfile, type Dockerfile, type Node } from './parser.js';
import { runStep, type RunMountSpec } from './run.js';
import { processWord } from './shell-lex.js';
import { planStages, stageByRef, type Stage, type StagePlan } from './stages.js';
import { commitStep, fromCache, nopCmd, shortId, stepConfig, type BuildOutput, type StepContext } from './steps.js';
import { cleanPath } from '../archive/unpack.js';
import { Root } from '../archive/root.js';
import path from 'node:path';

export interface BuildOptions {
  /** Familiar names to tag the result with (already validated). */
  tags: string[];
  buildArgs: Map<string, string | null>;
  target?: string;
  noCache: boolean;
  pull: boolean;
  rm: boolean;
  forceRm: boolean;
  quiet: boolean;
  labels: Record<string, string>;
  platform?: string;
  cacheFrom: string[];
  hostConfig: RunHostConfig;
}

export interface PreparedBuild {
  df: Dockerfile;
  plan: StagePlan;
  platform: PlatformSpec;
  globals: Map<string, string>;
  total: number;
}

/** Parses and plans; every error here is the client's, reported before the build starts. */
export function prepareBuild(ctx: BuildContext, opts: BuildOptions): PreparedBuild {
  const df = parseDockerfile(ctx.dockerfile);
  const platform = opts.platform ? parsePlatform(opts.platform) : hostPlatform();
  const globals = platformArgs(platform);
  for (const node of df.nodes) {
    if (node.cmd === 'from') break;
    if (node.cmd !== 'arg') continue;
    for (const raw of node.args) {
      const eq = raw.indexOf('=');
      const name = eq < 0 ? raw : raw.slice(0, eq);
      const given = opts.buildArgs.get(name);
      const value = given ?? (eq < 0 ? globals.get(name) : processWord(raw.slice(eq + 1), globals, df.escape));
      if (value !== undefined) globals.set(name, value);
    }
  }
  const plan = planStages(df, opts.target, globals);
  if (Object.keys(opts.labels).length > 0) {
    const pairs = Object.entries(opts.labels).map(([k, v]) => `${JSON.stringify(k)}=${JSON.stringify(v)}`);
    const label = parseDockerfile(`LABEL ${pairs.join(' ')}`).nodes[0];
    label.original = `LABEL ${Object.entries(opts.labels).map(([k, v]) => `${k}=${v}`).join(' ')}`;
    plan.target.instructions.push(label);
  }
  const total = plan.metaArgs.length + plan.needed.reduce((n, i) => n + 1 + plan.stages[i].instructions.length, 0);
  return { df, plan, platform, globals, total };
}

/** BuildKit's automatic platform args (TARGETPLATFORM, BUILDARCH, …). */
function platformArgs(target: PlatformSpec): Map<string, string> {
  const build = hostPlatform();
  const m = new Map<string, string>();
  for (const [prefix, p] of [['TARGET', target], ['BUILD', build]] as const) {
    m.set(`${prefix}PLATFORM`, formatPlatform(p));
    m.set(`${prefix}OS`, p.os);
    m.set(`${prefix}ARCH`, p.architecture);
    m.set(`${prefix}VARIANT`, p.variant ?? '');
  }
  return m;
}

export class Builder {
  private readonly results = new Map<number, Promise<BuildImage | undefined>>();
  private readonly declared = new Set<string>();
  private readonly abort = new AbortController();
  private readonly output: OrderedOutput;
  private stepNo = new Map<number, number>();

  constructor(
    private readonly backend: BuilderBackend,
    private readonly ctx: BuildContext,
    private readonly opts: BuildOptions,
    private readonly prep: PreparedBuild,
    private readonly out: BuildOutput,
    signal: AbortSignal,
  ) {
    signal.addEventListener('abort', () => this.abort.abort(), { once: true });
    if (signal.aborted) this.abort.abort();
    this.output = new OrderedOutput(prep.plan.needed, opts.quiet ? { stream: () => undefined, aux: () => undefined } : out);
    let n = 1 + prep.plan.metaArgs.length;
    for (const i of prep.plan.needed) {
      this.stepNo.set(i, n);
      n += 1 + prep.plan.stages[i].instructions.length;
    }
  }

  /** Runs the build; resolves with the image id. */
  async run(): Promise<string> {
    const cacheFrom = this.opts.cacheFrom.map((r) => this.backend.findImage(r)).filter((i): i is BuildImage => !!i);
    const cache = new BuildCache(this.backend, cacheFrom);
    try {
      // The ARGs before the first FROM are steps of their own, with nothing to show.
      this.prep.plan.metaArgs.forEach((node, i) => {
        if (this.opts.quiet) return;
        this.out.stream(`Step ${i + 1}/${this.prep.total} : ${node.original}`);
        this.out.stream('\n');
      });
      for (const i of this.prep.plan.needed) this.stageResult(i, cache);
      const image = await this.results.get(this.prep.plan.target.index)!;
      if (!image) throw new InvalidParameterError('No image was generated. Is your Dockerfile empty?');
      return await this.finish(image);
    } catch (err) {
      this.abort.abort();
      // Let the other stages stop before reporting (their containers are cleaned up on the way).
      await Promise.allSettled(this.results.values());
      throw err;
    }
  }

  private async finish(image: BuildImage): Promise<string> {
    for (const t of this.opts.tags) await this.backend.tag(image.id, t);
    if (this.opts.quiet) {
      this.out.stream(`${image.id}\n`);
      return image.id;
    }
    this.out.aux({ ID: image.id });
    const unused = [...this.opts.buildArgs.keys()].filter((k) => !this.declared.has(k) && !PREDEFINED_ARGS.has(k)).sort();
    if (unused.length > 0) this.out.stream(`[Warning] One or more build-args [${unused.join(' ')}] were not consumed\n`);
    this.out.stream(`Successfully built ${shortId(image.id)}\n`);
    for (const t of this.opts.tags) this.out.stream(`Successfully tagged ${t}\n`);
    return image.id;
  }

  private stageResult(index: number, cache: BuildCache): Promise<BuildImage | undefined> {
    let p = this.results.get(index);
    if (!p) {
      p = this.buildStage(this.prep.plan.stages[index], cache);
      p.catch(() => this.abort.abort());
      this.results.set(index, p);
    }
    return p;
  }

  private async buildStage(stage: Stage, cache: BuildCache): Promise<BuildImage | undefined> {
    const out = this.output.forStage(stage.index);
    // Wait for the stages this one uses (their output comes first anyway).
    const deps = this.prep.plan.needed.filter((i) => i < stage.index && this.dependsOn(stage, i));
    await Promise.all(deps.map((i) => this.results.get(i)));
    try {
      const ctx: StepContext = {
        backend: this.backend,
        cache,
        noCache: this.opts.noCache,
        out,
        rm: this.opts.rm,
        forceRm: this.opts.forceRm,
        signal: this.abort.signal,
        platform: this.prep.platform,
      };
      let n = this.stepNo.get(stage.index)!;
      const step = (node: Node): void => {
        out.stream(`Step ${n++}/${this.prep.total} : ${node.original}`);
        out.stream('\n');
      };
      step(stage.from);
      let image = await this.fromImage(stage, out);
      const state = this.initialState(image);
      image = await this.onBuildTriggers(ctx, image, state);
      for (const node of stage.instructions) {
        if (this.abort.signal.aborted) throw new InvalidParameterError('build cancelled');
        step(node);
        image = await this.dispatch(ctx, stage, image, state, node);
      }
      return image;
    } finally {
      this.output.stageDone(stage.index);
    }
  }

  private dependsOn(stage: Stage, i: number): boolean {
    const dep = this.prep.plan.stages[i];
    const base = processWord(stage.base, this.prep.globals, this.prep.df.escape).toLowerCase();
    if (dep.name && base === dep.name) return true;
    // COPY --from / RUN --mount from= (by name or index); conservative: any mention.
    return stage.instructions.some((n) => n.flags.some((f) => (dep.name && f.includes(`from=${dep.name}`)) || f.includes(`from=${i}`)));
  }

  private initialState(image: BuildImage | undefined): StageState {
    const runConfig = structuredClone(image?.config.config ?? {});
    if (!(runConfig.Env ?? []).some((e) => e.startsWith('PATH='))) runConfig.Env = [...(runConfig.Env ?? []), DEFAULT_PATH];
    const args = new Map<string, string | undefined>();
    for (const k of PREDEFINED_ARGS) {
      const v = this.opts.buildArgs.get(k);
      if (v !== undefined && v !== null) args.set(k, v);
    }
    return { runConfig, cmdSet: false, args, globals: this.prep.globals, escape: this.prep.df.escape, author: image?.config.author };
  }

  private async fromImage(stage: Stage, out: BuildOutput): Promise<BuildImage | undefined> {
    const ref = processWord(stage.base, this.prep.globals, this.prep.df.escape);
    if (ref === '') throw new InvalidParameterError('base name (' + stage.base + ') should not be blank');
    const prior = this.prep.plan.stages.find((s) => s.index < stage.index && s.name === ref.toLowerCase());
    let image: BuildImage | undefined;
    if (prior) image = await this.stageImage(prior.index);
    else if (ref.toLowerCase() !== 'scratch') {
      const platform = stage.platform ? processWord(stage.platform, this.prep.globals, this.prep.df.escape) : this.opts.platform;
      image = await this.resolveImage(ref, platform, out);
    }
    out.stream(` ---> ${image ? shortId(image.id) : ''}\n`);
    return image;
  }

  private async stageImage(index: number): Promise<BuildImage | undefined> {
    const p = this.results.get(index);
    if (!p) throw new InvalidParameterError(`stage ${index} was not built`);
    return p;
  }

  private async resolveImage(ref: string, platform: string | undefined, out: BuildOutput): Promise<BuildImage> {
    const local = this.opts.pull ? undefined : this.backend.findImage(ref);
    if (local) return local;
    return this.backend.pullImage(ref, platform, (line) => out.stream(line), this.abort.signal);
  }

  /** The base image's ONBUILD instructions run first, as in Docker. */
  private async onBuildTriggers(ctx: StepContext, image: BuildImage | undefined, state: StageState): Promise<BuildImage | undefined> {
    const triggers = state.runConfig.OnBuild ?? [];
    if (triggers.length === 0) return image;
    state.runConfig.OnBuild = null;
    ctx.out.stream(`# Executing ${triggers.length} build trigger${triggers.length > 1 ? 's' : ''}\n`);
    const stage = { index: -1, from: undefined as never, base: '', instructions: [] } as Stage;
    for (const t of triggers) {
      const node = parseDockerfile(t).nodes[0];
      if (!node) continue;
      image = await this.dispatch(ctx, stage, image, state, node);
    }
    return image;
  }

  private async dispatch(ctx: StepContext, stage: Stage, image: BuildImage | undefined, state: StageState, node: Node): Promise<BuildImage | undefined> {
    switch (node.cmd) {
      case 'run':
        return runStep(ctx, image, state, node, { hostConfig: this.opts.hostConfig, mountSource: (spec, cmd) => this.mountSource(spec, stage, cmd) });
      case 'copy':
      case 'add':
        return copyStep(ctx, image, state, node, this.copyRoots(stage));
      case 'from':
        throw new InvalidParameterError('FROM is not allowed here');
      default: {
        const meta = dispatchMeta(state, node, this.opts.buildArgs);
        if (node.cmd === 'arg') for (const k of state.args.keys()) this.declared.add(k);
        if (node.cmd === 'workdir') return workdirStep(ctx, image, state, meta.comment);
        const step = stepConfig(state, image, nopCmd(state, meta.comment, meta.oneWord));
        return (await fromCache(ctx, image, step, state)) ?? commitStep(ctx, image, state, step, undefined, { printRun: true });
      }
    }
  }

  private copyRoots(stage: Stage): CopyRoots {
    return {
      contextDir: this.ctx.dir,
      withFrom: async (ref, read) => {
        const image = await this.fromRef(ref, stage);
        const m = await this.backend.mountImage(image?.id ?? '');
        try {
          return await read(m.rootfs);
        } finally {
          await m.release();
        }
      },
    };
  }

  /** A --from value: an earlier stage (name or index) or an image. */
  private async fromRef(ref: string, stage: Stage): Promise<BuildImage | undefined> {
    const prior = stageByRef(this.prep.plan.stages, ref, stage.index < 0 ? Infinity : stage.index);
    if (prior) return this.stageImage(prior.index);
    return this.resolveImage(ref, this.opts.platform, this.output.forStage(stage.index));
  }

  /** A RUN --mount's host directory; `from` mounts stay until the build ends. */
  private async mountSource(spec: RunMountSpec, stage: Stage, cmd: string[]): Promise<{ source: string; release?: () => void }> {
    if (spec.type === 'cache') return this.cacheMount(spec, stage, cmd);
    return { source: await this.sourceDir(spec, stage) };
  }

  /** A cache mount: a plain one starts empty; with `from`, as a copy of that stage's or image's `source`. */
  private async cacheMount(spec: RunMountSpec, stage: Stage, cmd: string[]): Promise<{ source: string; release: () => void }> {
    const seed = spec.from ? await this.sourceDir(spec, stage) : undefined;
    const seedKey = spec.from ? `${(await this.fromRef(spec.from, stage))?.id ?? ''}:${spec.source ?? '/'}` : undefined;
    const { mode, uid, gid, sharing } = spec;
    const id = spec.id ?? spec.target;
    // BuildKit's wording for an exec.cachemount record.
    const description = `cached mount ${spec.target} from exec ${cmd.join(' ')}${id !== spec.target ? ` with id ${JSON.stringify(id)}` : ''}`;
    const held = await this.backend.cacheMount({ id, sharing, mode, uid, gid, seed, seedKey, description });
    return { source: held.dir, release: held.release };
  }

  /** The host directory of a mount's `source` in its `from` (stage or image) or the context. */
  private async sourceDir(spec: RunMountSpec, stage: Stage): Promise<string> {
    let base = this.ctx.dir;
    if (spec.from) {
      const image = await this.fromRef(spec.from, stage);
      const m = await this.backend.mountImage(image?.id ?? '');
      this.releases.push(m.release);
      base = m.rootfs;
    }
    const rel = cleanPath((spec.source ?? '/').replace(/^\/+/, ''));
    if (rel === '..' || rel.startsWith('../')) throw new InvalidParameterError(`mount source ${spec.source} is outside the build context`);
    const root = Root.open(base);
    try {
      return path.join(base, root.evalSymlinks(rel));
    } finally {
      root.close();
    }
  }

  private readonly releases: (() => Promise<void>)[] = [];

  /** Unmounts what RUN --mount from= mounted. */
  async close(): Promise<void> {
    for (const r of this.releases.splice(0)) await r().catch(() => undefined);
  }
}

