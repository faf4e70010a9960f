#!/usr/bin/env -S -u NODE_EXTRA_CA_CERTS node
// berth: the Docker-compatible CLI. Start-up is a budget: this file parses only the global flags,
// then dynamically imports the one module that implements the command being run.
// The shebang drops NODE_EXTRA_CA_CERTS: node reads that bundle eagerly at start-up (~50 ms)
// and the CLI never speaks TLS.

import { Client } from '../client/client.js';
import { resolveHost } from '../client/host.js';
import { describe, StatusError, type Ctx } from './cli.js';

type Entry = [module: string, fn: string];

// command words → [module, export]. Modules are imported lazily.
const C = './container/';
const I = './image/';
const S = './system/';
const COMMANDS: Record<string, Entry> = {
  run: [C + 'run.js', 'run'],
  create: [C + 'run.js', 'create'],
  start: [C + 'start.js', 'start'],
  stop: [C + 'lifecycle.js', 'stop'],
  kill: [C + 'lifecycle.js', 'kill'],
  restart: [C + 'lifecycle.js', 'restart'],
  pause: [C + 'lifecycle.js', 'pause'],
  unpause: [C + 'lifecycle.js', 'unpause'],
  rm: [C + 'lifecycle.js', 'rm'],
  rename: [C + 'lifecycle.js', 'rename'],
  wait: [C + 'lifecycle.js', 'wait'],
  logs: [C + 'logs.js', 'logs'],
  attach: [C + 'attach.js', 'attach'],
  exec: [C + 'exec.js', 'exec'],
  top: [C + 'info.js', 'top'],
  diff: [C + 'info.js', 'diff'],
  port: [C + 'info.js', 'port'],
  stats: [C + 'stats.js', 'stats'],
  ps: [C + 'ps.js', 'ps'],
  inspect: ['./inspect.js', 'inspect'],
  images: [I + 'list.js', 'images'],
  rmi: [I + 'rm.js', 'rmi'],
  tag: [I + 'tag.js', 'tag'],
  import: [I + 'import.js', 'importImage'],
  pull: [I + 'pull.js', 'pull'],
  push: [I + 'push.js', 'push'],
  login: ['./registry/login.js', 'login'],
  logout: ['./registry/login.js', 'logout'],
  save: [I + 'save.js', 'save'],
  load: [I + 'load.js', 'load'],
  version: [S + 'version.js', 'version'],
  info: [S + 'info.js', 'info'],
  events: [S + 'events.js', 'events'],
  cp: [C + 'cp.js', 'cp'],
  'container run': [C + 'run.js', 'run'],
  'container create': [C + 'run.js', 'create'],
  'container start': [C + 'start.js', 'start'],
  'container stop': [C + 'lifecycle.js', 'stop'],
  'container kill': [C + 'lifecycle.js', 'kill'],
  'container restart': [C + 'lifecycle.js', 'restart'],
  'container pause': [C + 'lifecycle.js', 'pause'],
  'container unpause': [C + 'lifecycle.js', 'unpause'],
  'container rm': [C + 'lifecycle.js', 'rm'],
  'container remove': [C + 'lifecycle.js', 'rm'],
  'container rename': [C + 'lifecycle.js', 'rename'],
  'container wait': [C + 'lifecycle.js', 'wait'],
  'container logs': [C + 'logs.js', 'logs'],
  'container attach': [C + 'attach.js', 'attach'],
  'container exec': [C + 'exec.js', 'exec'],
  'container top': [C + 'info.js', 'top'],
  'container diff': [C + 'info.js', 'diff'],
  'container port': [C + 'info.js', 'port'],
  'container stats': [C + 'stats.js', 'stats'],
  'container ls': [C + 'ps.js', 'ps'],
  'container list': [C + 'ps.js', 'ps'],
  'container ps': [C + 'ps.js', 'ps'],
  'container inspect': ['./inspect.js', 'containerInspect'],
  'container prune': [C + 'prune.js', 'prune'],
  'container cp': [C + 'cp.js', 'cp'],
  'image ls': [I + 'list.js', 'images'],
  'image list': [I + 'list.js', 'images'],
  'image rm': [I + 'rm.js', 'rmi'],
  'image remove': [I + 'rm.js', 'rmi'],
  'image tag': [I + 'tag.js', 'tag'],
  'image import': [I + 'import.js', 'importImage'],
  'image inspect': ['./inspect.js', 'imageInspect'],
  'image prune': [I + 'prune.js', 'prune'],
  'image pull': [I + 'pull.js', 'pull'],
  'image push': [I + 'push.js', 'push'],
  'image save': [I + 'save.js', 'save'],
  'image load': [I + 'load.js', 'load'],
  'system df': [S + 'df.js', 'df'],
  'system prune': [S + 'prune.js', 'prune'],
  'system info': [S + 'info.js', 'info'],
  'system events': [S + 'events.js', 'events'],
  commit: [C + 'commit.js', 'commit'],
  'container commit': [C + 'commit.js', 'commit'],
  export: [C + 'export.js', 'exportContainer'],
  'container export': [C + 'export.js', 'exportContainer'],
  history: [I + 'history.js', 'history'],
  'image history': [I + 'history.js', 'history'],
};

const GROUPS = ['container', 'image', 'system'];

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
  system      Manage Berth

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
  unpause     Unpause all processes within one or more containers
  wait        Block until one or more containers stop, then print their exit codes

Global Options:
      --config string      Location of client config files (default: $DOCKER_CONFIG, ~/.docker)
  -D, --debug              Enable debug mode
  -H, --host string        Daemon socket to connect to (default: $BERTH_HOST, $DOCKER_HOST, unix:///run/berth/berth.sock)
  -l, --log-level string   Set the logging level ("debug"|"info"|"warn"|"error"|"fatal") (default "info")
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
      continue;
    }
    if (name === '-D' || name === '--debug') debug = true;
    else if (name === '-v' || name === '--version') {
      process.stdout.write(`Berth version ${BERTH_VERSION}, build unknown\n`);
      return 0;
    } else if (name === '-h' || name === '--help') {
      process.stdout.write(usage(prog));
      return 0;
    } else if (name.startsWith('--tls')) continue;
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
  const resolved = resolveHost(host);
  let client: Client | undefined;
  const ctx: Ctx = {
    prog,
    host: resolved,
    debug,
    path: key,
    configDir,
    client: () => (client ??= new Client(resolved, { version: process.env.BERTH_API_VERSION || process.env.DOCKER_API_VERSION || undefined })),
  };
  const wantsHelp = rest.includes('--help');
  try {
    // Negotiate the API version while the command's module loads; errors surface on first use.
    if (!wantsHelp) ctx.client().apiVersion().catch(() => {});
  } catch (e) {
    process.stderr.write(describe(e) + '\n');
    return 1;
  }
  const mod = (await import(entry[0])) as Record<string, (args: string[], ctx: Ctx) => Promise<number>>;
  try {
    return await mod[entry[1]](rest.slice(words), ctx);
  } catch (e) {
    if (e instanceof StatusError) {
      if (e.message) process.stderr.write(e.message + '\n');
      return e.status;
    }
    process.stderr.write(describe(e) + '\n');
    if (debug && e instanceof Error && e.stack) process.stderr.write(e.stack + '\n');
    return 1;
  } finally {
    client?.close();
  }
}

const BERTH_VERSION = '0.1.0';

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
    // Streams or stdin listeners may keep the loop alive after the command is done.
    setImmediate(() => process.exit(code));
  },
  (e: unknown) => {
    process.stderr.write(`${String((e as Error)?.stack ?? e)}\n`);
    process.exit(1);
  },
);
