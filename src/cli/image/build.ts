// berth build / image build: POST /build with the context as the body and Docker's flags as
// the query. Output: on a terminal, each step with its own progress (BuildKit's plain style:
// `#N [N/M] INSTRUCTION`, the step's output, `#N DONE 0.4s` or `#N CACHED`); otherwise the
// daemon's legacy lines as they come. -q prints the image id; --iidfile writes it.
import { promises as fsp } from 'node:fs';
import type { JSONMessage } from '../../types/api.js';
import { jsonStream } from '../../client/jsonstream.js';
import { collect, command, parse, StatusError, type Ctx } from '../cli.js';
import { ramInBytes } from '../format/units.js';
import { contextUpload } from './build-context.js';
import { StepProgress } from './build-progress.js';

interface Opts {
  tag?: string[];
  file?: string;
  buildArg?: string[];
  target?: string;
  cache?: boolean;
  pull?: boolean;
  label?: string[];
  network?: string;
  platform?: string;
  quiet?: boolean;
  rm?: boolean;
  forceRm?: boolean;
  cacheFrom?: string[];
  iidfile?: string;
  addHost?: string[];
  shmSize?: string;
  memory?: string;
  cpusetCpus?: string;
}

/** `A=b` → b; a bare `A` takes the value from this environment (absent → null, as Docker). */
function buildArgs(list: string[] = []): Record<string, string | null> {
  const out: Record<string, string | null> = {};
  for (const a of list) {
    const eq = a.indexOf('=');
    if (eq < 0) out[a] = process.env[a] ?? null;
    else out[a.slice(0, eq)] = a.slice(eq + 1);
  }
  return out;
}

function bytesFlag(v: string | undefined, flag: string): number | undefined {
  if (v === undefined) return undefined;
  try {
    return ramInBytes(v);
  } catch {
    throw new StatusError(1, `invalid argument "${v}" for "${flag}" flag: invalid size: '${v}'`);
  }
}

export async function build(argv: string[], ctx: Ctx): Promise<number> {
  const c = command(ctx, { usage: '[OPTIONS] PATH | URL | -', description: 'Build an image from a Dockerfile', args: { exact: 1 } });
  c.option('-t, --tag <list>', 'Name and optionally a tag in the "name:tag" format', collect)
    .option('-f, --file <string>', 'Name of the Dockerfile (Default is "PATH/Dockerfile")')
    .option('--build-arg <list>', 'Set build-time variables', collect)
    .option('--target <string>', 'Set the target build stage to build.')
    .option('--no-cache', 'Do not use cache when building the image')
    .option('--pull', 'Always attempt to pull a newer version of the image')
    .option('--label <list>', 'Set metadata for an image', collect)
    .option('--network <string>', 'Set the networking mode for the RUN instructions during build')
    .option('--platform <string>', 'Set platform if server is multi-platform capable')
    .option('-q, --quiet', 'Suppress the build output and print image ID on success')
    .option('--rm', 'Remove intermediate containers after a successful build', undefined, true)
    .option('--force-rm', 'Always remove intermediate containers')
    .option('--cache-from <strings>', 'Images to consider as cache sources', collect)
    .option('--iidfile <string>', 'Write the image ID to the file')
    .option('--add-host <list>', 'Add a custom host-to-IP mapping ("host:ip")', collect)
    .option('--shm-size <bytes>', 'Size of "/dev/shm"')
    .option('-m, --memory <bytes>', 'Memory limit')
    .option('--cpuset-cpus <string>', 'CPUs in which to allow execution (0-3, 0,1)');
  const { opts, args } = parse<Opts>(ctx, c, argv);
  const upload = await contextUpload(args[0], opts.file, process.stdin);
  const labels: Record<string, string> = {};
  for (const l of opts.label ?? []) {
    const eq = l.indexOf('=');
    labels[eq < 0 ? l : l.slice(0, eq)] = eq < 0 ? '' : l.slice(eq + 1);
  }
  const query: Record<string, string | string[] | number | undefined> = {
    t: opts.tag,
    dockerfile: upload.dockerfile,
    buildargs: JSON.stringify(buildArgs(opts.buildArg)),
    labels: JSON.stringify(labels),
    target: opts.target,
    nocache: opts.cache === false ? 1 : undefined,
    pull: opts.pull ? 1 : undefined,
    rm: opts.rm === false ? 0 : 1,
    forcerm: opts.forceRm ? 1 : 0,
    q: opts.quiet ? 1 : undefined,
    networkmode: opts.network,
    platform: opts.platform,
    cachefrom: opts.cacheFrom ? JSON.stringify(opts.cacheFrom) : undefined,
    extrahosts: opts.addHost,
    shmsize: bytesFlag(opts.shmSize, '--shm-size'),
    memory: bytesFlag(opts.memory, '--memory'),
    cpusetcpus: opts.cpusetCpus,
    version: '1',
  };
  if (opts.iidfile) await fsp.rm(opts.iidfile, { force: true });
  const res = await ctx.client().stream('POST', '/build', { query: query as never, body: upload.body, headers: { 'Content-Type': 'application/x-tar' } });
  const id = await showOutput(res, !!opts.quiet);
  if (!id) throw new StatusError(1, 'the daemon did not report an image id');
  if (opts.quiet) process.stdout.write(`${id}\n`);
  if (opts.iidfile) await fsp.writeFile(opts.iidfile, id);
  return 0;
}

/** Prints the build's messages; returns the image id (from `aux`, or the quiet build's line). */
async function showOutput(res: AsyncIterable<Buffer>, quiet: boolean): Promise<string | undefined> {
  const progress = !quiet && process.stdout.isTTY ? new StepProgress(process.stdout) : undefined;
  let id: string | undefined;
  try {
    for await (const m of jsonStream<JSONMessage>(res)) {
      if (m.errorDetail || m.error) {
        progress?.fail();
        throw new StatusError(m.errorDetail?.code ?? 1, m.errorDetail?.message ?? m.error);
      }
      if (m.aux && typeof (m.aux as { ID?: unknown }).ID === 'string') id = (m.aux as { ID: string }).ID;
      if (m.stream === undefined) continue;
      if (quiet) {
        const line = m.stream.trim();
        if (/^sha256:[0-9a-f]{64}$/.test(line)) id = line;
      } else if (progress) progress.write(m.stream);
      else process.stdout.write(m.stream);
    }
  } finally {
    progress?.end();
  }
  return id;
}
