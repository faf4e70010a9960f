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
        // The last waiter gone takes the container's entry with it: a container whose attach was
        // given up and that is then removed without a start must leave nothing here.
        const l = this.waiting.get(id)?.filter((e) => e !== entry);
        if (l?.length) this.waiting.set(id, l);
        else this.waiting.delete(id);
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

  /** Containers with a waiter (none once every attach was connected, failed or cancelled). */
  get size(): number {
    return this.waiting.size;
  }

  fail(id: string, err: Error): void {
    const pending = this.waiting.get(id);
    this.waiting.delete(id);
    for (const resolve of pending ?? []) resolve(err);
  }
}
