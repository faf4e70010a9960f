// Small formatting helpers for the page.

const UNITS = ['B', 'kB', 'MB', 'GB', 'TB'];

/** Docker's decimal sizes, three significant digits: 1982256 → "1.98 MB". */
export function size(bytes: number): string {
  let v = bytes;
  let i = 0;
  while (v >= 1000 && i < UNITS.length - 1) {
    v /= 1000;
    i++;
  }
  const s = i === 0 ? String(v) : v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2);
  return `${s} ${UNITS[i]}`;
}

export function esc(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

export function short(id: string): string {
  return id.replace(/^sha256:/, '').slice(0, 12);
}

/** A size class 0..5 (log scale) so a layer's thickness hints at its size. */
export function sizeClass(bytes: number): number {
  if (bytes <= 0) return 0;
  return Math.max(0, Math.min(5, Math.floor(Math.log10(bytes) - 2)));
}

/** A hue class for the i-th layer of a view (legend swatches and origin columns match). */
export function hue(i: number): string {
  return `h${i % 12}`;
}
