// How a container record reads through the API: inspect, the ps summary, and ps filters.
import path from 'node:path';
import type { ContainerInspect, ContainerSummary } from '../../types/api.js';
import { endpointsView, networkSettingsView, summaryPorts, type NetworkLookup } from '../networks/views.js';
import { InvalidParameterError } from '../../errors.js';
import type { Snapshotter } from '../../snapshot/overlay.js';
import { filterValues, matchesLabels, type Filters } from '../filters.js';
import { type ContainerRecord, stateView, statusText } from './container.js';
import { mountPointsView } from './mount-points.js';
import { completeConfig, completeHostConfig, type ContainerDefaults } from './defaults.js';

export interface ViewContext {
  snapshots: Snapshotter;
  containerDir: (id: string) => string;
  logPath: (id: string) => string;
  defaults: ContainerDefaults;
  network: NetworkLookup;
}

function graphDriver(ctx: ViewContext, c: ContainerRecord): ContainerInspect['GraphDriver'] {
  const snap = ctx.snapshots.get(c.id);
  // As far as the chain goes: a container whose image layer is gone is still shown (and removable).
  const lowers = snap ? ctx.snapshots.chainOrMissing(snap.parent).keys.map((k) => ctx.snapshots.fsDir(k)) : [];
  return {
    Name: 'overlay2',
    Data: {
      LowerDir: lowers.join(':'),
      MergedDir: ctx.snapshots.mergedDir(c.id),
      UpperDir: ctx.snapshots.fsDir(c.id),
      WorkDir: ctx.snapshots.workDir(c.id),
    },
  };
}

export async function inspectView(ctx: ViewContext, c: ContainerRecord, withSize: boolean): Promise<ContainerInspect> {
  const dir = ctx.containerDir(c.id);
  const out: ContainerInspect = {
    Id: c.id,
    Created: c.created,
    Path: c.path,
    Args: c.args,
    State: stateView(c.state),
    Image: c.imageId,
    ResolvConfPath: path.join(dir, 'resolv.conf'),
    HostnamePath: path.join(dir, 'hostname'),
    HostsPath: path.join(dir, 'hosts'),
    LogPath: ctx.logPath(c.id),
    Name: `/${c.name}`,
    RestartCount: c.restartCount,
    Driver: 'overlay2',
    Platform: 'linux',
    MountLabel: '',
    ProcessLabel: '',
    AppArmorProfile: '',
    ExecIDs: c.execIds && c.execIds.length > 0 ? c.execIds : null,
    // Records made before a field existed read with its default, as fresh ones are stored.
    HostConfig: completeHostConfig(c.hostConfig, ctx.defaults),
    GraphDriver: graphDriver(ctx, c),
    Mounts: mountPointsView(c),
    Config: completeConfig(c.config),
    NetworkSettings: networkSettingsView(c, ctx.network),
  };
  if (withSize) Object.assign(out, await sizes(ctx, c));
  return out;
}

async function sizes(ctx: ViewContext, c: ContainerRecord): Promise<{ SizeRw: number; SizeRootFs: number }> {
  const rw = ctx.snapshots.get(c.id) ? await ctx.snapshots.usage(c.id) : 0;
  let below = 0;
  const snap = ctx.snapshots.get(c.id);
  if (snap) for (const k of ctx.snapshots.chainOrMissing(snap.parent).keys) below += await ctx.snapshots.usage(k);
  return { SizeRw: rw, SizeRootFs: rw + below };
}

export function commandLine(c: ContainerRecord): string {
  return [c.path, ...c.args].map((a) => (/\s/.test(a) ? `'${a}'` : a)).join(' ');
}

export async function summaryView(ctx: ViewContext, c: ContainerRecord, withSize: boolean, imageName: string): Promise<ContainerSummary> {
  const out: ContainerSummary = {
    Id: c.id,
    Names: [`/${c.name}`],
    Image: imageName,
    ImageID: c.imageId,
    Command: commandLine(c),
    Created: Math.floor(Date.parse(c.created) / 1000),
    Ports: summaryPorts(c),
    Labels: c.config.Labels ?? {},
    State: c.state.status,
    Status: statusText(c.state),
    HostConfig: { NetworkMode: c.hostConfig.NetworkMode || 'default' },
    NetworkSettings: { Networks: endpointsView(c, ctx.network) },
    Mounts: mountPointsView(c),
  };
  if (withSize) {
    // omitempty in moby's Container summary: a size of 0 is not sent.
    const { SizeRw, SizeRootFs } = await sizes(ctx, c);
    if (SizeRw) out.SizeRw = SizeRw;
    if (SizeRootFs) out.SizeRootFs = SizeRootFs;
  }
  return out;
}

const PS_FILTERS = ['status', 'name', 'id', 'label', 'ancestor', 'exited', 'before', 'since', 'network', 'volume', 'health', 'isolation', 'is-task', 'publish', 'expose'];
const STATUSES = ['created', 'restarting', 'running', 'removing', 'paused', 'exited', 'dead'];
const HEALTH = ['starting', 'healthy', 'unhealthy', 'none'];

export function validatePsFilters(f: Filters): void {
  for (const key of f.keys()) if (!PS_FILTERS.includes(key)) throw new InvalidParameterError(`invalid filter '${key}'`);
  for (const s of filterValues(f, 'status')) {
    if (!STATUSES.includes(s)) throw new InvalidParameterError(`invalid filter 'status=${s}'`);
  }
  for (const h of filterValues(f, 'health')) {
    if (!HEALTH.includes(h)) throw new InvalidParameterError(`Unrecognised filter value for health: ${h}`);
  }
  for (const e of filterValues(f, 'exited')) {
    if (!/^-?\d+$/.test(e)) throw new InvalidParameterError(`invalid filter 'exited=${e}'`);
  }
}

/**
 * Docker matches `name` filters as regular expressions against the name as it stores it, with its
 * leading slash (`^/web$`), and without it (`^web$`); a pattern that does not compile matches
 * nothing, as in Docker.
 */
function nameMatches(pattern: string, name: string): boolean {
  try {
    const re = new RegExp(pattern);
    return re.test(`/${name}`) || re.test(name);
  } catch {
    return false;
  }
}

/** `ancestor` matches the image by any of its names or ids, or an image built on it. */
export function matchesPsFilters(c: ContainerRecord, f: Filters, ancestorIds: Set<string> | undefined): boolean {
  const statuses = filterValues(f, 'status');
  if (statuses.length && !statuses.includes(c.state.status)) return false;
  const names = filterValues(f, 'name');
  if (names.length && !names.some((n) => nameMatches(n, c.name))) return false;
  const ids = filterValues(f, 'id');
  if (ids.length && !ids.some((i) => c.id.startsWith(i))) return false;
  if (!matchesLabels(c.config.Labels ?? {}, f)) return false;
  const exited = filterValues(f, 'exited');
  if (exited.length && (c.state.status !== 'exited' || !exited.includes(String(c.state.exitCode)))) return false;
  if (ancestorIds && !ancestorIds.has(c.imageId)) return false;
  const networks = filterValues(f, 'network');
  const joined = Object.entries(c.networks ?? {});
  if (networks.length && !networks.some((n) => joined.some(([name, ep]) => name === n || ep.networkId === n))) return false;
  const health = filterValues(f, 'health');
  if (health.length && !health.includes(c.state.health?.Status ?? 'none')) return false;
  // volume=<name or mount destination>, as moby matches it
  const volumes = filterValues(f, 'volume');
  if (volumes.length && !(c.mountPoints ?? []).some((m) => volumes.includes(m.Name ?? '') || volumes.includes(m.Destination))) return false;
  return true;
}
