// Thin wrapper over the OCI runtime's command line (crun / runc), always with our --root.
import { execFile } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import path from 'node:path';
import { SystemError } from '../errors.js';
import type { RuntimeName } from './types.js';

/** An error reported by the OCI runtime or by conmon on its behalf. */
export class OciRuntimeError extends SystemError {
  constructor(
    message: string,
    readonly runtime: string,
    readonly command: string,
  ) {
    super(message);
  }
}

const EXTRA_DIRS = ['/usr/local/sbin', '/usr/local/bin', '/usr/sbin', '/usr/bin', '/sbin', '/bin'];

/** Locate an executable on PATH (plus the usual sbin dirs, which root's PATH may lack). */
export function findBinary(name: string, extra: string[] = []): string | null {
  const dirs = [...(process.env['PATH'] ?? '').split(':').filter(Boolean), ...EXTRA_DIRS, ...extra];
  for (const d of dirs) {
    const p = path.join(d, name);
    try {
      accessSync(p, constants.X_OK);
      return p;
    } catch {
      /* next */
    }
  }
  return null;
}

/** Environment for everything we spawn: nothing of the daemon's (NOTIFY_SOCKET, LISTEN_FDS...) leaks. */
export function childEnv(extra: Record<string, string> = {}): Record<string, string> {
  return { PATH: process.env['PATH'] || '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', ...extra };
}

/**
 * Extract the human message from runtime stderr. runc logs logrus lines like
 *   time="..." level=error msg="container does not exist"
 * crun prints "crun: message" or JSON log records. Keep the error lines, drop the noise.
 */
export function cleanRuntimeMessage(stderr: string): string {
  const lines = stderr.split('\n').map((l) => l.trim()).filter(Boolean);
  const out: string[] = [];
  for (const l of lines) {
    if (l.startsWith('{')) {
      try {
        const j = JSON.parse(l) as { msg?: string; level?: string };
        if (j.msg && (!j.level || j.level === 'error' || j.level === 'fatal')) out.push(j.msg);
        continue;
      } catch {
        /* plain text */
      }
    }
    const m = /level=(\w+)\s+msg="((?:[^"\\]|\\.)*)"/.exec(l);
    if (m) {
      if (m[1] === 'error' || m[1] === 'fatal') out.push(m[2]!.replace(/\\"/g, '"').replace(/\\\\/g, '\\'));
      continue;
    }
    out.push(l.replace(/^(crun|runc): /, ''));
  }
  // runc prints the same error twice (logrus + plain); keep each once.
  return [...new Set(out)].join('; ');
}

export class OciCli {
  constructor(
    readonly name: RuntimeName,
    public binary: string,
    readonly root: string,
  ) {}

  /** Args that go before the subcommand (conmon gets them as --runtime-arg). */
  globalArgs(): string[] {
    return [`--root=${this.root}`];
  }

  run(args: string[], timeoutMs = 60_000): Promise<string> {
    return new Promise((resolve, reject) => {
      execFile(
        this.binary,
        [...this.globalArgs(), ...args],
        { env: childEnv(), timeout: timeoutMs, maxBuffer: 16 << 20, encoding: 'utf8' },
        (err, stdout, stderr) => {
          if (err) {
            const msg = cleanRuntimeMessage(stderr) || err.message;
            reject(new OciRuntimeError(`${this.name} ${args[0]}: ${msg}`, this.name, args[0] ?? ''));
          } else resolve(stdout);
        },
      );
    });
  }
}
