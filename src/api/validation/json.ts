// Request bodies decoded as dockerd's Go decoder sees them, with the bounds it lacks: a size
// limit, a nesting limit and no duplicate keys (Go keeps the last silently; a client that sends
// two is confused, and Berth says so). `null` for a field means "not set", as in Go.
import { tokenize } from '@humanwhocodes/momoa';
import { InvalidParameterError } from '../../errors.js';

/** Far above any real create body (an Env of thousands of entries is ~100 KB). */
export const MAX_JSON_BODY = 2 * 1024 * 1024;
/** Docker's deepest body (HostConfig → Mounts → VolumeOptions → DriverConfig → Options) is 6 deep. */
export const MAX_JSON_DEPTH = 64;

/**
 * Maps whose values are `struct{}` in Go: `{"80/tcp": null}` is still an exposed port, so their
 * null values become {} rather than disappearing like a struct field's.
 */
const SET_LIKE = new Set(['ExposedPorts', 'Volumes']);

/**
 * `numbers`, when given, receives the number literals JavaScript reads differently from Go's
 * decoder, by JSON pointer: those with a fraction or an exponent (`1.0`, `1e3` are integers to
 * JavaScript, not to Go) and integers too long for a double to hold exactly.
 */
export function parseJsonBody(buf: Buffer, numbers?: Map<string, string>): unknown {
  if (buf.length > MAX_JSON_BODY) throw new InvalidParameterError(`request body too large: more than ${MAX_JSON_BODY} bytes`);
  const text = buf.toString('utf8');
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new InvalidParameterError(`invalid JSON: ${(err as Error).message}`);
  }
  checkStructure(text, numbers);
  return dropNulls(value);
}

/** Nesting depth and duplicate keys, from the tokens (iteratively: no recursion to overflow); the number literals asked for. */
function checkStructure(text: string, numbers?: Map<string, string>): void {
  const tokens = tokenize(text, { ranges: true });
  // One entry per open container: the keys seen so far for an object (and the current one), or an array's index.
  const open: ({ keys: Set<string>; key?: string } | { index: number })[] = [];
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i];
    if (t.type === 'LBrace' || t.type === 'LBracket') {
      open.push(t.type === 'LBrace' ? { keys: new Set() } : { index: 0 });
      if (open.length > MAX_JSON_DEPTH) throw new InvalidParameterError(`invalid JSON: nested deeper than ${MAX_JSON_DEPTH} levels`);
    } else if (t.type === 'RBrace' || t.type === 'RBracket') {
      open.pop();
    } else if (t.type === 'Comma') {
      const top = open[open.length - 1];
      if (top && 'index' in top) top.index++;
    } else if (t.type === 'String' && tokens[i + 1]?.type === 'Colon') {
      const top = open[open.length - 1];
      const [start, end] = t.range!;
      const key = JSON.parse(text.slice(start, end)) as string;
      if (top && 'keys' in top) {
        if (top.keys.has(key)) throw new InvalidParameterError(`invalid JSON: duplicate key ${JSON.stringify(key)}`);
        top.keys.add(key);
        top.key = key;
      }
    } else if (t.type === 'Number' && numbers) {
      const literal = text.slice(t.range![0], t.range![1]);
      if (/[.eE]/.test(literal) || literal.replace(/^-/, '').length > 15) numbers.set(pointer(open), literal);
    }
  }
}

function pointer(open: ({ key?: string } | { index: number })[]): string {
  return open.map((o) => `/${'index' in o ? o.index : (o.key ?? '').replace(/~/g, '~0').replace(/\//g, '~1')}`).join('');
}

/** Go semantics for null: a struct field set to null is as if absent; a set-like map's entry stays. */
function dropNulls(root: unknown): unknown {
  const stack: unknown[] = [root];
  while (stack.length > 0) {
    const v = stack.pop();
    if (Array.isArray(v)) {
      for (const item of v) if (item !== null && typeof item === 'object') stack.push(item);
    } else if (v !== null && typeof v === 'object') {
      const obj = v as Record<string, unknown>;
      for (const [k, child] of Object.entries(obj)) {
        if (child === null) delete obj[k];
        else if (typeof child === 'object') {
          if (SET_LIKE.has(k) && !Array.isArray(child)) for (const [p, e] of Object.entries(child as Record<string, unknown>)) if (e === null) (child as Record<string, unknown>)[p] = {};
          stack.push(child);
        }
      }
    }
  }
  return root;
}
