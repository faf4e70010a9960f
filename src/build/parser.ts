// The Dockerfile parser: Docker's line rules (parser directives, comments, line continuations
// with the escape character, heredocs) and each instruction's argument syntax (JSON arrays,
// name=value pairs, whitespace-separated words). Variables are expanded later, per instruction,
// by shell-lex.ts; this file only splits text. Errors name the line, as Docker's do.
import { InvalidParameterError } from '../errors.js';
import { jsonArgs } from './changes.js';

export interface Heredoc {
  /** The terminator word (`EOF`). */
  name: string;
  /** The body, each line with its newline. */
  content: string;
  /** Unquoted terminators expand variables in the body; quoted ones do not. */
  expand: boolean;
}

export interface Node {
  /** The instruction, lower case (`run`). */
  cmd: string;
  /** The instruction as written, continuations joined (what `Step N/M :` prints). */
  original: string;
  /** Leading `--name[=value]` flags. */
  flags: string[];
  /** The arguments as the instruction's syntax splits them. */
  args: string[];
  /** Exec form (a JSON array). */
  json: boolean;
  heredocs: Heredoc[];
  startLine: number;
  endLine: number;
  /** ONBUILD's instruction. */
  next?: Node;
}

export interface Dockerfile {
  nodes: Node[];
  escape: string;
  directives: Record<string, string>;
}

export class DockerfileParseError extends InvalidParameterError {
  constructor(
    readonly line: number,
    detail: string,
  ) {
    super(`dockerfile parse error line ${line}: ${detail}`);
  }
}

type ArgParser = (rest: string, escape: string, line: number) => { args: string[]; json: boolean; next?: Node };

const HEREDOC_INSTRUCTIONS = new Set(['run', 'copy', 'add']);
const DIRECTIVE = /^#[ \t]*([a-zA-Z][a-zA-Z0-9]*)[ \t]*=[ \t]*(.*?)[ \t]*$/;
const KNOWN_DIRECTIVES = new Set(['escape', 'syntax', 'check']);
const HEREDOC_WORD = /<<(-?)(["']?)([A-Za-z_][A-Za-z0-9_.-]*)\2/g;

export function parseDockerfile(text: string): Dockerfile {
  const lines = text.replace(/^\uFEFF/, '').split(/\r?\n/);
  if (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
  const directives: Record<string, string> = {};
  let i = 0;
  // Parser directives come first; the first line that is not one ends them.
  for (; i < lines.length; i++) {
    const m = DIRECTIVE.exec(lines[i]);
    if (!m || !KNOWN_DIRECTIVES.has(m[1].toLowerCase())) break;
    const key = m[1].toLowerCase();
    if (key in directives) throw new DockerfileParseError(i + 1, `only one ${key} parser directive can be used`);
    directives[key] = m[2];
  }
  const escape = directives.escape ?? '\\';
  if (escape !== '\\' && escape !== '`') throw new DockerfileParseError(1, `invalid escape token '${escape}' does not match ^[\\\\\`]$`);
  const continuation = new RegExp(`${escape === '\\' ? '\\\\' : '`'}[ \\t]*$`);
  const nodes: Node[] = [];
  i = 0;
  while (i < lines.length) {
    const startLine = i + 1;
    const first = lines[i++].replace(/^[ \t]+/, '');
    if (first === '' || first.startsWith('#')) continue;
    let logical = first;
    let endLine = startLine;
    while (continuation.test(logical)) {
      logical = logical.replace(continuation, '');
      let joined = false;
      while (i < lines.length) {
        const next = lines[i++];
        const trimmed = next.replace(/^[ \t]+/, '');
        // Comment and empty lines inside a continuation are dropped, as Docker does.
        if (trimmed.startsWith('#') || trimmed.trim() === '') continue;
        logical += next;
        endLine = i;
        joined = true;
        break;
      }
      if (!joined) break;
    }
    const node = parseLine(logical, escape, startLine, endLine);
    if (HEREDOC_INSTRUCTIONS.has(node.cmd) && !node.json) {
      const read = readHeredocs(node, lines, i);
      i = read.next;
      node.endLine = Math.max(node.endLine, read.next);
    }
    nodes.push(node);
  }
  return { nodes, escape, directives };
}

function parseLine(line: string, escape: string, startLine: number, endLine: number): Node {
  const trimmed = line.trim();
  const m = /^(\S+)(?:\s+(.*))?$/s.exec(trimmed);
  const word = m ? m[1] : trimmed;
  const cmd = word.toLowerCase();
  const parser = PARSERS[cmd];
  if (!parser) throw new DockerfileParseError(startLine, `unknown instruction: ${word.toUpperCase()}`);
  const { flags, rest } = extractFlags(m?.[2] ?? '');
  const parsed = parser(rest, escape, startLine);
  return { cmd, original: trimmed, flags, args: parsed.args, json: parsed.json, heredocs: [], startLine, endLine, next: parsed.next };
}

/** Reads the bodies of the `<<EOF` words of a RUN/COPY/ADD from the lines that follow it. */
function readHeredocs(node: Node, lines: string[], from: number): { next: number } {
  let i = from;
  const text = node.args.join(' ');
  for (const m of text.matchAll(HEREDOC_WORD)) {
    const [, dash, quote, name] = m;
    let content = '';
    let closed = false;
    while (i < lines.length) {
      let l = lines[i++];
      if (dash) l = l.replace(/^\t+/, '');
      if (l === name) {
        closed = true;
        break;
      }
      content += `${l}\n`;
    }
    if (!closed) throw new DockerfileParseError(node.startLine, `unterminated heredoc ${name}`);
    node.heredocs.push({ name, content, expand: quote === '' });
  }
  return { next: i };
}

/** Leading `--flag` words (stops at the first other word; a bare `--` ends them too). */
function extractFlags(rest: string): { flags: string[]; rest: string } {
  const flags: string[] = [];
  let r = rest;
  for (;;) {
    const m = /^(--\S*)(?:\s+|$)/.exec(r);
    if (!m) break;
    r = r.slice(m[0].length);
    if (m[1] === '--') break;
    flags.push(m[1].slice(2));
  }
  return { flags, rest: r };
}

const maybeJson: ArgParser = (rest) => {
  const json = jsonArgs(rest);
  if (json) return { args: json, json: true };
  const t = rest.trim();
  return { args: t === '' ? [] : [t], json: false };
};

const maybeJsonToList: ArgParser = (rest, escape) => {
  const json = jsonArgs(rest);
  if (json) return { args: json, json: true };
  return { args: splitWords(rest, escape), json: false };
};

const whole: ArgParser = (rest) => {
  const t = rest.trim();
  return { args: t === '' ? [] : [t], json: false };
};

const whitespaceWords: ArgParser = (rest) => ({ args: rest.trim().split(/\s+/).filter(Boolean), json: false });

/** ENV/LABEL: `k=v k2="v 2"` (quotes kept: the lexer removes them) or the legacy `k v`. */
function nameValues(instr: string): ArgParser {
  return (rest, escape, line) => {
    const words = splitWords(rest, escape);
    if (words.length === 0) return { args: [], json: false };
    if (!words[0].includes('=')) {
      const m = /^(\S+)\s+(.*)$/s.exec(rest.trim());
      if (!m) throw new DockerfileParseError(line, `${instr} must have two arguments`);
      return { args: [m[1], m[2]], json: false };
    }
    const args: string[] = [];
    for (const w of words) {
      const eq = w.indexOf('=');
      if (eq < 0) throw new DockerfileParseError(line, `Syntax error - can't find = in "${w}". Must be of the form: name=value`);
      args.push(w.slice(0, eq), w.slice(eq + 1));
    }
    return { args, json: false };
  };
}

const healthcheck: ArgParser = (rest) => {
  const t = rest.trim();
  const m = /^(\S+)(?:\s+(.*))?$/s.exec(t);
  if (!m) return { args: [], json: false };
  const typ = m[1].toUpperCase();
  if (typ === 'NONE') return { args: ['NONE', ...(m[2] ? [m[2]] : [])], json: false };
  const inner = maybeJson(m[2] ?? '', '\\', 0);
  return { args: [typ, ...inner.args], json: inner.json };
};

const onbuild: ArgParser = (rest, escape, line) => {
  const t = rest.trim();
  if (t === '') return { args: [], json: false };
  const next = parseLine(t, escape, line, line);
  return { args: [t], json: false, next };
};

const PARSERS: Record<string, ArgParser> = {
  from: whitespaceWords,
  expose: whitespaceWords,
  run: maybeJson,
  cmd: maybeJson,
  entrypoint: maybeJson,
  shell: maybeJson,
  add: maybeJsonToList,
  copy: maybeJsonToList,
  volume: maybeJsonToList,
  env: nameValues('ENV'),
  label: nameValues('LABEL'),
  arg: whitespaceWords,
  maintainer: whole,
  workdir: whole,
  user: whole,
  stopsignal: whole,
  healthcheck,
  onbuild,
};

/**
 * Docker's parseWords: whitespace separates words except inside quotes or after the escape
 * character; quotes and escapes stay in the words.
 */
export function splitWords(rest: string, escape: string): string[] {
  const words: string[] = [];
  let word = '';
  let quote = '';
  let blank = true;
  for (let i = 0; i < rest.length; i++) {
    const ch = rest[i];
    if (blank) {
      if (/\s/.test(ch)) continue;
      blank = false;
    }
    if (!quote && /\s/.test(ch)) {
      words.push(word);
      word = '';
      blank = true;
      continue;
    }
    if (ch === escape && i + 1 < rest.length) {
      word += ch + rest[++i];
      continue;
    }
    if (quote) {
      if (ch === quote) quote = '';
    } else if (ch === '"' || ch === "'") {
      quote = ch;
    }
    word += ch;
  }
  if (!blank) words.push(word);
  return words;
}
