// Platforms as containerd parses and normalises them ("aarch64" is arm64, arm64's default variant
// is v8, arm's is v7): one parser for the CLI's flags and the daemon's parameters alike.
import { InvalidParameterError } from '../errors.js';

export interface PlatformSpec {
  os: string;
  architecture: string;
  variant?: string;
}

const KNOWN_OS = new Set(['aix', 'android', 'darwin', 'dragonfly', 'freebsd', 'hurd', 'illumos', 'ios', 'js', 'linux', 'nacl', 'netbsd', 'openbsd', 'plan9', 'solaris', 'wasip1', 'windows', 'zos']);
const KNOWN_ARCH = new Set(['386', 'amd64', 'amd64p32', 'arm', 'armbe', 'arm64', 'arm64be', 'loong64', 'mips', 'mipsle', 'mips64', 'mips64le', 'ppc', 'ppc64', 'ppc64le', 'riscv', 'riscv64', 's390', 's390x', 'sparc', 'sparc64', 'wasm']);

const ARCH_ALIASES: Record<string, [string, string?]> = {
  i386: ['386'],
  x86_64: ['amd64'],
  'x86-64': ['amd64'],
  aarch64: ['arm64'],
  armhf: ['arm', 'v7'],
  armel: ['arm', 'v6'],
};

function normaliseOs(os: string): string {
  const o = os.toLowerCase();
  return o === 'macos' ? 'darwin' : o;
}

function normaliseArch(arch: string, variant: string | undefined): [string, string | undefined] {
  const alias = ARCH_ALIASES[arch];
  if (alias) return [alias[0], alias[1] ?? (alias[0] === '386' ? undefined : variant)];
  if (arch === 'arm64') return ['arm64', variant === '8' || variant === 'v8' ? undefined : variant];
  if (arch === 'arm') return ['arm', !variant || variant === '7' ? 'v7' : /^\d$/.test(variant) ? `v${variant}` : variant];
  if (arch === 'amd64') return ['amd64', variant === 'v1' ? undefined : variant];
  return [arch, variant];
}

export function normalisePlatform(p: { os?: string; architecture?: string; variant?: string }): PlatformSpec {
  const os = normaliseOs(p.os ?? '');
  const [architecture, variant] = normaliseArch((p.architecture ?? '').toLowerCase(), p.variant ? p.variant.toLowerCase() : undefined);
  return variant ? { os, architecture, variant } : { os, architecture };
}

export function hostPlatform(): PlatformSpec {
  const map: Record<string, string> = { x64: 'amd64', arm64: 'arm64', arm: 'arm', ia32: '386', ppc64: 'ppc64le', s390x: 's390x', riscv64: 'riscv64' };
  return normalisePlatform({ os: 'linux', architecture: map[process.arch] ?? process.arch });
}

export function formatPlatform(p: PlatformSpec): string {
  return [p.os, p.architecture, p.variant].filter(Boolean).join('/');
}

/**
 * containerd's platforms.Parse: "linux", "arm64" (an architecture on linux), "linux/arm64",
 * "linux/arm/v7". Errors as containerd words them.
 */
export function parsePlatform(spec: string): PlatformSpec {
  const bad = (why: string): InvalidParameterError => new InvalidParameterError(`"${spec}": ${why}: invalid argument`);
  if (spec.includes('*')) throw bad('wildcards not yet supported');
  const parts = spec.trim().split('/');
  const invalid = parts.find((p) => !/^[A-Za-z0-9_.-]+$/.test(p));
  if (invalid !== undefined) {
    throw new InvalidParameterError(`"${invalid}" is an invalid component of "${spec}": platform specifier component must match "^[A-Za-z0-9_-]+$": invalid argument`);
  }
  if (parts.length === 1) {
    const word = parts[0].toLowerCase();
    if (KNOWN_OS.has(normaliseOs(word))) return normalisePlatform({ os: word, architecture: hostPlatform().architecture, variant: hostPlatform().variant });
    const [arch] = normaliseArch(word, undefined);
    if (KNOWN_ARCH.has(arch)) return normalisePlatform({ os: 'linux', architecture: word });
    throw bad('unknown operating system or architecture');
  }
  if (parts.length > 3) throw bad('cannot parse platform specifier');
  if (!KNOWN_OS.has(normaliseOs(parts[0]))) throw bad('unknown operating system or architecture');
  return normalisePlatform({ os: parts[0], architecture: parts[1], variant: parts[2] });
}
