// COPY and ADD as steps: sources from the context, a heredoc, an earlier stage or an image;
// the step is recorded (and cached) by its sources' checksum; the copy goes into a fresh layer
// on the step's starting image. WORKDIR's directory creation shares the layer path.
import { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Root } from '../archive/root.js';
import { InvalidParameterError } from '../errors.js';
import { resolveUser } from '../oci/user.js';
import type { BuildImage } from './backend.js';
import { copyInto, destinationPath, resolveSources } from './copy.js';
import { sourcesChecksum } from './source-hash.js';
import { expansionEnv, type StageState } from './dispatch.js';
import { parseFlags } from './flags.js';
import { fetchLoopback } from './remote.js';
import type { Node } from './parser.js';
import { processWord } from './shell-lex.js';
import { commitStep, fromCache, nopCmd, stepConfig, type StepContext } from './steps.js';

export interface CopyRoots {
  contextDir: string;
  /** Runs `read` with the root filesystem of a stage or image named by --from. */
  withFrom<T>(ref: string, read: (rootDir: string) => Promise<T>): Promise<T>;
}

const URL_SOURCE = /^https?:\/\//i;
const HEREDOC_SOURCE = /^<<-?["']?([A-Za-z_][A-Za-z0-9_.-]*)["']?$/;

export async function copyStep(ctx: StepContext, parent: BuildImage | undefined, state: StageState, node: Node, roots: CopyRoots): Promise<BuildImage> {
  const isAdd = node.cmd === 'add';
  const instr = node.cmd.toUpperCase();
  const flags = parseFlags(node, isAdd ? ['chown', 'chmod', 'from', 'link', 'checksum', 'keep-git-dir'] : ['chown', 'chmod', 'from', 'link', 'parents', 'exclude']);
  if (isAdd && flags.has('from')) throw new InvalidParameterError('ADD does not support --from');
  const env = expansionEnv(state);
  const words = node.args.map((a) => processWord(a, env, state.escape));
  if (words.length < 2) throw new InvalidParameterError(`${instr} requires at least two arguments, but only ${words.length} provided`);
  const dest = words[words.length - 1];
  const srcs = words.slice(0, -1);
  const chmod = flags.get('chmod');
  if (chmod !== undefined && !/^[0-7]{3,4}$/.test(chmod)) throw new InvalidParameterError(`invalid chmod parameter: ${chmod}`);
  const from = flags.get('from');
  const work = async (srcDir: string): Promise<BuildImage> => {
    const sources = await resolveSources(srcDir, srcs);
    // dockerd writes `--chown=<value>` straight before the sum (no space); the flags only
    // BuildKit has (--chmod, --parents) change what lands too, so they are written the same way.
    const shaping = ['chown', 'chmod', 'parents'].filter((f) => flags.has(f)).map((f) => `--${f}=${flags.get(f)}`).join('');
    const checksum = await sourcesChecksum(srcDir, sources);
    const destPath = destinationPath(dest, state.runConfig.WorkingDir);
    const step = stepConfig(state, parent, nopCmd(state, `${instr} ${shaping}${checksum} in ${dest} `, true));
    const cached = await fromCache(ctx, parent, step, state);
    if (cached) return cached;
    const diffId = await ctx.backend.layerOn(parent?.id ?? '', async (rootfs) => {
      const chown = flags.has('chown') ? resolveUser(rootfs, flags.get('chown')) : undefined;
      await copyInto(srcDir, sources, rootfs, destPath, { chown: chown && { uid: chown.uid, gid: chown.gid }, mode: chmod ? parseInt(chmod, 8) : undefined, extractArchives: isAdd, parents: flags.get('parents') === 'true', ids: ctx.backend.ids }, instr);
    });
    return commitStep(ctx, parent, state, step, diffId, { printRun: false });
  };
  try {
    if (srcs.some((s) => HEREDOC_SOURCE.test(s))) return await withHeredocSources(node, srcs, state, env, work);
    if (isAdd && srcs.some((s) => URL_SOURCE.test(s))) return await withDownloads(srcs, ctx.signal, work);
    if (from !== undefined) return await roots.withFrom(processWord(from, env, state.escape), work);
    return await work(roots.contextDir);
  } catch (err) {
    if (err instanceof InvalidParameterError && !err.message.startsWith(`${instr} failed`) && !/requires|--from|URL/.test(err.message)) {
      throw new InvalidParameterError(`${instr} failed: ${err.message}`);
    }
    throw err;
  }
}

/** COPY <<EOF /dest: each heredoc becomes a file of that name in a directory of its own. */
async function withHeredocSources(node: Node, srcs: string[], state: StageState, env: Map<string, string>, work: (dir: string) => Promise<BuildImage>): Promise<BuildImage> {
  const dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'berth-heredoc-'));
  try {
    for (let i = 0; i < srcs.length; i++) {
      const m = HEREDOC_SOURCE.exec(srcs[i]);
      if (!m) throw new InvalidParameterError('COPY cannot mix heredocs and other sources');
      const doc = node.heredocs.find((h) => h.name === m[1]);
      if (!doc) throw new InvalidParameterError(`heredoc ${m[1]} has no body`);
      await fsp.writeFile(path.join(dir, m[1]), doc.expand ? processWord(doc.content, env, state.escape) : doc.content, { mode: 0o644 });
      srcs[i] = m[1];
    }
    return await work(dir);
  } finally {
    await fsp.rm(dir, { recursive: true, force: true });
  }
}

/** ADD <url>: each file downloaded (from this host's loopback) into a directory of its own, mode 0600 as Docker. */
async function withDownloads(srcs: string[], signal: AbortSignal, work: (dir: string) => Promise<BuildImage>): Promise<BuildImage> {
  const dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'berth-add-'));
  try {
    for (let i = 0; i < srcs.length; i++) {
      if (!URL_SOURCE.test(srcs[i])) throw new InvalidParameterError('ADD cannot mix URLs and other sources');
      const res = await fetchLoopback(srcs[i], signal);
      const name = path.posix.basename(new URL(srcs[i]).pathname) || 'index.html';
      const file = path.join(dir, name);
      await fsp.writeFile(file, Buffer.from(await res.arrayBuffer()), { mode: 0o600 });
      const modified = Date.parse(res.headers.get('last-modified') ?? '');
      if (Number.isFinite(modified)) await fsp.utimes(file, modified / 1000, modified / 1000);
      srcs[i] = name;
    }
    return await work(dir);
  } finally {
    await fsp.rm(dir, { recursive: true, force: true });
  }
}

/** WORKDIR: the directory is created in the image when missing (a layer only if it was). */
export async function workdirStep(ctx: StepContext, parent: BuildImage | undefined, state: StageState, comment: string): Promise<BuildImage> {
  const step = stepConfig(state, parent, nopCmd(state, comment, true));
  const cached = await fromCache(ctx, parent, step, state);
  if (cached) return cached;
  const dir = state.runConfig.WorkingDir ?? '/';
  const diffId = await ctx.backend.layerOn(parent?.id ?? '', async (rootfs) => {
    const root = Root.open(rootfs, { owner: ctx.backend.ids?.root });
    try {
      root.resolveDir(dir.split('/').filter(Boolean), root.root, { create: true, createThroughSymlinks: true });
    } finally {
      root.close();
    }
  });
  return commitStep(ctx, parent, state, step, diffId, { printRun: true });
}

