// ANSI colour for terminal views: on when stdout is a terminal (and NO_COLOR is unset), plain when piped.

export interface Palette {
  dim(s: string): string;
  bold(s: string): string;
  red(s: string): string;
  green(s: string): string;
  yellow(s: string): string;
  blue(s: string): string;
  magenta(s: string): string;
  cyan(s: string): string;
}

const CODES: Record<keyof Palette, number> = { dim: 2, bold: 1, red: 31, green: 32, yellow: 33, blue: 34, magenta: 35, cyan: 36 };

export function palette(on = !!process.stdout.isTTY && !process.env.NO_COLOR): Palette {
  const out = {} as Palette;
  for (const [name, code] of Object.entries(CODES) as [keyof Palette, number][]) out[name] = on ? (s) => `\x1b[${code}m${s}\x1b[0m` : (s) => s;
  return out;
}
