// Which stored credentials go with an image, and asking the user for new ones: docker/cli's
// command/registry.go (ResolveAuthConfig, RetrieveAuthTokenFromImage, PromptUserForCredentials).

import type { AuthConfig } from '../../types/api.js';
import { encodeAuthConfig } from '../../client/registry.js';
import { parseReference } from '../../reference/index.js';
import type { Ctx } from '../cli.js';
import { ConfigFile, configDir, INDEX_SERVER } from './config.js';
import { FileStore, getAuthConfig } from './credentials.js';

/** Loads the client configuration this command runs with. */
export function loadConfig(ctx: Ctx): ConfigFile {
  return ConfigFile.load(configDir(ctx.configDir));
}

/** The key credentials of a registry are stored under: Docker Hub's URL, or host[:port]. */
export function authConfigKey(domain: string): string {
  return domain === 'docker.io' || domain === 'index.docker.io' ? INDEX_SERVER : domain;
}

/** ResolveAuthConfig (pull, push): lookup failures are ignored, as docker does. */
export function resolveAuthConfig(cfg: ConfigFile, domain: string): AuthConfig {
  const key = authConfigKey(domain);
  try {
    return getAuthConfig(cfg, key);
  } catch {
    return new FileStore(cfg).get(key);
  }
}

/** RetrieveAuthTokenFromImage (run/create's pull): the encoded header; lookup failures are errors. */
export function authTokenForImage(cfg: ConfigFile, image: string): string {
  const ref = parseReference(image);
  return encodeAuthConfig(getAuthConfig(cfg, authConfigKey(ref.domain)));
}

/** Reads one line from stdin (terminal or not); `secret` turns echo off on a terminal. */
export function readLine(secret = false): Promise<string> {
  const stdin = process.stdin;
  const raw = secret && stdin.isTTY;
  if (raw) stdin.setRawMode(true);
  return new Promise((resolve, reject) => {
    let buf = '';
    const finish = (err?: Error) => {
      stdin.off('data', onData);
      stdin.off('end', onEnd);
      if (raw) stdin.setRawMode(false);
      stdin.pause();
      if (err) reject(err);
      else resolve(buf.trim());
    };
    const onData = (chunk: Buffer) => {
      for (const ch of chunk.toString('utf8')) {
        if (ch === '\n' || ch === '\r') return finish();
        if (raw && ch === '\x03') return finish(new Error('interrupted'));
        if (raw && ch === '\x04' && buf === '') return finish();
        if (raw && (ch === '\x7f' || ch === '\b')) {
          buf = [...buf].slice(0, -1).join('');
          continue;
        }
        buf += ch;
      }
    };
    const onEnd = () => finish();
    stdin.on('data', onData);
    stdin.once('end', onEnd);
    stdin.resume();
  });
}

const REGISTER_SUGGEST =
  "Log in with your Docker ID or email address to push and pull images from Docker Hub. If you don't have a Docker ID, head over to https://hub.docker.com/ to create one.";
const PAT_SUGGEST =
  'You can log in with your password or a Personal Access Token (PAT). Using a limited-scope PAT grants better security and is required for organizations using SSO. Learn more at https://docs.docker.com/go/access-tokens/';

function hintsEnabled(): boolean {
  const v = process.env.DOCKER_CLI_HINTS;
  if (v === undefined || v === '') return true;
  return !['0', 'f', 'false', 'F', 'FALSE', 'False'].includes(v);
}

/** tui's note: " Info -> text" (colours on a terminal). */
export function note(stream: NodeJS.WriteStream, text: string): void {
  const tty = !!stream.isTTY;
  const header = tty ? '\x1b[1m\x1b[106m\x1b[30mi\x1b[0m \x1b[96mInfo → \x1b[0m\x1b[0m' : ' Info -> ';
  let s = '\n' + header;
  text.split('\n').forEach((line, i) => {
    if (i > 0) s += ' '.repeat(9);
    s += (tty ? `\x1b[3m${line}\x1b[0m` : line) + '\n';
  });
  stream.write(s);
}

/** PromptUserForCredentials: asks for what the flags did not give. */
export async function promptForCredentials(argUser: string, argPassword: string, defaultUsername: string, serverAddress: string): Promise<AuthConfig> {
  let user = argUser.trim();
  if (!user) {
    if (serverAddress === INDEX_SERVER) {
      process.stdout.write(REGISTER_SUGGEST + '\n');
      if (hintsEnabled()) process.stdout.write(PAT_SUGGEST + '\n\n');
    }
    const def = defaultUsername.trim();
    process.stdout.write(def ? `Username (${def}): ` : 'Username: ');
    user = (await readLine()) || def;
    if (!user) throw new Error('Error: Non-null Username Required');
  }
  let password = argPassword.trim();
  if (!password) {
    if (serverAddress === INDEX_SERVER) note(process.stderr, 'A Personal Access Token (PAT) can be used instead.\nTo create a PAT, visit \x1b[4mhttps://app.docker.com/settings\x1b[0m\n\n');
    process.stdout.write('Password: ');
    password = await readLine(true);
    process.stdout.write('\n');
    if (!password) throw new Error('Error: Password Required');
  }
  return { username: user, password, serveraddress: serverAddress };
}
