// Security options, capabilities, seccomp and masked paths: the parts of a spec that decide what
// a container's processes may do (moby daemon/oci_linux.go WithCapabilities, WithSeccomp).
import type { HostConfig } from '../types/api.js';
import { InvalidParameterError } from '../errors.js';
import { DEFAULT_CAPABILITIES, KNOWN_CAPABILITIES, daemonCapabilities, defaultReadonlyPaths } from './defaults.js';
import type { HostInfo } from './host-info.js';
import type { SpecOpt } from './runtime-spec.js';
import { convertSeccompProfile, parseSeccompProfile } from './seccomp.js';

// ---------------------------------------------------------------------------------------------
// security options

export interface SecurityOptions {
  noNewPrivileges: boolean;
  /** undefined: the default profile; 'unconfined'; or the JSON text of a custom profile. */
  seccomp?: string;
  apparmor?: string;
  writableCgroups?: boolean;
  labels: string[];
}

function parseBool(s: string): boolean | undefined {
  if (['1', 't', 'T', 'TRUE', 'true', 'True'].includes(s)) return true;
  if (['0', 'f', 'F', 'FALSE', 'false', 'False'].includes(s)) return false;
  return undefined;
}

/** HostConfig.SecurityOpt as dockerd parses it, with its error messages. */
export function parseSecurityOpts(opts: readonly string[] | null | undefined): SecurityOptions {
  const out: SecurityOptions = { noNewPrivileges: false, labels: [] };
  for (const opt of opts ?? []) {
    if (opt === 'no-new-privileges') {
      out.noNewPrivileges = true;
      continue;
    }
    if (opt === 'writable-cgroups') {
      out.writableCgroups = true;
      continue;
    }
    if (opt === 'disable') {
      out.labels.push('disable');
      continue;
    }
    let sep = -1;
    if (opt.includes('=')) sep = opt.indexOf('=');
    else if (opt.includes(':')) sep = opt.indexOf(':');
    if (sep < 0) throw new InvalidParameterError(`invalid --security-opt 1: "${opt}"`);
    const k = opt.slice(0, sep);
    const v = opt.slice(sep + 1);
    switch (k) {
      case 'label':
        out.labels.push(v);
        break;
      case 'apparmor':
        out.apparmor = v;
        break;
      case 'seccomp':
        out.seccomp = v;
        break;
      case 'no-new-privileges': {
        const b = parseBool(v);
        if (b === undefined) throw new InvalidParameterError(`invalid --security-opt 2: "${opt}"`);
        out.noNewPrivileges = b;
        break;
      }
      case 'writable-cgroups': {
        const b = parseBool(v);
        if (b === undefined) throw new InvalidParameterError(`invalid --security-opt 2: "${opt}"`);
        out.writableCgroups = b;
        break;
      }
      default:
        throw new InvalidParameterError(`invalid --security-opt 2: "${opt}"`);
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// capabilities

/** Upper-cases, adds CAP_, and checks names against the kernel's and the daemon's sets. "ALL" stays. */
export function normalizeCapabilities(caps: readonly string[], available: readonly string[] = daemonCapabilities()): string[] {
  const out: string[] = [];
  for (const raw of caps) {
    let c = raw.toUpperCase();
    if (c === 'ALL') {
      out.push(c);
      continue;
    }
    if (!c.startsWith('CAP_')) c = 'CAP_' + c;
    if (!KNOWN_CAPABILITIES.includes(c)) throw new InvalidParameterError(`unknown capability: "${c}"`);
    if (!available.includes(c)) {
      throw new InvalidParameterError(
        `capability not supported by your kernel or not available in the current environment: "${c}"`,
      );
    }
    out.push(c);
  }
  return out;
}

/** Docker's TweakCapabilities: the effective capability list for CapAdd/CapDrop/Privileged. */
export function tweakCapabilities(
  adds: readonly string[] | null | undefined,
  drops: readonly string[] | null | undefined,
  privileged: boolean,
  available: readonly string[] = daemonCapabilities(),
): string[] {
  if (privileged) return [...available];
  if (!adds?.length && !drops?.length) return [...DEFAULT_CAPABILITIES];
  const capDrop = normalizeCapabilities(drops ?? [], available);
  const capAdd = normalizeCapabilities(adds ?? [], available);
  let caps: string[];
  if (capAdd.includes('ALL')) {
    caps = available.filter((c) => !capDrop.includes(c));
  } else if (capDrop.includes('ALL')) {
    caps = [...capAdd];
  } else {
    caps = [...DEFAULT_CAPABILITIES.filter((c) => !capDrop.includes(c)), ...capAdd];
  }
  return [...new Set(caps)];
}

/** The same set as bounding, effective and permitted capabilities, as Docker gives them. */
export function withCapabilities(caps: readonly string[]): SpecOpt {
  return (spec) => {
    spec.process!.capabilities = { bounding: [...caps], effective: [...caps], permitted: [...caps] };
  };
}

/** Docker's default profile (also for --privileged with seccomp=builtin), a custom one, or none. */
export function withSeccomp(sec: SecurityOptions, caps: readonly string[], privileged: boolean, host: HostInfo): SpecOpt {
  return (spec) => {
    if (sec.seccomp === 'unconfined') return;
    const opts = { kernel: host.kernel };
    const custom = sec.seccomp && sec.seccomp !== 'builtin' ? parseSeccompProfile(sec.seccomp) : undefined;
    let seccomp;
    if (custom) seccomp = convertSeccompProfile(custom, caps, opts);
    else if (!privileged || sec.seccomp === 'builtin') {
      if (host.seccompProfile instanceof Error) throw host.seccompProfile;
      seccomp = convertSeccompProfile(host.seccompProfile, caps, opts);
    }
    if (seccomp) spec.linux!.seccomp = seccomp;
  };
}

/** Docker's masked and read-only /proc and /sys paths (none when privileged), or the client's own lists. */
export function withMaskedPaths(hc: HostConfig, host: HostInfo): SpecOpt {
  return (spec) => {
    const privileged = !!hc.Privileged;
    spec.linux!.maskedPaths = hc.MaskedPaths ? [...hc.MaskedPaths] : privileged ? [] : [...host.maskedPaths];
    spec.linux!.readonlyPaths = hc.ReadonlyPaths ? [...hc.ReadonlyPaths] : privileged ? [] : defaultReadonlyPaths();
  };
}
