// The legacy (pre-1.10) per-layer image JSON Docker still writes into every saved archive, and the
// "v1 id" derived from it. Nothing modern reads them, but they are part of what dockerd writes, and
// a byte-identical archive needs them: blobs/sha256/<sha256 of this JSON> for each layer.
import { createHash } from 'node:crypto';
import { goEscape, goMap, goMarshal, goTime, sortedKeys } from './go-json.js';

type JsonObject = Record<string, unknown>;

const EPOCH = '1970-01-01T00:00:00Z';

function isObject(v: unknown): v is JsonObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

const str = (v: unknown): string => (typeof v === 'string' ? v : '');
const strings = (v: unknown): string[] | null => (Array.isArray(v) ? v.map((x) => str(x)) : null);
/** strslice.StrSlice: a JSON string is a one-element list. */
const strSlice = (v: unknown): string[] | null => (typeof v === 'string' ? [v] : strings(v));
/** map[string]struct{}: the keys, each with an empty object. */
function keySet(v: unknown): Record<string, object> | null {
  if (!isObject(v)) return null;
  const out: Record<string, object> = {};
  for (const k of sortedKeys(v)) out[k] = {};
  return out;
}
function stringMap(v: unknown): Record<string, string> | null {
  if (!isObject(v)) return null;
  const out: Record<string, string> = {};
  for (const [k, x] of Object.entries(v)) out[k] = str(x);
  return goMap(out);
}
const num = (v: unknown): number => (typeof v === 'number' && Number.isFinite(v) ? Math.trunc(v) : 0);

function healthcheck(v: JsonObject): JsonObject {
  const out: JsonObject = {};
  const test = strings(v['Test']);
  if (test && test.length) out['Test'] = test;
  for (const k of ['Interval', 'Timeout', 'StartPeriod', 'StartInterval', 'Retries']) if (num(v[k])) out[k] = num(v[k]);
  return out;
}

/** container.Config as Go marshals it: every field in declaration order, omitempty where tagged. */
export function containerConfig(src: unknown): JsonObject {
  const c = isObject(src) ? src : {};
  const out: JsonObject = {
    Hostname: str(c['Hostname']),
    Domainname: str(c['Domainname']),
    User: str(c['User']),
    AttachStdin: c['AttachStdin'] === true,
    AttachStdout: c['AttachStdout'] === true,
    AttachStderr: c['AttachStderr'] === true,
  };
  const ports = keySet(c['ExposedPorts']);
  if (ports && Object.keys(ports).length) out['ExposedPorts'] = ports;
  out['Tty'] = c['Tty'] === true;
  out['OpenStdin'] = c['OpenStdin'] === true;
  out['StdinOnce'] = c['StdinOnce'] === true;
  out['Env'] = strings(c['Env']);
  out['Cmd'] = strSlice(c['Cmd']);
  if (isObject(c['Healthcheck'])) out['Healthcheck'] = healthcheck(c['Healthcheck']);
  if (c['ArgsEscaped'] === true) out['ArgsEscaped'] = true;
  out['Image'] = str(c['Image']);
  out['Volumes'] = keySet(c['Volumes']);
  out['WorkingDir'] = str(c['WorkingDir']);
  out['Entrypoint'] = strSlice(c['Entrypoint']);
  if (c['NetworkDisabled'] === true) out['NetworkDisabled'] = true;
  if (str(c['MacAddress'])) out['MacAddress'] = str(c['MacAddress']);
  out['OnBuild'] = strings(c['OnBuild']);
  out['Labels'] = stringMap(c['Labels']);
  if (str(c['StopSignal'])) out['StopSignal'] = str(c['StopSignal']);
  if (typeof c['StopTimeout'] === 'number') out['StopTimeout'] = num(c['StopTimeout']);
  const shell = strSlice(c['Shell']);
  if (shell && shell.length) out['Shell'] = shell;
  return out;
}

interface V1Fields {
  id?: string;
  parent?: string;
  comment?: string;
  created: string | null;
  container?: string;
  container_config: JsonObject;
  docker_version?: string;
  author?: string;
  config?: JsonObject;
  architecture?: string;
  variant?: string;
  os?: string;
  Size?: number;
}

/** image.V1Image in Go's field order, empty omitempty fields left out. */
function v1Object(f: V1Fields): JsonObject {
  const out: JsonObject = {};
  const put = (k: keyof V1Fields, always = false): void => {
    const v = f[k];
    if (always || (v !== undefined && v !== '' && v !== 0)) out[k] = v ?? null;
  };
  put('id');
  put('parent');
  put('comment');
  put('created', true);
  put('container');
  put('container_config', true);
  put('docker_version');
  put('author');
  put('config');
  put('architecture');
  put('variant');
  put('os');
  put('Size');
  return out;
}

/** The V1Image fields an image config carries (what dockerd writes for an image's top layer). */
function fromImageConfig(config: JsonObject): V1Fields {
  const created = typeof config['created'] === 'string' ? (goTime(config['created']) ?? config['created']) : null;
  return {
    comment: str(config['comment']),
    created,
    container: str(config['container']),
    container_config: containerConfig(config['container_config']),
    docker_version: str(config['docker_version']),
    author: str(config['author']),
    config: isObject(config['config']) ? containerConfig(config['config']) : undefined,
    architecture: str(config['architecture']),
    variant: str(config['variant']),
    os: str(config['os']),
    Size: num(config['Size']),
  };
}

/** v1.CreateID: sha256 of the V1Image JSON (no id) re-marshalled as a map with layer_id and parent added. */
function v1Id(fields: V1Fields, chainId: string, parentV1: string | undefined): string {
  const raw: Record<string, string> = {};
  for (const [k, v] of Object.entries(v1Object({ ...fields, id: undefined, parent: undefined }))) raw[k] = goMarshal(v);
  raw['layer_id'] = goMarshal(chainId);
  if (parentV1) raw['parent'] = goMarshal(`sha256:${parentV1}`);
  const json = '{' + sortedKeys(raw).map((k) => `${goEscape(JSON.stringify(k))}:${raw[k]}`).join(',') + '}';
  return createHash('sha256').update(json).digest('hex');
}

export interface LegacyLayerConfig {
  /** The v1 id (hex), used as the next layer's parent. */
  id: string;
  /** The JSON file contents. */
  json: Buffer;
}

/**
 * The legacy JSON of every layer of an image, bottom first. `chainIds` are the layers' chain ids
 * ("sha256:…"); `config` is the parsed image config.
 */
export function legacyLayerConfigs(config: JsonObject, chainIds: string[]): LegacyLayerConfig[] {
  const out: LegacyLayerConfig[] = [];
  let parent: string | undefined;
  const os = str(config['os']);
  chainIds.forEach((chainId, i) => {
    const last = i === chainIds.length - 1;
    // Below the top, Docker writes a placeholder with the epoch as its creation time (for pre-1.9 clients).
    const fields: V1Fields = last ? fromImageConfig(config) : { created: EPOCH, container_config: containerConfig({}) };
    const id = v1Id(fields, chainId, parent);
    const json = goMarshal(v1Object({ ...fields, id, parent, os }));
    out.push({ id, json: Buffer.from(json) });
    parent = id;
  });
  return out;
}
