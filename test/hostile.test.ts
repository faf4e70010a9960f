// Every route berthd serves, walked with a corpus of hostile inputs: path tricks and NUL bytes in
// ids and names, `..` in references, wrong JSON types, huge values, deep nesting, duplicate keys,
// invalid UTF-8, bodies that are not what the route takes; then raw-socket abuse (10 MB headers,
// a slow client, connections dropped mid-body and mid-stream). Nothing may answer 500, the daemon
// must keep answering, and nothing may leak: descriptors, child processes, mounts.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import { after, before, describe, test } from 'node:test';
import { apiRoutes } from '../src/api/server.js';
import type { Route } from '../src/api/route.js';
import { operations } from '../src/api/validation/schema.gen.js';
import { busyboxTar, mountsUnder, sleep, startDaemon, stopAndCheckClean, waitFor, type TestDaemon } from './harness.js';

interface RawAnswer {
  status: number;
  text: string;
  /** The request was still open when the test gave up on it (a stream that keeps going). */
  open: boolean;
}

/** One request over a fresh raw connection; gives up (and drops the connection) after `ms`. */
function raw(sock: string, head: string, body: Buffer = Buffer.alloc(0), ms = 1500): Promise<RawAnswer> {
  return new Promise((resolve) => {
    const c = net.connect(sock);
    const chunks: Buffer[] = [];
    const finish = (open: boolean): void => {
      clearTimeout(timer);
      c.destroy();
      const text = Buffer.concat(chunks).toString('latin1');
      const m = /^HTTP\/1\.1 (\d{3})/.exec(text);
      resolve({ status: m ? Number(m[1]) : 0, text, open });
    };
    const timer = setTimeout(() => finish(true), ms);
    c.on('data', (d: Buffer) => chunks.push(d));
    c.on('end', () => finish(false));
    c.on('error', () => finish(false));
    // No half-close: clients keep their side open until the answer is in (node would drop it).
    c.write(head);
    if (body.length) c.write(body);
  });
}

function request(method: string, path: string, body?: Buffer, contentType = 'application/json'): string {
  const lines = [`${method} ${path} HTTP/1.1`, 'Host: berth', 'Connection: close'];
  if (body) lines.push(`Content-Type: ${contentType}`, `Content-Length: ${body.length}`);
  return lines.join('\r\n') + '\r\n\r\n';
}

const ID_CORPUS = [
  '..%2F..%2F..%2Fetc%2Fpasswd',
  '..',
  '%2E%2E',
  'a%00b',
  '%ff%fe',
  '%E0%A4%A',
  'x'.repeat(5000),
  "';%20rm%20-rf%20%2F",
  'sha256:..%2F..%2F',
  'busybox@sha256:zz',
  'UPPER:Case',
  'a:b:c:d',
];

const QUERY_CORPUS = ['abc', '-1', '99999999999999999999999', '1e400', '', '..%2F..%2Fetc', '%00', 'x'.repeat(20000), '%7B%22a%22%3A', '%7B%22unknown%22%3A%5B%22x%22%5D%7D', '%5B%5D', '%7B%22name%22%3A%5B%22(%22%5D%7D'];

const BODY_CORPUS: Buffer[] = [
  Buffer.from('{"a":'),
  Buffer.from('null'),
  Buffer.from('[]'),
  Buffer.from('"a string"'),
  Buffer.from('12'),
  Buffer.from('{"Image":5,"Cmd":{"a":1},"HostConfig":"no","Env":[1,2]}'),
  Buffer.from('{"Image":"busybox","Image":"busybox"}'),
  Buffer.from('{"HostConfig":{"Memory":1e300,"CpuShares":-99999999999999999999,"RestartPolicy":{"Name":"sometimes"}}}'),
  Buffer.from('['.repeat(50000) + ']'.repeat(50000)),
  Buffer.from('{"a":'.repeat(3000) + '1' + '}'.repeat(3000)),
  Buffer.concat([Buffer.from('{"Image":"'), Buffer.from([0xff, 0xfe, 0xc3]), Buffer.from('","Cmd":["\\u0000"]}')]),
  Buffer.from('{"Mounts":[null],"HostConfig":{"Mounts":[{"Type":"bind","Source":"/","Target":"/../.."}],"Binds":["/:/host"]}}'),
  Buffer.from('{"Image":"../../../../etc","Labels":{"a":{"b":"c"}}}'),
  Buffer.alloc(3 * 1024 * 1024, 0x20),
];

/**
 * Routes that reach a registry must never leave the machine: their names point at a loopback
 * port where nothing listens (a refused connection is Docker's 500, and the only 500 allowed).
 */
const REGISTRY = /^(GET \/distribution|POST \/images\/\{name\*\}\/push|POST \/images\/create|POST \/auth)/;
const NOWHERE = '127.0.0.1:1';

/** Fills a route template: each {param} gets the value; routes are the daemon's own table. */
function fill(r: Route, value: string): string {
  const v = REGISTRY.test(`${r.method} ${r.template}`) ? `${NOWHERE}%2F${value}` : value;
  return r.template.replace(/\{\w+\*?\}/g, v);
}

/** The query parameters moby's schema lists for the route (and `filters`, which every list takes). */
function queryNames(r: Route): string[] {
  const op = (operations as Record<string, { query: Record<string, unknown> }>)[r.operation];
  return [...new Set([...Object.keys(op?.query ?? {}), 'filters'])];
}

/** Descriptors, children and mounts of the daemon: what must come back to its level. */
function resources(d: TestDaemon): { fds: number; children: number; mounts: number } {
  const pid = d.pid!;
  const children = fs
    .readdirSync('/proc')
    .filter((p) => /^\d+$/.test(p))
    .filter((p) => {
      try {
        return fs.readFileSync(`/proc/${p}/stat`, 'utf8').split(') ')[1]?.split(' ')[1] === String(pid);
      } catch {
        return false;
      }
    }).length;
  return { fds: fs.readdirSync(`/proc/${pid}/fd`).length, children, mounts: mountsUnder(d.root).length };
}

describe('hostile input on every route', () => {
  let d: TestDaemon;
  let victim: string;
  const fiveHundreds: string[] = [];

  before(async () => {
    d = await startDaemon();
    victim = (await d.api('POST', '/containers/create?name=victim', { Image: 'busybox', Cmd: ['sleep', '1000'] })).body.Id;
    await d.api('POST', `/containers/${victim}/start`);
  });
  after(async () => {
    // Every kind of answer was seen: the walk reached handlers, not only the router.
    if (process.env.HOSTILE_DEBUG) console.error(JSON.stringify([...seen]));
    await d.api('DELETE', `/containers/${victim}?force=1`);
    await stopAndCheckClean(d);
  });

  const seen = new Map<number, number>();
  const check = (what: string, a: RawAnswer): void => {
    seen.set(a.status, (seen.get(a.status) ?? 0) + 1);
    if (a.status === 500 && a.text.includes(NOWHERE)) return;
    if (process.env.HOSTILE_DEBUG && a.status === 0 && !a.open) console.error(`no answer: ${what}`);
    if (a.status >= 500 && a.status !== 501) fiveHundreds.push(`${what} → ${a.status} ${a.text.slice(-300)}`);
  };

  test('ids, names and references: path tricks, NUL, invalid UTF-8, 5000 characters', async () => {
    const before = resources(d);
    for (const r of apiRoutes()) {
      if (!r.keys.length || r.method === 'HEAD') continue;
      for (const id of ID_CORPUS) {
        const path = `/v1.47${fill(r, id)}`;
        check(`${r.method} ${path.slice(0, 120)}`, await raw(d.sock, request(r.method, path), undefined, 800));
      }
    }
    assert.deepEqual(fiveHundreds, []);
    await settled(d, before);
  });

  test('query parameters: wrong types, huge values, bad filters', async () => {
    const before = resources(d);
    // Routes are walked against the victim (destructive ones against a name that is not there).
    const destructive = /DELETE|\/(kill|stop|restart|pause|remove|rename|prune|update|resize|wait|attach)/;
    for (const r of apiRoutes()) {
      const target = destructive.test(`${r.method} ${r.template}`) ? 'no-such-thing' : 'victim';
      const base = `/v1.47${fill(r, target)}`;
      for (const name of queryNames(r)) {
        for (const v of QUERY_CORPUS) {
          const value = name === 'fromImage' || name === 'remote' ? `${NOWHERE}%2F${v}` : v;
          const path = `${base}?${name}=${value}&stdout=1`;
          check(`${r.method} ${path.slice(0, 160)}`, await raw(d.sock, request(r.method, path), undefined, 600));
        }
      }
    }
    assert.deepEqual(fiveHundreds, []);
    await settled(d, before);
  });

  test('bodies: malformed JSON, wrong types, nesting, duplicate keys, invalid UTF-8, 3 MB, wrong Content-Type', async () => {
    const before = resources(d);
    for (const r of apiRoutes()) {
      if (r.method !== 'POST' && r.method !== 'PUT') continue;
      const path = `/v1.47${fill(r, 'no-such-thing')}`;
      const real = `/v1.47${fill(r, 'victim')}`;
      // A body that parses as auth would log in to the default registry: /auth gets its own check.
      if (r.template === '/auth') continue;
      for (const body of BODY_CORPUS) {
        for (const [p, type] of [[path, 'application/json'], [r.template === '/containers/create' ? real : path, 'text/plain']] as const) {
          check(`${r.method} ${p} (${type}, ${body.length} bytes: ${body.subarray(0, 40).toString('latin1')})`, await raw(d.sock, request(r.method, p, body, type), body, 1500));
        }
      }
    }
    for (const body of ['{"username":5}', '[]', '{"serveraddress":{"a":1}}', 'null']) {
      check(`/auth ${body}`, await raw(d.sock, request('POST', '/v1.47/auth', Buffer.from(body)), Buffer.from(body)));
    }
    // Refusals name the field, as Docker's decoder does.
    const typed = await d.api('POST', '/containers/create', { Image: 'busybox', HostConfig: { Memory: '1g' } });
    assert.equal(typed.status, 400);
    assert.equal(typed.body.message, 'json: cannot unmarshal string into Go struct field HostConfig.HostConfig.Memory of type int64');
    const plain = await d.api('POST', '/containers/create', '{"Image":"busybox"}', { 'Content-Type': 'text/plain' });
    assert.equal(plain.status, 400);
    assert.equal(plain.body.message, "Content-Type specified (text/plain) must be 'application/json'");
    assert.deepEqual(fiveHundreds, []);
    // Nothing was created by any of it.
    const list = await d.api('GET', '/containers/json?all=1');
    assert.deepEqual(list.body.map((c: { Id: string }) => c.Id), [victim]);
    await settled(d, before);
  });

  test('archive bodies are looked at before answering; filters checked per route', async () => {
    for (const [path, what] of [['/images/load', /docker load: invalid tar archive/], ['/images/create?fromSrc=-', /import: invalid tar archive/], [`/containers/${victim}/archive?path=/tmp`, /invalid tar archive/]] as const) {
      const r = await d.api(path.includes('archive?') ? 'PUT' : 'POST', path, Buffer.from('this is not a tar at all, not even close'.repeat(20)));
      assert.equal(r.status, 400, `${path}: ${r.text}`);
      assert.match(r.body.message, what);
    }
    // A real archive still goes through (the sniffed bytes are handed back to the handler).
    const ok = await d.api('PUT', `/containers/${victim}/archive?path=/tmp`, busyboxTar());
    assert.equal(ok.status, 200, ok.text);
    const bad = await d.api('GET', `/containers/json?filters=${encodeURIComponent('{"colour":["red"]}')}`);
    assert.equal(bad.status, 400);
    assert.equal(bad.body.message, "invalid filter 'colour'");
    for (const f of ['{"name":["^/victim$"]}', '{"name":{"^victim$":true}}', '{"name":["vic"]}']) {
      const r = await d.api('GET', `/containers/json?filters=${encodeURIComponent(f)}`);
      assert.deepEqual(r.body.map((c: { Id: string }) => c.Id), [victim], f);
    }
  });

  test('raw connections: 10 MB headers, a slow client, bodies and streams dropped midway', async () => {
    const before = resources(d);
    const big = await raw(d.sock, `GET /_ping HTTP/1.1\r\nHost: b\r\nX-Big: ${'a'.repeat(10 * 1024 * 1024)}\r\n\r\n`);
    assert.ok(big.status === 400 || big.status === 431 || big.status === 0, `10 MB header: ${big.status}`);
    // A slow client holds its connection; others are served meanwhile.
    const slow = net.connect(d.sock);
    slow.write('POST /v1.47/containers/create HTTP/1.1\r\nHost: b\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"Ima');
    for (let i = 0; i < 5; i++) assert.equal((await d.api('GET', '/_ping')).text, 'OK');
    slow.destroy();
    // Declared bodies that never fully arrive, on every POST/PUT route.
    for (const r of apiRoutes()) {
      if (r.method !== 'POST' && r.method !== 'PUT') continue;
      const c = net.connect(d.sock);
      c.write(`${r.method} /v1.47${fill(r, 'victim')} HTTP/1.1\r\nHost: b\r\nContent-Type: application/x-tar\r\nContent-Length: 100000\r\n\r\n`);
      c.write(busyboxTar().subarray(0, 700));
      await sleep(20);
      c.destroy();
    }
    // Streams dropped mid-way: logs -f, events, stats, export, attach.
    for (const path of [`/containers/${victim}/logs?follow=1&stdout=1`, '/events', `/containers/${victim}/stats`, `/containers/${victim}/export`, '/images/get?names=busybox']) {
      const a = await raw(d.sock, request('GET', `/v1.47${path}`), undefined, 2000);
      assert.ok(a.status === 200, `${path}: ${a.status}`);
    }
    const attach = await raw(d.sock, `POST /v1.47/containers/${victim}/attach?stream=1&stdout=1&stdin=1 HTTP/1.1\r\nHost: b\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n`, undefined, 300);
    assert.equal(attach.status, 101);
    assert.deepEqual(fiveHundreds, []);
    await settled(d, before);
    // The victim is untouched by all of it.
    assert.equal((await d.api('GET', `/containers/${victim}/json`)).body.State.Running, true);
  });
});

/** The daemon answers, and its descriptors, children and mounts come back to where they were. */
async function settled(d: TestDaemon, before: { fds: number; children: number; mounts: number }): Promise<void> {
  assert.equal((await d.api('GET', '/_ping')).text, 'OK');
  assert.ok(d.running, 'berthd died');
  await waitFor(
    () => {
      const now = resources(d);
      return now.fds <= before.fds + 2 && now.children <= before.children && now.mounts <= before.mounts;
    },
    `resources back to ${JSON.stringify(before)} (now ${JSON.stringify(resources(d))})`,
    10_000,
    200,
  );
}
