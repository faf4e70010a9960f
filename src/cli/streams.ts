// Terminal and hijacked-stream plumbing shared by run, start, attach and exec.

import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { Duplex } from 'node:stream';
import { configDir } from './registry/config.js';
import type { Client } from '../client/client.js';
import { FrameDecoder, STDERR, STDIN, STDOUT } from '../client/stdcopy.js';

export const DEFAULT_DETACH_KEYS = 'ctrl-p,ctrl-q';

/** --detach-keys, else config.json's `detachKeys` (as the docker CLI reads it), else undefined (the default). */
export function detachKeysFor(ctx: { configDir?: string }, flag: string | undefined): string | undefined {
  if (flag) return flag;
  try {
    const v = (JSON.parse(readFileSync(path.join(configDir(ctx.configDir), 'config.json'), 'utf8')) as { detachKeys?: unknown }).detachKeys;
    return typeof v === 'string' && v !== '' ? v : undefined;
  } catch {
    return undefined;
  }
}

/** Parses docker's detach key spec ("ctrl-p,ctrl-q", "a,ctrl-b") into bytes. */
export function parseDetachKeys(spec: string): number[] {
  const out: number[] = [];
  for (const raw of spec.split(',')) {
    const k = raw.trim().toLowerCase();
    if (k.length === 1) {
      out.push(k.charCodeAt(0));
      continue;
    }
    const m = /^ctrl-(.)$/.exec(k);
    if (!m) throw new Error(`Unknown character: '${raw}'`);
    const c = m[1];
    if (c >= 'a' && c <= 'z') out.push(c.charCodeAt(0) - 96);
    else {
      const special: Record<string, number> = { '@': 0, '[': 27, '\\': 28, ']': 29, '^': 30, _: 31 };
      if (!(c in special)) throw new Error(`Unknown character: '${raw}'`);
      out.push(special[c]);
    }
  }
  return out;
}

/**
 * Watches input for the detach sequence (docker's EscapeProxy): bytes that might start the
 * sequence are held back; a mismatch releases them; a full match reports detach.
 */
export class EscapeProxy {
  private held: number[] = [];
  constructor(private keys: number[]) {}

  /** Returns the bytes to forward and whether the detach sequence completed. */
  push(chunk: Buffer): { data: Buffer; detach: boolean } {
    if (!this.keys.length) return { data: chunk, detach: false };
    const out: number[] = [];
    for (const b of chunk) {
      if (b === this.keys[this.held.length]) {
        this.held.push(b);
        if (this.held.length === this.keys.length) return { data: Buffer.from(out), detach: true };
        continue;
      }
      out.push(...this.held);
      this.held = [];
      if (b === this.keys[0]) this.held.push(b);
      else out.push(b);
    }
    return { data: Buffer.from(out), detach: false };
  }
}

export interface StreamOptions {
  socket: Duplex;
  tty: boolean;
  /** Send local stdin to the connection. */
  stdin: boolean;
  stdout: boolean;
  stderr: boolean;
  detachKeys?: string;
}

export interface StreamResult {
  detached: boolean;
}

/** Copies a hijacked connection to the local stdout/stderr, and stdin to it. */
export function pumpStreams(o: StreamOptions): Promise<StreamResult> {
  return new Promise((resolve, reject) => {
    let finished = false;
    const finish = (r: StreamResult) => {
      if (finished) return;
      finished = true;
      if (o.stdin) {
        process.stdin.off('data', onStdin);
        process.stdin.pause();
      }
      resolve(r);
    };
    const dec = o.tty ? null : new FrameDecoder();
    o.socket.on('data', (chunk: Buffer) => {
      if (!dec) {
        if (o.stdout) process.stdout.write(chunk);
        return;
      }
      let frames;
      try {
        frames = dec.push(chunk);
      } catch (e) {
        finished = true;
        reject(e);
        return;
      }
      for (const f of frames) {
        if ((f.stream === STDOUT || f.stream === STDIN) && o.stdout) process.stdout.write(f.data);
        else if (f.stream === STDERR && o.stderr) process.stderr.write(f.data);
        else if (f.stream === 3) process.stderr.write(f.data);
      }
    });
    o.socket.on('end', () => finish({ detached: false }));
    o.socket.on('close', () => finish({ detached: false }));
    o.socket.on('error', (e: NodeJS.ErrnoException) => {
      if (e.code === 'ECONNRESET' || e.code === 'EPIPE') finish({ detached: false });
      else if (!finished) {
        finished = true;
        reject(e);
      }
    });
    const escape = o.tty && process.stdin.isTTY ? new EscapeProxy(parseDetachKeys(o.detachKeys || DEFAULT_DETACH_KEYS)) : null;
    const onStdin = (chunk: Buffer) => {
      let data = chunk;
      if (escape) {
        const r = escape.push(chunk);
        data = r.data;
        if (data.length) o.socket.write(data);
        if (r.detach) {
          o.socket.destroy();
          finish({ detached: true });
        }
        return;
      }
      o.socket.write(data);
    };
    if (o.stdin) {
      process.stdin.on('data', onStdin);
      process.stdin.once('end', () => {
        // half-close: the daemon sees EOF on the container's stdin, output keeps flowing
        if (!finished) (o.socket as Duplex & { end: () => void }).end();
      });
      process.stdin.resume();
    }
  });
}

export interface TerminalOptions {
  tty: boolean;
  stdin: boolean;
  detachKeys?: string;
  /** Where the terminal's size goes (a container's or an exec's resize route). */
  resizePath: string;
  /** --sig-proxy: the container the CLI's signals are forwarded to. */
  proxySignalsTo?: string;
}

/**
 * attach and exec: the local terminal (raw while a tty is attached, its size sent along) pumped
 * to and from a hijacked connection until it ends or the user detaches; the terminal restored after.
 */
export async function pumpTerminal(client: Client, socket: Duplex, o: TerminalOptions): Promise<StreamResult> {
  const restore = rawMode(o.tty && o.stdin);
  const stopResize = o.tty ? monitorTtySize(client, o.resizePath) : () => {};
  const stopSignals = o.proxySignalsTo !== undefined && !o.tty ? proxySignals(client, o.proxySignalsTo) : () => {};
  try {
    return await pumpStreams({ socket, tty: o.tty, stdin: o.stdin, stdout: true, stderr: true, detachKeys: o.detachKeys });
  } finally {
    restore();
    stopResize();
    stopSignals();
  }
}

/** Puts the local terminal in raw mode; returns a function restoring it. */
export function rawMode(enable: boolean): () => void {
  if (!enable || !process.stdin.isTTY) return () => {};
  process.stdin.setRawMode(true);
  const restore = () => {
    try {
      process.stdin.setRawMode(false);
    } catch {
      // stdin already gone
    }
  };
  process.once('exit', restore);
  return restore;
}

/** Sends the terminal size now and on every SIGWINCH; returns a function that stops. */
export function monitorTtySize(client: Client, path: string): () => void {
  if (!process.stdout.isTTY) return () => {};
  const send = () => {
    const { rows, columns } = process.stdout;
    if (!rows || !columns) return;
    client.post(path, { h: rows, w: columns }).catch(() => {});
  };
  send();
  process.on('SIGWINCH', send);
  return () => process.off('SIGWINCH', send);
}

const PROXIED: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2', 'SIGALRM', 'SIGCONT', 'SIGTSTP', 'SIGTTIN', 'SIGTTOU', 'SIGWINCH'];

/** --sig-proxy: forwards signals received by the CLI to the container. */
export function proxySignals(client: Client, id: string): () => void {
  const handlers = new Map<NodeJS.Signals, () => void>();
  for (const sig of PROXIED) {
    if (sig === 'SIGWINCH') continue;
    const h = () => {
      client.post(`/containers/${encodeURIComponent(id)}/kill`, { signal: sig }).catch(() => {});
    };
    handlers.set(sig, h);
    process.on(sig, h);
  }
  return () => {
    for (const [sig, h] of handlers) process.off(sig, h);
  };
}

/** docker's exit status for a failed start: 126 not executable, 127 not found, else 125. */
export function startFailureStatus(message: string): number {
  if (/executable file not found|no such file or directory|not found in \$PATH/i.test(message)) return 127;
  if (/permission denied|not executable|is a directory/i.test(message)) return 126;
  return 125;
}
