// Which URLs serve a registry name: docker.io goes to its mirrors then registry-1.docker.io;
// every other registry is tried over https, and insecure ones (loopback, --insecure-registry)
// over https without verifying the certificate, then plain http, as dockerd does.
import net from 'node:net';
import { DEFAULT_CERTS_DIRS } from './certs.js';
import { DEFAULT_TRANSPORT, type TransportOptions } from './http.js';

export const DOCKER_HUB_HOST = 'docker.io';
export const DOCKER_HUB_ENDPOINT = 'https://registry-1.docker.io';
/** Docker's index server address, what `docker login` with no argument sends. */
export const DOCKER_HUB_INDEX = 'https://index.docker.io/v1/';

export interface RegistryOptions {
  /** host[:port] names or CIDRs allowed over plain http (besides loopback). */
  insecureRegistries: string[];
  /** Mirror URLs tried for docker.io before the Hub itself. */
  mirrors: string[];
  certsDirs: string[];
  transport: TransportOptions;
  maxConcurrentDownloads: number;
  maxConcurrentUploads: number;
  /** Blobs larger than this are uploaded in PATCH chunks of this size. */
  uploadChunkSize: number;
}

export function defaultRegistryOptions(): RegistryOptions {
  return {
    insecureRegistries: [],
    mirrors: [],
    certsDirs: [...DEFAULT_CERTS_DIRS],
    transport: { ...DEFAULT_TRANSPORT },
    maxConcurrentDownloads: 3,
    maxConcurrentUploads: 5,
    uploadChunkSize: 16 * 1024 * 1024,
  };
}

export interface Endpoint {
  /** "https://127.0.0.1:5000" (no trailing slash) */
  url: string;
  /** The certs.d directory name for its CA ("host:port"). */
  certsHost: string;
  mirror: boolean;
  /** An insecure registry: its certificate is not verified (and certs.d not read), as with dockerd. */
  insecure?: boolean;
}

function hostOnly(hostPort: string): string {
  if (hostPort.startsWith('[')) return hostPort.slice(1, hostPort.indexOf(']'));
  const i = hostPort.lastIndexOf(':');
  return i > 0 && hostPort.indexOf(':') === i ? hostPort.slice(0, i) : hostPort;
}

function inCidr(ip: string, cidr: string): boolean {
  const [base, bitsStr] = cidr.split('/');
  const bits = Number(bitsStr);
  if (!base || !Number.isInteger(bits) || net.isIPv4(base) !== net.isIPv4(ip) || !net.isIP(base)) return false;
  const list = new net.BlockList();
  try {
    list.addSubnet(base, bits, net.isIPv4(base) ? 'ipv4' : 'ipv6');
  } catch {
    return false;
  }
  return list.check(ip, net.isIPv4(ip) ? 'ipv4' : 'ipv6');
}

/** dockerd's rule: loopback names and addresses, and what --insecure-registry lists. */
export function isInsecure(registry: string, opts: RegistryOptions): boolean {
  const host = hostOnly(registry);
  if (host === 'localhost' || host === '::1' || (net.isIPv4(host) && inCidr(host, '127.0.0.0/8'))) return true;
  for (const entry of opts.insecureRegistries) {
    if (entry === registry || entry === host) return true;
    if (entry.includes('/') && net.isIP(host) && inCidr(host, entry)) return true;
  }
  return false;
}

/** Candidate endpoints for a registry name, in the order to try them (mirrors serve pulls only). */
export function endpointsFor(registry: string, opts: RegistryOptions, push = false): Endpoint[] {
  if (registry === DOCKER_HUB_HOST) {
    if (push) return [{ url: DOCKER_HUB_ENDPOINT, certsHost: 'registry-1.docker.io', mirror: false }];
    const mirrors = opts.mirrors.map((m) => {
      const u = new URL(m);
      return { url: `${u.protocol}//${u.host}`, certsHost: u.host, mirror: true };
    });
    return [...mirrors, { url: DOCKER_HUB_ENDPOINT, certsHost: 'registry-1.docker.io', mirror: false }];
  }
  if (!isInsecure(registry, opts)) return [{ url: `https://${registry}`, certsHost: registry, mirror: false }];
  return [
    { url: `https://${registry}`, certsHost: registry, mirror: false, insecure: true },
    { url: `http://${registry}`, certsHost: registry, mirror: false, insecure: true },
  ];
}

/** The registry a `docker login` server address names: "https://host:5000/v2/" → "host:5000". */
export function registryFromServerAddress(address: string | undefined): string {
  if (!address) return DOCKER_HUB_HOST;
  let s = address.trim();
  if (/^https?:\/\//.test(s)) s = new URL(s).host;
  s = s.replace(/\/.*$/, '');
  if (s === 'index.docker.io' || s === 'registry-1.docker.io' || s === DOCKER_HUB_HOST) return DOCKER_HUB_HOST;
  return s;
}
