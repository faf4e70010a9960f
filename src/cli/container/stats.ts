// berth stats: CPU, memory, network and block I/O per container (GET /containers/{id}/stats).

import type { ContainerStatsResponse, ContainerSummary } from '../../types/api.js';
import { jsonStream } from '../../client/jsonstream.js';
import { command, parse, StatusError, type Ctx } from '../cli.js';
import { jsonContext, renderList, resolveFormat } from '../format/formatter.js';
import { bytesSize, humanSize, truncateId } from '../format/units.js';

const DEFAULT = 'table {{.ID}}\t{{.Name}}\t{{.CPUPerc}}\t{{.MemUsage}}\t{{.MemPerc}}\t{{.NetIO}}\t{{.BlockIO}}\t{{.PIDs}}';
const HEADERS = {
  Container: 'CONTAINER',
  ID: 'CONTAINER ID',
  Name: 'NAME',
  CPUPerc: 'CPU %',
  MemUsage: 'MEM USAGE / LIMIT',
  MemPerc: 'MEM %',
  NetIO: 'NET I/O',
  BlockIO: 'BLOCK I/O',
  PIDs: 'PIDS',
};

interface Opts {
  all?: boolean;
  stream: boolean;
  trunc: boolean;
  format?: string;
}

export interface StatsEntry {
  container: string;
  id: string;
  name: string;
  cpu: number;
  mem: number;
  memLimit: number;
  memPerc: number;
  netRx: number;
  netTx: number;
  blkRead: number;
  blkWrite: number;
  pids: number;
  error?: boolean;
}

/** docker's calculation of the figures from a stats sample. */
export function computeStats(s: ContainerStatsResponse, container: string): StatsEntry {
  const cpuDelta = (s.cpu_stats?.cpu_usage?.total_usage ?? 0) - (s.precpu_stats?.cpu_usage?.total_usage ?? 0);
  const sysDelta = (s.cpu_stats?.system_cpu_usage ?? 0) - (s.precpu_stats?.system_cpu_usage ?? 0);
  const online = s.cpu_stats?.online_cpus || s.cpu_stats?.cpu_usage?.percpu_usage?.length || 1;
  const cpu = sysDelta > 0 && cpuDelta > 0 ? (cpuDelta / sysDelta) * online * 100 : 0;
  const ms = s.memory_stats ?? {};
  const st = ms.stats ?? {};
  let cache = 0;
  if (st.total_inactive_file !== undefined && st.total_inactive_file < (ms.usage ?? 0)) cache = st.total_inactive_file;
  else if (st.inactive_file !== undefined && st.inactive_file < (ms.usage ?? 0)) cache = st.inactive_file;
  const mem = Math.max(0, (ms.usage ?? 0) - cache);
  const limit = ms.limit ?? 0;
  let rx = 0;
  let tx = 0;
  for (const n of Object.values((s.networks ?? {}) as Record<string, { rx_bytes?: number; tx_bytes?: number }>)) {
    rx += n.rx_bytes ?? 0;
    tx += n.tx_bytes ?? 0;
  }
  let rd = 0;
  let wr = 0;
  const recs = ((s.blkio_stats ?? {}) as { io_service_bytes_recursive?: { op: string; value: number }[] | null }).io_service_bytes_recursive ?? [];
  for (const r of recs) {
    const op = r.op.toLowerCase();
    if (op === 'read') rd += r.value;
    else if (op === 'write') wr += r.value;
  }
  return {
    container,
    id: s.id,
    name: (s.name ?? '').replace(/^\//, ''),
    cpu,
    mem,
    memLimit: limit,
    memPerc: limit ? (mem / limit) * 100 : 0,
    netRx: rx,
    netTx: tx,
    blkRead: rd,
    blkWrite: wr,
    pids: s.pids_stats?.current ?? 0,
  };
}

function statsContext(e: StatsEntry, trunc: boolean) {
  return jsonContext({
    BlockIO: e.error ? '-- / --' : `${humanSize(e.blkRead, 3)} / ${humanSize(e.blkWrite, 3)}`,
    CPUPerc: e.error ? '--' : `${e.cpu.toFixed(2)}%`,
    Container: e.container,
    ID: trunc ? truncateId(e.id) : e.id,
    MemPerc: e.error ? '--' : `${e.memPerc.toFixed(2)}%`,
    MemUsage: e.error ? '-- / --' : `${bytesSize(e.mem)} / ${bytesSize(e.memLimit)}`,
    Name: e.name || '--',
    NetIO: e.error ? '--' : `${humanSize(e.netRx, 3)} / ${humanSize(e.netTx, 3)}`,
    PIDs: e.error ? '--' : String(e.pids),
  });
}

export async function stats(argv: string[], ctx: Ctx): Promise<number> {
  const c = command(ctx, { usage: '[OPTIONS] [CONTAINER...]', description: 'Display a live stream of container(s) resource usage statistics' });
  c.option('-a, --all', 'Show all containers (default shows just running)')
    .option('--format <string>', 'Format output using a custom template')
    .option('--no-stream', 'Disable streaming stats and only pull the first result')
    .option('--no-trunc', "Do not truncate output");
  const { opts, args } = parse<Opts>(ctx, c, argv);
  const client = ctx.client();
  let names = args;
  if (!names.length) {
    const list = await client.get<ContainerSummary[]>('/containers/json', { all: opts.all ? 1 : undefined });
    names = (list ?? []).map((x) => x.Id);
  }
  const format = resolveFormat({ format: opts.format ?? '', defaultTable: DEFAULT });
  const entries = new Map<string, StatsEntry>();
  const errors: string[] = [];
  const render = () => {
    const rows = names.filter((n) => entries.has(n)).map((n) => statsContext(entries.get(n)!, opts.trunc));
    return renderList(format, rows, HEADERS);
  };
  if (opts.stream === false) {
    await Promise.all(
      names.map(async (n) => {
        try {
          const s = await client.get<ContainerStatsResponse>(`/containers/${encodeURIComponent(n)}/stats`, { stream: 0, 'one-shot': 0 });
          entries.set(n, computeStats(s, n));
        } catch (e) {
          errors.push(`Error response from daemon: ${(e as Error).message}`);
        }
      }),
    );
    if (errors.length && !entries.size) throw new StatusError(1, errors.join('\n'));
    process.stdout.write(render());
    return 0;
  }
  for (const n of names) {
    void (async () => {
      try {
        const res = await client.stream('GET', `/containers/${encodeURIComponent(n)}/stats`, { query: { stream: 1 } });
        for await (const s of jsonStream<ContainerStatsResponse>(res)) entries.set(n, computeStats(s, n));
      } catch {
        const prev = entries.get(n);
        entries.set(n, { ...(prev ?? computeStats({ id: n, name: '' } as ContainerStatsResponse, n)), error: true });
      }
    })();
  }
  const tty = !!process.stdout.isTTY;
  for (;;) {
    await new Promise((r) => setTimeout(r, 1000));
    const text = render();
    process.stdout.write(tty ? `\x1b[2J\x1b[H${text}` : text);
  }
}
