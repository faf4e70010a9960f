// /volumes/* handlers: translate HTTP to the volumes service and back, nothing more.
import type { Volume, VolumeCreateRequest, VolumeListResponse, VolumePruneResponse } from '../types/api.js';
import { InvalidParameterError } from '../errors.js';
import { type Filters, filterValues, parseFilters } from '../engine/filters.js';
import { type Route, routesFor } from './route.js';

/** What these routes need of the engine (moby's api/server/router/volume/backend.go). */
export interface VolumesBackend {
  list(filters: Filters): VolumeListResponse;
  create(req: VolumeCreateRequest): Promise<Volume>;
  inspect(name: string): Volume;
  remove(name: string, force: boolean): Promise<void>;
  prune(filters: Filters, all: boolean): Promise<VolumePruneResponse>;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

function stringMap(v: unknown, field: string): Record<string, string> | undefined {
  if (v === undefined || v === null) return undefined;
  if (!isObject(v) || Object.values(v).some((x) => typeof x !== 'string')) {
    throw new InvalidParameterError(`invalid JSON: field ${field} must be an object of strings`);
  }
  return v as Record<string, string>;
}

function createRequest(body: unknown): VolumeCreateRequest {
  if (!isObject(body)) throw new InvalidParameterError('invalid JSON: expected a volume create object');
  for (const f of ['Name', 'Driver'] as const) {
    if (body[f] !== undefined && body[f] !== null && typeof body[f] !== 'string') throw new InvalidParameterError(`invalid JSON: field ${f} must be a string`);
  }
  return {
    Name: (body.Name as string | undefined) ?? '',
    Driver: (body.Driver as string | undefined) ?? '',
    DriverOpts: stringMap(body.DriverOpts, 'DriverOpts'),
    Labels: stringMap(body.Labels, 'Labels'),
  };
}

/** API 1.42 made prune leave named volumes alone unless all=true; older clients prune every unused one. */
function pruneAll(filters: Filters, apiVersion: string): boolean {
  const all = filterValues(filters, 'all');
  if (all.length) return all.some((v) => ['1', 'true'].includes(v.toLowerCase()));
  return Number(apiVersion.split('.')[1]) < 42;
}

const route = routesFor<VolumesBackend>((engine) => engine.volumes);

export const volumeRoutes: Route[] = [
  route('GET', '/volumes', async (ctx, backend) => {
    ctx.send(200, backend.list(parseFilters(ctx.str('filters'))));
  }),
  route('POST', '/volumes/create', async (ctx, backend) => {
    ctx.send(201, await backend.create(createRequest(await ctx.json<unknown>())));
  }),
  route('POST', '/volumes/prune', async (ctx, backend) => {
    const filters = parseFilters(ctx.str('filters'));
    ctx.send(200, await backend.prune(filters, pruneAll(filters, ctx.apiVersion)));
  }),
  route('GET', '/volumes/{name}', async (ctx, backend) => {
    ctx.send(200, backend.inspect(ctx.params.name!));
  }),
  route('DELETE', '/volumes/{name}', async (ctx, backend) => {
    await backend.remove(ctx.params.name!, ctx.bool('force'));
    ctx.send(204);
  }),
];
