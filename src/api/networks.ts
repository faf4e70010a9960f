// /networks/* handlers: translate HTTP to the network service and back.
import type {
  EndpointSettings,
  NetworkConnectRequest,
  NetworkCreateRequest,
  NetworkCreateResponse,
  NetworkDisconnectRequest,
  NetworkPruneResponse,
  NetworkResource,
} from '../types/api.js';
import { InvalidParameterError } from '../errors.js';
import { parseFilters, type Filters } from '../engine/filters.js';
import { type Route, routesFor } from './route.js';

/** What these routes need of the engine (engine/networks/network-service.ts). */
export interface NetworkBackend {
  list(filters: Filters): NetworkResource[];
  inspect(idOrName: string): NetworkResource;
  create(req: NetworkCreateRequest): Promise<NetworkCreateResponse>;
  remove(idOrName: string): Promise<void>;
  connect(idOrName: string, container: string, cfg: EndpointSettings | null | undefined): Promise<void>;
  disconnect(idOrName: string, container: string, force: boolean): Promise<void>;
  prune(filters: Filters): Promise<NetworkPruneResponse>;
}

function containerOf(body: { Container?: unknown } | undefined): string {
  if (!body || typeof body !== 'object' || typeof body.Container !== 'string' || body.Container === '') {
    throw new InvalidParameterError('a container name or id is required');
  }
  return body.Container;
}

const route = routesFor<NetworkBackend>((engine) => engine.networks);

export const networkRoutes: Route[] = [
  route('GET', '/networks', async (ctx, backend) => {
    ctx.send(200, backend.list(parseFilters(ctx.str('filters'))));
  }),

  route('POST', '/networks/create', async (ctx, backend) => {
    ctx.send(201, await backend.create(await ctx.json<NetworkCreateRequest>()));
  }),

  route('POST', '/networks/prune', async (ctx, backend) => {
    ctx.send(200, await backend.prune(parseFilters(ctx.str('filters'), ['until', 'label', 'label!'])));
  }),

  route('GET', '/networks/{id}', async (ctx, backend) => {
    ctx.send(200, backend.inspect(ctx.params.id));
  }),

  route('DELETE', '/networks/{id}', async (ctx, backend) => {
    await backend.remove(ctx.params.id);
    ctx.noContent();
  }),

  route('POST', '/networks/{id}/connect', async (ctx, backend) => {
    const body = await ctx.json<NetworkConnectRequest>();
    await backend.connect(ctx.params.id, containerOf(body), body.EndpointConfig);
    ctx.send(200);
  }),

  route('POST', '/networks/{id}/disconnect', async (ctx, backend) => {
    const body = await ctx.json<NetworkDisconnectRequest>();
    await backend.disconnect(ctx.params.id, containerOf(body), !!body.Force);
    ctx.send(200);
  }),
];
