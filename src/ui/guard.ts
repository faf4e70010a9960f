// What the web view lets through to the daemon, and from whom. The page is served on loopback
// only, to whoever opens the URL with the per-session token (printed by `berth ui`, logged by
// berthd: other local users cannot guess it); a request must name that address in Host (DNS
// rebinding), come from the page's own origin (Origin, Sec-Fetch-Site), and carry the token in a
// custom header (so a cross-site request needs a CORS preflight, which is never granted). Only read-only Engine API
// calls and /berth/ views pass, plus start, stop, rm and commit when actions are enabled.
import { timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';

const TOKEN_HEADER = 'x-berth-token';

const READ: RegExp[] = [
  /^\/_ping$/,
  /^\/version$/,
  /^\/info$/,
  /^\/events$/,
  /^\/containers\/json$/,
  /^\/images\/json$/,
  /^\/containers\/[\w.-]+\/(json|top|changes)$/,
  /^\/images\/.+\/(json|history)$/,
  /^\/networks$/,
  /^\/volumes$/,
  /^\/berth\/.+$/,
];

const ACTIONS: { method: string; path: RegExp }[] = [
  { method: 'POST', path: /^\/containers\/[\w.-]+\/(start|stop)$/ },
  { method: 'DELETE', path: /^\/containers\/[\w.-]+$/ },
  { method: 'POST', path: /^\/commit$/ },
];

export type Verdict = { ok: true } | { ok: false; status: number; message: string };

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '[::1]']);

/** Host must be the loopback address the page is served on: another name is a rebinding attempt. */
export function hostAllowed(host: string | undefined, port: number): boolean {
  if (!host) return false;
  const i = host.lastIndexOf(':');
  if (i < 0 || host.slice(i + 1) !== String(port)) return false;
  return LOOPBACK.has(host.slice(0, i).toLowerCase());
}

/** A request from another site: its Origin is not this page's, or the browser says it is cross-site. */
export function crossSite(headers: IncomingHttpHeaders): boolean {
  const origin = headers.origin;
  if (origin !== undefined && origin !== `http://${headers.host}`) return true;
  const site = headers['sec-fetch-site'];
  return site !== undefined && site !== 'same-origin' && site !== 'none';
}

export function tokenMatches(given: string | string[] | undefined, token: string): boolean {
  if (typeof given !== 'string' || given.length !== token.length) return false;
  // Compared in constant time: the token is the only secret between a local process and the daemon.
  return timingSafeEqual(Buffer.from(given), Buffer.from(token));
}

/** The verdict on one /api request (its path without the /api prefix). */
export function checkApiRequest(method: string, path: string, headers: IncomingHttpHeaders, opts: { port: number; token: string; actions: boolean }): Verdict {
  if (!hostAllowed(headers.host, opts.port)) return { ok: false, status: 403, message: 'host not allowed' };
  if (crossSite(headers)) return { ok: false, status: 403, message: 'cross-site request refused' };
  if (!tokenMatches(headers[TOKEN_HEADER], opts.token)) return { ok: false, status: 403, message: 'missing or wrong session token' };
  const p = path.replace(/^\/v1\.\d+(?=\/)/, '');
  if ((method === 'GET' || method === 'HEAD') && READ.some((r) => r.test(p))) return { ok: true };
  if (ACTIONS.some((a) => a.method === method && a.path.test(p))) {
    return opts.actions ? { ok: true } : { ok: false, status: 403, message: 'actions are disabled (start the web view with --actions)' };
  }
  return { ok: false, status: 403, message: `${method} ${p} is not available in the web view` };
}

/** The session cookie's value, if the request carries one. */
export function sessionCookie(cookie: string | undefined): string | undefined {
  for (const part of (cookie ?? '').split(';')) {
    const [k, v] = part.trim().split('=');
    if (k === SESSION_COOKIE) return v;
  }
  return undefined;
}

export const SESSION_COOKIE = 'berth_ui';
