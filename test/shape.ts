// Compares the shape of two JSON answers (dockerd's and Berth's): every key dockerd sends that
// Berth does not, and every place where one sends null, a list or an object and the other does
// not. Values are not compared here (ids, times and paths differ by nature).

export interface ShapeDiff {
  path: string;
  kind: 'missing' | 'type';
  detail: string;
}

function kindOf(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  return typeof v;
}

/** Differences of `theirs` (Berth) against `ours` (dockerd, the reference), under `path`. */
export function shapeDiff(ref: unknown, got: unknown, path = '$', out: ShapeDiff[] = []): ShapeDiff[] {
  const kr = kindOf(ref);
  const kg = kindOf(got);
  if (kr !== kg) {
    out.push({ path, kind: 'type', detail: `dockerd ${kr} ${JSON.stringify(ref)?.slice(0, 60)}, berth ${kg} ${JSON.stringify(got)?.slice(0, 60)}` });
    return out;
  }
  if (kr === 'array') {
    const a = ref as unknown[];
    const b = got as unknown[];
    if (a.length > 0 && b.length > 0) shapeDiff(a[0], b[0], `${path}[0]`, out);
    return out;
  }
  if (kr !== 'object') return out;
  const a = ref as Record<string, unknown>;
  const b = got as Record<string, unknown>;
  for (const k of Object.keys(a)) {
    if (!(k in b)) out.push({ path: `${path}.${k}`, kind: 'missing', detail: `dockerd sends ${JSON.stringify(a[k])?.slice(0, 60)}` });
    else shapeDiff(a[k], b[k], `${path}.${k}`, out);
  }
  return out;
}

/** An explained difference: where (a regexp on the path) and why Berth may differ there. */
export interface Allowed {
  path: RegExp;
  why: string;
}

export function unexplained(diffs: ShapeDiff[], allowed: Allowed[]): ShapeDiff[] {
  return diffs.filter((d) => !allowed.some((a) => a.path.test(d.path)));
}
