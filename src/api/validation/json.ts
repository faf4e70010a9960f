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

export function parseJsonBody(buf: Buffer): unknown {
  if (buf.length > MAX_JSON_BODY) throw new InvalidParameterError(`request body too large: more than ${MAX_JSON_BODY} bytes`);
  const text = buf.toString('utf8');
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new InvalidParameterError(`invalid JSON: ${(err as Error).message}`);
  }
  checkStructure(text);
  return dropNulls(value);
}

/** Nesting depth and duplicate keys, from the tokens (iteratively: no recursion to overflow). */
function checkStructure(text: string): void {
  const tokens = tokenize(text, { ranges: true });
  // One entry per open container: the keys seen so far for an object, null for an array.
  const open: (Set<string> | null)[] = [];
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i];
    if (t.type === 'LBrace' || t.type === 'LBracket') {
      open.push(t.type === 'LBrace' ? new Set() : null);
      if (open.length > MAX_JSON_DEPTH) throw new InvalidParameterError(`invalid JSON: nested deeper than ${MAX_JSON_DEPTH} levels`);
    } else if (t.type === 'RBrace' || t.type === 'RBracket') {
      open.pop();
    } else if (t.type === 'String' && tokens[i + 1]?.type === 'Colon') {
      const keys = open[open.length - 1];
      const [start, end] = t.range!;
      const key = JSON.parse(text.slice(start, end)) as string;
      if (keys?.has(key)) throw new InvalidParameterError(`invalid JSON: duplicate key ${JSON.stringify(key)}`);
      keys?.add(key);
    }
  }
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
