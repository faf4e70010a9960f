// JSON as Go's encoding/json writes it, so archives Berth writes are byte-for-byte what dockerd
// writes for the same image: compact, map keys sorted by bytes, HTML-sensitive characters escaped,
// times in RFC 3339 with trailing fractional zeros trimmed.

/** Go's json.Marshal escaping on top of JSON.stringify (same output for everything else). */
export function goEscape(json: string): string {
  return json.replace(/[<>&\u2028\u2029]/g, (c) => '\\u' + c.charCodeAt(0).toString(16).padStart(4, '0'));
}

/** json.Marshal of a value whose objects are already in the wanted key order. */
export function goMarshal(value: unknown): string {
  return goEscape(JSON.stringify(value));
}

/** Go sorts map keys by their UTF-8 bytes. */
export function sortedKeys(obj: Record<string, unknown>): string[] {
  return Object.keys(obj).sort((a, b) => Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8')));
}

/** A copy of a string-keyed map with its keys in Go's order (JSON.stringify keeps insertion order). */
export function goMap<T>(obj: Record<string, T>): Record<string, T> {
  const out: Record<string, T> = {};
  for (const k of sortedKeys(obj)) out[k] = obj[k];
  return out;
}

const RFC3339 = /^(\d{4}-\d{2}-\d{2})[Tt](\d{2}:\d{2}:\d{2})(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/;

/**
 * A time.Time round trip (parse, then MarshalJSON): fraction trimmed of trailing zeros and cut
 * to nanoseconds, a zero offset written as "Z". Undefined when Go would not parse it.
 */
export function goTime(s: string): string | undefined {
  const m = RFC3339.exec(s);
  if (!m) return undefined;
  const frac = (m[3] ?? '').slice(0, 10).replace(/0+$/, '').replace(/^\.$/, '');
  const zone = m[4].toUpperCase() === 'Z' || m[4] === '+00:00' || m[4] === '-00:00' ? 'Z' : m[4];
  return `${m[1]}T${m[2]}${frac}${zone}`;
}

/** Whole seconds since the epoch of an RFC 3339 time (what a tar header's mtime holds), or 0. */
export function unixSeconds(s: string | undefined): number {
  if (!s) return 0;
  const m = RFC3339.exec(s);
  if (!m) return 0;
  const ms = Date.parse(`${m[1]}T${m[2]}${m[4].toUpperCase()}`);
  return Number.isFinite(ms) && ms > 0 ? Math.floor(ms / 1000) : 0;
}
