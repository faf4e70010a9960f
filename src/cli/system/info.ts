// berth info: system-wide information (GET /info).

import { command, describe, parse, StatusError, type Ctx } from '../cli.js';
import { parseTemplate, prepare } from '../format/formatter.js';
import { bytesSize } from '../format/units.js';

/** The parts of GET /info this command prints (not yet in types/api.ts). */
export interface SystemInfo {
  ID?: string;
  Containers?: number;
  ContainersRunning?: number;
  ContainersPaused?: number;
  ContainersStopped?: number;
  Images?: number;
  Driver?: string;
  DriverStatus?: [string, string][] | null;
  Plugins?: { Volume?: string[] | null; Network?: string[] | null; Log?: string[] | null; Authorization?: string[] | null };
  LoggingDriver?: string;
  CgroupDriver?: string;
  CgroupVersion?: string;
  KernelVersion?: string;
  OperatingSystem?: string;
  OSType?: string;
  Architecture?: string;
  NCPU?: number;
  MemTotal?: number;
  Name?: string;
  DockerRootDir?: string;
  Debug?: boolean;
  ExperimentalBuild?: boolean;
  ServerVersion?: string;
  Runtimes?: Record<string, unknown>;
  DefaultRuntime?: string;
  InitBinary?: string;
  SecurityOptions?: string[] | null;
  Labels?: string[] | null;
  LiveRestoreEnabled?: boolean;
  Swarm?: { LocalNodeState?: string };
  ContainerdCommit?: { ID?: string };
  RuncCommit?: { ID?: string };
  InitCommit?: { ID?: string };
  Warnings?: string[] | null;
  [k: string]: unknown;
}

export function formatInfo(i: SystemInfo, debug: boolean): string {
  const l: string[] = [];
  const add = (s: string) => l.push(s);
  add('Client:');
  add(' Version:    0.1.0');
  add(' Context:    default');
  add(` Debug Mode: ${debug}`);
  add('');
  add('Server:');
  add(` Containers: ${i.Containers ?? 0}`);
  add(`  Running: ${i.ContainersRunning ?? 0}`);
  add(`  Paused: ${i.ContainersPaused ?? 0}`);
  add(`  Stopped: ${i.ContainersStopped ?? 0}`);
  add(` Images: ${i.Images ?? 0}`);
  add(` Server Version: ${i.ServerVersion ?? ''}`);
  add(` Storage Driver: ${i.Driver ?? ''}`);
  for (const [k, v] of i.DriverStatus ?? []) add(`  ${k}: ${v}`);
  if (i.LoggingDriver) add(` Logging Driver: ${i.LoggingDriver}`);
  if (i.CgroupDriver) add(` Cgroup Driver: ${i.CgroupDriver}`);
  if (i.CgroupVersion) add(` Cgroup Version: ${i.CgroupVersion}`);
  if (i.Plugins) {
    add(' Plugins:');
    if (i.Plugins.Volume?.length) add(`  Volume: ${i.Plugins.Volume.join(' ')}`);
    if (i.Plugins.Network?.length) add(`  Network: ${i.Plugins.Network.join(' ')}`);
    if (i.Plugins.Authorization?.length) add(`  Authorization: ${i.Plugins.Authorization.join(' ')}`);
    if (i.Plugins.Log?.length) add(`  Log: ${i.Plugins.Log.join(' ')}`);
  }
  if (i.Swarm) add(` Swarm: ${i.Swarm.LocalNodeState ?? 'inactive'}`);
  if (i.Runtimes && Object.keys(i.Runtimes).length) add(` Runtimes: ${Object.keys(i.Runtimes).sort().join(' ')}`);
  if (i.DefaultRuntime) add(` Default Runtime: ${i.DefaultRuntime}`);
  if (i.InitBinary) add(` Init Binary: ${i.InitBinary}`);
  if (i.ContainerdCommit) add(` containerd version: ${i.ContainerdCommit.ID ?? ''}`);
  if (i.RuncCommit) add(` runc version: ${i.RuncCommit.ID ?? ''}`);
  if (i.InitCommit) add(` init version: ${i.InitCommit.ID ?? ''}`);
  if (i.SecurityOptions?.length) {
    add(' Security Options:');
    for (const o of i.SecurityOptions) {
      const kv = Object.fromEntries(o.split(',').map((p) => p.split('=') as [string, string]));
      if (!kv.name) {
        add(`  ${o}`);
        continue;
      }
      add(`  ${kv.name}`);
      for (const [k, v] of Object.entries(kv)) if (k !== 'name') add(`   ${k[0].toUpperCase()}${k.slice(1)}: ${v}`);
    }
  }
  if (i.KernelVersion) add(` Kernel Version: ${i.KernelVersion}`);
  if (i.OperatingSystem) add(` Operating System: ${i.OperatingSystem}`);
  if (i.OSType) add(` OSType: ${i.OSType}`);
  if (i.Architecture) add(` Architecture: ${i.Architecture}`);
  add(` CPUs: ${i.NCPU ?? 0}`);
  add(` Total Memory: ${bytesSize(i.MemTotal ?? 0)}`);
  if (i.Name) add(` Name: ${i.Name}`);
  if (i.ID) add(` ID: ${i.ID}`);
  add(` Docker Root Dir: ${i.DockerRootDir ?? ''}`);
  add(` Debug Mode: ${!!i.Debug}`);
  if (i.Labels?.length) {
    add(' Labels:');
    for (const lb of i.Labels) add(`  ${lb}`);
  }
  add(` Experimental: ${!!i.ExperimentalBuild}`);
  const rc = i.RegistryConfig as { InsecureRegistryCIDRs?: string[] | null; Mirrors?: string[] | null } | undefined;
  if (rc?.InsecureRegistryCIDRs?.length) {
    add(' Insecure Registries:');
    for (const r of rc.InsecureRegistryCIDRs) add(`  ${r}`);
  }
  if (rc?.Mirrors?.length) {
    add(' Registry Mirrors:');
    for (const r of rc.Mirrors) add(`  ${r}`);
  }
  add(` Live Restore Enabled: ${!!i.LiveRestoreEnabled}`);
  add('');
  return l.join('\n') + '\n';
}

export async function info(argv: string[], ctx: Ctx): Promise<number> {
  const c = command(ctx, { usage: '[OPTIONS]', description: 'Display system-wide information', args: { max: 0 } });
  c.option('-f, --format <string>', 'Format output using a custom template');
  const { opts } = parse<{ format?: string }>(ctx, c, argv);
  let server: SystemInfo;
  try {
    server = await ctx.client().get<SystemInfo>('/info');
  } catch (e) {
    if (opts.format) throw e;
    process.stdout.write(formatInfo({}, ctx.debug).split('\nServer:')[0] + '\n\nServer:\n');
    throw new StatusError(1, `ERROR: ${describe(e)}\nerrors pretty printing info`);
  }
  if (opts.format) {
    const data = { ...server, ClientInfo: { Debug: ctx.debug, Context: 'default', Version: '0.1.0' } };
    const src = opts.format === 'json' ? '{{json .}}' : prepare(opts.format);
    process.stdout.write(parseTemplate(src).execute(data) + '\n');
    return 0;
  }
  process.stdout.write(formatInfo(server, ctx.debug));
  for (const w of server.Warnings ?? []) process.stderr.write(`${w}\n`);
  return 0;
}
