// Exit detection: conmon writes `<exit-dir>/<id>` (the decimal exit status; 128+N for death by
// signal N) through a temp file `<id>.XXXXXX` renamed into place, after the container's output has
// been drained and the attach sockets closed. We watch the directory with inotify (fs.watch).
import { watch, type FSWatcher } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';

export interface RawExit {
  exitCode: number;
  finishedAt: Date;
}

export async function readExitFile(file: string): Promise<RawExit | null> {
  let text: string;
  let mtime: Date;
  try {
    const fh = await fs.open(file, 'r');
    try {
      text = await fh.readFile('utf8');
      mtime = (await fh.stat()).mtime;
    } finally {
      await fh.close();
    }
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
  const code = parseInt(text.trim(), 10);
  // conmon writes -1 when it could not tell (e.g. it timed out the container).
  return { exitCode: Number.isFinite(code) ? code : -1, finishedAt: mtime };
}

/** Calls onExit(id) whenever an exit file appears in `dir`. */
export class ExitWatcher {
  private watcher: FSWatcher | null = null;

  constructor(
    private readonly dir: string,
    private readonly onExit: (id: string) => void,
  ) {}

  start(): void {
    if (this.watcher) return;
    this.watcher = watch(this.dir, { persistent: true }, (_event, filename) => {
      if (!filename) return;
      const name = path.basename(filename.toString());
      if (name.includes('.')) return; // conmon's temp file; the rename to <id> follows
      this.onExit(name);
    });
    this.watcher.on('error', () => {
      // The directory went away (exec root wiped): stop quietly; restart() recreates it.
      this.stop();
    });
  }

  stop(): void {
    this.watcher?.close();
    this.watcher = null;
  }
}
