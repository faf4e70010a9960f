#!/usr/bin/env -S -u NODE_EXTRA_CA_CERTS node
// berth: the Docker-compatible CLI. Start-up is a budget: this file parses only the global flags,
// then loads the one module that implements the command being run. What runs is esbuild's
// CommonJS bundles (scripts/build-cli.mjs): dist/berth.cjs is this file alone, and each command
// module is a bundle of its own under dist/cli/ with everything it uses, run-command.ts included.
// Node starts that ~40 ms sooner than the same code as a graph of ES modules, and compiles only
// the command that runs.
// The shebang drops NODE_EXTRA_CA_CERTS: node reads that bundle eagerly at start-up (~50 ms)
// and the CLI trusts no CA store: TLS to a daemon uses the certificates it is given (--tls*).

import type { Command, runCommand } from './run-command.js';
import type { TlsFlags } from '../client/tls.js';

type Loader = () => Promise<unknown>;
type CommandModule = Record<string, unknown> & { runCommand?: typeof runCommand };

// One loader per module, each a literal import(): bundled into dist/berth.cjs, a module is only
// evaluated when its command runs.
const containerRun: Loader = () => import('./container/run.js');
const containerStart: Loader = () => import('./container/start.js');
const containerLifecycle: Loader = () => import('./container/lifecycle.js');
const containerLogs: Loader = () => import('./container/logs.js');
const containerAttach: Loader = () => import('./container/attach.js');
const containerExec: Loader = () => import('./container/exec.js');
const containerInfo: Loader = () => import('./container/info.js');
const containerStats: Loader = () => import('./container/stats.js');
const containerPs: Loader = () => import('./container/ps.js');
const inspect: Loader = () => import('./inspect.js');
const imageList: Loader = () => import('./image/list.js');
const imageRm: Loader = () => import('./image/rm.js');
const imageTag: Loader = () => import('./image/tag.js');
const imageImport: Loader = () => import('./image/import.js');
const imagePull: Loader = () => import('./image/pull.js');
const imagePush: Loader = () => import('./image/push.js');
const registryLogin: Loader = () => import('./registry/login.js');
const imageSave: Loader = () => import('./image/save.js');
const imageLoad: Loader = () => import('./image/load.js');
const systemVersion: Loader = () => import('./system/version.js');
const systemInfo: Loader = () => import('./system/info.js');
const systemEvents: Loader = () => import('./system/events.js');
const containerCp: Loader = () => import('./container/cp.js');
const containerPrune: Loader = () => import('./container/prune.js');
const imagePrune: Loader = () => import('./image/prune.js');
const systemDf: Loader = () => import('./system/df.js');
const systemPrune: Loader = () => import('./system/prune.js');
const containerCommit: Loader = () => import('./container/commit.js');
const containerExport: Loader = () => import('./container/export.js');
const imageHistory: Loader = () => import('./image/history.js');
const network: Loader = () => import('./network/network.js');
const imageLayers: Loader = () => import('./image/layers.js');
const imageCompare: Loader = () => import('./image/compare.js');
const containerLayers: Loader = () => import('./container/layers.js');
const ui: Loader = () => import('./ui.js');
const containerUpdate: Loader = () => import('./container/update.js');
const volume: Loader = () => import('./volume/volume.js');
const imageBuild: Loader = () => import('./image/build.js');

// command words → [module, export].
const COMMANDS: Record<string, [Loader, string]> = {
  run: [containerRun, 'run'],
  create: [containerRun, 'create'],
  start: [containerStart, 'start'],
  stop: [containerLifecycle, 'stop'],
  kill: [containerLifecycle, 'kill'],
  restart: [containerLifecycle, 'restart'],
  pause: [containerLifecycle, 'pause'],
  unpause: [containerLifecycle, 'unpause'],
  rm: [containerLifecycle, 'rm'],
  rename: [containerLifecycle, 'rename'],
  wait: [containerLifecycle, 'wait'],
  logs: [containerLogs, 'logs'],
  attach: [containerAttach, 'attach'],
  exec: [containerExec, 'exec'],
  top: [containerInfo, 'top'],
  diff: [containerInfo, 'diff'],
  port: [containerInfo, 'port'],
  stats: [containerStats, 'stats'],
  ps: [containerPs, 'ps'],
  inspect: [inspect, 'inspect'],
  images: [imageList, 'images'],
  rmi: [imageRm, 'rmi'],
  tag: [imageTag, 'tag'],
  import: [imageImport, 'importImage'],
  pull: [imagePull, 'pull'],
  push: [imagePush, 'push'],
  login: [registryLogin, 'login'],
  logout: [registryLogin, 'logout'],
  save: [imageSave, 'save'],
  load: [imageLoad, 'load'],
  version: [systemVersion, 'version'],
  info: [systemInfo, 'info'],
  events: [systemEvents, 'events'],
  cp: [containerCp, 'cp'],
  'container run': [containerRun, 'run'],
  'container create': [containerRun, 'create'],
  'container start': [containerStart, 'start'],
  'container stop': [containerLifecycle, 'stop'],
  'container kill': [containerLifecycle, 'kill'],
  'container restart': [containerLifecycle, 'restart'],
  'container pause': [containerLifecycle, 'pause'],
  'container unpause': [containerLifecycle, 'unpause'],
  'container rm': [containerLifecycle, 'rm'],
  'container remove': [containerLifecycle, 'rm'],
  'container rename': [containerLifecycle, 'rename'],
  'container wait': [containerLifecycle, 'wait'],
  'container logs': [containerLogs, 'logs'],
  'container attach': [containerAttach, 'attach'],
  'container exec': [containerExec, 'exec'],
  'container top': [containerInfo, 'top'],
  'container diff': [containerInfo, 'diff'],
  'container port': [containerInfo, 'port'],
  'container stats': [containerStats, 'stats'],
  'container ls': [containerPs, 'ps'],
  'container list': [containerPs, 'ps'],
  'container ps': [containerPs, 'ps'],
  'container inspect': [inspect, 'containerInspect'],
  'container prune': [containerPrune, 'prune'],
  'container cp': [containerCp, 'cp'],
  'image ls': [imageList, 'images'],
  'image list': [imageList, 'images'],
  'image rm': [imageRm, 'rmi'],
  'image remove': [imageRm, 'rmi'],
  'image tag': [imageTag, 'tag'],
  'image import': [imageImport, 'importImage'],
  'image inspect': [inspect, 'imageInspect'],
  'image prune': [imagePrune, 'prune'],
  'image pull': [imagePull, 'pull'],
  'image push': [imagePush, 'push'],
  'image save': [imageSave, 'save'],
  'image load': [imageLoad, 'load'],
  'system df': [systemDf, 'df'],
  'system prune': [systemPrune, 'prune'],
  'system info': [systemInfo, 'info'],
  'system events': [systemEvents, 'events'],
  commit: [containerCommit, 'commit'],
  'container commit': [containerCommit, 'commit'],
  export: [containerExport, 'exportContainer'],
  'container export': [containerExport, 'exportContainer'],
  history: [imageHistory, 'history'],
  build: [imageBuild, 'build'],
  'image build': [imageBuild, 'build'],
  'builder build': [imageBuild, 'build'],
  'image history': [imageHistory, 'history'],
  'network create': [network, 'create'],
  'network ls': [network, 'ls'],
  'network list': [network, 'ls'],
  'network inspect': [network, 'inspect'],
  'network rm': [network, 'rm'],
  'network remove': [network, 'rm'],
  'network connect': [network, 'connect'],
  'network disconnect': [network, 'disconnect'],
  'network prune': [network, 'prune'],
  'image tree': [imageLayers, 'tree'],
  'image files': [imageLayers, 'files'],
  'image diff': [imageCompare, 'diff'],
  'image efficiency': [imageCompare, 'efficiency'],
  'container layers': [containerLayers, 'layers'],
  ui: [ui, 'ui'],
  update: [containerUpdate, 'update'],
  'container update': [containerUpdate, 'update'],
  'volume create': [volume, 'create'],
  'volume ls': [volume, 'ls'],
  'volume list': [volume, 'ls'],
  'volume inspect': [volume, 'inspect'],
  'volume rm': [volume, 'rm'],
  'volume remove': [volume, 'rm'],
  'volume prune': [volume, 'prune'],
};

const GROUPS = ['container', 'image', 'system', 'network', 'volume'];

// global flags that take a value
const VALUE_FLAGS = new Set(['-H', '--host', '-l', '--log-level', '--config', '-c', '--context', '--tlscacert', '--tlscert', '--tlskey']);

function usage(prog: string): string {
  return `
Usage:  ${prog} [OPTIONS] COMMAND

A container engine that speaks the Docker Engine API

Common Commands:
  run         Create and run a new container from an image
  exec        Execute a command in a running container
  ps          List containers
  build       Build an image from a Dockerfile
  images      List images
  pull        Download an image from a registry
  push        Upload an image to a registry
  login       Authenticate to a registry
  logout      Log out from a registry
  import      Import the contents from a tarball to create a filesystem image
  info        Display system-wide information
  version     Show the Berth version information

Management Commands:
  container   Manage containers
  image       Manage images
  network     Manage networks
  system      Manage Berth
  volume      Manage volumes

Commands:
  attach      Attach local standard input, output, and error streams to a running container
  commit      Create a new image from a container's changes
  cp          Copy files/folders between a container and the local filesystem
  create      Create a new container
  diff        Inspect changes to files or directories on a container's filesystem
  events      Get real time events from the server
  export      Export a container's filesystem as a tar archive
  history     Show the history of an image
  inspect     Return low-level information on Berth objects
  kill        Kill one or more running containers
  load        Load an image from a tar archive or STDIN
  logs        Fetch the logs of a container
  pause       Pause all processes within one or more containers
  port        List port mappings or a specific mapping for the container
  rename      Rename a container
  restart     Restart one or more containers
  rm          Remove one or more containers
  rmi         Remove one or more images
  save        Save one or more images to a tar archive (streamed to STDOUT by default)
  start       Start one or more stopped containers
  stats       Display a live stream of container(s) resource usage statistics
  stop        Stop one or more running containers
  tag         Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE
  top         Display the running processes of a container
  ui          Serve the live web view of images, layers and containers on 127.0.0.1
  unpause     Unpause all processes within one or more containers
  update      Update configuration of one or more containers
  wait        Block until one or more containers stop, then print their exit codes

Global Options:
      --config string      Location of client config files (default: $DOCKER_CONFIG, ~/.docker)
  -D, --debug              Enable debug mode
  -H, --host string        Daemon socket to connect to (default: $BERTH_HOST, $DOCKER_HOST, unix:///run/berth/berth.sock)
  -l, --log-level string   Set the logging level ("debug"|"info"|"warn"|"error"|"fatal") (default "info")
      --tls                Use TLS; implied by --tlsverify
      --tlscacert string   Trust certs signed only by this CA (default "~/.docker/ca.pem")
      --tlscert string     Path to TLS certificate file (default "~/.docker/cert.pem")
      --tlskey string      Path to TLS key file (default "~/.docker/key.pem")
      --tlsverify          Use TLS and verify the remote (default: $DOCKER_TLS_VERIFY)
  -v, --version            Print version information and quit

Run '${prog} COMMAND --help' for more information on a command.
`;
}

function groupUsage(prog: string, group: string): string {
  const subs = Object.keys(COMMANDS)
    .filter((k) => k.startsWith(group + ' '))
    .map((k) => k.slice(group.length + 1));
  return `
Usage:  ${prog} ${group} COMMAND

Commands:
${subs.map((s) => `  ${s}`).join('\n')}

Run '${prog} ${group} COMMAND --help' for more information on a command.
`;
}

async function main(argv: string[]): Promise<number> {
  const prog = 'berth';
  let host: string | undefined;
  let configDir: string | undefined;
  let debug = false;
  const tls: TlsFlags = {};
  let i = 0;
  for (; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--') {
      i++;
      break;
    }
    if (!a.startsWith('-') || a === '-') break;
    const eq = a.indexOf('=');
    const name = a.startsWith('--') && eq > 0 ? a.slice(0, eq) : a.startsWith('--') ? a : a.slice(0, 2);
    let value: string | undefined;
    if (VALUE_FLAGS.has(name)) {
      if (a.startsWith('--') && eq > 0) value = a.slice(eq + 1);
      else if (!a.startsWith('--') && a.length > 2) value = a.slice(2).replace(/^=/, '');
      else if (i + 1 < argv.length) value = argv[++i];
      else {
        process.stderr.write(`flag needs an argument: ${name}\n\nUsage:  ${prog} [OPTIONS] COMMAND [ARG...]\n\nRun '${prog} --help' for more information\n`);
        return 125;
      }
      if (name === '-H' || name === '--host') host = value;
      if (name === '--config') configDir = value;
      if (name === '--tlscacert' || name === '--tlscert' || name === '--tlskey') tls[name.slice(2) as 'tlscacert' | 'tlscert' | 'tlskey'] = value;
      continue;
    }
    if (name === '-D' || name === '--debug') debug = true;
    else if (name === '-v' || name === '--version') {
      process.stdout.write(`Berth version ${BERTH_VERSION}, build unknown\n`);
      return 0;
    } else if (name === '-h' || name === '--help') {
      process.stdout.write(usage(prog));
      return 0;
    } else if (name === '--tls' || name === '--tlsverify') {
      // --tls, --tls=true, --tls=false (and the same for --tlsverify), as the docker CLI takes them.
      const v = eq > 0 ? a.slice(eq + 1).toLowerCase() : 'true';
      tls[name.slice(2) as 'tls' | 'tlsverify'] = v === 'true' || v === '1';
    }
    else {
      process.stderr.write(`unknown flag: ${name}\n\nUsage:  ${prog} [OPTIONS] COMMAND [ARG...]\n\nRun '${prog} --help' for more information\n`);
      return 125;
    }
  }
  const rest = argv.slice(i);
  if (!rest.length) {
    process.stdout.write(usage(prog));
    return 0;
  }
  let words = 1;
  let key = rest[0];
  if (GROUPS.includes(key)) {
    if (rest.length < 2 || rest[1] === '--help' || rest[1].startsWith('-')) {
      process.stdout.write(groupUsage(prog, key));
      return 0;
    }
    key = `${rest[0]} ${rest[1]}`;
    words = 2;
  }
  const entry = COMMANDS[key];
  if (!entry) {
    if (key === 'help') {
      process.stdout.write(usage(prog));
      return 0;
    }
    process.stderr.write(`${prog}: unknown command: ${prog} ${key}\n\nRun '${prog} --help' for more information\n`);
    return 1;
  }
  const mod = (await entry[0]()) as CommandModule;
  // Bundled, a command module brings its own runner; unbundled (tsc's output), it is shared.
  const run = mod.runCommand ?? (await import('./run-command.js')).runCommand;
  return run(mod[entry[1]] as Command, rest.slice(words), { prog, host, debug, path: key, configDir, tls });
}

const BERTH_VERSION = '0.1.0';

/** Calls `then` once everything written to stdout and stderr so far has left the process. */
function flushThen(then: () => void): void {
  let pending = 2;
  const done = (): void => {
    if (--pending === 0) then();
  };
  for (const s of [process.stdout, process.stderr]) {
    if (s.destroyed || !s.writable) done();
    else s.write('', () => done());
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
    // Streams or stdin listeners may keep the loop alive after the command is done, so exit
    // explicitly — but only once stdout and stderr are flushed: writes to a pipe are queued
    // when its reader is slower, and exiting then drops them (`berth exec -i … | slow` lost all
    // but the first 64 KiB).
    flushThen(() => process.exit(code));
  },
  (e: unknown) => {
    process.stderr.write(`${String((e as Error)?.stack ?? e)}\n`);
    process.exit(1);
  },
);
