// berth login / logout: credentials checked by the daemon (POST /auth), then kept in the client
// configuration exactly where and how the Docker CLI keeps them, so either CLI can use the
// other's login.

import { ApiError } from '../../client/errors.js';
import type { AuthConfig, AuthResponse } from '../../types/api.js';
import { registryLogin } from '../../client/registry.js';
import { command, describe, parse, StatusError, type Ctx } from '../cli.js';
import { loadConfig, note, promptForCredentials } from './auth.js';
import { INDEX_SERVER, type ConfigFile } from './config.js';
import { convertToHostname, credentialStore } from './credentials.js';

interface LoginOpts {
  username?: string;
  password?: string;
  passwordStdin?: boolean;
}

function fail(message: string): StatusError {
  return new StatusError(1, message);
}

async function readAllStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

function storeCredentials(cfg: ConfigFile, auth: AuthConfig): void {
  try {
    credentialStore(cfg, auth.serveraddress ?? '').store(auth);
  } catch (e) {
    throw fail(`Error saving credentials: ${(e as Error).message}`);
  }
}

/** GetDefaultAuthConfig: what is stored for the server (identity tokens are never reused here). */
function defaultAuthConfig(cfg: ConfigFile, checkStore: boolean, serverAddress: string, isDefault: boolean): { auth: AuthConfig; error?: Error } {
  const server = isDefault ? serverAddress : convertToHostname(serverAddress);
  if (!checkStore) return { auth: { serveraddress: server } };
  try {
    const a = credentialStore(cfg, server).get(server);
    return { auth: { ...a, serveraddress: server, identitytoken: undefined } };
  } catch (e) {
    return { auth: { serveraddress: server }, error: e as Error };
  }
}

async function loginWithStoredCredentials(ctx: Ctx, cfg: ConfigFile, auth: AuthConfig): Promise<{ status: string; error?: Error }> {
  process.stderr.write(`Authenticating with existing credentials...${auth.username ? ` [Username: ${auth.username}]` : ''}\n`);
  note(process.stderr, `To login with a different account, run '${ctx.prog} logout' followed by '${ctx.prog} login'`);
  process.stderr.write('\n\n');
  let res: AuthResponse = { Status: '' };
  let error: Error | undefined;
  try {
    res = await registryLogin(ctx.client(), auth);
  } catch (e) {
    error = e as Error;
    if (e instanceof ApiError && e.statusCode === 401) process.stderr.write('Stored credentials invalid or expired\n');
    else process.stderr.write(`Login did not succeed, error: ${describe(e)}\n`);
  }
  const stored = { ...auth };
  if (res.IdentityToken) {
    stored.password = undefined;
    stored.identitytoken = res.IdentityToken;
  }
  storeCredentials(cfg, stored);
  return { status: res.Status ?? '', error };
}

async function loginWithUsernameAndPassword(ctx: Ctx, cfg: ConfigFile, o: LoginOpts, defaultUsername: string, serverAddress: string): Promise<string> {
  if ((!o.username || !o.password) && !process.stdin.isTTY) throw fail('Error: Cannot perform an interactive login from a non TTY device');
  let auth: AuthConfig;
  try {
    auth = await promptForCredentials(o.username ?? '', o.password ?? '', defaultUsername, serverAddress);
  } catch (e) {
    throw fail((e as Error).message);
  }
  let res: AuthResponse;
  try {
    res = await registryLogin(ctx.client(), auth);
  } catch (e) {
    throw fail(describe(e));
  }
  if (res.IdentityToken) {
    auth.password = undefined;
    auth.identitytoken = res.IdentityToken;
  }
  storeCredentials(cfg, auth);
  return res.Status ?? '';
}

export async function login(argv: string[], ctx: Ctx): Promise<number> {
  const c = command(ctx, {
    usage: '[OPTIONS] [SERVER]',
    description: 'Authenticate to a registry.\nDefaults to Docker Hub if no server is specified.',
    args: { max: 1 },
  });
  c.option('-u, --username <string>', 'Username')
    .option('-p, --password <string>', 'Password or Personal Access Token (PAT)')
    .option('--password-stdin', 'Take the Password or Personal Access Token (PAT) from stdin');
  const { opts, args } = parse<LoginOpts>(ctx, c, argv);
  const o = { ...opts };
  // verifyLoginFlags: "changed" flags are the ones present in opts
  if (o.passwordStdin) {
    if (o.password !== undefined) throw fail('conflicting options: cannot specify both --password and --password-stdin');
    if (o.username === undefined) throw fail('the --password-stdin option requires --username to be set');
  }
  if (o.username !== undefined && o.username === '') throw fail('username is empty');
  if (o.password !== undefined && o.password === '') throw fail('password is empty');
  // verifyLoginOptions
  if (o.password) process.stderr.write('WARNING! Using --password via the CLI is insecure. Use --password-stdin.\n');
  if (o.passwordStdin) {
    if (!o.username) throw fail('username is empty');
    o.password = (await readAllStdin()).replace(/\n$/, '').replace(/\r$/, '');
  }

  const arg = args[0] ?? '';
  const serverAddress = arg && arg !== 'docker.io' ? arg : INDEX_SERVER;
  const isDefault = serverAddress === INDEX_SERVER;
  const cfg = loadConfig(ctx);

  const { auth, error } = defaultAuthConfig(cfg, !o.username && !o.password, serverAddress, isDefault);
  let status = '';
  let failed = !!error;
  if (!error && auth.username && auth.password) {
    const r = await loginWithStoredCredentials(ctx, cfg, auth);
    status = r.status;
    failed = !!r.error;
  }
  if (failed || !auth.username || !auth.password) {
    status = await loginWithUsernameAndPassword(ctx, cfg, o, auth.username ?? '', auth.serveraddress ?? serverAddress);
  }
  if (status) process.stdout.write(status + '\n');
  return 0;
}

export async function logout(argv: string[], ctx: Ctx): Promise<number> {
  const c = command(ctx, {
    usage: '[SERVER]',
    description: 'Log out from a registry.\nIf no server is specified, the default is defined by the daemon.',
    args: { max: 1 },
  });
  const { args } = parse<Record<string, never>>(ctx, c, argv);
  let serverAddress = args[0] ?? '';
  const isDefault = !serverAddress;
  if (isDefault) serverAddress = INDEX_SERVER;
  let hostname = serverAddress;
  const regs = [serverAddress];
  if (!isDefault) {
    hostname = convertToHostname(serverAddress);
    // older clients saved the registry in any of these forms
    regs.push(hostname, `http://${hostname}`, `https://${hostname}`);
  }
  const cfg = loadConfig(ctx);
  process.stdout.write(`Removing login credentials for ${hostname}\n`);
  const errors = new Map<string, string>();
  for (const r of regs) {
    try {
      credentialStore(cfg, r).erase(r);
    } catch (e) {
      errors.set(r, (e as Error).message);
    }
  }
  if (errors.size === regs.length) {
    let s = 'WARNING: could not erase credentials:\n';
    for (const [k, v] of errors) s += `${k}: ${v}\n`;
    process.stderr.write(s);
  }
  return 0;
}
