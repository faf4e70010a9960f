// A container in a user namespace of its own (berthd --userns-remap) joins the network namespace
// Berth made for it in the host's user namespace (netavark sets it up while the runtime creates
// the container). That namespace is not its user namespace's, so its root may not write the
// namespace's sysctls: the runtime's writes of `net.*` keys would fail with EACCES. Berth writes
// them itself from the host before the runtime runs — Docker's defaults (unprivileged ICMP for
// every group, ports below 1024 for everyone) and the user's --sysctl net.* alike.
import type { Spec } from '../../oci/runtime-spec.js';
import { runCommand } from '../../util/exec.js';
import { SystemError } from '../../errors.js';

/** Takes the net.* sysctls out of a user-namespaced spec that joins a prepared network namespace, and sets them there. */
export async function setNetSysctlsFromHost(spec: Spec): Promise<void> {
  const linux = spec.linux;
  const netns = linux?.namespaces?.find((n) => n.type === 'network')?.path;
  if (!linux?.sysctl || !netns || !linux.namespaces?.some((n) => n.type === 'user' && !n.path)) return;
  const net = Object.entries(linux.sysctl).filter(([k]) => k.startsWith('net.'));
  if (net.length === 0) return;
  for (const [k] of net) delete linux.sysctl[k];
  try {
    await runCommand('nsenter', [`--net=${netns}`, '--', 'sysctl', '-q', '-w', ...net.map(([k, v]) => `${k}=${v}`)]);
  } catch (err) {
    throw new SystemError(`failed to set the network namespace's sysctls: ${(err as Error).message}`);
  }
}
