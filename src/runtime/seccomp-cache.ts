// crun compiles a container's seccomp profile to BPF at every create (libseccomp: ~20 ms here for
// Docker's default profile, half of `crun create`). Newer crun versions cache the result in their
// state dir; 1.8 does not, but it takes ready BPF from the `run.oci.seccomp_bpf_data` annotation.
// So the first create of a profile lets crun compile it, the filter it wrote to the container's
// state dir is kept (keyed by the profile's exact JSON), and later creates of the same profile
// hand it back. The same crun, libseccomp and kernel made it, so it is the same filter.
import { createHash } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';

const SECCOMP_BPF_ANNOTATION = 'run.oci.seccomp_bpf_data';
/** Distinct profiles remembered; a daemon normally sees one or two. */
const MAX_PROFILES = 16;

export interface SeccompSpec {
  annotations?: Record<string, string>;
  linux?: { seccomp?: unknown };
}

export class SeccompCache {
  /** profile key -> base64 BPF, least recently used first. */
  private readonly filters = new Map<string, string>();

  /** The profile's cache key, or undefined when the spec has no profile or brings its own BPF. */
  key(spec: SeccompSpec): string | undefined {
    if (spec.linux?.seccomp === undefined || spec.annotations?.[SECCOMP_BPF_ANNOTATION] !== undefined) return undefined;
    return createHash('sha256').update(JSON.stringify(spec.linux.seccomp)).digest('hex');
  }

  /** Adds the compiled filter to `spec` when its profile was seen before. */
  annotate(spec: SeccompSpec): void {
    const key = this.key(spec);
    const bpf = key === undefined ? undefined : this.filters.get(key);
    if (key === undefined || bpf === undefined) return;
    this.filters.delete(key);
    this.filters.set(key, bpf);
    spec.annotations = { ...spec.annotations, [SECCOMP_BPF_ANNOTATION]: bpf };
  }

  /** Keeps the filter crun compiled for a container (`<state dir>/seccomp.bpf`) under `key`. */
  async learn(key: string, stateDir: string): Promise<void> {
    const bpf = await fs.readFile(path.join(stateDir, 'seccomp.bpf')).catch(() => undefined);
    if (!bpf || bpf.length === 0 || bpf.length % 8 !== 0) return; // not a sock_filter array
    this.filters.set(key, bpf.toString('base64'));
    while (this.filters.size > MAX_PROFILES) this.filters.delete(this.filters.keys().next().value as string);
  }
}
