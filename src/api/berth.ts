// Berth's own read-only extension endpoints (docs/layers-api.md): the layer graph, union views
// with each entry's origin layer, wasted space and image comparison, and where every byte of the
// data root goes (`berth system df -v`). Nothing here changes state.
import { InvalidParameterError } from '../errors.js';
import { type Route, routesFor } from './route.js';
import type { LayerService } from '../engine/layers/layer-service.js';
import type { DataRootUsage } from '../types/berth.js';

/** What these routes need of the engine: the layer views (docs/layers-api.md). */
export type LayerBackend = Pick<LayerService, 'graph' | 'layerView' | 'imageView' | 'containerView' | 'efficiency' | 'compare'>;

const route = routesFor<LayerBackend>((engine) => engine.layers);

/** What the disk-usage route needs: the engine's account of the data root. */
export interface DiskUsageBackend {
  dataRootUsage(): Promise<DataRootUsage>;
}

const usageRoute = routesFor<DiskUsageBackend>((engine) => engine);

export const berthRoutes: Route[] = [
  route('GET', '/berth/layers', async (ctx, backend) => {
    ctx.send(200, await backend.graph());
  }),

  route('GET', '/berth/layers/{id}/files', async (ctx, backend) => {
    ctx.send(200, await backend.layerView(ctx.params.id, ctx.str('path'), ctx.bool('recursive')));
  }),

  route('GET', '/berth/images/compare', async (ctx, backend) => {
    const a = ctx.str('a');
    const b = ctx.str('b');
    if (!a || !b) throw new InvalidParameterError('both images must be given: a=IMAGE&b=IMAGE');
    ctx.send(200, await backend.compare(a, b));
  }),

  route('GET', '/berth/images/{name*}/files', async (ctx, backend) => {
    ctx.send(200, await backend.imageView(ctx.params.name, ctx.str('path'), ctx.bool('recursive')));
  }),

  route('GET', '/berth/images/{name*}/efficiency', async (ctx, backend) => {
    ctx.send(200, await backend.efficiency(ctx.params.name));
  }),

  route('GET', '/berth/containers/{id}/files', async (ctx, backend) => {
    ctx.send(200, await backend.containerView(ctx.params.id, ctx.str('path'), ctx.bool('recursive')));
  }),

  usageRoute('GET', '/berth/system/df', async (ctx, backend) => {
    ctx.send(200, await backend.dataRootUsage());
  }),
];
