// berthd gives memory back to the system when it goes quiet. A burst (hundreds of container
// lifecycles, 200 `logs -f` followers) leaves the process at its high-water mark: V8 keeps its
// young generation grown (up to 2 × 16 MB) and, until its next full collection, the garbage whose
// memory is outside its heap (Buffers); glibc keeps what was freed in its arenas instead of
// returning it to the kernel. While nothing allocates, nothing makes V8 collect again, so the RSS
// would stay at the peak for good.
//
// So every `intervalMs` the daemon looks back over the interval (as Chrome's memory reducer waits
// for a low allocation rate): when no request came and the event loop was idle, and the RSS grew
// since the last reclaim, one full GC (which also shrinks the young generation back) and
// malloc_trim(0) (which hands the arenas' free pages back) run, 15–100 ms that a request arriving
// meanwhile waits. The loop alone is not enough: between the requests of back-to-back `docker
// run`s it is idle 95 % of the time, waiting for the runtime.
// `gc` exists when node runs with --expose-gc, as berthd's launcher (its shebang) starts it;
// without it only the trim runs.
import v8 from 'node:v8';
import { performance } from 'node:perf_hooks';
import { libc } from '../util/libc.js';
import { logger } from '../util/logger.js';

export interface IdleMemoryOptions {
  /** How often the loop's utilization is read. */
  intervalMs: number;
  /** The loop counts as idle when it was busy less than this share of an interval. */
  idleBelow: number;
  /** RSS growth since the last reclaim (or start-up) that makes one worth its pause. */
  minGrowthBytes: number;
}

export const IDLE_MEMORY_DEFAULTS: IdleMemoryOptions = { intervalMs: 5000, idleBelow: 0.05, minGrowthBytes: 4 << 20 };

export interface Reclaimed {
  rssBefore: number;
  rssAfter: number;
  /** null: node runs without --expose-gc. */
  gcMs: number | null;
  trimMs: number;
}

export class IdleMemory {
  private timer?: NodeJS.Timeout;
  private elu = performance.eventLoopUtilization();
  private baseline = process.memoryUsage.rss();
  /** Reclaims so far, for the resource dump. */
  reclaims = 0;
  /** The last reclaim left the young generation grown: one more at the next idle interval. */
  private followUp = false;
  private requests: () => number = () => 0;
  private seen = 0;

  constructor(private readonly opts: IdleMemoryOptions = IDLE_MEMORY_DEFAULTS) {}

  /** `requests`: how many requests the daemon received so far (a counter). */
  start(requests: () => number = () => 0): void {
    this.requests = requests;
    this.seen = requests();
    this.timer = setInterval(() => this.tick(), this.opts.intervalMs).unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  /** One check: reclaims when no request came and the loop was idle since the last one, and the RSS grew. */
  tick(): Reclaimed | null {
    const now = performance.eventLoopUtilization();
    const busy = performance.eventLoopUtilization(now, this.elu).utilization;
    this.elu = now;
    const requests = this.requests();
    const quiet = requests === this.seen && busy < this.opts.idleBelow;
    this.seen = requests;
    const rss = process.memoryUsage.rss();
    if (!quiet || (!this.followUp && rss < this.baseline + this.opts.minGrowthBytes)) {
      // A footprint that went down by itself is the new reference.
      this.baseline = Math.min(this.baseline, rss);
      return null;
    }
    const r = reclaim();
    this.reclaims++;
    this.baseline = r.rssAfter;
    // V8 shrinks its young generation at a full GC only when the allocation rate it last measured
    // is low, and it measures from one GC to the next: the first GC after a burst still counts
    // the burst. One more GC an idle interval later sees the quiet and shrinks it.
    this.followUp = !this.followUp && youngGeneration() > YOUNG_SHRUNK;
    // The reclaim's own pause is not load: start the next interval after it.
    this.elu = performance.eventLoopUtilization();
    const mb = (n: number): string => (n / 2 ** 20).toFixed(1);
    logger.debug(`memory: idle, RSS ${mb(r.rssBefore)} → ${mb(r.rssAfter)} MB (gc ${r.gcMs?.toFixed(1) ?? 'unavailable'} ms, malloc_trim ${r.trimMs.toFixed(1)} ms)`);
    return r;
  }
}

/** The young generation's size once V8 shrank it (two semi-spaces of 1 MB at most, plus slack). */
const YOUNG_SHRUNK = 4 << 20;

function youngGeneration(): number {
  return v8.getHeapSpaceStatistics().find((s) => s.space_name === 'new_space')?.physical_space_size ?? 0;
}

let trim: ((pad: number) => number) | undefined;

/** glibc's malloc_trim; a C library without it (musl) gets a no-op rather than a crash in the timer. */
function bindTrim(): (pad: number) => number {
  try {
    return libc().lib.func('int malloc_trim(size_t pad)') as (pad: number) => number;
  } catch (err) {
    logger.debug(`memory: no malloc_trim (${(err as Error).message}): only the GC gives memory back`);
    return () => 0;
  }
}

/** A full GC, then glibc's free pages back to the kernel. */
export function reclaim(): Reclaimed {
  const rssBefore = process.memoryUsage.rss();
  const gc = (globalThis as { gc?: () => void }).gc;
  let t = performance.now();
  // Twice: the first collection frees the objects, but V8 hands the pages it emptied back only
  // at the next one (their sweeping finishes in between). Measured on node 20: 90 MB of heap with
  // 4 MB live stayed at 90 MB after one gc(), came to 37 MB after two.
  if (gc) {
    gc();
    gc();
  }
  const gcMs = gc ? performance.now() - t : null;
  t = performance.now();
  trim ??= bindTrim();
  trim(0);
  return { rssBefore, rssAfter: process.memoryUsage.rss(), gcMs, trimMs: performance.now() - t };
}

/** Where the daemon's memory is, for the SIGUSR1 resource dump (bench/soak.ts prints it). */
export function memoryBreakdown(): Record<string, number> {
  const out: Record<string, number> = { ...process.memoryUsage() };
  for (const s of v8.getHeapSpaceStatistics()) out[`heap.${s.space_name}`] = s.physical_space_size;
  return out;
}
