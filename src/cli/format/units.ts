// Docker's human-readable sizes and durations (go-units semantics).

const DECIMAL = ['B', 'kB', 'MB', 'GB', 'TB', 'PB', 'EB', 'ZB', 'YB'];
const BINARY = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB', 'EiB', 'ZiB', 'YiB'];

/** Go's %.{p}g: shortest of fixed/exponent, trailing zeros removed. */
export function formatG(x: number, precision: number): string {
  if (x === 0) return '0';
  if (!Number.isFinite(x)) return x > 0 ? '+Inf' : x < 0 ? '-Inf' : 'NaN';
  const exp = Math.floor(Math.log10(Math.abs(Number(x.toPrecision(precision)))));
  if (exp < -4 || exp >= precision) {
    const [mant, e] = x.toExponential(precision - 1).split('e');
    const m = mant.includes('.') ? mant.replace(/0+$/, '').replace(/\.$/, '') : mant;
    const en = Number(e);
    return `${m}e${en < 0 ? '-' : '+'}${String(Math.abs(en)).padStart(2, '0')}`;
  }
  const s = x.toFixed(Math.max(0, precision - 1 - exp));
  return s.includes('.') ? s.replace(/0+$/, '').replace(/\.$/, '') : s;
}

function sizeAndUnit(size: number, base: number, units: string[]): [number, string] {
  let i = 0;
  while (size >= base && i < units.length - 1) {
    size /= base;
    i++;
  }
  return [size, units[i]];
}

/** units.HumanSizeWithPrecision: 1982256 → "1.98MB" with precision 3. */
export function humanSize(bytes: number, precision = 4): string {
  const [s, u] = sizeAndUnit(bytes, 1000, DECIMAL);
  return formatG(s, precision) + u;
}

/** units.BytesSize: 1024-based, "%.4g". */
export function bytesSize(bytes: number): string {
  const [s, u] = sizeAndUnit(bytes, 1024, BINARY);
  return formatG(s, 4) + u;
}

import { humanDuration } from '../../util/duration.js';

export { humanDuration };

/** "2 minutes ago" for a unix timestamp in seconds. */
export function since(unixSeconds: number, now = Date.now()): string {
  return `${humanDuration(Math.max(0, now - unixSeconds * 1000))} ago`;
}

/** Parses "512m", "1g", "1.5GB", "100" (bytes) → bytes (units.RAMInBytes: 1024-based). */
export function ramInBytes(s: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([kmgtp]?)(i?b)?\s*$/i.exec(s);
  if (!m) throw new Error(`invalid size: '${s}'`);
  const mult: Record<string, number> = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4, p: 1024 ** 5 };
  return Math.trunc(Number(m[1]) * mult[m[2].toLowerCase()]);
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
