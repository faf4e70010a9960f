// One request's view for handlers: params, query, body, and the ways to answer
// (JSON, a stream of JSON lines, or a hijacked raw connection).
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { InvalidParameterError } from '../errors.js';
import type { Filters } from '../engine/filters.js';
import { MAX_JSON_BODY, parseJsonBody } from './validation/json.js';
import type { Validated } from './validation/validate.js';

export class RequestContext {
  readonly query: URLSearchParams;
  private hijacked = false;
  /** Set by the router's validation step before the handler runs. */
  validated: Validated = { bodyRead: false, filters: new Map() };

  constructor(
    readonly req: IncomingMessage,
    readonly res: ServerResponse,
    readonly params: Record<string, string>,
    url: URL,
    readonly apiVersion: string,
    /** The raw socket and any bytes read past the headers, for Upgrade requests. */
    private readonly upgrade?: { socket: Duplex; head: Buffer; body: Buffer },
  ) {
    this.query = url.searchParams;
  }

  get isHijacked(): boolean {
    return this.hijacked;
  }

  bool(name: string, dflt = false): boolean {
    const v = this.query.get(name);
    if (v === null || v === '') return dflt;
    return !(v === '0' || v.toLowerCase() === 'false');
  }

  int(name: string): number | undefined {
    const v = this.query.get(name);
    if (v === null || v === '') return undefined;
    if (!/^-?\d+$/.test(v)) throw new InvalidParameterError(`invalid value for ${name}: ${v}`);
    return parseInt(v, 10);
  }

  str(name: string): string | undefined {
    return this.query.get(name) ?? undefined;
  }

  /** The `filters` parameter, parsed and checked against the route's filter keys. */
  get filters(): Filters {
    return this.validated.filters;
  }

  /** The JSON body: already decoded and checked against the schema when the route's operation has one. */
  async json<T>(opts: { optional?: boolean } = {}): Promise<T> {
    if (this.validated.bodyRead) {
      if (this.validated.body !== undefined) return this.validated.body as T;
      if (opts.optional) return {} as T;
      throw new InvalidParameterError('invalid JSON: request body is empty');
    }
    const chunks: Buffer[] = [];
    let size = 0;
    if (this.upgrade) {
      chunks.push(this.upgrade.body);
    } else {
      for await (const chunk of this.req) {
        size += (chunk as Buffer).length;
        if (size > MAX_JSON_BODY) throw new InvalidParameterError(`request body too large: more than ${MAX_JSON_BODY} bytes`);
        chunks.push(chunk as Buffer);
      }
    }
    const raw = Buffer.concat(chunks);
    if (!raw.toString('utf8').trim()) {
      if (opts.optional) return {} as T;
      throw new InvalidParameterError('invalid JSON: request body is empty');
    }
    return parseJsonBody(raw) as T;
  }

  send(status: number, body?: unknown): void {
    if (body === undefined) {
      this.res.writeHead(status);
      this.res.end();
      return;
    }
    const data = JSON.stringify(body);
    this.res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(data) });
    this.res.end(data);
  }

  noContent(): void {
    this.send(204);
  }

  /** Starts a streamed 200 response (JSON lines, logs, stats, events). */
  startStream(contentType: string): ServerResponse {
    this.res.writeHead(200, { 'Content-Type': contentType });
    this.res.flushHeaders();
    return this.res;
  }

  /**
   * Takes over the connection, as Docker's attach and exec start do: for an Upgrade request it
   * answers 101 and returns the raw socket; otherwise a 200 with the stream as the body.
   */
  hijack(contentType: string): { socket: Duplex; head: Buffer; upgraded: boolean } {
    this.hijacked = true;
    if (this.upgrade) {
      const { socket, head } = this.upgrade;
      socket.write(`HTTP/1.1 101 UPGRADED\r\nContent-Type: ${contentType}\r\nConnection: Upgrade\r\nUpgrade: tcp\r\nApi-Version: ${this.apiVersion}\r\n\r\n`);
      return { socket, head, upgraded: true };
    }
    const socket = this.req.socket;
    socket.write(`HTTP/1.1 200 OK\r\nContent-Type: ${contentType}\r\nApi-Version: ${this.apiVersion}\r\nConnection: close\r\n\r\n`);
    // From here on the bytes are ours, not the HTTP parser's.
    this.res.detachSocket(socket);
    return { socket, head: Buffer.alloc(0), upgraded: false };
  }
}
