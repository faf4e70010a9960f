// Docker's human-readable sizes, durations, times and ids for the CLI's tables (go-units semantics;
// the sizes and durations themselves are util's, shared with the daemon).

import { humanDuration } from '../../util/duration.js';

export { humanDuration };
export { bytesSize, formatG, humanSize, ramInBytes } from '../../util/units.js';

/** "2 minutes ago" for a unix timestamp in seconds. */
export function since(unixSeconds: number, now = Date.now()): string {
  return `${humanDuration(Math.max(0, now - unixSeconds * 1000))} ago`;
}

function pad2(n: number): string {
  return String(n).padStart(2, '0');
}

/** Go's time.Time.String() for a unix time in local zone: "2006-01-02 15:04:05 -0700 MST". */
export function goTimeString(unixSeconds: number): string {
  const d = new Date(unixSeconds * 1000);
  const off = -d.getTimezoneOffset();
  const sign = off >= 0 ? '+' : '-';
  const abs = Math.abs(off);
  const offStr = `${sign}${pad2(Math.trunc(abs / 60))}${pad2(abs % 60)}`;
  let zone = 'UTC';
  if (off !== 0 || (process.env.TZ && process.env.TZ !== 'UTC')) {
    const part = new Intl.DateTimeFormat('en-US', { timeZoneName: 'short' }).formatToParts(d).find((p) => p.type === 'timeZoneName');
    zone = part?.value ?? offStr;
    if (/^GMT[+-]/.test(zone)) zone = offStr.slice(0, 3) === '+00' ? 'UTC' : offStr.slice(0, 3);
  }
  return `${d.getFullYear()}-${pad2(d.getMonth() + 1)}-${pad2(d.getDate())} ${pad2(d.getHours())}:${pad2(d.getMinutes())}:${pad2(d.getSeconds())} ${offStr} ${zone}`;
}

/** stringid.TruncateID: strip "sha256:" and keep 12 characters. */
export function truncateId(id: string): string {
  const i = id.indexOf(':');
  const s = i >= 0 ? id.slice(i + 1) : id;
  return s.length > 12 ? s.slice(0, 12) : s;
}

/** formatter.Ellipsis: at most `max` characters, the last one "…" when cut. */
export function ellipsis(s: string, max: number): string {
  const chars = [...s];
  if (chars.length <= max) return s;
  if (max <= 1) return chars.slice(0, max).join('');
  return chars.slice(0, max - 1).join('') + '…';
}

/** go-humanize's ParseBytes (dive's --highest-wasted-bytes): "20MB" = 20·10⁶, "20MiB" = 20·2²⁰, "100" = bytes. */
export function parseBytes(s: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([kmgtpe]?)(i?)(b?)\s*$/i.exec(s);
  if (!m) throw new Error(`invalid size: '${s}'`);
  const exp = ' kmgtpe'.indexOf(m[2].toLowerCase() || ' ');
  const base = m[3] ? 1024 : 1000;
  return Math.round(Number(m[1]) * base ** exp);
}
