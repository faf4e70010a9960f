// Signal names as Docker accepts them (moby/sys/signal, Linux table).
import { InvalidParameterError } from '../errors.js';

const SIGRTMIN = 34;
const SIGRTMAX = 64;

/** Linux signal numbers by name without the SIG prefix (x86/arm numbering). */
export const SIGNALS: Readonly<Record<string, number>> = Object.freeze(
  (() => {
    const m: Record<string, number> = {
      ABRT: 6,
      ALRM: 14,
      BUS: 7,
      CHLD: 17,
      CLD: 17,
      CONT: 18,
      FPE: 8,
      HUP: 1,
      ILL: 4,
      INT: 2,
      IO: 29,
      IOT: 6,
      KILL: 9,
      PIPE: 13,
      POLL: 29,
      PROF: 27,
      PWR: 30,
      QUIT: 3,
      SEGV: 11,
      STKFLT: 16,
      STOP: 19,
      SYS: 31,
      TERM: 15,
      TRAP: 5,
      TSTP: 20,
      TTIN: 21,
      TTOU: 22,
      URG: 23,
      USR1: 10,
      USR2: 12,
      VTALRM: 26,
      WINCH: 28,
      XCPU: 24,
      XFSZ: 25,
      RTMIN: SIGRTMIN,
      RTMAX: SIGRTMAX,
    };
    for (let i = 1; i <= 15; i++) m[`RTMIN+${i}`] = SIGRTMIN + i;
    for (let i = 1; i <= 14; i++) m[`RTMAX-${i}`] = SIGRTMAX - i;
    return m;
  })(),
);

/**
 * Parses a signal as Docker does: a number ("15"), a name with or without the SIG prefix, in
 * any case ("SIGTERM", "term"). Throws InvalidParameterError("invalid signal: X") otherwise.
 * Unlike Docker, numbers outside 1..64 are refused here rather than later at kill time.
 */
export function parseSignal(raw: string | number): number {
  const s = String(raw);
  if (/^[+-]?\d+$/.test(s)) {
    const n = Number(s);
    if (n < 1 || n > SIGRTMAX) throw new InvalidParameterError(`invalid signal: ${s}`);
    return n;
  }
  let name = s.toUpperCase();
  if (name.startsWith('SIG')) name = name.slice(3);
  const n = Object.prototype.hasOwnProperty.call(SIGNALS, name) ? SIGNALS[name] : undefined;
  if (n === undefined) throw new InvalidParameterError(`invalid signal: ${s}`);
  return n;
}

/** The canonical name ("SIGTERM") of a signal number, or undefined. */
export function signalName(n: number): string | undefined {
  for (const [k, v] of Object.entries(SIGNALS)) {
    if (v === n && k !== 'CLD' && k !== 'IOT' && k !== 'POLL') return 'SIG' + k;
  }
  return undefined;
}
