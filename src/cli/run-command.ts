// Runs one command: its context (the daemon's address, a client made on first use), and Docker's
// exit-code conventions for what it throws. Every bundled command (dist/cli/*.cjs, see main.ts)
// carries its own copy, so the classes a command throws and catches are always the same ones.
import { Client } from '../client/client.js';
import { resolveHost } from '../client/host.js';
import { resolveTls, type TlsFlags } from '../client/tls.js';
import { describe, StatusError, type Ctx } from './cli.js';

export type Command = (args: string[], ctx: Ctx) => Promise<number>;

/** What main.ts parsed before the command words: plain data, it crosses bundles. */
export interface Globals {
  prog: string;
  host?: string;
  debug: boolean;
  /** The command words as the user typed them, e.g. "container ls". */
  path: string;
  configDir?: string;
  tls?: TlsFlags;
}

export async function runCommand(command: Command, args: string[], g: Globals): Promise<number> {
  let client: Client | undefined;
  let ctx: Ctx;
  try {
    const host = resolveHost(g.host);
    const tls = resolveTls(g.tls ?? {});
    ctx = {
      prog: g.prog,
      host,
      debug: g.debug,
      path: g.path,
      configDir: g.configDir,
      client: () => (client ??= new Client(host, { version: process.env.BERTH_API_VERSION || process.env.DOCKER_API_VERSION || undefined, tls })),
    };
  } catch (e) {
    process.stderr.write(describe(e) + '\n');
    return 1;
  }
  try {
    return await command(args, ctx);
  } catch (e) {
    if (e instanceof StatusError) {
      if (e.message) process.stderr.write(e.message + '\n');
      return e.status;
    }
    process.stderr.write(describe(e) + '\n');
    if (g.debug && e instanceof Error && e.stack) process.stderr.write(e.stack + '\n');
    return 1;
  } finally {
    client?.close();
  }
}
