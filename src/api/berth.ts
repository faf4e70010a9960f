// Berth's own read-only extension endpoints (docs/layers-api.md): the layer graph, union views
// with each entry's origin layer, wasted space and image comparison, and where every byte of the
// data root goes (`berth system df -v`). Nothing here changes state.
import { InvalidParameterError } from '../errors.js';
import { type Route, route } from './server.js';

export const berthRoutes: Route[] = [
  route('GET', '/berth/layers', async (ctx, engine) => {
    ctx.send(200, await engine.layers.graph());
  }),

  route('GET', '/berth/layers/{id}/files', async (ctx, engine) => {
    ctx.send(200, await engine.layers.layerView(ctx.params.id, ctx.str('path'), ctx.bool('recursive')));
  }),

  route('GET', '/berth/images/compare', async (ctx, engine) => {
    const a = ctx.str('a');
    const b = ctx.str('b');
    if (!a || !b) throw new InvalidParameterError('both images must be given: a=IMAGE&b=IMAGE');
    ctx.send(200, await engine.layers.compare(a, b));
  }),

  route('GET', '/berth/images/{name*}/files', async (ctx, engine) => {
    ctx.send(200, await engine.layers.imageView(ctx.params.name, ctx.str('path'), ctx.bool('recursive')));
  }),

  route('GET', '/berth/images/{name*}/efficiency', async (ctx, engine) => {
    ctx.send(200, await engine.layers.efficiency(ctx.params.name));
  }),

  route('GET', '/berth/containers/{id}/files', async (ctx, engine) => {
    ctx.send(200, await engine.layers.containerView(ctx.params.id, ctx.str('path'), ctx.bool('recursive')));
  }),

  route('GET', '/berth/system/df', async (ctx, engine) => {
    ctx.send(200, await engine.dataRootUsage());
  }),
];
