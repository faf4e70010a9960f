// The daemon's registry state shared by every pull, push and login: options from the flags,
// cached endpoints and tokens, the transfer limits, and downloads in flight (so two pulls of the
// same blob fetch it once).
import { promises as fsp } from 'node:fs';
import { TokenCache, type AuthConfig } from '../../distribution/auth.js';
import { registryFromServerAddress, type RegistryOptions } from '../../distribution/endpoint.js';
import { Limiter } from '../../distribution/limiter.js';
import { EndpointCache, Registry } from '../../distribution/registry.js';

export class RegistryService {
  readonly tokens = new TokenCache();
  readonly endpoints = new EndpointCache();
  readonly downloads: Limiter;
  readonly uploads: Limiter;
  /** Downloads in flight by blob digest. */
  readonly inflight = new Map<string, Promise<void>>();
  /** Layers being unpacked, by snapshot key: a second pull waits rather than unpack it again. */
  private readonly unpacking = new Map<string, Promise<void>>();
  /** Pulls using each partial-download file; the last one out removes it. */
  private readonly fileUsers = new Map<string, number>();
  /** Files whose last pull wanted them gone (a full disk) while their download still ran: removed when it ends. */
  private readonly discardAfter = new Map<string, string>();

  constructor(readonly options: RegistryOptions) {
    this.downloads = new Limiter(Math.max(1, options.maxConcurrentDownloads));
    this.uploads = new Limiter(Math.max(1, options.maxConcurrentUploads));
  }

  registry(host: string, auth: AuthConfig, push = false): Registry {
    return new Registry(host, auth, { options: this.options, tokens: this.tokens, endpoints: this.endpoints }, push);
  }

  /** Runs `fn` unless the layer `key` is being unpacked already, in which case it waits for that. */
  async unpackOnce(key: string, fn: () => Promise<void>): Promise<void> {
    const running = this.unpacking.get(key);
    if (running) {
      await running.catch(() => undefined);
      return;
    }
    const p = fn().finally(() => this.unpacking.delete(key));
    this.unpacking.set(key, p);
    await p;
  }

  acquireFile(digest: string): void {
    this.fileUsers.set(digest, (this.fileUsers.get(digest) ?? 0) + 1);
    this.discardAfter.delete(digest);
  }

  /** Drops one user of a download file; with `remove`, the last user deletes it (once its download ends). */
  async releaseFile(digest: string, file: string, remove: boolean): Promise<void> {
    const n = (this.fileUsers.get(digest) ?? 1) - 1;
    if (n > 0) {
      this.fileUsers.set(digest, n);
      return;
    }
    this.fileUsers.delete(digest);
    if (!remove) return;
    if (this.inflight.has(digest)) this.discardAfter.set(digest, file);
    else await fsp.rm(file, { force: true });
  }

  /** A download ended (done or failed): its file goes if its last pull let go of it for good meanwhile. */
  async downloadEnded(digest: string): Promise<void> {
    this.inflight.delete(digest);
    const file = this.discardAfter.get(digest);
    this.discardAfter.delete(digest);
    if (file && !this.fileUsers.has(digest)) await fsp.rm(file, { force: true });
  }

  /** POST /auth: checks the credentials against the registry's /v2/. */
  async login(auth: AuthConfig): Promise<{ Status: string; IdentityToken: string }> {
    const host = registryFromServerAddress(auth.serveraddress);
    await this.registry(host, auth).login();
    return { Status: 'Login Succeeded', IdentityToken: '' };
  }
}
