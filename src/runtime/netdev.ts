// Per-interface counters of a process's network namespace, as `docker stats` reports them.
import { promises as fsp } from 'node:fs';

export interface InterfaceStats {
  rx_bytes: number;
  rx_packets: number;
  rx_errors: number;
  rx_dropped: number;
  tx_bytes: number;
  tx_packets: number;
  tx_errors: number;
  tx_dropped: number;
}

/** /proc/<pid>/net/dev read from inside the namespace; loopback is left out, as Docker does. */
export async function readNetworkStats(pid: number): Promise<Record<string, InterfaceStats>> {
  let text: string;
  try {
    text = await fsp.readFile(`/proc/${pid}/net/dev`, 'utf8');
  } catch {
    return {};
  }
  const out: Record<string, InterfaceStats> = {};
  for (const line of text.split('\n').slice(2)) {
    const colon = line.indexOf(':');
    if (colon < 0) continue;
    const name = line.slice(0, colon).trim();
    if (name === 'lo') continue;
    const f = line.slice(colon + 1).trim().split(/\s+/).map(Number);
    out[name] = { rx_bytes: f[0], rx_packets: f[1], rx_errors: f[2], rx_dropped: f[3], tx_bytes: f[8], tx_packets: f[9], tx_errors: f[10], tx_dropped: f[11] };
  }
  return out;
}
