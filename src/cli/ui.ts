// berth ui: serves the live web view of images, layers and containers on 127.0.0.1, reading from
// the daemon through the Engine API (and Berth's /berth/ views); runs until interrupted.
import { parseHost } from '../client/host.js';
import { UiServer } from '../ui/server.js';
import { command, parse, StatusError, type Ctx } from './cli.js';

interface Opts {
  listen: string;
  actions?: boolean;
}

export async function ui(argv: string[], ctx: Ctx): Promise<number> {
  const c = command(ctx, { usage: '[OPTIONS]', description: 'Serve the live web view of images, layers and containers on 127.0.0.1', args: { max: 0 } });
  c.option('--listen <addr>', 'Loopback address and port to serve on', undefined, '127.0.0.1:7175')
    .option('--actions', 'Allow start, stop, rm and commit from the page (behind its own switch)');
  const { opts } = parse<Opts>(ctx, c, argv);
  const server = new UiServer({ upstream: parseHost(ctx.host), listen: opts.listen, actions: !!opts.actions });
  let url: string;
  try {
    url = await server.listen();
  } catch (e) {
    throw new StatusError(1, `cannot serve the web view: ${(e as Error).message}`);
  }
  process.stdout.write(`Berth web view on ${url} (${opts.actions ? 'actions enabled' : 'read-only'}); Ctrl-C to stop\n`);
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  await server.close();
  return 0;
}
