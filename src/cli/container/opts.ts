// The flags shared by run and create, and their translation into POST /containers/create.

import { readFileSync } from 'node:fs';
import type { Command } from '../cli.js';
import type { ContainerCreateRequest, HostConfig, Ulimit } from '../../types/api.js';
import { collect, invalidFlag as invalid, StatusError } from '../cli.js';
import { addMountFlags, applyMountFlags, type MountFlags } from './mount-opts.js';
import { addResourceFlags, healthFields, parseRestartPolicy, resourceFields, type ResourceFlagOpts } from './resource-opts.js';

export interface CreateOpts extends ResourceFlagOpts, MountFlags {
  attach?: string[];
  interactive?: boolean;
  tty?: boolean;
  detach?: boolean;
  rm?: boolean;
  name?: string;
  env?: string[];
  envFile?: string[];
  workdir?: string;
  user?: string;
  entrypoint?: string;
  hostname?: string;
  label?: string[];
  init?: boolean;
  stopSignal?: string;
  stopTimeout?: string;
  network?: string;
  privileged?: boolean;
  capAdd?: string[];
  capDrop?: string[];
  readOnly?: boolean;
  securityOpt?: string[];
  ulimit?: string[];
  publish?: string[];
  expose?: string[];
  detachKeys?: string;
  sigProxy: boolean;
  platform?: string;
  pull?: string;
  quiet?: boolean;
}

export function addCreateFlags(c: Command, run: boolean): void {
  c.option('-a, --attach <stream>', 'Attach to STDIN, STDOUT or STDERR', collect)
    .option('--cap-add <cap>', 'Add Linux capabilities', collect)
    .option('--cap-drop <cap>', 'Drop Linux capabilities', collect)
    .option('--entrypoint <string>', 'Overwrite the default ENTRYPOINT of the image')
    .option('-e, --env <list>', 'Set environment variables', collect)
    .option('--env-file <file>', 'Read in a file of environment variables', collect)
    .option('--expose <port>', 'Expose a port or a range of ports', collect)
    .option('-h, --hostname <string>', 'Container host name')
    .option('--init', 'Run an init inside the container that forwards signals and reaps processes')
    .option('-i, --interactive', 'Keep STDIN open even if not attached')
    .option('-l, --label <list>', 'Set meta data on a container', collect)
    .option('--name <string>', 'Assign a name to the container')
    .option('--network <network>', 'Connect a container to a network')
    .option('--net <network>', 'Connect a container to a network')
    .option('--platform <string>', 'Set platform if server is multi-platform capable')
    .option('--privileged', 'Give extended privileges to this container')
    .option('-p, --publish <list>', "Publish a container's port(s) to the host", collect)
    .option('--pull <string>', 'Pull image before running ("always", "missing", "never")')
    .option('-q, --quiet', 'Suppress the pull output')
    .option('--read-only', "Mount the container's root filesystem as read only")
    .option('--rm', 'Automatically remove the container and its associated anonymous volumes when it exits')
    .option('--security-opt <list>', 'Security Options', collect)
    .option('--stop-signal <string>', 'Signal to stop the container')
    .option('--stop-timeout <int>', 'Timeout (in seconds) to stop a container')
    .option('-t, --tty', 'Allocate a pseudo-TTY')
    .option('--ulimit <ulimit>', 'Ulimit options', collect)
    .option('-u, --user <string>', 'Username or UID (format: <name|uid>[:<group|gid>])')
    .option('-w, --workdir <string>', 'Working directory inside the container');
  addResourceFlags(c);
  addMountFlags(c);
  if (run) {
    c.option('-d, --detach', 'Run container in background and print container ID')
      .option('--detach-keys <string>', 'Override the key sequence for detaching a container')
      .option('--no-sig-proxy', 'Proxy received signals to the process');
  }
}


/** Reads an --env-file: KEY=VALUE lines, KEY alone takes the value from this environment. */
export function parseEnvFile(text: string, env: NodeJS.ProcessEnv = process.env): string[] {
  const out: string[] = [];
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.replace(/^\s+/, '');
    if (!line || line.startsWith('#')) continue;
    const i = line.indexOf('=');
    const key = i < 0 ? line.trimEnd() : line.slice(0, i);
    if (/\s/.test(key)) throw new Error(`variable '${key}' contains whitespaces`);
    if (i >= 0) out.push(line);
    else if (env[key] !== undefined) out.push(`${key}=${env[key]}`);
  }
  return out;
}

function envValue(e: string): string | undefined {
  if (e.includes('=')) return e;
  const v = process.env[e];
  return v === undefined ? undefined : `${e}=${v}`;
}

export function parseUlimit(s: string): Ulimit {
  const m = /^([a-z]+)=(-?\d+)(?::(-?\d+))?$/.exec(s);
  if (!m) throw invalid('--ulimit', s, `invalid ulimit argument: ${s}`);
  const soft = Number(m[2]);
  const hard = m[3] === undefined ? soft : Number(m[3]);
  if (soft > hard && hard !== -1) throw invalid('--ulimit', s, `ulimit soft limit must be less than or equal to hard limit: ${soft} > ${hard}`);
  return { Name: m[1], Soft: soft, Hard: hard };
}

/** Builds the create request from the parsed flags, the image and the command. */
export function buildCreateRequest(o: CreateOpts, image: string, cmd: string[]): ContainerCreateRequest {
  const attach = new Set((o.attach ?? []).map((a) => a.toLowerCase()));
  for (const a of attach) if (!['stdin', 'stdout', 'stderr'].includes(a)) throw invalid('-a, --attach', a, `valid streams are STDIN, STDOUT and STDERR`);
  let attachStdin = false;
  let attachStdout = false;
  let attachStderr = false;
  if (o.detach) {
    if (attach.size) throw new StatusError(125, 'Conflicting options: -a and -d');
  } else if (attach.size) {
    attachStdin = attach.has('stdin');
    attachStdout = attach.has('stdout');
    attachStderr = attach.has('stderr');
  } else {
    attachStdout = true;
    attachStderr = true;
    attachStdin = !!o.interactive;
  }

  let env: string[] = [];
  for (const f of o.envFile ?? []) {
    try {
      env.push(...parseEnvFile(readFileSync(f, 'utf8')));
    } catch (e) {
      const err = e as NodeJS.ErrnoException;
      throw new StatusError(125, `open ${f}: ${err.code === 'ENOENT' ? 'no such file or directory' : err.message}`);
    }
  }
  for (const e of o.env ?? []) {
    const v = envValue(e);
    if (v !== undefined) env.push(v);
  }
  env = env.filter((x) => x.length > 0);

  const labels: Record<string, string> = {};
  for (const l of o.label ?? []) {
    const i = l.indexOf('=');
    if (i < 0) labels[l] = '';
    else labels[l.slice(0, i)] = l.slice(i + 1);
  }

  const host: HostConfig = {
    Binds: null,
    NetworkMode: o.network ?? (o as { net?: string }).net ?? 'default',
    AutoRemove: !!o.rm,
    Privileged: !!o.privileged,
    ReadonlyRootfs: !!o.readOnly,
    CapAdd: o.capAdd ?? null,
    CapDrop: o.capDrop ?? null,
    SecurityOpt: o.securityOpt ?? null,
    RestartPolicy: { Name: '' },
  };
  if (o.init) host.Init = true;
  Object.assign(host, resourceFields(o));
  if (o.ulimit?.length) host.Ulimits = o.ulimit.map(parseUlimit);
  if (o.restart) {
    host.RestartPolicy = parseRestartPolicy(o.restart);
    if (o.rm && !['', 'no'].includes(host.RestartPolicy.Name)) throw new StatusError(125, 'conflicting options: cannot specify both --restart and --rm');
  }
  const exposed: Record<string, object> = {};
  if (o.publish?.length) {
    host.PortBindings = {};
    for (const p of o.publish) {
      const m = /^(?:(?:\[([0-9a-fA-F:.]+)\]|([0-9.]+)):)?(?:(\d*):)?(\d+)(?:\/(tcp|udp|sctp))?$/.exec(p);
      if (!m) throw invalid('-p, --publish', p, `invalid publish spec`);
      const key = `${m[4]}/${m[5] ?? 'tcp'}`;
      exposed[key] = {};
      (host.PortBindings[key] ??= []).push({ HostIp: m[1] ?? m[2] ?? '', HostPort: m[3] ?? '' });
    }
  }
  for (const e of o.expose ?? []) exposed[e.includes('/') ? e : `${e}/tcp`] = {};

  const req: ContainerCreateRequest = {
    Hostname: o.hostname ?? '',
    Domainname: '',
    User: o.user ?? '',
    AttachStdin: attachStdin,
    AttachStdout: attachStdout,
    AttachStderr: attachStderr,
    Tty: !!o.tty,
    OpenStdin: !!o.interactive,
    StdinOnce: attachStdin,
    Env: env,
    Cmd: cmd.length ? cmd : null,
    Image: image,
    Volumes: {},
    WorkingDir: o.workdir ?? '',
    Entrypoint: o.entrypoint === undefined ? null : o.entrypoint === '' ? [''] : [o.entrypoint],
    Labels: labels,
    HostConfig: host,
    NetworkingConfig: { EndpointsConfig: {} },
  };
  applyMountFlags(o, host, req);
  if (Object.keys(exposed).length) req.ExposedPorts = exposed;
  const health = healthFields(o);
  if (health) req.Healthcheck = health;
  if (o.stopSignal) req.StopSignal = o.stopSignal;
  if (o.stopTimeout !== undefined) {
    if (!/^-?\d+$/.test(o.stopTimeout)) throw invalid('--stop-timeout', o.stopTimeout, `strconv.ParseInt: parsing "${o.stopTimeout}": invalid syntax`);
    req.StopTimeout = Number(o.stopTimeout);
  }
  return req;
}
