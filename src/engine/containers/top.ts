// `docker top`: the host's `ps` with the caller's arguments, cut down to a container's processes.
import type { ContainerTopResponse } from '../../types/api.js';
import { InvalidParameterError } from '../../errors.js';
import { runCommand } from '../../util/exec.js';

/** Runs `ps <psArgs>` and keeps the rows whose PID column is one of `pids`, as dockerd does. */
export async function psTop(pids: Set<number>, psArgs: string): Promise<ContainerTopResponse> {
  const args = psArgs.split(/\s+/).filter(Boolean);
  if (args.some((a) => !/^[\w,=:%-]+$/.test(a))) throw new InvalidParameterError(`invalid ps arguments: ${psArgs}`);
  let stdout: string;
  try {
    ({ stdout } = await runCommand('ps', args));
  } catch (err) {
    throw new InvalidParameterError(`Error running ps: ${(err as Error).message}`);
  }
  const lines = stdout.split('\n').filter((l) => l.trim());
  const titles = lines[0].trim().split(/\s+/);
  const pidCol = titles.indexOf('PID');
  if (pidCol < 0) throw new InvalidParameterError(`Couldn't find PID field in ps output`);
  const processes: string[][] = [];
  for (const line of lines.slice(1)) {
    const fields = line.trim().split(/\s+/);
    if (!pids.has(Number(fields[pidCol]))) continue;
    // The last column (command) may contain spaces.
    processes.push([...fields.slice(0, titles.length - 1), fields.slice(titles.length - 1).join(' ')]);
  }
  return { Titles: titles, Processes: processes };
}
