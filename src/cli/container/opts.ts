// The flags shared by run and create, and their translation into POST /containers/create.

import { readFileSync } from 'node:fs';
import type { Command } from '../cli.js';
import type { ContainerCreateRequest, EndpointSettings, HostConfig, Ulimit } from '../../types/api.js';
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
  userns?: string;
  capAdd?: string[];
  capDrop?: string[];
  readOnly?: boolean;
  securityOpt?: string[];
  ulimit?: string[];
  publish?: string[];
  publishAll?: boolean;
  expose?: string[];
  networkAlias?: string[];
  ip?: string;
  ip6?: string;
  macAddress?: string;
  dns?: string[];
  dnsSearch?: string[];
  dnsOption?: string[];
  addHost?: string[];
  link?: string[];
  domainname?: string;
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
    .option('-P, --publish-all', 'Publish all exposed ports to random ports')
    .option('--network-alias <list>', 'Add network-scoped alias for the container', collect)
    .option('--ip <string>', 'IPv4 address (e.g., 172.30.100.104)')
    .option('--ip6 <string>', 'IPv6 address (e.g., 2001:db8::33)')
    .option('--mac-address <string>', 'Container MAC address (e.g., 92:d0:c6:0a:29:33)')
    .option('--dns <list>', 'Set custom DNS servers', collect)
    .option('--dns-search <list>', 'Set custom DNS search domains', collect)
    .option('--dns-option <list>', 'Set DNS options', collect)
    .option('--add-host <list>', 'Add a custom host-to-IP mapping (host:ip)', collect)
    .option('--link <list>', 'Add link to another container', collect)
    .option('--domainname <string>', 'Container NIS domain name')
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
    .option('--userns <string>', 'User namespace to use ("host": the host\'s, with berthd --userns-remap)')
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
    Binds: undefined,
    NetworkMode: o.network ?? (o as { net?: string }).net ?? 'default',
    AutoRemove: !!o.rm,
    Privileged: !!o.privileged,
    ReadonlyRootfs: !!o.readOnly,
    CapAdd: o.capAdd,
    CapDrop: o.capDrop,
    SecurityOpt: o.securityOpt,
    RestartPolicy: { Name: '' },
  };
  if (o.init) host.Init = true;
  if (o.userns !== undefined) {
    // The docker CLI's own check, before the daemon is asked.
    if (!['', 'host'].includes(o.userns)) throw new StatusError(125, '--userns: invalid USER mode');
    host.UsernsMode = o.userns;
  }
  Object.assign(host, resourceFields(o));
  if (o.ulimit?.length) host.Ulimits = o.ulimit.map(parseUlimit);
  if (o.restart) {
    host.RestartPolicy = parseRestartPolicy(o.restart);
    if (o.rm && !['', 'no'].includes(host.RestartPolicy.Name ?? '')) throw new StatusError(125, 'conflicting options: cannot specify both --restart and --rm');
  }
  const exposed: Record<string, object> = {};
  if (o.publish?.length) {
    host.PortBindings = {};
    for (const p of o.publish) publishSpec(p, host.PortBindings, exposed);
  }
  for (const e of o.expose ?? []) {
    const m = /^(\d+)(?:-(\d+))?(?:\/(tcp|udp|sctp))?$/.exec(e);
    if (!m) throw invalid('--expose', e, `invalid range format for --expose: ${e}`);
    for (let port = Number(m[1]); port <= Number(m[2] ?? m[1]); port++) exposed[`${port}/${m[3] ?? 'tcp'}`] = {};
  }
  if (o.publishAll) host.PublishAllPorts = true;
  if (o.dns?.length) host.Dns = o.dns;
  if (o.dnsSearch?.length) host.DnsSearch = o.dnsSearch;
  if (o.dnsOption?.length) host.DnsOptions = o.dnsOption;
  if (o.addHost?.length) host.ExtraHosts = o.addHost.map((h) => h.replace('=', ':'));
  if (o.link?.length) host.Links = o.link.map((l) => (l.includes(':') ? l : `${l}:${l}`));
  const endpoint = networkEndpoint(o);

  const req: ContainerCreateRequest = {
    Hostname: o.hostname ?? '',
    Domainname: o.domainname ?? '',
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
    NetworkingConfig: { EndpointsConfig: endpoint ? { [host.NetworkMode!]: endpoint } : {} },
  };
  applyMountFlags(o, host, req);
  if (o.macAddress) req.MacAddress = o.macAddress;
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

/** -p [ip:][hostPort[-end]:]containerPort[-end][/proto], with ranges expanded port by port as the docker CLI does. */
function publishSpec(p: string, bindings: NonNullable<HostConfig['PortBindings']>, exposed: Record<string, object>): void {
  const m = /^(?:(?:\[([0-9a-fA-F:.]+)\]|([0-9.]+)):)?(?:(\d*)(?:-(\d+))?:)?(\d+)(?:-(\d+))?(?:\/(tcp|udp|sctp))?$/.exec(p);
  if (!m) throw invalid('-p, --publish', p, `invalid publish spec`);
  const ip = m[1] ?? m[2] ?? '';
  const [cStart, cEnd] = [Number(m[5]), Number(m[6] ?? m[5])];
  const hStart = m[3] ? Number(m[3]) : 0;
  const hEnd = m[4] ? Number(m[4]) : hStart;
  if (cEnd < cStart || hEnd < hStart || cStart < 1 || cEnd > 65535 || hEnd > 65535) throw invalid('-p, --publish', p, `invalid range specified for port: ${p}`);
  const count = cEnd - cStart + 1;
  if (hStart && hEnd - hStart + 1 !== count && count !== 1) throw invalid('-p, --publish', p, `invalid ranges specified for container and host Ports: ${p}`);
  for (let i = 0; i < count; i++) {
    const key = `${cStart + i}/${m[7] ?? 'tcp'}`;
    exposed[key] = {};
    // A single container port with a host range: the daemon picks one port in the range.
    const hostPort = !hStart ? '' : count === 1 && hEnd > hStart ? `${hStart}-${hEnd}` : String(hStart + i);
    (bindings[key] ??= []).push({ HostIp: ip, HostPort: hostPort });
  }
}

/** --network-alias / --ip / --ip6 / --link as the endpoint settings of the container's network. */
function networkEndpoint(o: CreateOpts): EndpointSettings | undefined {
  if (!o.networkAlias?.length && !o.ip && !o.ip6 && !o.macAddress) return undefined;
  const ep: EndpointSettings = {};
  if (o.networkAlias?.length) ep.Aliases = o.networkAlias;
  if (o.ip || o.ip6) ep.IPAMConfig = { ...(o.ip ? { IPv4Address: o.ip } : {}), ...(o.ip6 ? { IPv6Address: o.ip6 } : {}) };
  if (o.macAddress) ep.MacAddress = o.macAddress;
  return ep;
}
