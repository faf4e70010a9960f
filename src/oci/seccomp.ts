// Docker-format seccomp profiles (moby/profiles/seccomp) → the OCI linux.seccomp object.
//
// A Docker profile is an OCI LinuxSeccomp plus "archMap" (native arch → sub-arches) and
// conditional syscall rules ("includes"/"excludes" by capability, arch and minimum kernel).
// The conversion keeps the rules that apply to the container's bounding capability set, the
// host architecture and the running kernel, exactly the way dockerd filters them.
import { readFileSync } from 'node:fs';
import { endianness, release } from 'node:os';
import { InvalidParameterError, SystemError } from '../errors.js';
import type { Seccomp, SeccompAction, SeccompArg, SeccompOperator, SeccompSyscall } from './runtime-spec.js';

/** Where Debian's golang-github-containers-common puts its Docker-format default profile. */
export const DEFAULT_SECCOMP_PROFILE_PATH = '/usr/share/containers/seccomp.json';

export interface DockerSeccompFilter {
  caps?: string[];
  arches?: string[];
  /** "<kernel>.<major>", e.g. "4.8" */
  minKernel?: string;
}

export interface DockerSeccompSyscall {
  name?: string;
  names?: string[];
  action: string;
  errnoRet?: number;
  args?: { index: number; value: number; valueTwo?: number; op: string }[] | null;
  comment?: string;
  includes?: DockerSeccompFilter;
  excludes?: DockerSeccompFilter;
}

export interface DockerSeccompProfile {
  defaultAction: string;
  defaultErrnoRet?: number;
  architectures?: string[];
  archMap?: { architecture: string; subArchitectures?: string[] | null }[];
  flags?: string[];
  listenerPath?: string;
  listenerMetadata?: string;
  syscalls?: DockerSeccompSyscall[] | null;
}

const ACTIONS = new Set<string>([
  'SCMP_ACT_KILL',
  'SCMP_ACT_KILL_PROCESS',
  'SCMP_ACT_KILL_THREAD',
  'SCMP_ACT_TRAP',
  'SCMP_ACT_ERRNO',
  'SCMP_ACT_TRACE',
  'SCMP_ACT_ALLOW',
  'SCMP_ACT_LOG',
  'SCMP_ACT_NOTIFY',
]);

const OPERATORS = new Set<string>([
  'SCMP_CMP_NE',
  'SCMP_CMP_LT',
  'SCMP_CMP_LE',
  'SCMP_CMP_EQ',
  'SCMP_CMP_GE',
  'SCMP_CMP_GT',
  'SCMP_CMP_MASKED_EQ',
]);

/** libseccomp's native arch names (the ones profiles use in includes/excludes.arches) → SCMP_ARCH_*. */
const NATIVE_TO_SCMP: Record<string, string> = {
  x86: 'SCMP_ARCH_X86',
  amd64: 'SCMP_ARCH_X86_64',
  arm: 'SCMP_ARCH_ARM',
  arm64: 'SCMP_ARCH_AARCH64',
  loong64: 'SCMP_ARCH_LOONGARCH64',
  mips64: 'SCMP_ARCH_MIPS64',
  mips64n32: 'SCMP_ARCH_MIPS64N32',
  mipsel64: 'SCMP_ARCH_MIPSEL64',
  mips3l64n32: 'SCMP_ARCH_MIPSEL64N32',
  mipsle: 'SCMP_ARCH_MIPSEL',
  ppc: 'SCMP_ARCH_PPC',
  ppc64: 'SCMP_ARCH_PPC64',
  ppc64le: 'SCMP_ARCH_PPC64LE',
  riscv64: 'SCMP_ARCH_RISCV64',
  s390: 'SCMP_ARCH_S390',
  s390x: 'SCMP_ARCH_S390X',
};

/** Node's process.arch → the native name Docker derives from GOARCH. */
export function nativeArch(nodeArch: string = process.arch): string {
  switch (nodeArch) {
    case 'x64':
      return 'amd64';
    case 'ia32':
      return 'x86';
    case 'arm64':
      return 'arm64';
    case 'arm':
      return 'arm';
    case 'ppc64':
      return endianness() === 'BE' ? 'ppc64' : 'ppc64le';
    case 's390x':
      return 's390x';
    case 's390':
      return 's390';
    case 'riscv64':
      return 'riscv64';
    case 'loong64':
      // GOARCH loong64 maps to "loongarch64" in Docker, which has no SCMP entry: no archMap match.
      return 'loongarch64';
    case 'mips':
      return 'mips';
    case 'mipsel':
      return 'mipsle';
    default:
      return nodeArch;
  }
}

export interface KernelVersion {
  kernel: number;
  major: number;
}

function parseMinKernel(v: string): KernelVersion {
  const parts = v.split('.');
  if (parts.length !== 2 || !/^\d+$/.test(parts[0]!) || !/^\d+$/.test(parts[1]!)) {
    throw new InvalidParameterError(`invalid kernel version: "${v}", expected "<kernel>.<major>"`);
  }
  const kv = { kernel: Number(parts[0]), major: Number(parts[1]) };
  if (kv.kernel > 255 || kv.major > 255) {
    throw new InvalidParameterError(`invalid kernel version: "${v}", expected "<kernel>.<major>"`);
  }
  if (kv.kernel === 0 && kv.major === 0) {
    throw new InvalidParameterError(`invalid kernel version: "${v}", expected "<kernel>.<major>": version cannot be 0.0`);
  }
  return kv;
}

/** The running kernel's "<kernel>.<major>" from uname release, e.g. "6.1.0-18-amd64" → 6.1. */
export function hostKernelVersion(rel: string = release()): KernelVersion {
  const m = /^(\d+)\.(\d+)/.exec(rel);
  if (!m) throw new SystemError(`failed to parse kernel version "${rel}"`);
  return { kernel: Number(m[1]), major: Number(m[2]) };
}

function kernelAtLeast(host: KernelVersion, min: KernelVersion): boolean {
  return host.kernel > min.kernel || (host.kernel === min.kernel && host.major >= min.major);
}

/** Checks the shape of a parsed Docker seccomp profile; throws InvalidParameterError. */
export function validateProfile(p: unknown): DockerSeccompProfile {
  const bad = (msg: string): never => {
    throw new InvalidParameterError(`Decoding seccomp profile failed: ${msg}`);
  };
  if (typeof p !== 'object' || p === null || Array.isArray(p)) bad('profile must be a JSON object');
  const prof = p as Record<string, unknown>;
  if (prof.defaultAction !== undefined && typeof prof.defaultAction !== 'string') bad('defaultAction must be a string');
  if (typeof prof.defaultAction === 'string' && prof.defaultAction !== '' && !ACTIONS.has(prof.defaultAction)) {
    bad(`unknown action "${prof.defaultAction}"`);
  }
  if (prof.syscalls !== undefined && prof.syscalls !== null && !Array.isArray(prof.syscalls)) bad('syscalls must be an array');
  for (const s of (prof.syscalls as unknown[] | null | undefined) ?? []) {
    if (typeof s !== 'object' || s === null) bad('syscall rule must be an object');
    const sc = s as Record<string, unknown>;
    if (typeof sc.action !== 'string' || !ACTIONS.has(sc.action)) bad(`unknown action "${String(sc.action)}"`);
    if (sc.names !== undefined && sc.names !== null && (!Array.isArray(sc.names) || sc.names.some((n) => typeof n !== 'string'))) {
      bad('names must be an array of strings');
    }
    for (const a of (sc.args as unknown[] | null | undefined) ?? []) {
      const arg = a as Record<string, unknown>;
      if (typeof arg?.index !== 'number' || typeof arg.value !== 'number' || typeof arg.op !== 'string' || !OPERATORS.has(arg.op)) {
        bad('invalid syscall argument rule');
      }
    }
  }
  return prof as unknown as DockerSeccompProfile;
}

const profileCache = new Map<string, DockerSeccompProfile>();

/** Reads and parses a Docker-format profile file once per path. */
export function loadSeccompProfile(path: string = DEFAULT_SECCOMP_PROFILE_PATH): DockerSeccompProfile {
  let prof = profileCache.get(path);
  if (!prof) {
    let text: string;
    try {
      text = readFileSync(path, 'utf8');
    } catch (e) {
      throw new SystemError(`opening seccomp profile (${path}) failed: ${(e as Error).message}`);
    }
    prof = parseSeccompProfile(text);
    profileCache.set(path, prof);
  }
  return prof;
}

/** Parses the JSON text of a Docker-format profile (as sent in --security-opt seccomp=<json>). */
export function parseSeccompProfile(text: string): DockerSeccompProfile {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new InvalidParameterError(`Decoding seccomp profile failed: ${(e as Error).message}`);
  }
  return validateProfile(raw);
}

export interface SeccompConvertOptions {
  /** Native arch name (Docker's: amd64, arm64, ...). Defaults to the host's. */
  arch?: string;
  /** Defaults to the running kernel. */
  kernel?: KernelVersion;
}

/**
 * Converts a Docker-format profile into the OCI linux.seccomp object for a container whose
 * bounding capability set is `capabilities`. Returns undefined for an empty profile (no default
 * action and no rules), which Docker treats as "no seccomp".
 */
export function convertSeccompProfile(
  profile: DockerSeccompProfile,
  capabilities: readonly string[],
  opts: SeccompConvertOptions = {},
): Seccomp | undefined {
  const rules = profile.syscalls ?? [];
  if (!profile.defaultAction && rules.length === 0) return undefined;
  if (profile.architectures?.length && profile.archMap?.length) {
    throw new InvalidParameterError(
      "both 'architectures' and 'archMap' are specified in the seccomp profile, use either 'architectures' or 'archMap'",
    );
  }
  const arch = opts.arch ?? nativeArch();
  const caps = new Set(capabilities);
  let kernel = opts.kernel;
  const kernelNow = (): KernelVersion => (kernel ??= hostKernelVersion());

  const out: Seccomp = { defaultAction: profile.defaultAction as SeccompAction };
  if (profile.defaultErrnoRet !== undefined) out.defaultErrnoRet = profile.defaultErrnoRet;
  const architectures = [...(profile.architectures ?? [])];
  const scmpArch = NATIVE_TO_SCMP[arch];
  if (scmpArch) {
    const entry = (profile.archMap ?? []).find((a) => a.architecture === scmpArch);
    if (entry) architectures.push(entry.architecture, ...(entry.subArchitectures ?? []));
  }
  if (architectures.length) out.architectures = architectures;
  if (profile.flags?.length) out.flags = [...profile.flags];
  if (profile.listenerPath) out.listenerPath = profile.listenerPath;
  if (profile.listenerMetadata) out.listenerMetadata = profile.listenerMetadata;

  const syscalls: SeccompSyscall[] = [];
  for (const rule of rules) {
    let names = rule.names ?? [];
    if (rule.name) {
      if (names.length) {
        throw new InvalidParameterError(
          "both 'name' and 'names' are specified in the seccomp profile, use either 'name' or 'names'",
        );
      }
      names = [rule.name];
    }
    const ex = rule.excludes;
    if (ex) {
      if (ex.arches?.length && ex.arches.includes(arch)) continue;
      if (ex.caps?.length && ex.caps.some((c) => caps.has(c))) continue;
      if (ex.minKernel && kernelAtLeast(kernelNow(), parseMinKernel(ex.minKernel))) continue;
    }
    const inc = rule.includes;
    if (inc) {
      if (inc.arches?.length && !inc.arches.includes(arch)) continue;
      if (inc.caps?.length && !inc.caps.every((c) => caps.has(c))) continue;
      if (inc.minKernel && !kernelAtLeast(kernelNow(), parseMinKernel(inc.minKernel))) continue;
    }
    const sc: SeccompSyscall = { names: [...names], action: rule.action as SeccompAction };
    if (rule.errnoRet !== undefined) sc.errnoRet = rule.errnoRet;
    if (rule.args?.length) {
      sc.args = rule.args.map((a): SeccompArg => {
        const arg: SeccompArg = { index: a.index, value: a.value, op: a.op as SeccompOperator };
        if (a.valueTwo !== undefined) arg.valueTwo = a.valueTwo;
        return arg;
      });
    }
    syscalls.push(sc);
  }
  out.syscalls = syscalls;
  return out;
}
