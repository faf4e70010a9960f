// A counting semaphore: at most `limit` transfers at once across all pulls (or pushes) of the
// daemon, like dockerd's --max-concurrent-downloads/--max-concurrent-uploads.
export class Limiter {
  private active = 0;
  private readonly queue: (() => void)[] = [];

  constructor(private readonly limit: number) {}

  /** True when a slot is free right now (the caller reports "Waiting" otherwise). */
  get saturated(): boolean {
    return this.active >= this.limit;
  }

  async run<T>(fn: () => Promise<T>): Promise<T> {
    if (this.active >= this.limit) await new Promise<void>((resolve) => this.queue.push(resolve));
    this.active++;
    try {
      return await fn();
    } finally {
      this.active--;
      this.queue.shift()?.();
    }
  }
}
