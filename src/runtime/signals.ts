import os from 'node:os';
import { InvalidParameterError } from '../errors.js';

const SIGRTMIN = 34;
const SIGRTMAX = 64;

/** "SIGTERM" | "TERM" | "term" | "15" | 15 | "SIGRTMIN+3" -> signal number. */
export function signalNumber(sig: string | number): number {
  let n: number | undefined;
  if (typeof sig === 'number') n = sig;
  else {
    const s = sig.trim().toUpperCase();
    if (/^\d+$/.test(s)) n = Number(s);
    else {
      const name = s.startsWith('SIG') ? s : `SIG${s}`;
      const rt = /^SIGRT(MIN|MAX)([+-]\d+)?$/.exec(name);
      if (rt) n = (rt[1] === 'MIN' ? SIGRTMIN : SIGRTMAX) + Number(rt[2] ?? 0);
      else n = (os.constants.signals as Record<string, number>)[name];
    }
  }
  if (n === undefined || !Number.isInteger(n) || n < 1 || n > SIGRTMAX) {
    throw new InvalidParameterError(`invalid signal: ${String(sig)}`);
  }
  return n;
}
