// Docker's JSON progress stream: the messages pull and push send, in the field order and with
// the progress bar string dockerd renders (its width is 200 columns on the daemon side).
import type { JSONMessage } from '../types/api.js';
import { humanSize } from '../util/units.js';

export type ProgressSink = (msg: JSONMessage) => void;

/** jsonmessage.JSONProgress.String() for a 200-column "terminal", without the time estimate. */
export function progressBar(current: number, total: number): string {
  if (current <= 0 && total <= 0) return '';
  if (total <= 0) return humanSize(current).padStart(8);
  const pct = Math.min(50, Math.floor(Math.floor((current / total) * 100) / 2));
  const bar = `[${'='.repeat(pct)}>${' '.repeat(Math.max(0, 50 - pct))}] `;
  const numbers = current > total ? humanSize(current).padStart(8) : `${humanSize(current).padStart(8)}/${humanSize(total)}`;
  return bar + numbers;
}

/** A message without progress (progress.Message): "Pulling from …", "Digest: …". */
export function message(status: string, id?: string): JSONMessage {
  return id ? { status, id } : { status };
}

/** A per-layer state (progress.Update): carries an empty progressDetail, as Docker's do. */
export function update(id: string, status: string): JSONMessage {
  return { status, progressDetail: {}, id };
}

export function progress(id: string, status: string, current: number, total: number): JSONMessage {
  const detail: { current?: number; total?: number } = {};
  if (current) detail.current = current;
  if (total) detail.total = total;
  const bar = progressBar(current, total);
  return bar ? { status, progressDetail: detail, progress: bar, id } : { status, progressDetail: detail, id };
}

/** Throttles byte counts into progress messages: about one per percent, at most every 100 ms. */
export class ProgressReporter {
  private last = 0;
  private lastAt = 0;

  constructor(
    private readonly sink: ProgressSink,
    private readonly id: string,
    private readonly action: string,
    private readonly total: number,
  ) {}

  report(current: number, force = false): void {
    const now = Date.now();
    const step = this.total > 0 ? this.total / 100 : 512 * 1024;
    if (!force && current - this.last < step && now - this.lastAt < 100) return;
    if (current === this.last && this.lastAt !== 0) return;
    this.last = current;
    this.lastAt = now;
    this.sink(progress(this.id, this.action, current, this.total));
  }
}

/** Docker's short layer id: the first 12 hex digits of a digest. */
export function shortDigest(digest: string): string {
  return digest.replace(/^[a-z0-9]+:/, '').slice(0, 12);
}
