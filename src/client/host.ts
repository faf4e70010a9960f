// Daemon address resolution: -H/--host, then BERTH_HOST, then DOCKER_HOST, then the default socket.

export const DEFAULT_HOST = 'unix:///run/berth/berth.sock';
export const DEFAULT_TCP_PORT = 2375;

export type Endpoint =
  | { kind: 'unix'; path: string; url: string }
  | { kind: 'tcp'; host: string; port: number; url: string };

export function resolveHost(flag: string | undefined, env: NodeJS.ProcessEnv = process.env): string {
  if (flag) return flag;
  if (env.BERTH_HOST) return env.BERTH_HOST;
  if (env.DOCKER_HOST) return env.DOCKER_HOST;
  return DEFAULT_HOST;
}

/** Parses unix:///path, tcp://host:port, http://host:port, or a bare /path. Throws on anything else. */
export function parseHost(addr: string): Endpoint {
  const s = addr.trim();
  if (s.startsWith('/')) return { kind: 'unix', path: s, url: `unix://${s}` };
  const m = /^([a-z]+):\/\/(.*)$/.exec(s);
  if (!m) throw new Error(`invalid host "${addr}": missing scheme (unix:// or tcp://)`);
  const [, scheme, rest] = m;
  if (scheme === 'unix') {
    if (!rest) throw new Error(`invalid host "${addr}": empty socket path`);
    return { kind: 'unix', path: rest, url: s };
  }
  if (scheme === 'tcp' || scheme === 'http') {
    let hostPort = rest.replace(/\/+$/, '');
    if (hostPort.includes('/')) throw new Error(`invalid host "${addr}": paths are not supported`);
    let host: string;
    let portStr: string | undefined;
    if (hostPort.startsWith('[')) {
      const end = hostPort.indexOf(']');
      if (end < 0) throw new Error(`invalid host "${addr}": bad IPv6 address`);
      host = hostPort.slice(1, end);
      const after = hostPort.slice(end + 1);
      if (after) {
        if (!after.startsWith(':')) throw new Error(`invalid host "${addr}"`);
        portStr = after.slice(1);
      }
    } else {
      const i = hostPort.lastIndexOf(':');
      if (i >= 0) {
        host = hostPort.slice(0, i);
        portStr = hostPort.slice(i + 1);
      } else host = hostPort;
    }
    if (!host) host = '127.0.0.1';
    let port = DEFAULT_TCP_PORT;
    if (portStr !== undefined && portStr !== '') {
      if (!/^\d+$/.test(portStr) || Number(portStr) > 65535) throw new Error(`invalid host "${addr}": bad port "${portStr}"`);
      port = Number(portStr);
    }
    hostPort = host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
    return { kind: 'tcp', host, port, url: `tcp://${hostPort}` };
  }
  throw new Error(`invalid host "${addr}": unsupported protocol "${scheme}" (use unix:// or tcp://)`);
}
