// Platforms as containerd normalises them ("aarch64" is arm64, arm64's default variant is v8,
// arm's is v7), the host's platform, and the choice of one manifest from an index.
import { InvalidParameterError } from '../errors.js';
import type { Descriptor, Platform } from '../oci/image-spec.js';

export interface PlatformSpec {
  os: string;
  architecture: string;
  variant?: string;
}

const ARCH: Record<string, [string, string?]> = {
  i386: ['386'],
  x86_64: ['amd64'],
  'x86-64': ['amd64'],
  aarch64: ['arm64'],
  armhf: ['arm', 'v7'],
  armel: ['arm', 'v6'],
};

function normaliseArch(arch: string, variant: string | undefined): [string, string | undefined] {
  const mapped = ARCH[arch];
  if (mapped) return [mapped[0], variant ?? mapped[1]];
  if (arch === 'arm64') return ['arm64', variant === '8' || variant === 'v8' ? undefined : variant];
  if (arch === 'arm') return ['arm', !variant || variant === '7' ? 'v7' : /^\d$/.test(variant) ? `v${variant}` : variant];
  if (arch === 'amd64') return ['amd64', variant === 'v1' ? undefined : variant];
  return [arch, variant];
}

export function normalisePlatform(p: { os?: string; architecture?: string; variant?: string }): PlatformSpec {
  const os = (p.os ?? '').toLowerCase() === 'macos' ? 'darwin' : (p.os ?? '').toLowerCase();
  const [architecture, variant] = normaliseArch((p.architecture ?? '').toLowerCase(), p.variant ? p.variant.toLowerCase() : undefined);
  return variant ? { os, architecture, variant } : { os, architecture };
}

/** Parses `--platform` ("linux/arm64/v8", "linux/amd64", "arm64"); errors as Docker words them. */
export function parsePlatform(s: string): PlatformSpec {
  const parts = s.trim().split('/');
  const bad = (): InvalidParameterError => new InvalidParameterError(`"${s}": unknown operating system or architecture: invalid argument`);
  if (parts.length > 3 || parts.some((p) => !/^[A-Za-z0-9_.-]+$/.test(p))) throw bad();
  let os: string;
  let arch: string;
  let variant: string | undefined;
  if (parts.length === 1) {
    // One word is an OS if it is one we know, else an architecture on the host's OS.
    if (['linux', 'windows', 'darwin', 'freebsd'].includes(parts[0].toLowerCase())) {
      os = parts[0];
      arch = hostPlatform().architecture;
    } else {
      os = 'linux';
      arch = parts[0];
    }
  } else {
    [os, arch, variant] = parts;
  }
  const known = ['linux', 'windows', 'darwin', 'freebsd', 'netbsd', 'openbsd', 'solaris', 'illumos', 'aix', 'android', 'ios', 'js', 'wasip1', 'plan9', 'dragonfly', 'macos'];
  if (!known.includes(os.toLowerCase())) throw bad();
  return normalisePlatform({ os, architecture: arch, variant });
}

export function hostPlatform(): PlatformSpec {
  const map: Record<string, string> = { x64: 'amd64', arm64: 'arm64', arm: 'arm', ia32: '386', ppc64: 'ppc64le', s390x: 's390x', riscv64: 'riscv64' };
  return normalisePlatform({ os: 'linux', architecture: map[process.arch] ?? process.arch });
}

export function formatPlatform(p: PlatformSpec): string {
  return [p.os, p.architecture, p.variant].filter(Boolean).join('/');
}

export function platformMatches(want: PlatformSpec, have: Platform | PlatformSpec | undefined): boolean {
  if (!have) return false;
  const h = normalisePlatform(have);
  return h.os === want.os && h.architecture === want.architecture && (h.variant ?? '') === (want.variant ?? '');
}

/** The index entry for `want`, or undefined (the caller words the error). */
export function selectManifest(manifests: Descriptor[], want: PlatformSpec): Descriptor | undefined {
  return manifests.find((d) => platformMatches(want, d.platform));
}
