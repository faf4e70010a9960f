// What a shipping logging driver (syslog, fluentd) offers the log pump.
import type { LogEntry } from '../../runtime/types.js';

/** Docker splits lines longer than this into separate messages (its partial-message size). */
export const MAX_MESSAGE = 16 * 1024;

export interface LogSink {
  /**
   * One line without its newline (or a 16 KiB piece of one, `partial` when more of it follows).
   * A promise means "slow down": the pump waits for it before reading on (the container never
   * waits: conmon has already written the line to the spool file).
   */
  write(e: LogEntry, partial: boolean): Promise<void> | void;
  close(): Promise<void>;
}

/** Resolves once `socket` drained, when its last write was buffered beyond its high-water mark. */
export function drained(socket: { once(ev: 'drain' | 'close', f: () => void): unknown }, ok: boolean): Promise<void> | void {
  if (ok) return;
  return new Promise((resolve) => {
    socket.once('drain', resolve);
    socket.once('close', resolve);
  });
}
