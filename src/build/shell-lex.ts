// Variable substitution as Docker's builder does it for ENV, ARG, LABEL, COPY, ADD, WORKDIR,
// USER, EXPOSE, VOLUME, STOPSIGNAL and FROM (RUN, CMD and ENTRYPOINT are left to the shell):
// `$VAR`, `${VAR}`, `${VAR:-default}`, `${VAR-default}`, `${VAR:+alt}`, `${VAR+alt}`,
// `${VAR:?message}`, quotes removed (single quotes literal, double quotes expand), the escape
// character taking the next character literally.
import { InvalidParameterError } from '../errors.js';

export type Env = ReadonlyMap<string, string>;

/** `["A=1", "B=2"]` → a map (later entries win). */
export function envMap(list: readonly string[]): Map<string, string> {
  const m = new Map<string, string>();
  for (const e of list) {
    const eq = e.indexOf('=');
    if (eq < 0) m.set(e, '');
    else m.set(e.slice(0, eq), e.slice(eq + 1));
  }
  return m;
}

class Lexer {
  private pos = 0;
  private readonly words: string[] = [];
  private word = '';
  /** The current word has content (an empty quoted string counts). */
  private inWord = false;

  constructor(
    private readonly src: string,
    private readonly env: Env,
    private readonly escape: string,
    /** Split into words at unquoted whitespace (ProcessWords) or keep one string (ProcessWord). */
    private readonly split: boolean,
  ) {}

  run(): string[] {
    while (this.pos < this.src.length) {
      const ch = this.src[this.pos];
      if (ch === this.escape) {
        this.pos++;
        if (this.pos < this.src.length) this.add(this.src[this.pos++]);
        else this.add(ch);
      } else if (ch === "'") {
        this.singleQuoted();
      } else if (ch === '"') {
        this.doubleQuoted();
      } else if (ch === '$') {
        this.addUnquoted(this.dollar());
      } else {
        this.addUnquoted(ch);
        this.pos++;
      }
    }
    this.endWord();
    return this.words;
  }

  private add(s: string): void {
    this.word += s;
    this.inWord = true;
  }

  /** Unquoted text: whitespace separates words when splitting. */
  private addUnquoted(s: string): void {
    if (!this.split) {
      this.add(s);
      return;
    }
    for (const ch of s) {
      if (/\s/.test(ch)) this.endWord();
      else this.add(ch);
    }
  }

  private endWord(): void {
    if (this.inWord) this.words.push(this.word);
    this.word = '';
    this.inWord = false;
  }

  private singleQuoted(): void {
    const end = this.src.indexOf("'", this.pos + 1);
    if (end < 0) throw new InvalidParameterError('unexpected end of statement while looking for matching single-quote');
    this.add(this.src.slice(this.pos + 1, end));
    this.pos = end + 1;
  }

  private doubleQuoted(): void {
    this.pos++;
    this.inWord = true;
    while (this.pos < this.src.length) {
      const ch = this.src[this.pos];
      if (ch === '"') {
        this.pos++;
        return;
      }
      if (ch === '$') {
        this.add(this.dollar());
        continue;
      }
      if (ch === this.escape && this.pos + 1 < this.src.length) {
        const next = this.src[this.pos + 1];
        // Inside double quotes the escape only takes a quote, a dollar or itself literally.
        if (next === '"' || next === '$' || next === this.escape) {
          this.add(next);
          this.pos += 2;
          continue;
        }
      }
      this.add(ch);
      this.pos++;
    }
    throw new InvalidParameterError('unexpected end of statement while looking for matching double-quote');
  }

  /** At a `$`: the expansion's value (a lone `$` is itself). */
  private dollar(): string {
    this.pos++;
    const ch = this.src[this.pos];
    if (ch === '{') return this.braced();
    const m = /^[A-Za-z_][A-Za-z0-9_]*|^[0-9]/.exec(this.src.slice(this.pos));
    if (!m) return '$';
    this.pos += m[0].length;
    return this.env.get(m[0]) ?? '';
  }

  private braced(): string {
    this.pos++;
    const m = /^[A-Za-z_][A-Za-z0-9_]*|^[0-9]+/.exec(this.src.slice(this.pos));
    if (!m) throw new InvalidParameterError(`missing ':' in substitution`);
    const name = m[0];
    this.pos += name.length;
    if (this.src[this.pos] === '}') {
      this.pos++;
      return this.env.get(name) ?? '';
    }
    const opMatch = /^(:?[-+?])/.exec(this.src.slice(this.pos));
    if (!opMatch) throw new InvalidParameterError(`unsupported modifier (${this.src[this.pos] ?? ''}) in substitution`);
    const op = opMatch[1];
    this.pos += op.length;
    const raw = this.untilBrace();
    const word = new Lexer(raw, this.env, this.escape, false).run().join('');
    const set = this.env.has(name);
    const value = this.env.get(name) ?? '';
    const present = op.startsWith(':') ? value !== '' : set;
    switch (op.replace(':', '')) {
      case '-':
        return present ? value : word;
      case '+':
        return present ? word : '';
      default:
        if (!present) throw new InvalidParameterError(`${name}: ${word || 'is not allowed to be unset'}`);
        return value;
    }
  }

  /** The raw text up to the `}` that closes this expansion (nested `${…}` included). */
  private untilBrace(): string {
    let depth = 0;
    const start = this.pos;
    while (this.pos < this.src.length) {
      const ch = this.src[this.pos];
      if (ch === this.escape) {
        this.pos += 2;
        continue;
      }
      if (ch === '$' && this.src[this.pos + 1] === '{') {
        depth++;
        this.pos += 2;
        continue;
      }
      if (ch === '}') {
        if (depth === 0) {
          this.pos++;
          return this.src.slice(start, this.pos - 1);
        }
        depth--;
      }
      this.pos++;
    }
    throw new InvalidParameterError(`syntax error: missing '}'`);
  }
}

/** One word: expansions and quote removal, whitespace kept. */
export function processWord(word: string, env: Env, escape = '\\'): string {
  return new Lexer(word, env, escape, false).run().join('');
}

/** Several words: as processWord, split at unquoted whitespace (also inside expanded values). */
export function processWords(text: string, env: Env, escape = '\\'): string[] {
  return new Lexer(text, env, escape, true).run();
}
