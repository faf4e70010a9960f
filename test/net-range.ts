// A network range for one test or bench daemon, locked against every other daemon the tests and
// benches start on this machine. A leaf module: bench/ uses it without the test harness.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

const PATH = `${process.env['PATH'] ?? ''}:/usr/sbin:/sbin:/usr/local/bin`;

export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return !/^\d+ \(.*\) Z /.test(stat);
  } catch {
    return false;
  }
}

/**
 * A network range of its own for one test or bench daemon: a 10.X.0.0/16 nobody routes and no other test
 * daemon on this machine holds (a lock file per X under /tmp, taken with O_EXCL, its owner's pid
 * inside; a dead owner's lock is taken over), and a bridge name from the same draw.
 */
export class TestNetRange {
  private constructor(
    readonly octet: number,
    readonly bridge: string,
    private readonly lockFile: string,
  ) {}

  static readonly LOCK_DIR = '/tmp/berth-test-nets';

  get bip(): string {
    return `10.${this.octet}.0.1/24`;
  }

  /** The first /24 of the range, for a daemon's default bridge given as a gateway and length. */
  get gateway(): string {
    return `10.${this.octet}.0.1`;
  }

  get pool(): string {
    return `base=10.${this.octet}.0.0/16,size=24`;
  }

  static take(): TestNetRange {
    fs.mkdirSync(TestNetRange.LOCK_DIR, { recursive: true });
    const routed = routedPrefixes();
    for (let attempt = 0; attempt < 400; attempt++) {
      const octet = 100 + Math.floor(Math.random() * 150);
      if (routed.some((r) => r.startsWith(`10.${octet}.`))) continue;
      const lockFile = path.join(TestNetRange.LOCK_DIR, String(octet));
      if (!tryLock(lockFile)) continue;
      const bridge = `bt${octet}${Math.random().toString(16).slice(2, 8)}`;
      return new TestNetRange(octet, bridge, lockFile);
    }
    throw new Error('no free test network range');
  }

  release(): void {
    // Our own default bridge, if a container left it behind (by its unique name only).
    try {
      execFileSync('ip', ['link', 'del', this.bridge], { stdio: 'ignore', env: { ...process.env, PATH } });
    } catch {
      /* not there: the usual case */
    }
    fs.rmSync(this.lockFile, { force: true });
  }
}

function tryLock(file: string): boolean {
  try {
    fs.writeFileSync(file, String(process.pid), { flag: 'wx' });
    return true;
  } catch {
    const owner = Number(fs.readFileSync(file, 'utf8'));
    if (owner && owner !== process.pid && pidAlive(owner)) return false;
    if (owner === process.pid) return false;
    fs.rmSync(file, { force: true });
    try {
      fs.writeFileSync(file, String(process.pid), { flag: 'wx' });
      return true;
    } catch {
      return false;
    }
  }
}

/** Destinations of the host's IPv4 routes and addresses, as text ("10.1.0.0/16"). */
function routedPrefixes(): string[] {
  try {
    const out = execFileSync('ip', ['-4', '-o', 'route', 'show', 'table', 'all'], { encoding: 'utf8', env: { ...process.env, PATH } });
    const addrs = execFileSync('ip', ['-4', '-o', 'addr'], { encoding: 'utf8', env: { ...process.env, PATH } });
    return [...out.split('\n').map((l) => l.split(' ')[0] ?? ''), ...[...addrs.matchAll(/inet (\S+)/g)].map((m) => m[1]!)].filter((x) => /^\d/.test(x));
  } catch {
    return [];
  }
}
