// Image references, container names and ID prefixes, normalised the way Docker does it
// (github.com/distribution/reference's grammar and ParseNormalizedNamed, plus the few helpers
// the Docker daemon layers on top). Every error is an InvalidParameterError (HTTP 400) whose
// message is Docker's own wording, since clients and scripts match on it.

import { InvalidParameterError } from '../errors.js';

export const DEFAULT_DOMAIN = 'docker.io';
export const LEGACY_DEFAULT_DOMAIN = 'index.docker.io';
export const OFFICIAL_REPO_PREFIX = 'library/';
export const DEFAULT_TAG = 'latest';
export const NAME_TOTAL_LENGTH_MAX = 255;

// ---- grammar (distribution/reference regexp.go) -------------------------------------------
const alphanumeric = '[a-z0-9]+';
const separator = '(?:[._]|__|[-]+)';
const pathComponent = `${alphanumeric}(?:${separator}${alphanumeric})*`;
const domainNameComponent = '(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])';
const ipv6address = '\\[(?:[a-fA-F0-9:]+)\\]';
const domainName = `${domainNameComponent}(?:\\.${domainNameComponent})*`;
const host = `(?:${domainName}|${ipv6address})`;
const domainAndPort = `${host}(?::[0-9]+)?`;
const tagPat = '[\\w][\\w.-]{0,127}';
const digestPat = '[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*[:][0-9a-fA-F]{32,}';
const remoteName = `${pathComponent}(?:/${pathComponent})*`;
const namePat = `(?:${domainAndPort}/)?${remoteName}`;

const referenceRe = new RegExp(`^(${namePat})(?::(${tagPat}))?(?:@(${digestPat}))?$`);
const anchoredNameRe = new RegExp(`^(?:(${domainAndPort})/)?(${remoteName})$`);
const anchoredTagRe = new RegExp(`^${tagPat}$`);
const anchoredIdentifierRe = /^[a-f0-9]{64}$/;
const anchoredDigestFormatRe = /^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$/;

/** Lengths of the digest algorithms Docker accepts (go-digest with sha256/sha384/sha512 linked in). */
const DIGEST_ALGORITHMS: Record<string, number> = { sha256: 64, sha384: 96, sha512: 128 };

// Docker's error strings (distribution/reference errors.go, go-digest).
export const ERR_REFERENCE_INVALID_FORMAT = 'invalid reference format';
export const ERR_TAG_INVALID_FORMAT = 'invalid tag format';
export const ERR_NAME_CONTAINS_UPPERCASE = 'repository name must be lowercase';
export const ERR_NAME_EMPTY = 'repository name must have at least one component';
export const ERR_NAME_TOO_LONG = `repository name must not be more than ${NAME_TOTAL_LENGTH_MAX} characters`;
export const ERR_DIGEST_INVALID_FORMAT = 'invalid checksum digest format';
export const ERR_DIGEST_INVALID_LENGTH = 'invalid checksum digest length';
export const ERR_DIGEST_UNSUPPORTED = 'unsupported digest algorithm';

function invalid(msg: string): InvalidParameterError {
  return new InvalidParameterError(msg);
}

/** go-digest's Digest.Validate: returns the digest or throws Docker's message. */
export function validateDigest(d: string): string {
  const i = d.indexOf(':');
  if (i <= 0 || i + 1 === d.length) throw invalid(ERR_DIGEST_INVALID_FORMAT);
  const alg = d.slice(0, i);
  const enc = d.slice(i + 1);
  const len = DIGEST_ALGORITHMS[alg];
  if (len === undefined) {
    if (!anchoredDigestFormatRe.test(d)) throw invalid(ERR_DIGEST_INVALID_FORMAT);
    throw invalid(ERR_DIGEST_UNSUPPORTED);
  }
  if (enc.length !== len) throw invalid(ERR_DIGEST_INVALID_LENGTH);
  if (!/^[a-f0-9]+$/.test(enc)) throw invalid(ERR_DIGEST_INVALID_FORMAT);
  return d;
}

/** True if `d` is a digest Docker would accept (e.g. `sha256:<64 lowercase hex>`). */
export function isDigest(d: string): boolean {
  try {
    validateDigest(d);
    return true;
  } catch {
    return false;
  }
}

/** A parsed image reference. `domain` is empty only for references built by parseReference's
 *  non-normalising sibling parseAnyReference; normalised references always have one. */
export class Reference {
  readonly domain: string;
  readonly path: string;
  readonly tag: string | undefined;
  readonly digest: string | undefined;

  constructor(domain: string, path: string, tag?: string, digest?: string) {
    this.domain = domain;
    this.path = path;
    this.tag = tag || undefined;
    this.digest = digest || undefined;
  }

  /** Repository name with domain: `docker.io/library/busybox`. */
  get name(): string {
    return this.domain ? `${this.domain}/${this.path}` : this.path;
  }

  /** Fully-qualified form: `docker.io/library/busybox:latest`, `host/a@sha256:…`. */
  get fullName(): string {
    return this.toString();
  }

  /** Repository name as Docker shows it: `busybox`, `user/app`, `localhost:5000/a/b`. */
  get familiarName(): string {
    if (this.domain !== DEFAULT_DOMAIN) return this.name;
    if (this.path.startsWith(OFFICIAL_REPO_PREFIX)) {
      const rest = this.path.slice(OFFICIAL_REPO_PREFIX.length);
      if (!rest.includes('/')) return rest;
    }
    return this.path;
  }

  /** Familiar form with tag/digest: `busybox:latest`, `user/app@sha256:…`. */
  get familiarString(): string {
    return this.familiarName + this.suffix();
  }

  private suffix(): string {
    return (this.tag !== undefined ? `:${this.tag}` : '') + (this.digest !== undefined ? `@${this.digest}` : '');
  }

  toString(): string {
    return this.name + this.suffix();
  }

  toJSON(): string {
    return this.toString();
  }

  /** A copy with a different (validated) tag, keeping the digest (reference.WithTag). */
  withTag(tag: string): Reference {
    if (!anchoredTagRe.test(tag)) throw invalid(ERR_TAG_INVALID_FORMAT);
    return new Reference(this.domain, this.path, tag, this.digest);
  }

  /** A copy with a (validated) digest, keeping the tag (reference.WithDigest). */
  withDigest(digest: string): Reference {
    validateDigest(digest);
    return new Reference(this.domain, this.path, this.tag, digest);
  }

  /** Name only (reference.TrimNamed). */
  trimNamed(): Reference {
    return new Reference(this.domain, this.path);
  }

  /** Adds `:latest` when there is neither tag nor digest (reference.TagNameOnly). */
  tagNameOnly(): Reference {
    if (this.tag === undefined && this.digest === undefined) return this.withTag(DEFAULT_TAG);
    return this;
  }
}

/** distribution/reference Parse: the raw grammar, no docker.io defaults. */
export function parseAnyReference(s: string): Reference {
  const m = referenceRe.exec(s);
  if (!m) {
    if (s === '') throw invalid(ERR_NAME_EMPTY);
    if (referenceRe.test(s.toLowerCase())) throw invalid(ERR_NAME_CONTAINS_UPPERCASE);
    throw invalid(ERR_REFERENCE_INVALID_FORMAT);
  }
  const name = m[1]!;
  if (name.length > NAME_TOTAL_LENGTH_MAX) throw invalid(ERR_NAME_TOO_LONG);
  const nm = anchoredNameRe.exec(name);
  let domain = '';
  let path = name;
  if (nm && nm[1] !== undefined) {
    domain = nm[1];
    path = nm[2]!;
  }
  const digest = m[3];
  if (digest) validateDigest(digest);
  return new Reference(domain, path, m[2], digest);
}

function splitDockerDomain(name: string): [string, string] {
  const i = name.indexOf('/');
  let domain: string;
  let remainder: string;
  const first = i === -1 ? '' : name.slice(0, i);
  if (i === -1 || (!/[.:]/.test(first) && first !== 'localhost' && first.toLowerCase() === first)) {
    domain = DEFAULT_DOMAIN;
    remainder = name;
  } else {
    domain = first;
    remainder = name.slice(i + 1);
  }
  if (domain === LEGACY_DEFAULT_DOMAIN) domain = DEFAULT_DOMAIN;
  if (domain === DEFAULT_DOMAIN && !remainder.includes('/')) remainder = OFFICIAL_REPO_PREFIX + remainder;
  return [domain, remainder];
}

/**
 * Docker's ParseNormalizedNamed: `busybox` → docker.io/library/busybox (no tag added; use
 * `.tagNameOnly()` or parseDockerRef for that). Accepts `name:tag`, `name@digest`, both.
 */
export function parseReference(s: string): Reference {
  if (anchoredIdentifierRe.test(s)) {
    throw invalid(`invalid repository name (${s}), cannot specify 64-byte hexadecimal strings`);
  }
  const [domain, remainder] = splitDockerDomain(s);
  const tagSep = remainder.indexOf(':');
  const remote = tagSep > -1 ? remainder.slice(0, tagSep) : remainder;
  if (remote.toLowerCase() !== remote) {
    throw invalid(`invalid reference format: repository name (${remote}) must be lowercase`);
  }
  const ref = parseAnyReference(`${domain}/${remainder}`);
  return ref;
}

/** Alias with Docker's name. */
export const parseNormalizedNamed = parseReference;

/**
 * Docker's ParseDockerRef: normalised, `:latest` added when there is no tag, and when both tag
 * and digest are given only the digest is kept (what pull/run resolve).
 */
export function parseDockerRef(s: string): Reference {
  const ref = parseReference(s);
  if (ref.digest !== undefined) return new Reference(ref.domain, ref.path, undefined, ref.digest);
  return ref.tagNameOnly();
}

/** `docker.io/library/busybox:latest` → `busybox:latest`; anything unparsable is returned as is. */
export function familiarString(s: string): string {
  try {
    return parseReference(s).familiarString;
  } catch {
    return s;
  }
}

/** `docker.io/library/busybox:latest` → `busybox` (repository only). */
export function familiarName(s: string): string {
  try {
    return parseReference(s).familiarName;
  } catch {
    return s;
  }
}

/**
 * The API's `repo` + `tag` query parameters for POST /images/{name}/tag, POST /commit,
 * POST /images/create?fromSrc (import) — moby's httputils.RepoTagReference. Returns undefined
 * when repo is empty. `tag` overrides any tag inside repo; default tag is latest.
 */
export function parseRepositoryTag(repo: string | undefined | null, tag?: string | null): Reference | undefined {
  if (!repo) return undefined;
  const ref = parseReference(repo);
  if (ref.digest !== undefined) throw invalid('cannot import digest reference');
  if (tag) return ref.withTag(tag);
  return ref.tagNameOnly();
}

/**
 * POST /images/create?fromImage=&tag= (pull): the `tag` parameter may also be a digest.
 * A trailing `:` on the image (sent by `pull -a`) is ignored. No default tag is added here:
 * with neither tag nor digest the caller pulls `latest` (or all tags).
 */
export function parsePullReference(fromImage: string, tag?: string | null): Reference {
  const image = fromImage.endsWith(':') ? fromImage.slice(0, -1) : fromImage;
  let ref = parseReference(image);
  if (tag) {
    if (isDigest(tag)) ref = ref.trimNamed().withDigest(tag);
    else ref = ref.withTag(tag);
  }
  return ref;
}

// ---- IDs -------------------------------------------------------------------------------------

const fullIdRe = /^(?:sha256:)?[a-f0-9]{64}$/;

/** `sha256:<64 hex>` or bare 64 hex. */
export function isFullImageId(s: string): boolean {
  return fullIdRe.test(s);
}

/** Normalises a full ID to `sha256:<hex>`; throws on anything else. */
export function normalizeImageId(s: string): string {
  if (!isFullImageId(s)) throw invalid(`invalid image ID: ${s}`);
  return s.startsWith('sha256:') ? s : `sha256:${s}`;
}

/**
 * True if `s` can be a (short) ID prefix: optional `sha256:`, then at least `minLen` and at most
 * 64 lowercase hex chars. Docker's image store uses a minimum of 4 (`^(sha256:)?([a-f0-9]{4,64})$`);
 * container lookups accept any non-empty prefix (pass minLen 1).
 */
export function isShortIdPrefix(s: string, minLen = 4): boolean {
  const hex = s.startsWith('sha256:') ? s.slice(7) : s;
  return hex.length >= minLen && hex.length <= 64 && /^[a-f0-9]+$/.test(hex);
}

/** Does `id` (`sha256:<hex>` or `<hex>`) start with `prefix` (with or without `sha256:`)? */
export function idHasPrefix(id: string, prefix: string, minLen = 4): boolean {
  if (!isShortIdPrefix(prefix, minLen)) return false;
  const hex = id.startsWith('sha256:') ? id.slice(7) : id;
  const p = prefix.startsWith('sha256:') ? prefix.slice(7) : prefix;
  return hex.startsWith(p);
}

/**
 * Finds the single ID in `ids` matching `prefix`: `{ id }` when exactly one matches,
 * `{ id: undefined }` when none does, `{ ambiguous: true }` when several do (the caller turns
 * that into Docker's error for its object kind; it never picks one).
 */
export function matchIdPrefix(ids: Iterable<string>, prefix: string, minLen = 4): { id?: string; ambiguous: boolean } {
  let found: string | undefined;
  for (const id of ids) {
    if (idHasPrefix(id, prefix, minLen)) {
      if (found !== undefined && found !== id) return { ambiguous: true };
      found = id;
    }
  }
  return { id: found, ambiguous: false };
}

/** Docker's short form of an ID: 12 hex chars, no algorithm. */
export function shortId(id: string): string {
  const hex = id.includes(':') ? id.slice(id.indexOf(':') + 1) : id;
  return hex.slice(0, 12);
}

// ---- container names ------------------------------------------------------------------------

export const VALID_CONTAINER_NAME_CHARS = '[a-zA-Z0-9][a-zA-Z0-9_.-]';
const validContainerNameRe = new RegExp(`^/?${VALID_CONTAINER_NAME_CHARS}+$`);

/**
 * Docker's container name rule (daemon/names.go): `^/?[a-zA-Z0-9][a-zA-Z0-9_.-]+$` — so at least
 * two characters. Returns the name with its leading `/` (how Docker stores names).
 */
export function validateContainerName(name: string): string {
  if (!validContainerNameRe.test(name)) {
    throw invalid(`Invalid container name (${name}), only ${VALID_CONTAINER_NAME_CHARS} are allowed`);
  }
  return name.startsWith('/') ? name : `/${name}`;
}
