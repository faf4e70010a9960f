// The one list of accepted differences between Berth and dockerd found by the differential tests
// (differential.test.ts). A key is `scenario / step / where` as the failing test prints it; one
// ending in `*` accepts every key it starts. Each entry says why: a deliberate difference, or
// "known gap: …" for behaviour Berth should match later (those are bugs, listed so they stay seen).
// The peer is Debian's dockerd 20.10 (API 1.41); where it answers as older dockerd did and newer
// dockerd answers as Berth does, the reason says so.
const OLD_500 = 'deliberate: dockerd 20.10 answers a bad parameter with 500 (Go parse error text); newer dockerd and Berth answer 400 with a message of their own';
const NEWER_WORDING = "deliberate: Berth uses newer dockerd's wording";
const NO_SUCH_IMAGE_TAG = 'known gap: dockerd names the missing image with its default tag (no-such-image:latest)';
const ISSUE_14 = 'known gap: fields dockerd always returns, filled by the API fidelity issue (14)';
const BAD_FILTERS = "the parser's message for unparseable filters is Berth's own (dockerd: Go's JSON error)";
const TYPES = 'known gap: a wrongly typed field is not refused (dockerd: json: cannot unmarshal …; Berth should answer 400)';

export const ACCEPTED: { key: string; reason: string }[] = [
  // system
  { key: 'ping, version, info, df / info / body.Runtimes.*', reason: 'deliberate: the runtimes are crun and runc, not containerd shims' },
  { key: 'ping, version, info, df / info / *', reason: ISSUE_14 },
  { key: 'ping, version, info, df / df / body.Images[].Labels', reason: 'known gap: an image without labels has {} (dockerd: null)' },
  { key: 'ping, version, info, df / df / body.Images[].RepoDigests', reason: 'known gap: an image without digests has [] (dockerd: null)' },
  { key: 'api versions, unknown routes, wrong methods / too new / message', reason: 'deliberate: Berth serves API 1.47, the peer 1.41' },
  { key: 'api versions, unknown routes, wrong methods / too old / mediaType', reason: 'deliberate: Berth answers every error as JSON' },
  { key: 'api versions, unknown routes, wrong methods / too old / message', reason: 'deliberate: Berth answers every error as JSON (same text)' },
  { key: 'api versions, unknown routes, wrong methods / events bad since / *', reason: OLD_500 },
  { key: 'api versions, unknown routes, wrong methods / events bad filters / *', reason: `${OLD_500}; ${BAD_FILTERS}` },
  // containers
  { key: 'create / Cmd wrongly typed / *', reason: TYPES },
  { key: 'create / Env wrongly typed / *', reason: TYPES },
  { key: 'create / empty body / *', reason: OLD_500 },
  { key: 'create / malformed JSON / *', reason: OLD_500 },
  { key: 'create / no image / *', reason: 'deliberate: dockerd 20.10 creates a container without an image; newer dockerd and Berth refuse with 400 "No image specified"' },
  { key: 'list and inspect / list bad filters / *', reason: `${OLD_500}; ${BAD_FILTERS}` },
  { key: 'list and inspect / list unknown filter / message', reason: NEWER_WORDING },
  { key: 'remove and prune / prune bad filters / message', reason: `deliberate: ${BAD_FILTERS}` },
  { key: 'create / bad restart policy / message', reason: NEWER_WORDING },
  { key: 'docker CLI: run, exec, logs exit codes and output / run missing command / stderr', reason: "deliberate: the OCI runtime's own error text (crun, not runc through containerd); same exit code" },
  { key: 'list and inspect / list bad limit / *', reason: OLD_500 },
  { key: 'list and inspect / list / body[].NetworkSettings.Networks.bridge.DNSNames', reason: 'deliberate: DNSNames is API 1.44+' },
  { key: 'list and inspect / list all, sizes / body[].NetworkSettings.Networks.bridge.DNSNames', reason: 'deliberate: DNSNames is API 1.44+' },
  { key: 'list and inspect / list filter / body[].NetworkSettings.Networks.bridge.DNSNames', reason: 'deliberate: DNSNames is API 1.44+' },
  { key: 'list and inspect / list all, sizes / body[].SizeRw', reason: 'known gap: dockerd leaves out a zero SizeRw (omitempty)' },
  { key: 'list and inspect / inspect / body.HostConfig.*', reason: ISSUE_14 },
  { key: 'list and inspect / inspect / body.Config.*', reason: ISSUE_14 },
  { key: 'list and inspect / inspect / body.NetworkSettings.*', reason: `${ISSUE_14}; DNSNames is API 1.44+` },
  { key: 'list and inspect / inspect size / body.HostConfig.*', reason: ISSUE_14 },
  { key: 'list and inspect / inspect size / body.Config.*', reason: ISSUE_14 },
  { key: 'list and inspect / inspect size / body.NetworkSettings.*', reason: `${ISSUE_14}; DNSNames is API 1.44+` },
  { key: 'list and inspect / inspect by name / body.HostConfig.*', reason: ISSUE_14 },
  { key: 'list and inspect / inspect by name / body.Config.*', reason: ISSUE_14 },
  { key: 'list and inspect / inspect by name / body.NetworkSettings.*', reason: `${ISSUE_14}; DNSNames is API 1.44+` },
  { key: 'start, stop, restart, kill, wait / inspect after kill / body.HostConfig.*', reason: ISSUE_14 },
  { key: 'start, stop, restart, kill, wait / inspect after kill / body.Config.*', reason: ISSUE_14 },
  { key: 'start, stop, restart, kill, wait / inspect after kill / body.NetworkSettings.*', reason: `${ISSUE_14}; DNSNames is API 1.44+` },
  { key: 'ambiguous id prefix / inspect ambiguous / status', reason: 'deliberate: dockerd 20.10 answers 500; an ambiguous prefix is the client\'s error (400)' },
  { key: 'ambiguous id prefix / start ambiguous / status', reason: 'deliberate: dockerd 20.10 answers 500; an ambiguous prefix is the client\'s error (400)' },
  { key: 'start, stop, restart, kill, wait / kill bad signal / message', reason: NEWER_WORDING },
  { key: 'start, stop, restart, kill, wait / stop bad t / *', reason: OLD_500 },
  { key: 'start, stop, restart, kill, wait / wait bad condition / *', reason: 'deliberate: dockerd 20.10 ignores an unknown condition; newer dockerd and Berth refuse it with 400' },
  { key: 'pause, unpause, rename, update / unpause not paused / status', reason: 'deliberate: dockerd 20.10 answers 500, newer dockerd 409' },
  { key: 'pause, unpause, rename, update / rename taken / message', reason: NEWER_WORDING },
  { key: 'pause, unpause, rename, update / update / body.Warnings', reason: 'known gap: no warnings is [] (dockerd: null)' },
  { key: 'pause, unpause, rename, update / update wrongly typed / *', reason: TYPES },
  { key: 'remove and prune / remove running / message', reason: NEWER_WORDING },
  { key: 'docker CLI: run, exec, logs exit codes and output / rm running / stderr', reason: NEWER_WORDING },
  { key: 'logs, top, changes, stats, export, resize, attach / stats once / *', reason: ISSUE_14 },
  { key: 'logs, top, changes, stats, export, resize, attach / logs / mediaType', reason: 'deliberate: API 1.42+ names the log stream multiplexed' },
  { key: 'logs, top, changes, stats, export, resize, attach / logs tail / mediaType', reason: 'deliberate: API 1.42+ names the log stream multiplexed' },
  { key: 'logs, top, changes, stats, export, resize, attach / logs bad tail / mediaType', reason: 'deliberate: API 1.42+ names the log stream multiplexed' },
  { key: 'logs, top, changes, stats, export, resize, attach / logs bad since / *', reason: OLD_500 },
  { key: 'logs, top, changes, stats, export, resize, attach / resize bad / message', reason: OLD_500 },
  { key: 'logs, top, changes, stats, export, resize, attach / attach missing / *', reason: 'deliberate: dockerd 20.10 hijacks before looking the container up and writes the error as raw text; Berth answers 404 JSON before hijacking' },
  { key: 'exec / exec empty body / message', reason: 'deliberate: same status (400), message of its own' },
  { key: 'exec / start exec again / *', reason: 'deliberate: dockerd 20.10 answers 200 and writes the error into the stream; newer dockerd and Berth answer 409' },
  // images
  { key: 'list, inspect, history, tag, remove / inspect / body.Config.Cmd', reason: 'deliberate: the two busybox images differ (dockerd\'s is a docker import of the rootfs, without CMD)' },
  { key: 'list, inspect, history, tag, remove / inspect / body.Container', reason: 'deliberate: removed in API 1.45' },
  { key: 'list, inspect, history, tag, remove / inspect / body.ContainerConfig', reason: 'deliberate: removed in API 1.45' },
  { key: 'list, inspect, history, tag, remove / list / body[].Labels', reason: 'known gap: an image without labels has {} (dockerd: null)' },
  { key: 'list, inspect, history, tag, remove / list / body[].RepoDigests', reason: 'known gap: an image without digests has [] (dockerd: null)' },
  { key: 'list, inspect, history, tag, remove / list bad filters / *', reason: `${OLD_500}; ${BAD_FILTERS}` },
  { key: 'list, inspect, history, tag, remove / inspect missing / message', reason: NO_SUCH_IMAGE_TAG },
  { key: 'list, inspect, history, tag, remove / history missing / message', reason: NO_SUCH_IMAGE_TAG },
  { key: 'list, inspect, history, tag, remove / remove missing / message', reason: NO_SUCH_IMAGE_TAG },
  { key: 'list, inspect, history, tag, remove / tag missing / message', reason: NO_SUCH_IMAGE_TAG },
  { key: 'list, inspect, history, tag, remove / remove in use / message', reason: 'deliberate: the two busybox images have different ids (the normalised ids differ in length only)' },
  { key: 'list, inspect, history, tag, remove / tag bad repo / *', reason: `${OLD_500}; Berth's message names the repository` },
  { key: 'save, load, pull, push, commit / commit bad repo / *', reason: `${OLD_500}; Berth's message names the repository` },
  { key: 'save, load, pull, push, commit / pull bad reference / message', reason: "deliberate: Berth's message names the repository" },
  { key: 'save, load, pull, push, commit / pull unreachable / message', reason: 'deliberate: the connection error is Node\'s, not Go\'s; Berth tries https first for a loopback registry as newer dockerd does' },
  { key: 'save, load, pull, push, commit / distribution unreachable / message', reason: 'deliberate: the connection error is Node\'s, not Go\'s' },
  { key: 'save, load, pull, push, commit / load not a tar / *', reason: 'deliberate: dockerd 20.10 answers 200 and puts the error in the stream; Berth refuses the body with 400 before reading on' },
  { key: 'save, load, pull, push, commit / push missing / *', reason: 'deliberate: dockerd 20.10 answers 200 and puts the error in the progress stream; newer dockerd and Berth answer 404' },
];
