// berth logs (GET /containers/{id}/logs).

import type { ContainerInspect } from '../../types/api.js';
import { demux } from '../../client/stdcopy.js';
import { command, parse, StatusError, type Ctx } from '../cli.js';

interface Opts {
  details?: boolean;
  follow?: boolean;
  since?: string;
  tail?: string;
  timestamps?: boolean;
  until?: string;
}

const UNITS: Record<string, number> = { ns: 1e-9, us: 1e-6, µs: 1e-6, ms: 1e-3, s: 1, m: 60, h: 3600 };

/** docker's GetTimestamp: Go durations are relative to now; RFC 3339 dates and unix times pass as seconds. */
/** `--since`/`--until` as the API wants them; a bad value is a usage error (exit 1) as in docker. */
export function timeRangeArgs(opts: { since?: string; until?: string }): { since?: string; until?: string } {
  try {
    return {
      since: opts.since ? timestampArg(opts.since) : undefined,
      until: opts.until ? timestampArg(opts.until) : undefined,
    };
  } catch (e) {
    throw new StatusError(1, (e as Error).message);
  }
}

export function timestampArg(value: string, now = Date.now()): string {
  if (/^\d+(\.\d+)?$/.test(value)) return value;
  if (/^(\d+(\.\d+)?(ns|us|µs|ms|s|m|h))+$/.test(value)) {
    let secs = 0;
    for (const m of value.matchAll(/(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/g)) secs += Number(m[1]) * UNITS[m[2]];
    const t = now / 1000 - secs;
    return t.toFixed(9).replace(/0+$/, '').replace(/\.$/, '');
  }
  let v = value;
  if (/^\d{4}-\d{2}-\d{2}$/.test(v)) v += 'T00:00:00';
  if (/^\d{4}-\d{2}-\d{2}T[\d:.]+$/.test(v)) v += 'Z';
  const ms = Date.parse(v);
  if (Number.isNaN(ms)) throw new Error(`failed to parse value as time or duration: "${value}"`);
  const frac = /\.(\d+)/.exec(value.split('T')[1] ?? '')?.[1] ?? '';
  return `${Math.floor(ms / 1000)}${frac ? '.' + frac.padEnd(9, '0').slice(0, 9) : ''}`;
}

export async function logs(argv: string[], ctx: Ctx): Promise<number> {
  const c = command(ctx, { usage: '[OPTIONS] CONTAINER', description: 'Fetch the logs of a container', args: { exact: 1 } });
  c.option('--details', 'Show extra details provided to logs')
    .option('-f, --follow', 'Follow log output')
    .option('--since <string>', 'Show logs since timestamp (e.g. "2013-01-02T13:23:37Z") or relative (e.g. "42m" for 42 minutes)')
    .option('-n, --tail <string>', 'Number of lines to show from the end of the logs', undefined, 'all')
    .option('-t, --timestamps', 'Show timestamps')
    .option('--until <string>', 'Show logs before a timestamp (e.g. "2013-01-02T13:23:37Z") or relative (e.g. "42m" for 42 minutes)');
  const { opts, args } = parse<Opts>(ctx, c, argv);
  const client = ctx.client();
  const name = encodeURIComponent(args[0]);
  const info = await client.get<ContainerInspect>(`/containers/${name}/json`);
  const { since, until } = timeRangeArgs(opts);
  const res = await client.stream('GET', `/containers/${name}/logs`, {
    query: {
      stdout: 1,
      stderr: 1,
      follow: opts.follow ? 1 : undefined,
      since,
      until,
      timestamps: opts.timestamps ? 1 : undefined,
      details: opts.details ? 1 : undefined,
      tail: opts.tail,
    },
  });
  if (info.Config?.Tty) {
    for await (const chunk of res) process.stdout.write(chunk as Buffer);
  } else {
    await demux(res, process.stdout, process.stderr);
  }
  return 0;
}
