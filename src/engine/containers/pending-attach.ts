// Attach requests for containers that are not running yet: they are connected right after the
// runtime created the container and before it starts, so no output is lost (`docker run`).
import type { AttachStream } from '../../runtime/types.js';

type Waiter = (s: AttachStream | Error) => void;

export class PendingAttaches {
  private readonly waiting = new Map<string, Waiter[]>();

  /** Resolves with a stream once `connect(id)` runs; rejects on `fail(id)` or when `signal` aborts. */
  add(id: string, signal?: AbortSignal): Promise<AttachStream> {
    return new Promise<AttachStream>((resolve, reject) => {
      const entry: Waiter = (s) => (s instanceof Error ? reject(s) : resolve(s));
      this.waiting.set(id, [...(this.waiting.get(id) ?? []), entry]);
      signal?.addEventListener('abort', () => {
        const l = this.waiting.get(id);
        if (l) this.waiting.set(id, l.filter((e) => e !== entry));
        reject(new Error('attach cancelled'));
      });
    });
  }

  /** Connects every waiter of `id` with `attach`. */
  async connect(id: string, attach: () => Promise<AttachStream>): Promise<void> {
    const pending = this.waiting.get(id);
    if (!pending) return;
    this.waiting.delete(id);
    for (const resolve of pending) {
      try {
        resolve(await attach());
      } catch (err) {
        resolve(err as Error);
      }
    }
  }

  fail(id: string, err: Error): void {
    const pending = this.waiting.get(id);
    this.waiting.delete(id);
    for (const resolve of pending ?? []) resolve(err);
  }
}
