// The page's only way to the daemon: /api/… on the server that served it, with the session token.
import type { EventMessage } from '../../types/api.js';

function meta(name: string): string {
  return document.querySelector<HTMLMetaElement>(`meta[name="${name}"]`)?.content ?? '';
}

const TOKEN = meta('berth-token');
export const ACTIONS_ALLOWED = meta('berth-actions') === '1';

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

async function call(method: string, path: string, body?: unknown): Promise<Response> {
  const headers: Record<string, string> = { 'X-Berth-Token': TOKEN };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const res = await fetch(`/api${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), credentials: 'same-origin' });
  if (!res.ok) {
    const text = await res.text();
    let message = text;
    try {
      message = (JSON.parse(text) as { message?: string }).message ?? text;
    } catch {
      // not JSON
    }
    throw new ApiError(res.status, message);
  }
  return res;
}

export async function get<T>(path: string): Promise<T> {
  return (await call('GET', path)).json() as Promise<T>;
}

export async function act(method: 'POST' | 'DELETE', path: string, body?: unknown): Promise<void> {
  await call(method, path, body);
}

/** Follows /events until the connection drops; resolves then (the caller reconnects). */
export async function followEvents(onEvent: (e: EventMessage) => void, onOpen: () => void): Promise<void> {
  const res = await call('GET', '/events');
  onOpen();
  const reader = res.body!.getReader();
  const decoder = new TextDecoder();
  let buf = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buf += decoder.decode(value, { stream: true });
    let nl: number;
    while ((nl = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, nl).trim();
      buf = buf.slice(nl + 1);
      if (line) onEvent(JSON.parse(line) as EventMessage);
    }
  }
}
