// Generates the Engine API's types and request validators from moby's own schema (api/swagger.yaml,
// shipped by Debian's golang-github-docker-docker-dev) plus Berth's overlay of newer API fields
// (src/types/api-overlay.yaml). Run by `npm run build`; the outputs are git-ignored:
//   src/types/engine-api.gen.ts       every definition as a TypeScript interface (json-schema-to-typescript)
//   src/api/validation/schema.gen.ts  ajv's standalone validators for request bodies, compiled here so
//                                     berthd's start-up compiles no schema, and each operation's
//                                     query parameters, keyed by "METHOD /path/{}".
import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import yaml from 'js-yaml';
import Ajv from 'ajv';
import standaloneCode from 'ajv/dist/standalone/index.js';
import { compile } from 'json-schema-to-typescript';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const SWAGGER = process.env.BERTH_SWAGGER ?? '/usr/share/gocode/src/github.com/docker/docker/api/swagger.yaml';
const OVERLAY = path.join(root, 'src/types/api-overlay.yaml');
const TYPES_OUT = path.join(root, 'src/types/engine-api.gen.ts');
const VALIDATORS_OUT = path.join(root, 'src/api/validation/schema.gen.ts');

/** Go's integer formats → JSON Schema bounds (encoding/json refuses a number outside them). */
const INT_RANGES = {
  int8: [-128, 127],
  int16: [-32768, 32767],
  int32: [-2147483648, 2147483647],
  int64: [-9223372036854775808, 9223372036854775807],
  uint8: [0, 255],
  uint16: [0, 65535],
  uint32: [0, 4294967295],
  uint64: [0, 18446744073709551615],
};

function isObject(v) {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/** Objects merge key by key; anything else in the overlay replaces. allOf targets take properties in their last part. */
function merge(target, overlay) {
  for (const [k, v] of Object.entries(overlay)) {
    if (k === 'properties' && Array.isArray(target.allOf) && !target.properties) {
      const last = target.allOf[target.allOf.length - 1];
      last.properties = last.properties ?? {};
      merge(last.properties, v);
    } else if (v === null) delete target[k];
    else if (isObject(v) && isObject(target[k])) merge(target[k], v);
    else target[k] = structuredClone(v);
  }
}

/**
 * Swagger 2.0 schema → plain JSON Schema: vendor keys and examples dropped, Go integer formats as
 * bounds (a bare `integer` is Go's int: 64 bits), `x-go-type` hints kept as Berth's own `goType`
 * annotation for error messages. With `keepDocs` the descriptions stay (for the generated types).
 */
function clean(schema, keepDocs) {
  if (Array.isArray(schema)) return schema.map((s) => clean(s, keepDocs));
  if (!isObject(schema)) return schema;
  const out = {};
  for (const [k, v] of Object.entries(schema)) {
    if (k.startsWith('x-') || k === 'example' || k === 'discriminator') continue;
    if (!keepDocs && k === 'default') continue;
    if (!keepDocs && (k === 'description' || k === 'title' || k === 'readOnly')) continue;
    if (k === 'format') continue;
    // Bounds in the schema document what the daemon checks later (MemorySwappiness is -1 or
    // 0..100 and the docker CLI sends -1); Go's decoder enforces only its types' own ranges.
    if (['minimum', 'maximum', 'exclusiveMinimum', 'exclusiveMaximum', 'minLength', 'maxLength', 'pattern', 'minItems', 'maxItems', 'uniqueItems'].includes(k)) continue;
    if (k === '$ref') out.$ref = v;
    else if (k === 'properties' || k === 'definitions' || k === 'patternProperties') out[k] = Object.fromEntries(Object.entries(v).map(([p, s]) => [p, clean(s, keepDocs)]));
    else if (k === 'enum' || k === 'required' || k === 'type') out[k] = v;
    else out[k] = clean(v, keepDocs);
  }
  // For the types, Swagger's x-nullable is a union with null (Docker sends null for these).
  if (keepDocs && schema['x-nullable'] === true) {
    if (typeof out.type === 'string') out.type = [out.type, 'null'];
    else if (out.$ref) return { anyOf: [{ $ref: out.$ref }, { type: 'null' }] };
  }
  if (schema.type === 'integer' && !keepDocs) {
    const [min, max] = INT_RANGES[schema.format] ?? INT_RANGES.int64;
    if (out.minimum === undefined) out.minimum = min;
    if (out.maximum === undefined) out.maximum = max;
  }
  // Go decodes an absent enum member as the zero value; the schema lists "" where Docker accepts it.
  return out;
}

/** Go's names the schema cannot tell (the overlay's `go` section): inline structs, packages, field types. */
const GO = { structs: {}, packages: {}, types: {} };
function goPackageOf(name) {
  return Object.entries(GO.packages).find(([, names]) => names.includes(name))?.[0];
}

/** A schema that Go decodes into a struct (fields by name), not a map. */
function isStruct(schema) {
  return isObject(schema.properties) || Array.isArray(schema.allOf);
}

function resolve(schema) {
  return schema.$ref ? { name: schema.$ref.split('/').pop(), schema: clean(doc.definitions[schema.$ref.split('/').pop()], false) } : { schema };
}

/** The Go type of a value of this schema, as Go's decoder names it ("[]string", "container.RestartPolicy"). */
function goTypeOf(schema, key) {
  if (GO.types[key]) return GO.types[key];
  const { name, schema: s } = resolve(schema);
  const structName = name ? (GO.structs[name] ?? name) : GO.structs[key];
  if (structName && (isStruct(s) || name || GO.structs[key])) {
    const pkg = goPackageOf(structName);
    if (pkg) return `${pkg}.${structName}`;
    if (isStruct(s) || GO.structs[key]) return `types.${structName}`;
  }
  if (s.type === 'array') return `[]${isObject(s.items) ? goTypeOf(s.items, `${key}.*`) : 'interface {}'}`;
  if (s.type === 'object' && isObject(s.additionalProperties)) return `map[string]${goTypeOf(s.additionalProperties, `${key}.*`)}`;
  if (s.type === 'object') return 'map[string]interface {}';
  // clean() turned the Go format into bounds: read it back from them.
  if (s.type === 'integer') return Object.entries(INT_RANGES).find(([, [min, max]]) => s.minimum === min && s.maximum === max)?.[0] ?? 'int64';
  return { number: 'float64', string: 'string', boolean: 'bool' }[s.type] ?? 'interface {}';
}

/**
 * Go's view of a body, for its decoder's errors: every instance path (`*` for a list index or a map
 * key) → [the struct that holds the value, 0 when the step is a struct field (Go names it in the
 * error's field path) or 1 when it is a list index or map key (Go leaves those out), its Go type].
 * An embedded struct (allOf) keeps its container's name, as Go reports a promoted field.
 */
function goShape(schema, at, struct, def, out, seen = new Set()) {
  if (!isObject(schema)) return out;
  if (schema.$ref) {
    const name = schema.$ref.split('/').pop();
    if (seen.has(name)) return out;
    return goShape(clean(doc.definitions[name], false), at, struct, name, out, new Set([...seen, name]));
  }
  for (const part of schema.allOf ?? []) goShape(part, at, struct, def, out, seen);
  for (const [k, v] of Object.entries(schema.properties ?? {})) goChild(v, `${at}/${k}`, struct, `${def}.${k}`, 0, out, seen);
  if (schema.type === 'array' && isObject(schema.items)) goChild(schema.items, `${at}/*`, struct, `${def}.*`, 1, out, seen);
  if (isObject(schema.additionalProperties)) goChild(schema.additionalProperties, `${at}/*`, struct, `${def}.*`, 1, out, seen);
  return out;
}

/** One step into a body: its entry, then what is inside it (a struct of its own, or more of the same). */
function goChild(schema, at, struct, key, step, out, seen) {
  out[at] = [struct, step, goTypeOf(schema, key)];
  const { name, schema: s } = resolve(schema);
  if (name) {
    if (seen.has(name)) return;
    const inner = isStruct(s) ? (GO.structs[name] ?? name) : struct;
    goShape(s, at, inner, name, out, new Set([...seen, name]));
  } else if (isStruct(s) && GO.structs[key]) goShape(s, at, GO.structs[key], GO.structs[key], out, seen);
  else goShape(s, at, struct, key, out, seen);
}

function routeKey(method, p) {
  return `${method.toUpperCase()} ${p.replace(/\{[^}]+\}/g, '{}')}`;
}

const doc = yaml.load(readFileSync(SWAGGER, 'utf8'));
const overlay = yaml.load(readFileSync(OVERLAY, 'utf8'));
merge(doc.definitions, overlay.definitions ?? {});
Object.assign(GO, overlay.go ?? {});
for (const [key, change] of Object.entries(overlay.operations ?? {})) {
  if (!change.body) continue;
  const [method, p] = key.split(' ');
  const op = Object.entries(doc.paths).find(([q]) => routeKey(method, q) === key)?.[1]?.[method.toLowerCase()];
  const body = op?.parameters?.find((q) => q.in === 'body');
  if (!body) throw new Error(`api-overlay: ${key} has no body to extend (${p})`);
  merge(body.schema, change.body);
}

// Operations: each route's query parameters and JSON body, from the schema and then the overlay.
const operations = {};
const ajv = new Ajv({ code: { source: true, esm: true }, allErrors: false, inlineRefs: false, strict: true, strictTypes: false, strictTuples: false, unicodeRegExp: false });
ajv.addSchema({ $id: 'engine', definitions: clean(doc.definitions, false) });
const bodyIds = {};
let n = 0;
for (const [p, ops] of Object.entries(doc.paths)) {
  for (const [method, op] of Object.entries(ops)) {
    if (method === 'parameters') continue;
    const key = routeKey(method, p);
    const query = {};
    for (const q of op.parameters ?? []) {
      if (q.in !== 'query') continue;
      query[q.name] = { type: q.type, ...(q.enum ? { enum: q.enum } : {}) };
    }
    const entry = { query };
    const body = (op.parameters ?? []).find((q) => q.in === 'body');
    if (body && !(body.schema.type === 'string')) {
      const id = `body${n++}`;
      const schema = JSON.parse(JSON.stringify(clean(body.schema, false)).replaceAll('"#/definitions/', '"engine#/definitions/'));
      ajv.addSchema({ $id: id, ...schema });
      bodyIds[id] = id;
      entry.body = { validator: id, type: body.schema.$ref ? body.schema.$ref.split('/').pop() : (op.operationId ?? 'Body').replace(/^(\w+?)(Create|Update|Start|Connect|Disconnect)$/, '$1$2Request'), required: body.required === true };
      entry.json = (op.consumes ?? ['application/json']).includes('application/json');
      const goType = overlay.operations?.[key]?.goType;
      if (goType) entry.body.type = goType;
      const root = entry.body.type.split('.').pop();
      entry.body.go = goShape(clean(body.schema, false), '', root, body.schema.$ref ? body.schema.$ref.split('/').pop() : root, {});
    }
    operations[key] = entry;
  }
}
for (const [key, change] of Object.entries(overlay.operations ?? {})) {
  operations[key] = operations[key] ?? { query: {} };
  merge(operations[key].query, change.query ?? {});
}

let code = standaloneCode(ajv, bodyIds);
// Node's ES module resolution needs the file extension that ajv's runtime imports leave out.
code = code.replace(/from "ajv\/dist\/runtime\/(\w+)"/g, 'from "ajv/dist/runtime/$1.js"').replace(/require\("ajv\/dist\/runtime\/(\w+)"\)/g, (_m, f) => {
  throw new Error(`gen-api: unexpected CommonJS runtime import ${f}`);
});
mkdirSync(path.dirname(VALIDATORS_OUT), { recursive: true });
writeFileSync(
  VALIDATORS_OUT,
  `// @ts-nocheck\n// GENERATED by scripts/gen-api.mjs from ${SWAGGER} and src/types/api-overlay.yaml: do not edit.\n${code}\n` +
    `export const operations = ${JSON.stringify(operations)};\n`,
);

const types = await compile({ title: 'EngineApi', type: 'object', definitions: clean(doc.definitions, true) }, 'EngineApi', {
  bannerComment: `// GENERATED by scripts/gen-api.mjs from moby's api/swagger.yaml (API ${doc.info.version}) and\n// src/types/api-overlay.yaml: do not edit. A leaf module: it imports nothing.`,
  unreachableDefinitions: true,
  additionalProperties: false,
  declareExternallyReferenced: true,
  format: false,
});
writeFileSync(TYPES_OUT, types);
console.error(`gen-api: ${Object.keys(operations).length} operations, ${Object.keys(bodyIds).length} body validators, ${Object.keys(doc.definitions).length} types`);
