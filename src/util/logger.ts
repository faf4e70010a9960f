// The daemon's log: leveled lines on stderr, like dockerd's.
export type LogLevel = 'debug' | 'info' | 'warn' | 'error' | 'fatal';
const ORDER: LogLevel[] = ['debug', 'info', 'warn', 'error', 'fatal'];

let threshold = 1;

function write(level: LogLevel, msg: string): void {
  if (ORDER.indexOf(level) < threshold) return;
  process.stderr.write(`time="${new Date().toISOString()}" level=${level} msg=${JSON.stringify(msg)}\n`);
}

export const logger = {
  setLevel(level: LogLevel): void {
    const i = ORDER.indexOf(level);
    if (i < 0) throw new Error(`invalid log level: ${level}`);
    threshold = i;
  },
  debug: (m: string) => write('debug', m),
  info: (m: string) => write('info', m),
  warn: (m: string) => write('warn', m),
  error: (m: string) => write('error', m),
};
