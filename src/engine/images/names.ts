// Image names as the engine keys them: the canonical form of a reference, and Docker's familiar display form.
import { familiarString as refFamiliarString, parseReference } from '../../reference/index.js';

export interface ImageName {
  /** docker.io/library/busybox */
  repository: string;
  tag?: string;
  digest?: string;
  /** docker.io/library/busybox:latest or docker.io/library/busybox@sha256:… (the key in the reference store) */
  canonical: string;
}

/** Parses a user's reference, adding `latest` when it has neither tag nor digest. */
export function parseImageName(s: string): ImageName {
  const ref = parseReference(s).tagNameOnly();
  const canonical = ref.digest ? `${ref.name}@${ref.digest}` : `${ref.name}:${ref.tag}`;
  return { repository: ref.name, tag: ref.tag, digest: ref.digest, canonical };
}

/** docker.io/library/busybox:latest → busybox:latest */
export function familiarString(canonical: string): string {
  return refFamiliarString(canonical);
}
