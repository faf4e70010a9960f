// The `filters` query parameter: JSON of {"key": {"value": true}} (or the legacy {"key": ["value"]}).
import { InvalidParameterError } from '../errors.js';

export type Filters = Map<string, string[]>;

export function parseFilters(raw: string | null | undefined, allowed?: string[]): Filters {
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
