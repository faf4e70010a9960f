// Every request is checked here, before its handler runs, against the operation moby's schema
// declares for the route (scripts/gen-api.mjs compiles the schema into schema.gen.ts at build time):
// query parameters by type and enum, JSON bodies by Content-Type and schema, filter keys by
// route, archive bodies by their first bytes. What fails is a 400 naming the field.
import type { IncomingMessage } from 'node:http';
import { InvalidParameterError } from '../../errors.js';
import { parseFilters, type Filters } from '../../engine/filters.js';
import { MAX_JSON_BODY, parseJsonBody } from './json.js';
import { requireArchiveBody } from './archive.js';
import { FILTER_KEYS } from './filters.js';
import { parseImageName } from '../../engine/images/names.js';

interface QueryParam {
  type: 'string' | 'integer' | 'boolean' | 'array' | 'number';
  enum?: string[];
}

interface Operation {
  query: Record<string, QueryParam>;
  /** `type` is the Go type dockerd decodes the body into; `go` its shape as Go's decoder names it. */
  body?: { validator: string; type: string; required: boolean; go?: GoShape };
  json?: boolean;
}

interface AjvError {
  instancePath: string;
  keyword: string;
  params: Record<string, unknown>;
  message?: string;
}

/**
 * A body's instance paths (`*` for a list index or map key) → the Go struct holding the value, 0
 * when the step is a struct field (named in Go's field path) or 1 for an index or key (left out),
 * and the value's Go type (scripts/gen-api.mjs).
 */
type GoShape = Record<string, [struct: string, step: 0 | 1, type: string]>;

type Validator = ((data: unknown) => boolean) & { errors?: AjvError[] | null };

interface Schema {
  operations: Record<string, Operation>;
  validators: Record<string, Validator>;
}

/** What the handler gets: the decoded body (when this step read it) and the parsed filters. */
export interface Validated {
  /** Set when the body was read here; `undefined` means it was empty (or is not JSON). */
  body?: unknown;
  bodyRead: boolean;
  filters: Filters;
}

/**
 * Routes whose body must be an archive; /images/create only for an import (fromSrc=-), /build
 * only when the context comes in the body (not with `remote`).
 */
const ARCHIVE_BODIES: Record<string, (q: URLSearchParams) => string | undefined> = {
  'POST /images/load': () => 'docker load',
  'PUT /containers/{}/archive': () => 'extracting into the container',
  'POST /images/create': (q) => {
    if (q.get('fromSrc') !== '-') return undefined;
    // A bad target name is a 400 before the body is looked at, as in Docker.
    const repo = q.get('repo');
    if (repo) parseImageName(q.get('tag') ? `${repo}:${q.get('tag')}` : repo);
    return 'import';
  },
  'POST /build': (q) => (q.get('remote') ? undefined : 'build context'),
};

// ~440 KB of generated code: loaded while the engine starts rather than before.
let schema: Promise<Schema> | undefined;
export function loadSchema(): Promise<Schema> {
  schema ??= import('./schema.gen.js').then((m: Record<string, unknown>) => ({ operations: m.operations as Record<string, Operation>, validators: m as unknown as Record<string, Validator> }));
  return schema;
}

/** "/containers/{id}/json" and "/images/{name*}/json" → the schema's "GET /containers/{}/json". */
export function operationKey(method: string, template: string): string {
  return `${method} ${template.replace(/\{[^}]+\}/g, '{}')}`;
}

const INT64_MAX = 2n ** 63n - 1n;

function checkQuery(op: Operation, query: URLSearchParams): void {
  for (const [name, spec] of Object.entries(op.query)) {
    for (const v of query.getAll(name)) {
      if (spec.type === 'integer' && v !== '') {
        if (!/^[+-]?\d+$/.test(v) || BigInt(v) > INT64_MAX || BigInt(v) < -INT64_MAX - 1n) {
          throw new InvalidParameterError(`invalid value for query parameter ${name}: ${JSON.stringify(v)} is not an integer`);
        }
      }
      if (spec.enum && v !== '' && !spec.enum.includes(v)) {
        throw new InvalidParameterError(`invalid value for query parameter ${name}: ${JSON.stringify(v)} (must be one of ${spec.enum.map((e) => JSON.stringify(e)).join(', ')})`);
      }
    }
  }
}

/**
 * dockerd's CheckForJSON: a request with a body must say it is JSON (a missing Content-Type is
 * refused too, as "Content-Type specified () …"); one without a body needs no type. Whether there
 * is a body is what the headers say, as in Go (Content-Length above 0, or a chunked body).
 */
export function checkContentType(req: IncomingMessage): void {
  const ct = req.headers['content-type'] ?? '';
  const length = req.headers['content-length'];
  const hasBody = req.headers['transfer-encoding'] !== undefined || (length !== undefined && length !== '0');
  if (ct === '' && !hasBody) return;
  const mime = ct.split(';')[0].trim().toLowerCase();
  if (mime !== 'application/json') throw new InvalidParameterError(`Content-Type specified (${ct}) must be 'application/json'`);
}

/** JSON bodies dockerd decodes without looking at their Content-Type. */
const ANY_CONTENT_TYPE = new Set(['POST /auth']);

/** Bodies whose Cmd, Entrypoint and Shell are Docker's strslice (a string is a one-element list): a container's config. */
const STRSLICE_BODIES = new Set(['POST /containers/create', 'POST /commit']);

/** The JSON kind Go's decoder names in "cannot unmarshal <kind> into …". */
function jsonKind(v: unknown): string {
  if (Array.isArray(v)) return 'array';
  if (v === null) return 'null';
  if (typeof v === 'object') return 'object';
  if (typeof v === 'number') return `number`;
  return typeof v;
}

/** The Go integer type whose range a bound is (the generator turns formats into bounds). */
const INT_NAMES = new Map<number, string>([
  [0, 'uint'],
  [255, 'uint8'],
  [65535, 'uint16'],
  [4294967295, 'uint32'],
  [18446744073709551615, 'uint64'],
  [127, 'int8'],
  [-128, 'int8'],
  [32767, 'int16'],
  [-32768, 'int16'],
  [2147483647, 'int32'],
  [-2147483648, 'int32'],
]);

const GO_TYPES: Record<string, string> = { integer: 'int64', number: 'float64', string: 'string', boolean: 'bool', array: '[]interface {}', object: 'map[string]interface {}' };

function valueAt(root: unknown, pointer: string): unknown {
  let v = root;
  for (const part of pointer.split('/').slice(1)) {
    const key = part.replace(/~1/g, '/').replace(/~0/g, '~');
    v = v !== null && typeof v === 'object' ? (v as Record<string, unknown>)[key] : undefined;
  }
  return v;
}

/** Where Go's decoder was at a value: the struct holding it, the struct fields on the way, the value's type. */
function goPlace(rootStruct: string, path: string[], shape: GoShape): { struct: string; fields: string[]; type?: string } {
  let at = '';
  let place: { struct: string; fields: string[]; type?: string } = { struct: rootStruct, fields: [] };
  for (const part of path) {
    const exact = shape[`${at}/${part}`];
    at = exact ? `${at}/${part}` : `${at}/*`;
    const step = exact ?? shape[at];
    if (!step) return { ...place, fields: [...place.fields, part], type: undefined };
    place = { struct: step[0], fields: step[1] === 0 ? [...place.fields, part] : place.fields, type: step[2] };
  }
  return place;
}

/**
 * An ajv error in the words of Go's encoding/json (whose messages clients and users know): "json:
 * cannot unmarshal <kind> into Go struct field <Struct>.<field path> of type <type>", where Struct
 * is the innermost struct holding the value and the path names struct fields only (no list indexes
 * or map keys), as dockerd 20.10 answers. `rootType` is the body's Go type (package.Type).
 */
export function describeError(rootType: string, body: unknown, e: AjvError, shape: GoShape = {}): string {
  const path = e.instancePath.split('/').slice(1).map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'));
  const value = valueAt(body, e.instancePath);
  const place = goPlace(rootType.split('.').pop()!, path, shape);
  const field = `${place.struct}.${place.fields.join('.')}`;
  // Berth's own checks (enums, required fields) name the whole path: Go's decoder has no such errors.
  const fullPath = [rootType.split('.').pop(), ...path].join('.');
  switch (e.keyword) {
    case 'type': {
      const want = String(e.params.type).split(',')[0];
      if (path.length === 0) return `json: cannot unmarshal ${jsonKind(value)} into Go value of type ${rootType}`;
      const type = place.type ?? GO_TYPES[want] ?? want;
      // Go quotes the number it could not fit into an integer type (1.5, 1e3), not one given for a string.
      const kind = typeof value === 'number' && want === 'integer' ? `number ${String(value)}` : jsonKind(value);
      return `json: cannot unmarshal ${kind} into Go struct field ${field} of type ${type}`;
    }
    case 'minimum':
    case 'maximum':
      return `json: cannot unmarshal number ${String(value)} into Go struct field ${field} of type ${place.type ?? INT_NAMES.get(Number(e.params.limit)) ?? 'int64'}`;
    case 'enum':
      return `invalid value ${JSON.stringify(value)} for ${fullPath}: must be one of ${(e.params.allowedValues as unknown[]).map((x) => JSON.stringify(x)).join(', ')}`;
    case 'required':
      return `missing required field ${fullPath}.${String(e.params.missingProperty)}`;
    default:
      return `invalid value for ${fullPath}: ${e.message ?? e.keyword}`;
  }
}

const GO_INTEGERS: Record<string, [bigint, bigint]> = {
  int: [-(2n ** 63n), 2n ** 63n - 1n],
  int64: [-(2n ** 63n), 2n ** 63n - 1n],
  int32: [-(2n ** 31n), 2n ** 31n - 1n],
  int16: [-(2n ** 15n), 2n ** 15n - 1n],
  int8: [-128n, 127n],
  uint: [0n, 2n ** 64n - 1n],
  uint64: [0n, 2n ** 64n - 1n],
  uint32: [0n, 2n ** 32n - 1n],
  uint16: [0n, 65535n],
  uint8: [0n, 255n],
  'time.Duration': [-(2n ** 63n), 2n ** 63n - 1n],
};

/**
 * Integer fields given a literal Go's decoder refuses though JavaScript reads it as an integer
 * (`1.0`, `1e3`) or one past the type's range that a double rounds into it: refused in Go's words,
 * with the literal as sent.
 */
function checkIntegerLiterals(rootType: string, numbers: Map<string, string>, shape: GoShape = {}): void {
  for (const [pointer, literal] of numbers) {
    const path = pointer.split('/').slice(1).map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'));
    const place = goPlace(rootType.split('.').pop()!, path, shape);
    const range = place.type ? GO_INTEGERS[place.type] : undefined;
    if (!range) continue;
    const fits = /^-?\d+$/.test(literal) && BigInt(literal) >= range[0] && BigInt(literal) <= range[1];
    if (!fits) throw new InvalidParameterError(`json: cannot unmarshal number ${literal} into Go struct field ${place.struct}.${place.fields.join('.')} of type ${place.type}`);
  }
}

async function readBody(req: IncomingMessage, upgradeBody: Buffer | undefined): Promise<Buffer> {
  if (upgradeBody) return upgradeBody;
  const declared = Number(req.headers['content-length'] ?? 0);
  if (declared > MAX_JSON_BODY) throw new InvalidParameterError(`request body too large: more than ${MAX_JSON_BODY} bytes`);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_JSON_BODY) throw new InvalidParameterError(`request body too large: more than ${MAX_JSON_BODY} bytes`);
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

/**
 * A body sent to a route that takes none is read and dropped before the answer: closing a
 * connection with unread bytes makes the kernel reset it, and the client loses the answer.
 */
async function discardBody(req: IncomingMessage): Promise<void> {
  const declared = Number(req.headers['content-length'] ?? 0);
  if (!(declared > 0) || declared > MAX_JSON_BODY) return;
  for await (const chunk of req) void chunk;
}

/** Streams Docker's Cmd/Entrypoint/Shell as strslice does: a single string is a one-element list. */
function strSlices(body: unknown): void {
  if (body === null || typeof body !== 'object') return;
  const b = body as Record<string, unknown>;
  for (const k of ['Cmd', 'Entrypoint', 'Shell']) if (typeof b[k] === 'string') b[k] = [b[k]];
}

/**
 * Validates one request. `key` is the route's operation key; a route the schema does not know
 * still gets its JSON body bounded and its filters parsed.
 */
export async function validateRequest(key: string, req: IncomingMessage, query: URLSearchParams, upgradeBody?: Buffer): Promise<Validated> {
  const { operations, validators } = await loadSchema();
  const op = operations[key];
  // Before anything else, as dockerd's handlers check it before reading their parameters.
  if (op?.body && op.json !== false && !ANY_CONTENT_TYPE.has(key)) checkContentType(req);
  if (op) checkQuery(op, query);
  const filters = parseFilters(query.get('filters'), FILTER_KEYS[key]);
  const archive = ARCHIVE_BODIES[key]?.(query);
  if (archive) {
    await requireArchiveBody(req, archive);
    return { filters, bodyRead: false };
  }
  if (!op?.body || op.json === false) {
    if (op && !op.body && !upgradeBody) await discardBody(req);
    return { filters, bodyRead: false };
  }
  const raw = await readBody(req, upgradeBody);
  if (raw.toString('utf8').trim() === '') return { filters, bodyRead: true };
  const numbers = new Map<string, string>();
  // Go decodes `null` into a struct as nothing at all: the handler sees an empty body, as dockerd's.
  const body = parseJsonBody(raw, numbers) ?? (op.body.required ? {} : null);
  if (STRSLICE_BODIES.has(key)) strSlices(body);
  const validate = validators[op.body.validator];
  checkIntegerLiterals(op.body.type, numbers, op.body.go);
  if (body !== null && !validate(body)) throw new InvalidParameterError(describeError(op.body.type, body, validate.errors![0], op.body.go));
  return { body, filters, bodyRead: true };
}
