// Registry-facing calls of the Engine API (POST /auth, pulls through POST /images/create, POST
// /images/{name}/push) and the X-Registry-Auth header, encoded the way the Docker client does.

import type { IncomingMessage } from 'node:http';
import type { AuthConfig, AuthResponse } from '../types/api.js';
import type { Client } from './client.js';

export const AUTH_HEADER = 'X-Registry-Auth';

const AUTH_FIELDS: (keyof AuthConfig)[] = ['username', 'password', 'auth', 'email', 'serveraddress', 'identitytoken', 'registrytoken'];

/** Go's encoding/json string escaping on top of JSON.stringify: <, >, & and U+2028/9 become \u escapes. */
export function goJSON(value: unknown, indent?: string): string {
  return JSON.stringify(value, null, indent).replace(/[<>&\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** The auth config with Go's omitempty and field order. */
function authObject(a: AuthConfig): Record<string, string> {
  const o: Record<string, string> = {};
  for (const k of AUTH_FIELDS) if (a[k]) o[k] = a[k] as string;
  return o;
}

export function authConfigJSON(a: AuthConfig): string {
  return goJSON(authObject(a));
}

/** registry.EncodeAuthConfig: base64url (RFC 4648 §5, padded) of the JSON; `{}` when empty. */
export function encodeAuthConfig(a: AuthConfig): string {
  return Buffer.from(authConfigJSON(a)).toString('base64').replace(/\+/g, '-').replace(/\//g, '_');
}

/** POST /auth: checks the credentials against the registry through the daemon. */
export function registryLogin(client: Client, auth: AuthConfig): Promise<AuthResponse> {
  return client.json<AuthResponse>('POST', '/auth', { body: authObject(auth) }).then((r) => r ?? { Status: '' });
}

export interface PullQuery {
  /** Repository name, fully qualified (`docker.io/library/busybox`). */
  fromImage: string;
  /** Tag or digest; omitted for "all tags". */
  tag?: string;
  platform?: string;
}

/** POST /images/create?fromImage=…: the JSON progress stream of a pull (non-2xx → ApiError). */
export function imageCreate(client: Client, q: PullQuery, registryAuth: string): Promise<IncomingMessage> {
  return client.stream('POST', '/images/create', {
    // Go's url.Values.Encode sorts the keys
    query: { fromImage: q.fromImage, platform: q.platform?.toLowerCase(), tag: q.tag },
    headers: { [AUTH_HEADER]: registryAuth },
  });
}

export interface PushQuery {
  /** Repository name, fully qualified; sent unescaped in the path as Docker's client does. */
  name: string;
  /** Omitted for "all tags". */
  tag?: string;
  /** OCI platform JSON (API ≥ 1.46). */
  platform?: object;
}

/** POST /images/{name}/push: the JSON progress stream of a push. */
export function imagePush(client: Client, q: PushQuery, registryAuth: string): Promise<IncomingMessage> {
  return client.stream('POST', `/images/${q.name}/push`, {
    query: { tag: q.tag, platform: q.platform },
    headers: { [AUTH_HEADER]: registryAuth },
  });
}
