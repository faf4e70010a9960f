// Docker's human-readable sizes (go-units semantics), shared by the daemon (progress messages,
// logging options) and the CLI (tables, flags).

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

/** Parses "512m", "1g", "1.5GB", "100" (bytes) → bytes (units.RAMInBytes: 1024-based). */
export function ramInBytes(s: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([kmgtp]?)(i?b)?\s*$/i.exec(s);
  if (!m) throw new Error(`invalid size: '${s}'`);
  const mult: Record<string, number> = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4, p: 1024 ** 5 };
  return Math.trunc(Number(m[1]) * mult[m[2].toLowerCase()]);
}

/** units.FromHumanSize: "10m", "1.5GB", "100" → bytes, decimal (1000-based); the logging drivers' max-size. */
export function fromHumanSize(s: string): number {
  const m = /^(\d+(?:\.\d+)?) ?([kmgtp])?i?b?$/i.exec(s);
  if (!m) throw new Error(`invalid size: '${s}'`);
  const mult: Record<string, number> = { '': 1, k: 1e3, m: 1e6, g: 1e9, t: 1e12, p: 1e15 };
  return Math.floor(Number(m[1]) * mult[(m[2] ?? '').toLowerCase()]);
}
