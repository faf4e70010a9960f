// The choice of one manifest from an index, by platform (util/platform.ts parses and normalises them).
import type { Descriptor, Platform } from '../oci/image-spec.js';
import { normalisePlatform, type PlatformSpec } from '../util/platform.js';

export function platformMatches(want: PlatformSpec, have: Platform | PlatformSpec | undefined): boolean {
  if (!have) return false;
  const h = normalisePlatform(have);
  return h.os === want.os && h.architecture === want.architecture && (h.variant ?? '') === (want.variant ?? '');
}

/** The index entry for `want`, or undefined (the caller words the error). */
export function selectManifest(manifests: Descriptor[], want: PlatformSpec): Descriptor | undefined {
  return manifests.find((d) => platformMatches(want, d.platform));
}
