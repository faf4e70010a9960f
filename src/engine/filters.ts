// The `filters` query parameter: JSON of {"key": {"value": true}} (or the legacy {"key": ["value"]}).
import { InvalidParameterError } from '../errors.js';

export type Filters = Map<string, string[]>;

export function parseFilters(raw: string | null | undefined, allowed?: readonly string[]): Filters {
  const out: Filters = new Map();
  if (!raw) return out;
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    throw new InvalidParameterError(`invalid filter: ${raw}`);
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) throw new InvalidParameterError(`invalid filter: ${raw}`);
  for (const [key, value] of Object.entries(parsed as Record<string, unknown>)) {
    if (allowed && !allowed.includes(key)) throw new InvalidParameterError(`invalid filter '${key}'`);
    if (Array.isArray(value)) out.set(key, value.map(String));
    else if (value && typeof value === 'object') out.set(key, Object.keys(value));
    else throw new InvalidParameterError(`invalid filter: ${raw}`);
  }
  return out;
}

export function filterValues(f: Filters, key: string): string[] {
  return f.get(key) ?? [];
}

/** One `label` filter value, "key" or "key=value" (split at the first "="), against an object's labels. */
export function labelMatches(labels: Record<string, string>, filter: string): boolean {
  const eq = filter.indexOf('=');
  if (eq < 0) return filter in labels;
  const key = filter.slice(0, eq);
  return key in labels && labels[key] === filter.slice(eq + 1);
}

/** Docker's `label` filters (every one must match) and `label!` filters (none may). */
export function matchesLabels(labels: Record<string, string>, f: Filters): boolean {
  return filterValues(f, 'label').every((l) => labelMatches(labels, l)) && !filterValues(f, 'label!').some((l) => labelMatches(labels, l));
}

/** A `since`/`until` value: unix seconds, a duration ago ("10m"), or a date; milliseconds since the epoch. */
export function parseTime(s: string): number {
  if (/^\d+(\.\d+)?$/.test(s)) return parseFloat(s) * 1000;
  const rel = /^(\d+)(ns|us|ms|s|m|h)$/.exec(s);
  if (rel) {
    const mult: Record<string, number> = { ns: 1e-6, us: 1e-3, ms: 1, s: 1000, m: 60000, h: 3600000 };
    return Date.now() - parseInt(rel[1], 10) * mult[rel[2]];
  }
  const t = Date.parse(s);
  if (Number.isNaN(t)) throw new InvalidParameterError(`invalid time value: ${s}`);
  return t;
}
