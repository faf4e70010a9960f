// A subset of Go's text/template, enough for docker's --format:
// {{.Field.Sub}}, {{$var}}, {{$x := ...}}, pipelines with |, (sub pipelines), if/else if/else,
// range (with $i, $e :=), with, {{- trim -}}, comments, and docker's template functions.

type Node =
  | { t: 'text'; s: string }
  | { t: 'action'; pipe: Pipe }
  | { t: 'if' | 'with'; pipe: Pipe; body: Node[]; alt: Node[] | null }
  | { t: 'range'; pipe: Pipe; body: Node[]; alt: Node[] | null }
  | { t: 'break' | 'continue' };

interface Pipe {
  decl: string[];
  assign: boolean; // '=' rather than ':='
  cmds: Arg[][];
}

type Arg =
  | { t: 'field'; chain: string[] } // .A.B ; [] is dot
  | { t: 'var'; name: string; chain: string[] }
  | { t: 'ident'; name: string }
  | { t: 'lit'; v: unknown }
  | { t: 'pipe'; pipe: Pipe; chain: string[] };

export class TemplateError extends Error {}

const NO_VALUE = Symbol('no value');

// ---------- lexing ----------

interface Token {
  k: 'field' | 'var' | 'ident' | 'str' | 'num' | 'pipe' | 'lp' | 'rp' | 'decl' | 'assign' | 'comma' | 'chain';
  v: string;
}

function lexAction(src: string): Token[] {
  const toks: Token[] = [];
  let i = 0;
  const isIdent = (c: string) => /[A-Za-z0-9_]/.test(c);
  while (i < src.length) {
    const c = src[i];
    if (/\s/.test(c)) {
      i++;
      continue;
    }
    if (c === '|') {
      toks.push({ k: 'pipe', v: c });
      i++;
    } else if (c === '(') {
      toks.push({ k: 'lp', v: c });
      i++;
    } else if (c === ')') {
      toks.push({ k: 'rp', v: c });
      i++;
    } else if (c === ',') {
      toks.push({ k: 'comma', v: c });
      i++;
    } else if (c === ':' && src[i + 1] === '=') {
      toks.push({ k: 'decl', v: ':=' });
      i += 2;
    } else if (c === '=') {
      toks.push({ k: 'assign', v: '=' });
      i++;
    } else if (c === '"') {
      let j = i + 1;
      while (j < src.length && src[j] !== '"') j += src[j] === '\\' ? 2 : 1;
      if (j >= src.length) throw new TemplateError('unterminated quoted string');
      toks.push({ k: 'str', v: JSON.parse(src.slice(i, j + 1).replace(/\\'/g, "'")) as string });
      i = j + 1;
    } else if (c === '`') {
      const j = src.indexOf('`', i + 1);
      if (j < 0) throw new TemplateError('unterminated raw quoted string');
      toks.push({ k: 'str', v: src.slice(i + 1, j) });
      i = j + 1;
    } else if (c === "'") {
      const j = src.indexOf("'", i + 1);
      if (j < 0) throw new TemplateError('unterminated character constant');
      toks.push({ k: 'num', v: String(src.codePointAt(i + 1)) });
      i = j + 1;
    } else if (c === '.' || c === '$') {
      // .A.B or . or $name.A.B; a '.' right after ')' continues a chain
      let j = i + 1;
      while (j < src.length && (isIdent(src[j]) || src[j] === '.')) j++;
      const word = src.slice(i, j);
      const prev = toks[toks.length - 1];
      if (c === '.' && prev && prev.k === 'rp' && i > 0 && src[i - 1] === ')') toks.push({ k: 'chain', v: word });
      else if (c === '.' && /^\.\d/.test(word)) toks.push({ k: 'num', v: word });
      else toks.push({ k: c === '.' ? 'field' : 'var', v: word });
      i = j;
    } else if (/[0-9+-]/.test(c)) {
      let j = i + 1;
      while (j < src.length && /[0-9a-fA-FxXoObB._eE+-]/.test(src[j])) j++;
      toks.push({ k: 'num', v: src.slice(i, j) });
      i = j;
    } else if (isIdent(c)) {
      let j = i + 1;
      while (j < src.length && isIdent(src[j])) j++;
      toks.push({ k: 'ident', v: src.slice(i, j) });
      i = j;
    } else throw new TemplateError(`unexpected "${c}" in command`);
  }
  return toks;
}

function splitChain(word: string): string[] {
  return word.split('.').filter((s) => s !== '');
}

// ---------- parsing ----------

interface RawItem {
  kind: 'text' | 'action';
  s: string;
}

function scan(src: string): RawItem[] {
  const items: RawItem[] = [];
  let i = 0;
  while (i < src.length) {
    const open = src.indexOf('{{', i);
    if (open < 0) {
      items.push({ kind: 'text', s: src.slice(i) });
      break;
    }
    let text = src.slice(i, open);
    let j = open + 2;
    if (src[j] === '-' && /\s/.test(src[j + 1] ?? '')) {
      text = text.replace(/\s+$/, '');
      j += 2;
    }
    if (text) items.push({ kind: 'text', s: text });
    // find the closing braces outside of quotes
    let k = j;
    let q: string | null = null;
    for (; k < src.length; k++) {
      const c = src[k];
      if (q) {
        if (c === '\\' && q === '"') k++;
        else if (c === q) q = null;
      } else if (c === '"' || c === '`') q = c;
      else if (c === '}' && src[k + 1] === '}') break;
    }
    if (k >= src.length) throw new TemplateError('unclosed action');
    let body = src.slice(j, k);
    let end = k + 2;
    let trimRight = false;
    if (/\s-$/.test(body)) {
      body = body.slice(0, -2);
      trimRight = true;
    }
    items.push({ kind: 'action', s: body.trim() });
    i = end;
    if (trimRight) {
      while (i < src.length && /\s/.test(src[i])) i++;
    }
    void end;
  }
  return items;
}

class Parser {
  private pos = 0;
  constructor(private items: RawItem[]) {}

  parseList(stops: string[]): { nodes: Node[]; stop: string; rest: string } {
    const nodes: Node[] = [];
    while (this.pos < this.items.length) {
      const it = this.items[this.pos++];
      if (it.kind === 'text') {
        nodes.push({ t: 'text', s: it.s });
        continue;
      }
      const s = it.s;
      if (s.startsWith('/*')) continue; // comment
      const word = /^[a-z]+/.exec(s)?.[0] ?? '';
      const rest = s.slice(word.length).trim();
      if (stops.includes(word)) return { nodes, stop: word, rest };
      if (word === 'if' || word === 'with' || word === 'range') {
        nodes.push(this.parseControl(word, rest));
      } else if (word === 'break' || word === 'continue') {
        nodes.push({ t: word });
      } else if (word === 'end' || word === 'else') {
        throw new TemplateError(`unexpected {{${word}}}`);
      } else if (word === 'define' || word === 'template' || word === 'block') {
        throw new TemplateError(`{{${word}}} is not supported`);
      } else {
        nodes.push({ t: 'action', pipe: parsePipe(lexAction(s)) });
      }
    }
    if (stops.length) throw new TemplateError('unexpected EOF');
    return { nodes, stop: '', rest: '' };
  }

  private parseControl(word: 'if' | 'with' | 'range', rest: string): Node {
    const pipe = parsePipe(lexAction(rest));
    const body = this.parseList(['end', 'else']);
    let alt: Node[] | null = null;
    if (body.stop === 'else') {
      const r = body.rest;
      if (r.startsWith('if ') || r.startsWith('with ')) {
        // {{else if ...}} is {{else}}{{if ...}}...{{end}} sharing the outer end
        const w = r.startsWith('if ') ? 'if' : 'with';
        alt = [this.parseControl(w, r.slice(w.length).trim())];
      } else {
        alt = this.parseList(['end']).nodes;
      }
    }
    if (word === 'range') return { t: 'range', pipe, body: body.nodes, alt };
    return { t: word, pipe, body: body.nodes, alt };
  }
}

function parsePipe(toks: Token[]): Pipe {
  let pos = 0;
  const pipe: Pipe = { decl: [], assign: false, cmds: [] };
  // declarations: $x := or $i, $e :=
  const declEnd = toks.findIndex((t) => t.k === 'decl' || t.k === 'assign');
  if (declEnd > 0 && toks.slice(0, declEnd).every((t) => t.k === 'var' || t.k === 'comma')) {
    pipe.decl = toks.slice(0, declEnd).filter((t) => t.k === 'var').map((t) => t.v);
    pipe.assign = toks[declEnd].k === 'assign';
    pos = declEnd + 1;
  }
  const parseCmds = (stopAtRp: boolean): Arg[][] => {
    const cmds: Arg[][] = [];
    let cmd: Arg[] = [];
    while (pos < toks.length) {
      const t = toks[pos];
      if (t.k === 'rp') {
        if (!stopAtRp) throw new TemplateError('unexpected right paren');
        break;
      }
      pos++;
      if (t.k === 'pipe') {
        if (!cmd.length) throw new TemplateError('missing command');
        cmds.push(cmd);
        cmd = [];
        continue;
      }
      cmd.push(parseArg(t));
    }
    if (cmd.length) cmds.push(cmd);
    else if (cmds.length) throw new TemplateError('missing command');
    return cmds;
  };
  const parseArg = (t: Token): Arg => {
    switch (t.k) {
      case 'field':
        return { t: 'field', chain: splitChain(t.v) };
      case 'var': {
        const [name, ...chain] = t.v.split('.');
        return { t: 'var', name, chain: chain.filter(Boolean) };
      }
      case 'str':
        return { t: 'lit', v: t.v };
      case 'num': {
        const n = Number(t.v.replace(/_/g, ''));
        if (Number.isNaN(n)) throw new TemplateError(`bad number syntax: "${t.v}"`);
        return { t: 'lit', v: n };
      }
      case 'ident':
        if (t.v === 'true' || t.v === 'false') return { t: 'lit', v: t.v === 'true' };
        if (t.v === 'nil') return { t: 'lit', v: null };
        return { t: 'ident', name: t.v };
      case 'lp': {
        const sub: Pipe = { decl: [], assign: false, cmds: parseCmds(true) };
        if (toks[pos]?.k !== 'rp') throw new TemplateError('unclosed left paren');
        pos++;
        let chain: string[] = [];
        if (toks[pos]?.k === 'chain') chain = splitChain(toks[pos++].v);
        return { t: 'pipe', pipe: sub, chain };
      }
      default:
        throw new TemplateError(`unexpected "${t.v}" in command`);
    }
  };
  pipe.cmds = parseCmds(false);
  if (!pipe.cmds.length) throw new TemplateError('missing value for command');
  return pipe;
}

// ---------- values ----------

export interface ExecOptions {
  /** A missing map key is an error (docker inspect's missingkey=error). */
  strict?: boolean;
  /**
   * Render values as the Go structs docker decodes API objects into: objects print as
   * {v1 v2} in field order unless known to be maps, null slices as [] and null maps as map[].
   */
  typed?: boolean;
}

// Keys whose values are Go maps in the API types; everything else object-shaped is a struct.
const MAP_KEYS = new Set([
  'Labels', 'ExposedPorts', 'Volumes', 'Tmpfs', 'Sysctls', 'StorageOpt', 'PortBindings', 'Ports', 'Networks',
  'DriverOpts', 'Options', 'Details', 'Data', 'Attributes', 'Config', 'EndpointsConfig', 'Plugins', 'Runtimes', 'IndexConfigs',
]);
// Keys whose values are Go pointers (null prints <nil>).
const PTR_KEYS = new Set(['Health', 'Init', 'OomKillDisable', 'MemorySwappiness', 'PidsLimit', 'Error', 'IPAMConfig', 'Platform', 'StopTimeout', 'Healthcheck']);

let typedMode = false;

function nullFor(key: string | undefined): string {
  if (!typedMode || key === undefined) return '<nil>';
  if (PTR_KEYS.has(key)) return '<nil>';
  if (MAP_KEYS.has(key) && key !== 'Config') return 'map[]';
  return '[]';
}

/** Go's %v rendering of a decoded-JSON value. */
export function goString(v: unknown, key?: string): string {
  if (v === NO_VALUE || v === undefined) return '<no value>';
  if (v === null) return nullFor(key);
  if (typeof v === 'string') return v;
  if (typeof v === 'number') return goNumber(v);
  if (typeof v === 'boolean' || typeof v === 'bigint') return String(v);
  if (typeof v === 'function') return goString(v());
  if (Array.isArray(v)) return `[${v.map((x) => goInner(x)).join(' ')}]`;
  if (typeof v === 'object') {
    const o = v as Record<string, unknown>;
    if (typeof o.toString === 'function' && o.toString !== Object.prototype.toString) return o.toString();
    if (typedMode && !(key !== undefined && MAP_KEYS.has(key) && key !== 'Config')) {
      return `{${Object.keys(o).map((k) => (o[k] === null ? nullFor(k) : goInner(o[k], k))).join(' ')}}`;
    }
    const keys = Object.keys(o).filter((k) => typeof o[k] !== 'function').sort();
    return `map[${keys.map((k) => `${k}:${goInner(o[k])}`).join(' ')}]`;
  }
  return String(v);
}

function goInner(v: unknown, key?: string): string {
  return v === undefined || v === null ? '<nil>' : goString(v, key);
}

function goNumber(n: number): string {
  if (Number.isInteger(n) && Math.abs(n) < 1e21) return String(n);
  // Go prints float64 with %v as 'g' with the shortest representation, exponent when < -4 or >= 21
  const s = String(n);
  if (s.includes('e')) {
    const [m, e] = s.split('e');
    const en = Number(e);
    return `${m}e${en < 0 ? '-' : '+'}${String(Math.abs(en)).padStart(2, '0')}`;
  }
  return s;
}

function truthy(v: unknown): boolean {
  if (v === undefined || v === null || v === NO_VALUE) return false;
  if (typeof v === 'boolean') return v;
  if (typeof v === 'number') return v !== 0;
  if (typeof v === 'string') return v.length > 0;
  if (Array.isArray(v)) return v.length > 0;
  if (typeof v === 'object') return Object.keys(v as object).length > 0;
  return true;
}

/** JSON as Go's encoder writes it with HTML escaping off (no trailing newline). */
export function goJSON(v: unknown): string {
  if (v === undefined || v === NO_VALUE) return 'null';
  let s = JSON.stringify(v, (_k, val: unknown) => (typeof val === 'function' ? undefined : val)) ?? 'null';
  if (v && typeof v === 'object' && (v as { __escapeHTML?: boolean }).__escapeHTML) {
    s = s.replace(/</g, '\\u003c').replace(/>/g, '\\u003e').replace(/&/g, '\\u0026');
  }
  return s.replace(/\u2028/g, '\\u2028').replace(/\u2029/g, '\\u2029');
}

function cmp(a: unknown, b: unknown): number {
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  if (typeof a === 'string' && typeof b === 'string') return a < b ? -1 : a > b ? 1 : 0;
  throw new TemplateError('incompatible types for comparison');
}

function eq(a: unknown, ...bs: unknown[]): boolean {
  const norm = (x: unknown) => (x === NO_VALUE || x === undefined ? null : x);
  return bs.some((b) => {
    const x = norm(a);
    const y = norm(b);
    if (x !== null && typeof x === 'object') return JSON.stringify(x) === JSON.stringify(y);
    return x === y;
  });
}

function sprintf(fmt: string, ...args: unknown[]): string {
  let i = 0;
  return fmt.replace(/%([-+# 0]*)(\d*)(?:\.(\d+))?([vsdqfxXtTg%])/g, (_m, flags: string, w: string, prec: string | undefined, verb: string) => {
    if (verb === '%') return '%';
    const a = args[i++];
    let s: string;
    switch (verb) {
      case 'q':
        s = JSON.stringify(goString(a));
        break;
      case 'd':
        s = String(Math.trunc(Number(a)));
        break;
      case 'f':
        s = Number(a).toFixed(prec === undefined ? 6 : Number(prec));
        break;
      case 'g':
        s = goNumber(Number(a));
        break;
      case 'x':
      case 'X':
        s = typeof a === 'number' ? a.toString(16) : Buffer.from(goString(a)).toString('hex');
        if (verb === 'X') s = s.toUpperCase();
        break;
      case 'T':
        s = typeof a === 'string' ? 'string' : typeof a === 'number' ? 'float64' : typeof a === 'boolean' ? 'bool' : Array.isArray(a) ? '[]interface {}' : 'map[string]interface {}';
        break;
      default:
        s = goString(a);
        if (prec !== undefined && verb === 's') s = s.slice(0, Number(prec));
    }
    if (w) {
      const n = Number(w);
      s = flags.includes('-') ? s.padEnd(n) : s.padStart(n, flags.includes('0') && verb !== 's' ? '0' : ' ');
    }
    return s;
  });
}

function titleCase(s: string): string {
  return s.replace(/(^|[^\p{L}\p{N}_'])(\p{L})/gu, (_m, p: string, c: string) => p + c.toUpperCase());
}

type Fn = (...args: unknown[]) => unknown;

export const FUNCS: Record<string, Fn> = {
  // docker's basicFunctions
  json: (v) => goJSON(v),
  split: (s, sep) => goString(s).split(goString(sep)),
  join: (a, sep) => (Array.isArray(a) ? a.map((x) => goString(x)).join(goString(sep)) : goString(a)),
  title: (s) => titleCase(goString(s)),
  lower: (s) => goString(s).toLowerCase(),
  upper: (s) => goString(s).toUpperCase(),
  pad: (s, before, after) => ' '.repeat(Number(before)) + goString(s) + ' '.repeat(Number(after)),
  truncate: (s, n) => {
    const chars = [...goString(s)];
    return chars.length > Number(n) ? chars.slice(0, Number(n)).join('') : goString(s);
  },
  println: (...a) => a.map((x) => goString(x)).join(' ') + '\n',
  // Go builtins
  print: (...a) => a.map((x) => goString(x)).join(''),
  printf: (f, ...a) => sprintf(goString(f), ...a),
  len: (v) => {
    if (typeof v === 'string') return Buffer.byteLength(v);
    if (Array.isArray(v)) return v.length;
    if (v && typeof v === 'object') return Object.keys(v).length;
    throw new TemplateError(`len of ${goString(v)}`);
  },
  index: (v, ...keys) => {
    let cur = v;
    for (const k of keys) {
      if (cur === null || cur === undefined || cur === NO_VALUE) return NO_VALUE;
      if (Array.isArray(cur) || typeof cur === 'string') {
        const n = Number(k);
        if (!Number.isInteger(n) || n < 0 || n >= cur.length) throw new TemplateError(`error calling index: index out of range: ${goString(k)}`);
        cur = cur[n];
      } else if (typeof cur === 'object') {
        const o = cur as Record<string, unknown>;
        cur = Object.prototype.hasOwnProperty.call(o, String(k)) ? o[String(k)] : NO_VALUE;
      } else throw new TemplateError(`can't index item of type ${typeof cur}`);
    }
    return cur;
  },
  slice: (v, ...idx) => {
    const a = v as string | unknown[];
    const from = idx.length > 0 ? Number(idx[0]) : 0;
    const to = idx.length > 1 ? Number(idx[1]) : a.length;
    return a.slice(from, to);
  },
  not: (v) => !truthy(v),
  eq: (a, ...b) => eq(a, ...b),
  ne: (a, b) => !eq(a, b),
  lt: (a, b) => cmp(a, b) < 0,
  le: (a, b) => cmp(a, b) <= 0,
  gt: (a, b) => cmp(a, b) > 0,
  ge: (a, b) => cmp(a, b) >= 0,
  urlquery: (...a) => encodeURIComponent(a.map((x) => goString(x)).join('')),
  html: (...a) => a.map((x) => goString(x)).join('').replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`),
  js: (...a) => JSON.stringify(a.map((x) => goString(x)).join('')).slice(1, -1),
};

// ---------- execution ----------

class BreakSignal {}
class ContinueSignal {}

interface Scope {
  vars: Map<string, unknown>[];
}

function lookupVar(scope: Scope, name: string): unknown {
  for (let i = scope.vars.length - 1; i >= 0; i--) {
    if (scope.vars[i].has(name)) return scope.vars[i].get(name);
  }
  throw new TemplateError(`undefined variable: ${name}`);
}

let strictMode = false;
let rootData: unknown;
let lastKey: string | undefined;

function field(v: unknown, name: string, args: unknown[], last: boolean): unknown {
  lastKey = name;
  if (v === null || v === undefined || v === NO_VALUE) {
    if (strictMode) throw new TemplateError(`executing "" at <.${name}>: nil pointer evaluating interface {}.${name}`);
    return NO_VALUE;
  }
  if (typeof v !== 'object') throw new TemplateError(`can't evaluate field ${name} in type ${typeof v}`);
  const o = v as Record<string, unknown>;
  const has = name in o;
  if (!has && strictMode) {
    // Only the top-level object is a map to docker; nested fields come from Go structs and
    // print their zero value when the daemon omitted them.
    if (v === rootData) throw new TemplateError(`executing "" at <.${name}>: map has no entry for key "${name}"`);
    return null;
  }
  const f = has ? o[name] : NO_VALUE;
  if (typeof f === 'function') return (f as Fn).apply(o, last ? args : []);
  if (last && args.length) throw new TemplateError(`${name} has arguments but cannot be invoked as function`);
  return f;
}

function walkChain(v: unknown, chain: string[], args: unknown[]): unknown {
  let cur = v;
  chain.forEach((name, i) => {
    cur = field(cur, name, args, i === chain.length - 1);
  });
  return cur;
}

export class Template {
  private nodes: Node[];
  constructor(readonly source: string) {
    this.nodes = new Parser(scan(source)).parseList([]).nodes;
  }

  private funcs: Record<string, Fn> = FUNCS;

  execute(data: unknown, funcs: Record<string, Fn> = FUNCS, opts: ExecOptions = {}): string {
    this.funcs = funcs;
    const out: string[] = [];
    const scope: Scope = { vars: [new Map([['$', data]])] };
    const saved = [typedMode, strictMode];
    typedMode = !!opts.typed;
    rootData = data;
    strictMode = !!opts.strict;
    try {
      this.run(this.nodes, data, scope, out);
    } finally {
      [typedMode, strictMode] = saved;
    }
    return out.join('');
  }

  private run(nodes: Node[], dot: unknown, scope: Scope, out: string[]): void {
    for (const n of nodes) {
      switch (n.t) {
        case 'text':
          out.push(n.s);
          break;
        case 'action': {
          lastKey = undefined;
          const v = this.evalPipe(n.pipe, dot, scope);
          const single = n.pipe.cmds.length === 1 && n.pipe.cmds[0].length === 1 && n.pipe.cmds[0][0].t !== 'ident';
          if (!n.pipe.decl.length) out.push(goString(v, single ? lastKey : undefined));
          break;
        }
        case 'if':
        case 'with': {
          scope.vars.push(new Map());
          const v = this.evalPipe(n.pipe, dot, scope);
          if (truthy(v)) this.run(n.body, n.t === 'with' ? v : dot, scope, out);
          else if (n.alt) this.run(n.alt, dot, scope, out);
          scope.vars.pop();
          break;
        }
        case 'range': {
          scope.vars.push(new Map());
          const decl = n.pipe.decl;
          const v = this.evalPipe({ ...n.pipe, decl: [] }, dot, scope);
          let entries: [unknown, unknown][] = [];
          if (Array.isArray(v)) entries = v.map((x, i) => [i, x]);
          else if (typeof v === 'number') entries = Array.from({ length: v }, (_x, i) => [i, i]);
          else if (v && typeof v === 'object') entries = Object.keys(v).sort().map((k) => [k, (v as Record<string, unknown>)[k]]);
          else if (v !== null && v !== undefined && v !== NO_VALUE) throw new TemplateError(`range can't iterate over ${goString(v)}`);
          if (!entries.length) {
            if (n.alt) this.run(n.alt, dot, scope, out);
          } else {
            for (const [k, x] of entries) {
              const frame = scope.vars[scope.vars.length - 1];
              if (decl.length === 1) frame.set(decl[0], x);
              else if (decl.length >= 2) {
                frame.set(decl[0], k);
                frame.set(decl[1], x);
              }
              try {
                this.run(n.body, x, scope, out);
              } catch (e) {
                if (e instanceof BreakSignal) break;
                if (e instanceof ContinueSignal) continue;
                throw e;
              }
            }
          }
          scope.vars.pop();
          break;
        }
        case 'break':
          throw new BreakSignal();
        case 'continue':
          throw new ContinueSignal();
      }
    }
  }

  private evalPipe(p: Pipe, dot: unknown, scope: Scope): unknown {
    let v: unknown = NO_VALUE;
    let first = true;
    for (const cmd of p.cmds) {
      v = this.evalCmd(cmd, dot, scope, first ? undefined : { v });
      first = false;
    }
    if (p.decl.length) {
      const name = p.decl[p.decl.length - 1];
      if (p.assign) {
        for (let i = scope.vars.length - 1; i >= 0; i--) {
          if (scope.vars[i].has(name)) {
            scope.vars[i].set(name, v);
            return v;
          }
        }
        throw new TemplateError(`undefined variable: ${name}`);
      }
      scope.vars[scope.vars.length - 1].set(name, v);
    }
    return v;
  }

  private evalCmd(cmd: Arg[], dot: unknown, scope: Scope, piped?: { v: unknown }): unknown {
    const [head, ...rest] = cmd;
    const args = () => {
      const a = rest.map((x) => this.evalArg(x, dot, scope, []));
      if (piped) a.push(piped.v);
      return a;
    };
    if (head.t === 'ident') {
      const fn = this.funcs[head.name];
      if (!fn) throw new TemplateError(`function "${head.name}" not defined`);
      return fn(...args());
    }
    if (head.t === 'field' || head.t === 'var' || head.t === 'pipe') {
      return this.evalArg(head, dot, scope, args());
    }
    if (rest.length || piped) throw new TemplateError(`can't give argument to non-function ${goString((head as { v: unknown }).v)}`);
    return this.evalArg(head, dot, scope, []);
  }

  private evalArg(a: Arg, dot: unknown, scope: Scope, args: unknown[]): unknown {
    switch (a.t) {
      case 'lit':
        return a.v;
      case 'field':
        return a.chain.length ? walkChain(dot, a.chain, args) : dot;
      case 'var':
        return walkChain(lookupVar(scope, a.name), a.chain, args);
      case 'pipe':
        return walkChain(this.evalPipe(a.pipe, dot, scope), a.chain, args);
      case 'ident': {
        const fn = this.funcs[a.name];
        if (!fn) throw new TemplateError(`function "${a.name}" not defined`);
        return fn();
      }
    }
  }
}

FUNCS.and = (...a) => {
  for (const x of a) if (!truthy(x)) return x;
  return a[a.length - 1];
};
FUNCS.or = (...a) => {
  for (const x of a) if (truthy(x)) return x;
  return a[a.length - 1];
};

/** docker's HeaderFunctions: formatting functions pass the header text through. */
export const HEADER_FUNCS: Record<string, Fn> = { ...FUNCS };
for (const k of ['json', 'split', 'join', 'title', 'lower', 'upper', 'pad', 'truncate']) HEADER_FUNCS[k] = (v) => goString(v);

export { NO_VALUE };
