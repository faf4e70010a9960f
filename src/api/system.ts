// /_ping, /version, /info, /system/df, /events.
import type { AuthResponse, EventMessage, SystemDataUsageResponse, SystemInfo, VersionResponse } from '../types/api.js';
import { InvalidParameterError } from '../errors.js';
import { type Filters, parseTime } from '../engine/filters.js';
import { type Route, routesFor, API_VERSION, MIN_API_VERSION } from './route.js';
import type { EventService } from '../engine/events.js';
import { type AuthConfig, normaliseAuth } from '../distribution/auth.js';

function ping(ctx: Parameters<Route['handler']>[0]): void {
  ctx.res.writeHead(200, {
    'Content-Type': 'text/plain; charset=utf-8',
    'Cache-Control': 'no-cache, no-store, must-revalidate',
    Pragma: 'no-cache',
    'API-Version': API_VERSION,
    'Builder-Version': '1',
  });
  ctx.res.end(ctx.req.method === 'HEAD' ? undefined : 'OK');
}

function toNanos(s: string | undefined): number | undefined {
  if (s === undefined || s === '') return undefined;
  return parseTime(s) * 1e6;
}

/** What these routes need of the engine (moby's api/server/router/system/backend.go). */
export interface SystemBackend {
  login(auth: AuthConfig): Promise<AuthResponse>;
  versionInfo(api: { version: string; min: string }): Promise<VersionResponse>;
  info(): Promise<SystemInfo>;
  diskUsage(): Promise<SystemDataUsageResponse>;
  eventMatcher(f: Filters): (e: EventMessage) => boolean;
  events: Pick<EventService, 'history' | 'subscribe'>;
}

const route = routesFor<SystemBackend>((engine) => engine);

export const systemRoutes: Route[] = [
  route('GET', '/_ping', async (ctx) => ping(ctx)),
  route('HEAD', '/_ping', async (ctx) => ping(ctx)),

  route('POST', '/auth', async (ctx, backend) => {
    const body = await ctx.json<Record<string, unknown>>();
    if (!body || typeof body !== 'object' || Array.isArray(body)) throw new InvalidParameterError('invalid auth configuration: expected a JSON object');
    ctx.send(200, await backend.login(normaliseAuth(body)));
  }),

  route('GET', '/version', async (ctx, backend) => {
    ctx.send(200, await backend.versionInfo({ version: API_VERSION, min: MIN_API_VERSION }));
  }),

  route('GET', '/info', async (ctx, backend) => {
    ctx.send(200, await backend.info());
  }),

  route('GET', '/system/df', async (ctx, backend) => {
    ctx.send(200, await backend.diskUsage());
  }),

  route('GET', '/events', async (ctx, backend) => {
    const filters = ctx.filters;
    const since = toNanos(ctx.str('since'));
    const until = toNanos(ctx.str('until'));
    const match = backend.eventMatcher(filters);
    const out = ctx.startStream('application/json');
    const send = (e: EventMessage): void => {
      if (match(e)) out.write(JSON.stringify(e) + '\n');
    };
    const now = Date.now() * 1e6;
    if (since !== undefined) for (const e of backend.events.history(since, until ?? now)) send(e);
    if (until !== undefined && until <= now) {
      out.end();
      return;
    }
    await new Promise<void>((resolve) => {
      const unsubscribe = backend.events.subscribe((e) => {
        if (until !== undefined && e.timeNano >= until) return;
        send(e);
      });
      const finish = (): void => {
        unsubscribe();
        clearTimeout(timer);
        resolve();
      };
      const timer = until !== undefined ? setTimeout(finish, (until - now) / 1e6) : undefined;
      ctx.res.on('close', finish);
    });
    out.end();
  }),
];
