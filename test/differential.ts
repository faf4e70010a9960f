// The differential harness: one scenario (a list of Engine API requests or docker CLI commands)
// runs against berthd and against a dockerd the test started (own socket, data root, exec root and
// bridge, see peers.ts); every step's answers are compared and the differences listed:
//   - status code, and the media type of the answer
//   - error answers: the message, ids normalised ("No such container: <id>")
//   - JSON answers: the set of keys and the JSON type of every value, recursively (arrays by their
//     first element); values themselves are not compared (ids, times, sizes and paths differ)
//   - streams: multiplexed frames demultiplexed and compared as stdout/stderr text, raw streams as
//     text, JSON-lines streams by the keys of each line
//   - docker CLI steps: exit code, stdout and stderr (ids and durations normalised)
// A difference fails the test unless differential-accepted.ts lists it, with its reason.
//
// HOW TO ADD A SCENARIO (test/differential.test.ts, or a file of your own that imports this one):
//   scenario('volumes: create and inspect', [
//     api('create', 'POST', '/volumes/create', { Name: 'v1' }),
//     api('inspect', 'GET', '/volumes/v1'),
//     api('inspect missing', 'GET', '/volumes/nope'),
//     cli('ls', ['volume', 'ls']),
//   ]);
// A step can save a value of its answer for later steps of the same scenario, per daemon:
//   api('create', 'POST', '/containers/create', { Image: 'busybox' }, { save: { ctr: 'Id' } }),
//   api('start', 'POST', '/containers/{{ctr}}/start'),
// `{{name}}` is replaced in paths, bodies and CLI arguments. A `prepare` step runs a function on
// each daemon (e.g. to find an ambiguous id prefix). Each scenario starts from no containers
// (the harness removes them after each one), with busybox:latest present on both daemons.
// Run the file; a new difference is printed as `scenario / step / where: berth … dockerd …`;
// fix Berth, or add that key to differential-accepted.ts with a reason.
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import type { RunResult } from './harness.js';

/** One daemon as the harness drives it. */
export interface Side {
  name: 'berth' | 'dockerd';
  sock: string;
  docker(args: string[], opts?: { input?: string }): Promise<RunResult>;
}

export type Vars = Record<string, string>;

interface StepBase {
  name: string;
}
export interface ApiStep extends StepBase {
  kind: 'api';
  method: string;
  path: string;
  body?: unknown;
  headers?: Record<string, string>;
  /** vars to set from the JSON answer: { varName: 'Dotted.Path' } */
  save?: Record<string, string>;
  /** How to read a 2xx body: JSON (default), a multiplexed or raw stream, JSON lines, or opaque bytes. */
  read?: 'json' | 'multiplexed' | 'raw' | 'json-lines' | 'bytes';
}
export interface RawStep extends StepBase {
  kind: 'raw';
  /** Bytes sent as they are (malformed HTTP); the status line and body are compared. */
  data: string;
}
export interface CliStep extends StepBase {
  kind: 'cli';
  args: string[];
  input?: string;
  /** var to set from the trimmed stdout */
  saveStdout?: string;
}
export interface PrepareStep extends StepBase {
  kind: 'prepare';
  run: (side: Side, vars: Vars) => Promise<void>;
}
export type Step = ApiStep | RawStep | CliStep | PrepareStep;
export interface Scenario {
  name: string;
  steps: Step[];
}

export function api(name: string, method: string, path: string, body?: unknown, opts: Partial<Omit<ApiStep, 'kind' | 'name' | 'method' | 'path' | 'body'>> = {}): ApiStep {
  return { kind: 'api', name, method, path, body, ...opts };
}
export function cli(name: string, args: string[], opts: { input?: string; saveStdout?: string } = {}): CliStep {
  return { kind: 'cli', name, args, ...opts };
}
export function raw(name: string, data: string): RawStep {
  return { kind: 'raw', name, data };
}
export function prepare(name: string, run: PrepareStep['run']): PrepareStep {
  return { kind: 'prepare', name, run };
}

// ---------------------------------------------------------------- answers

/** What a step produced, reduced to what is compared. */
interface Outcome {
  status?: number;
  mediaType?: string;
  message?: string;
  shape?: unknown;
  text?: Record<string, string>;
  json?: unknown;
}

function fill(s: string, vars: Vars): string {
  return s.replace(/\{\{(\w+)\}\}/g, (m, k: string) => vars[k] ?? m);
}
function fillBody(b: unknown, vars: Vars): unknown {
  if (b === undefined || Buffer.isBuffer(b)) return b;
  if (typeof b === 'string') return fill(b, vars);
  return JSON.parse(fill(JSON.stringify(b), vars));
}

/** Ids, digests and durations out of a text, so that two daemons' texts compare. */
export function normalise(s: string): string {
  return s
    .replace(/sha256:[0-9a-f]{64}/g, '<digest>')
    .replace(/\b[0-9a-f]{64}\b/g, '<id>')
    .replace(/\b[0-9a-f]{12}\b/g, '<id12>')
    .replace(/\d+(\.\d+)? ?(seconds|minutes|hours|ms|s|B|kB|MB)\b/g, '<n $2>');
}

/** The JSON type of every value, keys kept: {"Id":"string","State":{"Running":"boolean"}}. */
export function shapeOf(v: unknown): unknown {
  if (v === null) return 'null';
  if (Array.isArray(v)) return v.length ? [shapeOf(v[0])] : [];
  if (typeof v === 'object') return Object.fromEntries(Object.entries(v as object).map(([k, x]) => [k, shapeOf(x)]));
  return typeof v;
}

function demuxText(buf: Buffer): Record<string, string> {
  const out: Record<string, Buffer[]> = { stdout: [], stderr: [] };
  for (let i = 0; i + 8 <= buf.length; ) {
    const len = buf.readUInt32BE(i + 4);
    (buf[i] === 2 ? out.stderr! : out.stdout!).push(buf.subarray(i + 8, i + 8 + len));
    i += 8 + len;
  }
  return { stdout: normalise(Buffer.concat(out.stdout!).toString()), stderr: normalise(Buffer.concat(out.stderr!).toString()) };
}

function request(sock: string, method: string, path: string, body: unknown, headers: Record<string, string> = {}): Promise<{ status: number; headers: http.IncomingHttpHeaders; raw: Buffer }> {
  return new Promise((resolve, reject) => {
    const h: Record<string, string> = { ...headers };
    let payload: Buffer | undefined;
    if (Buffer.isBuffer(body)) payload = body;
    else if (typeof body === 'string') payload = Buffer.from(body);
    else if (body !== undefined) payload = Buffer.from(JSON.stringify(body));
    if (payload) {
      h['Content-Type'] ??= Buffer.isBuffer(body) ? 'application/x-tar' : 'application/json';
      h['Content-Length'] = String(payload.length);
    }
    const req = http.request({ socketPath: sock, method, path, headers: h, timeout: 60_000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, raw: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`${method} ${path}: no answer in 60 s`)));
    req.on('error', reject);
    req.end(payload);
  });
}

function rawExchange(sock: string, data: string): Promise<string> {
  return new Promise((resolve) => {
    const s = net.connect(sock);
    const chunks: Buffer[] = [];
    s.setTimeout(5000, () => s.destroy());
    s.on('data', (c: Buffer) => chunks.push(c));
    s.on('close', () => resolve(Buffer.concat(chunks).toString()));
    s.on('error', () => undefined);
    s.end(data);
  });
}

function dig(v: unknown, dotted: string): unknown {
  return dotted.split('.').reduce<unknown>((o, k) => (o && typeof o === 'object' ? (o as Record<string, unknown>)[k] : undefined), v);
}

async function runApi(side: Side, step: ApiStep, vars: Vars): Promise<Outcome> {
  const r = await request(side.sock, step.method, fill(step.path, vars), fillBody(step.body, vars), step.headers);
  const mediaType = String(r.headers['content-type'] ?? '').split(';')[0]!.trim() || undefined;
  const out: Outcome = { status: r.status, mediaType };
  const text = r.raw.toString();
  if (r.status >= 400) {
    try {
      out.message = normalise(String((JSON.parse(text) as { message?: unknown }).message));
    } catch {
      out.message = `not JSON: ${normalise(text.trim())}`;
    }
    return out;
  }
  const read = step.read ?? 'json';
  if (step.method === 'HEAD' || r.raw.length === 0) return out;
  if (read === 'json') {
    try {
      out.json = JSON.parse(text);
      out.shape = shapeOf(out.json);
    } catch {
      out.message = `not JSON: ${normalise(text.slice(0, 200))}`;
    }
    for (const [k, p] of Object.entries(step.save ?? {})) {
      const v = dig(out.json, p);
      if (typeof v === 'string') vars[k] = v;
    }
  } else if (read === 'multiplexed') out.text = demuxText(r.raw);
  else if (read === 'raw') out.text = { stream: normalise(text) };
  else if (read === 'json-lines') {
    out.shape = text
      .split('\n')
      .filter((l) => l.trim())
      .map((l) => {
        try {
          return Object.keys(JSON.parse(l) as object).sort().join(',');
        } catch {
          return `not JSON: ${l.slice(0, 80)}`;
        }
      })
      .filter((k, i, all) => all.indexOf(k) === i);
  }
  return out;
}

/** A side's own values (a saved id, a found prefix) written back as `{{name}}` in its texts. */
function unfill(o: Outcome | undefined, vars: Vars): Outcome | undefined {
  if (!o) return o;
  const back = (s: string): string =>
    Object.entries(vars).reduce((t, [k, v]) => (v ? t.replace(new RegExp(`\\b${v.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\b`, 'g'), `{{${k}}}`) : t), s);
  if (o.message) o.message = back(o.message);
  if (o.text) o.text = Object.fromEntries(Object.entries(o.text).map(([k, v]) => [k, back(v)]));
  return o;
}

async function runStep(side: Side, step: Step, vars: Vars): Promise<Outcome | undefined> {
  return unfill(await runStepRaw(side, step, vars), vars);
}

async function runStepRaw(side: Side, step: Step, vars: Vars): Promise<Outcome | undefined> {
  switch (step.kind) {
    case 'api':
      return runApi(side, step, vars);
    case 'raw': {
      const text = await rawExchange(side.sock, step.data);
      const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(text)?.[1] ?? 0);
      return { status };
    }
    case 'cli': {
      const r = await side.docker(step.args.map((a) => fill(a, vars)), { input: step.input });
      if (step.saveStdout) vars[step.saveStdout] = r.stdout.trim();
      return { status: r.code, text: { stdout: normalise(r.stdout), stderr: normalise(r.stderr.replace(/unix:\/\/\S+/g, '<host>')) } };
    }
    case 'prepare':
      await step.run(side, vars);
      return undefined;
  }
}

// ---------------------------------------------------------------- comparing

export interface Difference {
  /** `scenario / step / where`: what differential-accepted.ts lists */
  key: string;
  berth: string;
  dockerd: string;
}

function kindOf(shape: unknown): string {
  if (Array.isArray(shape)) return 'array';
  if (shape && typeof shape === 'object') return 'object';
  return String(shape);
}

function compareShapes(b: unknown, d: unknown, where: string, out: [string, string, string][]): void {
  const kb = kindOf(b);
  const kd = kindOf(d);
  if (kb !== kd) {
    out.push([where, kb, kd]);
    return;
  }
  if (kb === 'object') {
    const ob = b as Record<string, unknown>;
    const od = d as Record<string, unknown>;
    for (const k of new Set([...Object.keys(ob), ...Object.keys(od)])) {
      if (!(k in ob)) out.push([`${where}.${k}`, 'missing', kindOf(od[k])]);
      else if (!(k in od)) out.push([`${where}.${k}`, kindOf(ob[k]), 'missing']);
      else compareShapes(ob[k], od[k], `${where}.${k}`, out);
    }
  } else if (kb === 'array') {
    const ab = b as unknown[];
    const ad = d as unknown[];
    if (ab.length && ad.length) compareShapes(ab[0], ad[0], `${where}[]`, out);
  }
}

function compareOutcomes(b: Outcome, d: Outcome): [string, string, string][] {
  const out: [string, string, string][] = [];
  const field = (k: keyof Outcome): void => {
    const vb = b[k] === undefined ? 'none' : JSON.stringify(b[k]);
    const vd = d[k] === undefined ? 'none' : JSON.stringify(d[k]);
    if (vb !== vd) out.push([k, vb, vd]);
  };
  field('status');
  field('mediaType');
  field('message');
  if (b.text || d.text) {
    for (const k of new Set([...Object.keys(b.text ?? {}), ...Object.keys(d.text ?? {})])) {
      if (b.text?.[k] !== d.text?.[k]) out.push([k, JSON.stringify(b.text?.[k]), JSON.stringify(d.text?.[k])]);
    }
  }
  if (Array.isArray(b.shape) && typeof b.shape[0] === 'string' && b.json === undefined) field('shape');
  else if (b.shape !== undefined || d.shape !== undefined) compareShapes(b.shape, d.shape, 'body', out);
  return out;
}

/** Runs a scenario on both daemons, step by step, and returns every difference. */
export async function runScenario(s: Scenario, berth: Side, dockerd: Side): Promise<Difference[]> {
  const vb: Vars = {};
  const vd: Vars = {};
  const diffs: Difference[] = [];
  for (const step of s.steps) {
    const [ob, od] = [await runStep(berth, step, vb), await runStep(dockerd, step, vd)];
    if (!ob || !od) continue;
    for (const [where, b, d] of compareOutcomes(ob, od)) diffs.push({ key: `${s.name} / ${step.name} / ${where}`, berth: b, dockerd: d });
  }
  return diffs;
}

/** Keys of `accepted` match exactly, or by prefix when they end with `*`. */
export function unaccepted(diffs: Difference[], accepted: { key: string; reason: string }[]): Difference[] {
  return diffs.filter((df) => !accepted.some((a) => (a.key.endsWith('*') ? df.key.startsWith(a.key.slice(0, -1)) : df.key === a.key)));
}

export function assertNoDifferences(diffs: Difference[]): void {
  assert.deepEqual(
    diffs.map((d) => `${d.key}: berth ${d.berth}, dockerd ${d.dockerd}`),
    [],
    'Berth answers differently from dockerd (fix Berth, or list the difference with its reason in test/differential-accepted.ts)',
  );
}
