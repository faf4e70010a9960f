// Shared plumbing for berth commands: the context handed to each command, docker-style
// flag parsing on top of commander, and docker's error and exit-code conventions.

import { Client } from '../client/client.js';
import { ApiError, ConnectionError } from '../client/errors.js';

export interface Ctx {
  /** Program name for messages ("berth"). */
  prog: string;
  host: string;
  debug: boolean;
  /** The command words as the user typed them, e.g. "container ls". */
  path: string;
  /** The --config directory, when given (client configuration and credentials). */
  configDir?: string;
  client(): Client;
}

/** Ends the command with this exit status, printing `message` (if any) to stderr. */
export class StatusError extends Error {
  constructor(
    readonly status: number,
    message = '',
  ) {
    super(message);
    this.name = 'StatusError';
  }
}

export interface Spec {
  usage: string; // "[OPTIONS] CONTAINER [CONTAINER...]"
  description: string;
  /** Exact positional count checks, docker's cobra Args. */
  args?: { min?: number; max?: number; exact?: number };
  /** Stop option parsing at the first positional (run, exec, create, top). */
  positional?: boolean;
}

export interface Parsed<O> {
  opts: O;
  args: string[];
}

export function collect(v: string, prev: string[] = []): string[] {
  return [...prev, v];
}

interface FlagDef {
  short?: string;
  long: string; // without dashes, e.g. "no-trunc"
  attr: string; // camelCase attribute, negation stripped ("trunc")
  negated: boolean; // declared as --no-X: attribute X defaults true
  value?: string; // value placeholder; undefined for booleans
  description: string;
  fn?: (v: string, prev: never) => unknown;
  def?: unknown;
  hidden?: boolean;
}

function camel(s: string): string {
  return s.replace(/-([a-z])/g, (_m, c: string) => c.toUpperCase());
}

/**
 * A small flag parser with pflag's (the docker CLI's) semantics: interspersed arguments,
 * --flag=value, -abc short groups, -e VALUE / -eVALUE / -e=VALUE, --bool=false, and "--".
 * (commander costs ~50 ms of start-up for child_process alone, over the CLI's whole budget.)
 */
export class Command {
  readonly flags: FlagDef[] = [];
  private values: Record<string, unknown> = {};
  args: string[] = [];

  constructor(
    readonly name: string,
    readonly spec: Spec,
  ) {}

  /** commander-style declaration: "-f, --filter <filter>", "--no-trunc", "-a, --all". */
  option(flags: string, description: string, fn?: (v: string, prev: never) => unknown, def?: unknown): this {
    const m = /^(?:-([A-Za-z0-9]),?\s*)?--([a-z0-9][a-z0-9-]*)(?:\s+<([^>]+)>)?$/.exec(flags.trim());
    if (!m) throw new Error(`bad flag spec ${flags}`);
    const [, short, long, value] = m;
    const negated = !value && long.startsWith('no-');
    const attr = camel(negated ? long.slice(3) : long);
    this.flags.push({ short, long, attr, negated, value, description, fn, def });
    return this;
  }

  hidden(flags: string, description = ''): this {
    this.option(flags, description);
    this.flags[this.flags.length - 1].hidden = true;
    return this;
  }

  opts(): Record<string, unknown> {
    return this.values;
  }

  private findLong(name: string): { def: FlagDef; invert: boolean } | undefined {
    const d = this.flags.find((f) => f.long === name);
    if (d) return { def: d, invert: false };
    // a declared --no-X also answers to --X[=bool]
    const n = this.flags.find((f) => f.negated && f.long === `no-${name}`);
    return n ? { def: n, invert: true } : undefined;
  }

  private set(def: FlagDef, raw: string | undefined, invert: boolean, shown: string): void {
    if (!def.value) {
      let on = true;
      if (raw !== undefined) {
        const v = raw.toLowerCase();
        if (['true', '1', 't'].includes(v)) on = true;
        else if (['false', '0', 'f'].includes(v)) on = false;
        else throw new FlagError(`invalid argument "${raw}" for "${shown}" flag: strconv.ParseBool: parsing "${raw}": invalid syntax`);
      }
      // --no-X sets X false; --X=true (for a declared --no-X) sets X true
      this.values[def.attr] = def.negated ? (invert ? on : !on) : on;
      return;
    }
    const v = raw as string;
    if (def.fn) this.values[def.attr] = def.fn(v, this.values[def.attr] as never);
    else this.values[def.attr] = v;
  }

  parse(argv: string[]): void {
    this.values = {};
    for (const f of this.flags) {
      if (f.negated) this.values[f.attr] = true;
      else if (f.def !== undefined) this.values[f.attr] = f.def;
    }
    const args: string[] = [];
    let i = 0;
    for (; i < argv.length; i++) {
      const a = argv[i];
      if (a === '--') {
        args.push(...argv.slice(i + 1));
        break;
      }
      if (a.startsWith('--')) {
        const eq = a.indexOf('=');
        const name = eq >= 0 ? a.slice(2, eq) : a.slice(2);
        if (name === 'help') throw new HelpRequested();
        const found = this.findLong(name);
        if (!found) throw new FlagError(`unknown flag: --${name}`);
        const { def, invert } = found;
        let raw: string | undefined = eq >= 0 ? a.slice(eq + 1) : undefined;
        if (def.value && raw === undefined) {
          if (i + 1 >= argv.length) throw new FlagError(`flag needs an argument: --${name}`);
          raw = argv[++i];
        }
        this.set(def, raw, invert, `--${name}`);
        continue;
      }
      if (a.startsWith('-') && a.length > 1) {
        for (let j = 1; j < a.length; j++) {
          const ch = a[j];
          const def = this.flags.find((f) => f.short === ch);
          if (!def) {
            if (ch === 'h' && !this.flags.some((f) => f.short === 'h')) throw new HelpRequested();
            throw new FlagError(`unknown shorthand flag: '${ch}' in ${a}`);
          }
          const shown = `-${ch}, --${def.long}`;
          if (!def.value) {
            if (a[j + 1] === '=') {
              this.set(def, a.slice(j + 2), false, shown);
              break;
            }
            this.set(def, undefined, false, shown);
            continue;
          }
          let raw = a.slice(j + 1);
          if (raw.startsWith('=')) raw = raw.slice(1);
          else if (raw === '') {
            if (i + 1 >= argv.length) throw new FlagError(`flag needs an argument: '${ch}' in -${ch}`);
            raw = argv[++i];
          }
          this.set(def, raw, false, shown);
          break;
        }
        continue;
      }
      args.push(a);
      if (this.spec.positional) {
        args.push(...argv.slice(i + 1));
        break;
      }
    }
    this.args = args;
  }

  /** docker-style help text. */
  help(ctx: Ctx): string {
    const rows = this.flags
      .filter((f) => !f.hidden)
      .map((f) => {
        const long = f.negated && !f.long.startsWith('no-') ? f.long : f.long;
        const left = `${f.short ? `-${f.short}, ` : '    '}--${long}${f.value ? ` ${f.value.split(/\s/)[0]}` : ''}`;
        return [left, f.description + (f.def !== undefined && typeof f.def === 'string' ? ` (default "${f.def}")` : '')];
      });
    rows.push(['    --help', 'Print usage']);
    rows.sort((a, b) => a[0].replace(/^-.,\s*/, '').trim().localeCompare(b[0].replace(/^-.,\s*/, '').trim()));
    const w = Math.max(...rows.map((r) => r[0].length));
    return `\nUsage:  ${ctx.prog} ${ctx.path} ${this.spec.usage}\n\n${this.spec.description}\n\nOptions:\n${rows.map((r) => `  ${r[0].padEnd(w)}   ${r[1]}`).join('\n')}\n`;
  }
}

class FlagError extends Error {}
class HelpRequested extends Error {}

/** Builds a command with docker's flag semantics. */
export function command(ctx: Ctx, spec: Spec): Command {
  return new Command(`${ctx.prog} ${ctx.path}`, spec);
}

function usageError(ctx: Ctx, spec: Spec, message: string): StatusError {
  return new StatusError(
    125,
    `${message}\n\nUsage:  ${ctx.prog} ${ctx.path} ${spec.usage}\n\nRun '${ctx.prog} ${ctx.path} --help' for more information`,
  );
}

/** Parses argv, enforcing docker's argument counts and flag error wording (exit 125). */
export function parse<O>(ctx: Ctx, c: Command, argv: string[]): Parsed<O> {
  const spec = c.spec;
  try {
    c.parse(argv);
  } catch (e) {
    if (e instanceof HelpRequested) {
      process.stdout.write(c.help(ctx));
      throw new StatusError(0);
    }
    if (e instanceof FlagError) throw usageError(ctx, spec, e.message);
    throw e;
  }
  const opts = c.opts() as O;
  const args = c.args;
  const a = spec.args;
  if (a) {
    // docker/cli's required.go words the last line differently per check (its "SRun" included)
    const fail = (what: string, hint = 'Run') =>
      new StatusError(
        1,
        `${ctx.prog}: '${ctx.prog} ${ctx.path}' ${what}\n\nUsage:  ${ctx.prog} ${ctx.path} ${spec.usage}\n\n${hint} '${ctx.prog} ${ctx.path} --help' for more information`,
      );
    const plural = (n: number) => (n === 1 ? 'argument' : 'arguments');
    if (a.exact !== undefined && args.length !== a.exact) throw fail(`requires ${a.exact} ${plural(a.exact)}`);
    if (a.min !== undefined && a.max !== undefined && (args.length < a.min || args.length > a.max)) throw fail(`requires at least ${a.min} and at most ${a.max} ${plural(a.max)}`);
    if (a.min !== undefined && args.length < a.min) throw fail(`requires at least ${a.min} ${a.min === 1 ? 'argument' : 'arguments'}`, 'See');
    if (a.max !== undefined && args.length > a.max) throw fail(a.max === 0 ? 'accepts no arguments' : `requires at most ${a.max} ${a.max === 1 ? 'argument' : 'arguments'}`, a.max === 0 ? 'Run' : 'SRun');
  }
  return { opts, args };
}

/** pflag's error for a flag value it cannot take (exit 125). */
export function invalidFlag(flag: string, value: string, why: string): StatusError {
  return new StatusError(125, `invalid argument "${value}" for "${flag}" flag: ${why}`);
}

/** Docker's wording for an error from the daemon (or from reaching it). */
export function describe(e: unknown): string {
  if (e instanceof ApiError) return `Error response from daemon: ${e.message}`;
  if (e instanceof ConnectionError) return e.message;
  if (e instanceof Error) return e.message;
  return String(e);
}

export function out(s: string): void {
  process.stdout.write(s);
}

export function err(s: string): void {
  process.stderr.write(s);
}

/** Runs `fn` for each name, printing each failure; exits 1 if any failed (docker's multi-target commands). */
export async function forEach(names: string[], fn: (n: string) => Promise<string | void>): Promise<number> {
  const errors: string[] = [];
  for (const n of names) {
    try {
      const r = await fn(n);
      if (r !== undefined) out(r + '\n');
    } catch (e) {
      if (e instanceof StatusError) throw e;
      errors.push(describe(e));
    }
  }
  if (errors.length) throw new StatusError(1, errors.join('\n'));
  return 0;
}

/** Parses --filter k=v values into the API's `{"k":{"v":true}}` JSON. */
export function filtersArg(filters: string[] | undefined): string | undefined {
  if (!filters || !filters.length) return undefined;
  const f: Record<string, Record<string, boolean>> = {};
  for (const s of filters) {
    const i = s.indexOf('=');
    if (i < 0) throw new StatusError(125, `invalid argument "${s}" for "-f, --filter" flag: bad format of filter (expected name=value)`);
    const k = s.slice(0, i).trim().toLowerCase();
    const v = s.slice(i + 1).trim();
    (f[k] ??= {})[v] = true;
  }
  return JSON.stringify(f);
}
