// A Dockerfile's stages: the ARGs before the first FROM (usable in FROM lines), one stage per
// FROM (`AS name`), the target (the last stage or --target), and which stages the target needs
// (FROM <stage>, COPY --from=<stage>, RUN --mount=from=<stage>): only those are built.
import { InvalidParameterError } from '../errors.js';
import { DockerfileParseError, type Dockerfile, type Node } from './parser.js';
import { processWord, type Env } from './shell-lex.js';
import { parseFlags } from './flags.js';

export interface Stage {
  index: number;
  /** `AS name`, lower case. */
  name?: string;
  from: Node;
  /** The base as written (variables not yet expanded). */
  base: string;
  platform?: string;
  instructions: Node[];
}

export interface StagePlan {
  /** ARG instructions before the first FROM. */
  metaArgs: Node[];
  stages: Stage[];
  target: Stage;
  /** Indexes of the stages to build, in Dockerfile order (the target last). */
  needed: number[];
}

export function planStages(df: Dockerfile, target: string | undefined, metaEnv: Env): StagePlan {
  const metaArgs: Node[] = [];
  const stages: Stage[] = [];
  for (const node of df.nodes) {
    if (node.cmd === 'from') {
      stages.push(stageOf(node, stages.length));
      continue;
    }
    if (stages.length === 0) {
      if (node.cmd !== 'arg') throw new DockerfileParseError(node.startLine, `no build stage in current context`);
      metaArgs.push(node);
      continue;
    }
    stages[stages.length - 1].instructions.push(node);
  }
  if (stages.length === 0) throw new InvalidParameterError('the Dockerfile (Dockerfile) cannot be empty');
  let targetStage = stages[stages.length - 1];
  if (target) {
    const t = stages.find((s) => s.name === target.toLowerCase());
    if (!t) throw new InvalidParameterError(`failed to reach build target ${target} in Dockerfile`);
    targetStage = t;
  }
  const needed = new Set<number>();
  const visit = (s: Stage): void => {
    if (needed.has(s.index)) return;
    needed.add(s.index);
    for (const dep of dependencies(s, stages, metaEnv, df.escape)) visit(dep);
  };
  visit(targetStage);
  return { metaArgs, stages, target: targetStage, needed: [...needed].sort((a, b) => a - b) };
}

function stageOf(node: Node, index: number): Stage {
  const flags = parseFlags(node, ['platform']);
  const args = node.args;
  if (args.length !== 1 && !(args.length === 3 && args[1].toLowerCase() === 'as')) {
    throw new DockerfileParseError(node.startLine, args.length === 0 ? 'FROM requires either one or three arguments' : `FROM requires either one or three arguments`);
  }
  const name = args.length === 3 ? args[2].toLowerCase() : undefined;
  if (name !== undefined && !/^[a-z][a-z0-9-_.]*$/.test(name)) {
    throw new DockerfileParseError(node.startLine, `invalid name for build stage: "${args[2]}", name can't start with a number or contain symbols`);
  }
  return { index, name, from: node, base: args[0], platform: flags.get('platform'), instructions: [] };
}

/** The earlier stage a name or index refers to, if any. */
export function stageByRef(stages: Stage[], ref: string, before: number): Stage | undefined {
  const lower = ref.toLowerCase();
  const byName = stages.find((s) => s.index < before && s.name === lower);
  if (byName) return byName;
  if (/^\d+$/.test(ref)) {
    const i = Number(ref);
    if (i < before) return stages[i];
    throw new InvalidParameterError(`invalid from flag value ${ref}: refers to current or later build stage`);
  }
  return undefined;
}

function dependencies(s: Stage, stages: Stage[], metaEnv: Env, escape: string): Stage[] {
  const out: Stage[] = [];
  const baseName = processWord(s.base, metaEnv, escape).toLowerCase();
  const base = stages.find((b) => b.index < s.index && b.name === baseName);
  if (base) out.push(base);
  for (const node of s.instructions) {
    for (const ref of stageRefs(node)) {
      const dep = stageByRef(stages, ref, s.index);
      if (dep) out.push(dep);
    }
  }
  return out;
}

/** `--from=` of COPY/ADD and `from=` of RUN --mount (and the same inside ONBUILD). */
function stageRefs(node: Node): string[] {
  const out: string[] = [];
  for (const f of node.flags) {
    if ((node.cmd === 'copy' || node.cmd === 'add') && f.startsWith('from=')) out.push(f.slice(5));
    if (node.cmd === 'run' && f.startsWith('mount=')) {
      const m = /(?:^|,)from=([^,]+)/.exec(f.slice(6));
      if (m) out.push(m[1]);
    }
  }
  return out;
}
