// Minimal image reference handling for display: docker.io/library/ prefixes and name:tag splitting.

export interface RepoTag {
  name: string;
  tag: string;
  digest: string;
}

/** Splits "name[:tag][@digest]" (the tag colon is the one after the last slash). */
export function parseRepoTag(ref: string): RepoTag | null {
  if (!ref || ref === '<none>:<none>' || ref.startsWith('<none>')) return null;
  let rest = ref;
  let digest = '';
  const at = rest.indexOf('@');
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
  }
  let tag = '';
  const slash = rest.lastIndexOf('/');
  const colon = rest.lastIndexOf(':');
  if (colon > slash) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
  }
  return { name: rest, tag, digest };
}

/** reference.FamiliarName: strips docker.io/ and docker.io/library/. */
export function familiarName(name: string): string {
  let n = name;
  if (n.startsWith('docker.io/')) n = n.slice('docker.io/'.length);
  else if (n.startsWith('index.docker.io/')) n = n.slice('index.docker.io/'.length);
  if (n.startsWith('library/') && n.indexOf('/', 'library/'.length) < 0) n = n.slice('library/'.length);
  return n;
}

/** Adds ":latest" when a reference has neither tag nor digest ("busybox" → "busybox:latest"). */
export function withDefaultTag(ref: string): string {
  const r = parseRepoTag(ref);
  if (!r) return ref;
  if (r.tag || r.digest) return ref;
  return `${ref}:latest`;
}
