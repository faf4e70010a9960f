// berth pull / push / login / logout, side by side with the real docker CLI.
//  1. The progress renderer as a unit, on recorded streams (one captured from dockerd).
//  2. A replaying Engine API (a small fake daemon on a unix socket): both CLIs get byte-identical
//     streams, so their output must be byte-identical too, on a pipe and in a pseudo-terminal;
//     it also records the X-Registry-Auth headers and /auth bodies both send, serves identity
//     tokens, and drives a fake credential helper.
//  3. Against dockerd 20.10 and Debian's docker-registry (one open, one htpasswd): push, pull, -q,
//     -a, missing tags and repos, login/logout interplay through one config file, bad passwords,
//     run/create's pull of a missing image, and a real pull drawn in a pseudo-terminal.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { displayJSONMessages, goDuration, JSONStreamError, progressString } from '../src/cli/progress.js';
import { encodeAuthConfig } from '../src/client/registry.js';
import { compareVersions } from '../src/util/versions.js';
import { REPO, run, type RunOpts, type RunResult } from './harness.js';
import { peersMissing, startDockerd, type Dockerd } from './peers.js';
import { startRegistry, type TestRegistry } from './registry/registry.js';

const BERTH = path.join(REPO, 'dist', 'src', 'cli', 'main.js');
const FIXTURES = path.join(REPO, 'test', 'fixtures');
const DOCKERD_PULL = fs.readFileSync(path.join(FIXTURES, 'dockerd-pull.jsonl'), 'utf8');
const DOCKERD_PUSH = fs.readFileSync(path.join(FIXTURES, 'dockerd-push.jsonl'), 'utf8');

type Cli = 'berth' | 'docker';
const CLIS: Cli[] = ['docker', 'berth'];

function argvFor(cli: Cli, host: string, args: string[]): [string, string[]] {
  return cli === 'berth' ? [process.execPath, [BERTH, '-H', host, ...args]] : ['docker', ['-H', host, ...args]];
}

function cliRun(cli: Cli, host: string, args: string[], opts: RunOpts = {}): Promise<RunResult> {
  const [bin, argv] = argvFor(cli, host, args);
  return run(bin, argv, { ...opts, env: { DOCKER_CLI_HINTS: 'false', ...opts.env } });
}

const shq = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;

/** Runs a CLI in a pseudo-terminal of the given width (script(1)); output is what the terminal got. */
function inPty(cli: Cli, host: string, args: string[], env: Record<string, string>, cols = 150): Promise<RunResult> {
  const [bin, argv] = argvFor(cli, host, args);
  const cmd = `stty cols ${cols} rows 40; exec ${[bin, ...argv].map(shq).join(' ')}`;
  return run('script', ['-qec', cmd, '/dev/null'], { env: { DOCKER_CLI_HINTS: 'false', ...env }, timeoutMs: 60_000 });
}

/** What a terminal shows once the output is drawn: handles CR, LF, cursor up/down and erase line. */
function screen(out: string): string[] {
  const rows: string[][] = [[]];
  let r = 0;
  let c = 0;
  for (let i = 0; i < out.length; i++) {
    const ch = out[i];
    if (ch === '\x1b') {
      const m = /^\x1b\[(\d*)([A-Za-z])/.exec(out.slice(i));
      if (!m) continue;
      const n = m[1] === '' ? 1 : Number(m[1]);
      if (m[2] === 'A') r = Math.max(0, r - n);
      else if (m[2] === 'B') r += n;
      else if (m[2] === 'K') rows[r] = [];
      i += m[0].length - 1;
    } else if (ch === '\r') c = 0;
    else if (ch === '\n') {
      r++;
      c = 0;
    } else {
      rows[r] ??= [];
      rows[r][c++] = ch;
    }
    while (rows.length <= r) rows.push([]);
  }
  const text = rows.map((row) => Array.from(row, (x) => x ?? ' ').join('').trimEnd());
  while (text.length && text[text.length - 1] === '') text.pop();
  return text;
}

async function* chunks(s: string, size = 7): AsyncGenerator<Buffer> {
  for (let i = 0; i < s.length; i += size) yield Buffer.from(s.slice(i, i + size));
}

async function render(stream: string, isTerminal: boolean, width = 150, aux?: (m: unknown) => void): Promise<{ out: string; error?: Error }> {
  let out = '';
  try {
    await displayJSONMessages(chunks(stream), { write: (s: string) => (out += s) }, { isTerminal, width: () => width, aux });
    return { out };
  } catch (e) {
    return { out, error: e as Error };
  }
}

const line = (o: object): string => JSON.stringify(o) + '\n';

// ---------------------------------------------------------------------------------------------
describe('progress renderer (jsonmessage)', () => {
  test('off a terminal: one line per status change, progress updates dropped', async () => {
    const r = await render(DOCKERD_PULL, false);
    assert.equal(r.error, undefined);
    assert.equal(
      r.out,
      [
        '1: Pulling from x',
        '880d9c80e410: Pulling fs layer',
        '880d9c80e410: Download complete',
        '880d9c80e410: Pull complete',
        'Digest: sha256:b5c620ab51e5bc2a6b9846db7a6268f1b9fb13631a2c7ceb0db5b213293d7db7',
        'Status: Downloaded newer image for 127.0.0.1:5101/x:1',
        '',
      ].join('\n'),
    );
  });

  test('on a terminal: each layer owns a line redrawn in place', async () => {
    const r = await render(DOCKERD_PULL, true, 150);
    assert.equal(r.error, undefined);
    const bar = (n: number) => `[${'='.repeat(n)}>${' '.repeat(50 - n)}]`;
    // first sight of a layer: newline, up 1, erase, CR, text, CR, down 1
    assert.ok(r.out.startsWith(`1: Pulling from x\n\n\x1b[1A\x1b[2K\r880d9c80e410: Pulling fs layer \r\x1b[1B`), JSON.stringify(r.out.slice(0, 120)));
    assert.ok(r.out.includes(`\x1b[1A\x1b[2K\r880d9c80e410: Downloading ${bar(1)}  32.77kB/1.065MB\r\x1b[1B`));
    assert.ok(r.out.includes(`880d9c80e410: Extracting ${bar(4)}   98.3kB/1.065MB\r`));
    assert.ok(r.out.includes(`880d9c80e410: Extracting ${bar(50)}  1.065MB/1.065MB\r`));
    assert.deepEqual(screen(r.out), [
      '1: Pulling from x',
      '880d9c80e410: Pull complete',
      'Digest: sha256:b5c620ab51e5bc2a6b9846db7a6268f1b9fb13631a2c7ceb0db5b213293d7db7',
      'Status: Downloaded newer image for 127.0.0.1:5101/x:1',
    ]);
  });

  test('two layers interleaved: cursor moves by the distance to the layer line', async () => {
    const s =
      line({ status: 'Pulling fs layer', progressDetail: {}, id: 'aaa' }) +
      line({ status: 'Pulling fs layer', progressDetail: {}, id: 'bbb' }) +
      line({ status: 'Downloading', progressDetail: { current: 500, total: 1000 }, id: 'aaa' }) +
      line({ status: 'Done', progressDetail: {}, id: 'bbb' });
    const r = await render(s, true, 80);
    assert.equal(
      r.out,
      '\n\x1b[1A\x1b[2K\raaa: Pulling fs layer \r\x1b[1B' +
        '\n\x1b[1A\x1b[2K\rbbb: Pulling fs layer \r\x1b[1B' +
        '\x1b[2A\x1b[2K\raaa: Downloading     500B/1kB\r\x1b[2B' +
        '\x1b[1A\x1b[2K\rbbb: Done \r\x1b[1B',
    );
    assert.deepEqual(screen(r.out), ['aaa: Downloading     500B/1kB', 'bbb: Done']);
  });

  test('a line without an id ends the block: the next tag of pull -a gets fresh lines', async () => {
    const s =
      line({ status: 'Already exists', progressDetail: {}, id: 'aaa' }) +
      line({ status: 'Digest: sha256:1' }) +
      line({ status: 'Already exists', progressDetail: {}, id: 'aaa' });
    const r = await render(s, true, 150);
    assert.deepEqual(screen(r.out), ['aaa: Already exists', 'Digest: sha256:1', 'aaa: Already exists']);
  });

  test('progress strings: bar only above 110 columns, time left above 50, units, hidecounts, wonky totals', () => {
    const now = 110_000;
    const p = { current: 500, total: 1000, start: 100 };
    assert.equal(progressString(p, 150, now), `[${'='.repeat(25)}>${' '.repeat(25)}]     500B/1kB 10s`);
    assert.equal(progressString(p, 80, now), '    500B/1kB 10s');
    assert.equal(progressString(p, 40, now), '    500B/1kB');
    assert.equal(progressString({ current: 1500, total: 1000 }, 40), '   1.5kB');
    assert.equal(progressString({ current: 3, total: 10, units: 'files' }, 40), '3/10 files');
    assert.equal(progressString({ current: 3, units: 'files' }, 40), '3 files');
    assert.equal(progressString({ current: 1234567 }, 150), ' 1.235MB');
    assert.equal(progressString({ current: 7, total: 10, hidecounts: true }, 150), `[${'='.repeat(35)}>${' '.repeat(15)}] `);
    assert.equal(progressString({}, 150), '');
    assert.deepEqual([goDuration(0), goDuration(59), goDuration(61), goDuration(3600), goDuration(3725)], ['0s', '59s', '1m1s', '1h0m0s', '1h2m5s']);
  });

  test('aux messages go to the callback and are not printed', async () => {
    const got: unknown[] = [];
    const r = await render(DOCKERD_PUSH, false, 150, (m) => got.push(m));
    assert.equal(r.error, undefined);
    assert.ok(!r.out.includes('527}'));
    assert.match(r.out, /^1: digest: sha256:[0-9a-f]{64} size: 527$/m);
    assert.equal(got.length, 1);
    assert.deepEqual((got[0] as { aux: object }).aux, { Tag: '1', Digest: 'sha256:b5c620ab51e5bc2a6b9846db7a6268f1b9fb13631a2c7ceb0db5b213293d7db7', Size: 527 });
  });

  test('errorDetail ends the stream with its message; on a terminal the cursor is put back first', async () => {
    const s = line({ status: 'Preparing', progressDetail: {}, id: 'aaa' }) + line({ errorDetail: { message: 'boom', code: 7 }, error: 'boom', id: 'aaa', progressDetail: {} }) + line({ status: 'never shown' });
    const r = await render(s, true);
    assert.ok(r.error instanceof JSONStreamError);
    assert.equal(r.error.message, 'boom');
    assert.equal((r.error as JSONStreamError).code, 7);
    assert.ok(r.out.endsWith('\x1b[1A\x1b[1B'), JSON.stringify(r.out));
    assert.ok(!r.out.includes('never'));
    const plain = await render(line({ status: 'x' }) + line({ error: 'only the old field' }), false);
    assert.equal(plain.out, 'x\n');
    assert.equal(plain.error?.message, 'only the old field');
  });

  test('stream text, deprecated progress strings and a broken stream', async () => {
    const r = await render(line({ stream: 'Step 1/2\n' }) + line({ status: 'Downloading', progress: '[=>  ] 1/2', id: 'a' }), false);
    // docker ends a deprecated progress string without a newline
    assert.equal(r.out, 'Step 1/2\na: Downloading [=>  ] 1/2');
    const bad = await render('{"status":"ok"}\n{"status": nope}\n', false);
    assert.equal(bad.out, 'ok\n');
    assert.ok(bad.error instanceof SyntaxError);
  });
});

// ---------------------------------------------------------------------------------------------
interface Recorded {
  method: string;
  url: string;
  auth: string | undefined;
  body: string;
}

/** An Engine API that replays recorded streams and records what clients send. */
class ReplayDaemon {
  readonly dir = fs.mkdtempSync('/tmp/brf-');
  readonly sock = path.join(this.dir, 'fake.sock');
  readonly requests: Recorded[] = [];
  pullStream = DOCKERD_PULL;
  pushStream = DOCKERD_PUSH;
  private server = http.createServer((req, res) => this.handle(req, res));

  get host(): string {
    return `unix://${this.sock}`;
  }

  start(): Promise<void> {
    return new Promise((resolve) => this.server.listen(this.sock, resolve));
  }

  stop(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((resolve) => this.server.close(() => {
      fs.rmSync(this.dir, { recursive: true, force: true });
      resolve();
    }));
  }

  take(): Recorded[] {
    return this.requests.splice(0);
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const body: Buffer[] = [];
    req.on('data', (c: Buffer) => body.push(c));
    req.on('end', () => {
      const url = req.url ?? '';
      const text = Buffer.concat(body).toString();
      const headers = { 'Api-Version': '1.41', Ostype: 'linux', 'Content-Type': 'application/json' };
      if (url === '/_ping') {
        res.writeHead(200, { ...headers, 'Content-Type': 'text/plain' });
        res.end(req.method === 'HEAD' ? undefined : 'OK');
        return;
      }
      // As dockerd 20.10: a newer client version is refused before anything is done (the berth
      // CLI sends its first request at its own version and learns the daemon's from this answer).
      const asked = /^\/v([\d.]+)\//.exec(url)?.[1];
      if (asked && compareVersions(asked, '1.41') > 0) {
        res.writeHead(400, headers);
        res.end(JSON.stringify({ message: `client version ${asked} is too new. Maximum supported API version is 1.41` }));
        return;
      }
      this.requests.push({ method: req.method ?? '', url, auth: req.headers['x-registry-auth'] as string | undefined, body: text });
      const p = url.replace(/^\/v[\d.]+/, '');
      if (p === '/auth') {
        const a = JSON.parse(text) as { username?: string; password?: string; serveraddress?: string };
        if (a.password === 'pw' || a.password === 'token-user-pw') {
          res.writeHead(200, headers);
          res.end(JSON.stringify({ Status: 'Login Succeeded', IdentityToken: a.password === 'token-user-pw' ? 'refresh-token-1' : '' }));
        } else {
          res.writeHead(401, headers);
          res.end(JSON.stringify({ message: `login attempt to http://${a.serveraddress}/v2/ failed with status: 401 Unauthorized` }));
        }
        return;
      }
      if (p.startsWith('/images/create')) return this.stream(res, this.pullStream);
      if (/^\/images\/.+\/push/.test(p)) return this.stream(res, this.pushStream);
      res.writeHead(404, headers);
      res.end(JSON.stringify({ message: `page not found: ${p}` }));
    });
  }

  private stream(res: http.ServerResponse, s: string): void {
    res.writeHead(200, { 'Api-Version': '1.41', 'Content-Type': 'application/json' });
    // line by line, as a daemon flushes them
    const lines = s.split(/(?<=\n)/);
    const next = () => {
      const l = lines.shift();
      if (l === undefined) return res.end();
      res.write(l, () => setImmediate(next));
    };
    next();
  }
}

/** A docker-credential-<name> helper that keeps credentials in files and logs every call. */
function writeFakeHelper(dir: string, name: string): string {
  const bin = path.join(dir, 'bin');
  fs.mkdirSync(bin, { recursive: true });
  const script = `#!/bin/sh
d="$BERTH_TEST_HELPER_DIR"
in=$(cat)
printf '%s %s\\n' "$1" "$in" >> "$d/calls.log"
key() { printf '%s' "$1" | tr '/:' '__'; }
case "$1" in
  store) url=$(printf '%s' "$in" | sed -n 's/.*"ServerURL":"\\([^"]*\\)".*/\\1/p'); printf '%s' "$in" > "$d/c-$(key "$url")" ;;
  get) if [ -f "$d/c-$(key "$in")" ]; then cat "$d/c-$(key "$in")"; else echo "credentials not found in native keychain"; exit 1; fi ;;
  erase) if [ -f "$d/c-$(key "$in")" ]; then rm "$d/c-$(key "$in")"; else echo "credentials not found in native keychain"; exit 1; fi ;;
  list) echo '{}' ;;
  *) exit 2 ;;
esac
`;
  fs.writeFileSync(path.join(bin, `docker-credential-${name}`), script, { mode: 0o755 });
  return bin;
}

const decodeHeader = (h: string | undefined): unknown => (h === undefined ? undefined : JSON.parse(Buffer.from(h, 'base64url').toString()));

describe('berth and docker against a replaying Engine API', () => {
  let fake: ReplayDaemon;
  let tmp: string;
  let n = 0;
  const freshConfig = (): string => {
    const d = path.join(tmp, `cfg${n++}`);
    return d;
  };

  before(async () => {
    tmp = fs.mkdtempSync('/tmp/brt-');
    fake = new ReplayDaemon();
    await fake.start();
  });
  after(async () => {
    await fake?.stop();
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  /** Runs the same command with both CLIs (each with its own copy of `config`), returns both results and requests. */
  async function both(args: string[], config?: string, opts: RunOpts = {}): Promise<Record<Cli, { r: RunResult; reqs: Recorded[]; cfg: string }>> {
    const out = {} as Record<Cli, { r: RunResult; reqs: Recorded[]; cfg: string }>;
    for (const cli of CLIS) {
      const cfg = freshConfig();
      if (config !== undefined) {
        fs.mkdirSync(cfg, { recursive: true });
        fs.writeFileSync(path.join(cfg, 'config.json'), config);
      }
      fake.take();
      const r = await cliRun(cli, fake.host, args, { ...opts, env: { DOCKER_CONFIG: cfg, ...opts.env } });
      out[cli] = { r, reqs: fake.take(), cfg };
    }
    return out;
  }

  test('pull off a terminal: same output, same query and the same X-Registry-Auth ("{}" without a login)', async () => {
    const b = await both(['pull', '127.0.0.1:5101/x:1']);
    assert.equal(b.docker.r.code, 0, b.docker.r.stderr);
    assert.equal(b.berth.r.stdout, b.docker.r.stdout);
    assert.equal(b.berth.r.stderr, b.docker.r.stderr);
    assert.equal(b.berth.r.code, 0);
    assert.match(b.berth.r.stdout, /\n127\.0\.0\.1:5101\/x:1\n$/);
    const [d] = b.docker.reqs;
    const [m] = b.berth.reqs;
    assert.equal(m.url, d.url);
    assert.equal(m.auth, d.auth);
    assert.equal(d.auth, 'e30=');
  });

  test('pull variants: default tag, digest, -a, -q, --platform, Docker Hub names', async () => {
    for (const args of [
      ['pull', '127.0.0.1:5101/x'],
      ['pull', '-q', '127.0.0.1:5101/x:1'],
      ['pull', '-a', '127.0.0.1:5101/x'],
      ['pull', '--platform', 'Linux/AMD64', 'busybox'],
      ['pull', 'user/app@sha256:b5c620ab51e5bc2a6b9846db7a6268f1b9fb13631a2c7ceb0db5b213293d7db7'],
      ['image', 'pull', 'localhost:5000/a/b:c'],
      ['pull', '-a', 'busybox:1'],
      ['pull', 'Busybox'],
      ['pull'],
    ]) {
      const b = await both(args);
      assert.equal(b.berth.r.stdout, b.docker.r.stdout, args.join(' '));
      assert.equal(b.berth.r.code, b.docker.r.code, args.join(' '));
      if (b.docker.r.code === 0) assert.equal(b.berth.r.stderr, b.docker.r.stderr, args.join(' '));
      else assert.equal(b.berth.r.stderr.replaceAll('berth', 'docker'), b.docker.r.stderr, args.join(' '));
      assert.deepEqual(b.berth.reqs.map((r) => [r.url, r.auth]), b.docker.reqs.map((r) => [r.url, r.auth]), args.join(' '));
    }
  });

  test('push: same output, path, query and header; -q prints the reference; aux is not printed', async () => {
    for (const args of [['push', '127.0.0.1:5101/z:1'], ['push', '-q', '127.0.0.1:5101/z:1'], ['image', 'push', '127.0.0.1:5101/z'], ['push', '-a', '127.0.0.1:5101/z'], ['push', '127.0.0.1:5101/z@sha256:b5c620ab51e5bc2a6b9846db7a6268f1b9fb13631a2c7ceb0db5b213293d7db7'], ['push', '-a', '127.0.0.1:5101/z:1']]) {
      const b = await both(args);
      assert.equal(b.berth.r.stdout, b.docker.r.stdout, args.join(' '));
      assert.equal(b.berth.r.stderr, b.docker.r.stderr, args.join(' '));
      assert.equal(b.berth.r.code, b.docker.r.code, args.join(' '));
      assert.deepEqual(b.berth.reqs.map((r) => [r.method, r.url, r.auth]), b.docker.reqs.map((r) => [r.method, r.url, r.auth]), args.join(' '));
    }
  });

  test('errors inside the stream: message on stderr, exit 1, like docker', async () => {
    fake.pushStream = line({ status: 'The push refers to repository [127.0.0.1:5101/z]' }) + line({ status: 'Preparing', progressDetail: {}, id: 'efe9b1606770' }) + line({ errorDetail: { message: 'denied: requested access to the resource is denied' }, error: 'denied: requested access to the resource is denied' });
    try {
      const b = await both(['push', '127.0.0.1:5101/z:1']);
      assert.equal(b.docker.r.code, 1);
      assert.equal(b.berth.r.code, 1);
      assert.equal(b.berth.r.stdout, b.docker.r.stdout);
      assert.equal(b.berth.r.stderr, b.docker.r.stderr);
      assert.equal(b.berth.r.stderr, 'denied: requested access to the resource is denied\n');
    } finally {
      fake.pushStream = DOCKERD_PUSH;
    }
  });

  test('in a pseudo-terminal both draw the recorded dockerd streams byte for byte alike', async () => {
    const streams = [
      DOCKERD_PULL,
      // two layers interleaved, units and hidecounts, a wonky total, the next tag of a pull -a
      line({ status: 'Pulling from library/x', id: '1' }) +
        line({ status: 'Pulling fs layer', progressDetail: {}, id: 'aaa' }) +
        line({ status: 'Pulling fs layer', progressDetail: {}, id: 'bbb' }) +
        line({ status: 'Waiting', progressDetail: {}, id: 'bbb' }) +
        line({ status: 'Downloading', progressDetail: { current: 1000, total: 5000000 }, id: 'aaa' }) +
        line({ status: 'Downloading', progressDetail: { current: 2500000, total: 5000000 }, id: 'bbb' }) +
        line({ status: 'Downloading', progressDetail: { current: 6000000, total: 5000000 }, id: 'aaa' }) +
        line({ status: 'Extracting', progressDetail: { current: 3, total: 10, units: 'files' }, id: 'bbb' }) +
        line({ status: 'Extracting', progressDetail: { current: 7, total: 10, hidecounts: true }, id: 'aaa' }) +
        line({ status: 'Pull complete', progressDetail: {}, id: 'aaa' }) +
        line({ status: 'Pull complete', progressDetail: {}, id: 'bbb' }) +
        line({ status: 'Digest: sha256:b5c620ab51e5bc2a6b9846db7a6268f1b9fb13631a2c7ceb0db5b213293d7db7' }) +
        line({ status: 'Pulling from library/x', id: '2' }) +
        line({ status: 'Already exists', progressDetail: {}, id: 'aaa' }) +
        line({ stream: 'text\n' }) +
        line({ status: 'Status: Downloaded newer image for x' }),
    ];
    for (const s of streams) {
      fake.pullStream = s;
      for (const cols of [150, 80]) {
        const cfg = freshConfig();
        const d = await inPty('docker', fake.host, ['pull', '127.0.0.1:5101/x:1'], { DOCKER_CONFIG: cfg }, cols);
        const b = await inPty('berth', fake.host, ['pull', '127.0.0.1:5101/x:1'], { DOCKER_CONFIG: cfg }, cols);
        assert.equal(d.code, 0, d.stdout);
        assert.equal(b.code, 0, b.stdout);
        assert.equal(JSON.stringify(b.stdout), JSON.stringify(d.stdout), `cols ${cols}`);
        assert.match(b.stdout, /\x1b\[1A\x1b\[2K\r/);
      }
    }
    fake.pullStream = DOCKERD_PULL;
    const d = await inPty('docker', fake.host, ['push', '127.0.0.1:5101/z:1'], {});
    const b = await inPty('berth', fake.host, ['push', '127.0.0.1:5101/z:1'], {});
    assert.equal(JSON.stringify(b.stdout), JSON.stringify(d.stdout));
  });

  test('login: same /auth body, same config.json bytes and mode, same messages; bad password fails alike', async () => {
    const server = '127.0.0.1:5999';
    const bad = await both(['login', '-u', 'alice', '-p', 'nope', server]);
    assert.equal(bad.docker.r.code, 1);
    assert.equal(bad.berth.r.code, 1);
    assert.equal(bad.berth.r.stderr, bad.docker.r.stderr);
    assert.match(bad.berth.r.stderr, /Error response from daemon: login attempt to http:\/\/127\.0\.0\.1:5999\/v2\/ failed with status: 401 Unauthorized/);
    assert.equal(fs.existsSync(path.join(bad.berth.cfg, 'config.json')), false);

    const existing = JSON.stringify({ auths: { 'other.example:5000': { auth: Buffer.from('bob:x').toString('base64') } }, psFormat: 'table {{.ID}} <&>', currentContext: 'default' }, null, 2);
    for (const args of [
      ['login', '-u', 'alice', '-p', 'pw', server],
      ['login', '-u', 'alice', '-p', 'pw', `http://${server}/some/path`],
      ['login', '--username', 'alice', '--password-stdin', server],
    ]) {
      const b = await both(args, existing, { input: 'pw\n' });
      assert.equal(b.docker.r.code, 0, b.docker.r.stderr);
      assert.equal(b.berth.r.code, 0, b.berth.r.stderr);
      assert.equal(b.berth.r.stdout, 'Login Succeeded\n');
      assert.equal(b.berth.r.stdout, b.docker.r.stdout);
      assert.equal(b.berth.r.stderr.replaceAll(b.berth.cfg, 'CFG'), b.docker.r.stderr.replaceAll(b.docker.cfg, 'CFG'));
      assert.deepEqual(b.berth.reqs.map((r) => JSON.parse(r.body)), b.docker.reqs.map((r) => JSON.parse(r.body)));
      const bf = fs.readFileSync(path.join(b.berth.cfg, 'config.json'), 'utf8');
      assert.equal(bf, fs.readFileSync(path.join(b.docker.cfg, 'config.json'), 'utf8'));
      assert.equal(JSON.parse(bf).auths[server].auth, Buffer.from('alice:pw').toString('base64'));
      // an existing file keeps its mode (this one was written 0644), as docker does
      assert.equal(fs.statSync(path.join(b.berth.cfg, 'config.json')).mode & 0o777, fs.statSync(path.join(b.docker.cfg, 'config.json')).mode & 0o777);
    }
    // a fresh file: 0600 in a 0700 directory
    const fresh = await both(['login', '-u', 'alice', '-p', 'pw', server]);
    assert.equal(fs.readFileSync(path.join(fresh.berth.cfg, 'config.json'), 'utf8'), fs.readFileSync(path.join(fresh.docker.cfg, 'config.json'), 'utf8'));
    assert.equal(fs.statSync(path.join(fresh.berth.cfg, 'config.json')).mode & 0o777, 0o600);
    assert.equal(fs.statSync(fresh.berth.cfg).mode & 0o777, 0o700);
  });

  test('login flag errors and non-interactive use fail as docker does', async () => {
    for (const args of [
      ['login', '-u', 'alice', '--password-stdin', '-p', 'x', 'h:1'],
      ['login', '--password-stdin', 'h:1'],
      ['login', '-u', '', 'h:1'],
      ['login', '-u', 'alice', '-p', '', 'h:1'],
      ['login', '-u', 'alice', 'h:1'],
      ['login', 'h:1'],
      ['login', 'a', 'b'],
    ]) {
      const b = await both(args);
      assert.equal(b.berth.r.code, b.docker.r.code, args.join(' '));
      assert.equal(b.berth.r.stderr.replaceAll('berth', 'docker'), b.docker.r.stderr, args.join(' '));
      assert.equal(b.berth.r.stdout, b.docker.r.stdout, args.join(' '));
    }
  });

  test('identity tokens: stored as docker stores them, and sent back the same way', async () => {
    const server = '127.0.0.1:5998';
    const b = await both(['login', '-u', 'tok', '-p', 'token-user-pw', server]);
    assert.equal(b.berth.r.code, 0, b.berth.r.stderr);
    const bf = fs.readFileSync(path.join(b.berth.cfg, 'config.json'), 'utf8');
    assert.equal(bf, fs.readFileSync(path.join(b.docker.cfg, 'config.json'), 'utf8'));
    assert.deepEqual(JSON.parse(bf).auths[server], { auth: Buffer.from('tok:').toString('base64'), identitytoken: 'refresh-token-1' });
    // no password stored: no "unencrypted" warning
    assert.doesNotMatch(b.berth.r.stderr, /unencrypted/);
    const pulls = await both(['pull', `${server}/x:1`], bf);
    assert.equal(pulls.berth.reqs[0].auth, pulls.docker.reqs[0].auth);
    assert.deepEqual(decodeHeader(pulls.berth.reqs[0].auth), { username: 'tok', serveraddress: server, identitytoken: 'refresh-token-1' });
  });

  test('stored credentials: pull, push and run send the matching auths entry; login reuses it', async () => {
    const config = JSON.stringify({
      auths: {
        '127.0.0.1:5997': { auth: Buffer.from('alice:pw').toString('base64') },
        'https://legacy.example:5000/v1/': { auth: Buffer.from('old:timer').toString('base64') },
        'https://index.docker.io/v1/': { auth: Buffer.from('hub:pw').toString('base64') },
      },
    });
    for (const args of [['pull', '127.0.0.1:5997/x:1'], ['push', '127.0.0.1:5997/x:1'], ['pull', 'legacy.example:5000/a'], ['pull', 'busybox'], ['pull', 'docker.io/library/busybox:1'], ['pull', 'other:1/x']]) {
      const b = await both(args, config);
      assert.equal(b.berth.reqs[0].auth, b.docker.reqs[0].auth, args.join(' '));
    }
    const p = await both(['pull', '127.0.0.1:5997/x:1'], config);
    assert.deepEqual(decodeHeader(p.berth.reqs[0].auth), { username: 'alice', password: 'pw', serveraddress: '127.0.0.1:5997' });
    assert.equal(encodeAuthConfig({}), 'e30=');
    // login with no flags and stored credentials: "Authenticating with existing credentials..."
    const l = await both(['login', '127.0.0.1:5997'], config);
    assert.equal(l.berth.r.code, 0, l.berth.r.stderr);
    assert.equal(l.berth.r.stdout, l.docker.r.stdout);
    assert.equal(l.berth.r.stderr.replaceAll('berth', 'docker'), l.docker.r.stderr);
    assert.match(l.berth.r.stderr, /Authenticating with existing credentials\.\.\. \[Username: alice\]/);
  });

  test('logout: removes every spelling of the server, keeps the rest of the file', async () => {
    const config = JSON.stringify({
      auths: {
        '127.0.0.1:5997': { auth: Buffer.from('alice:pw').toString('base64') },
        'http://127.0.0.1:5997': { auth: Buffer.from('alice:pw').toString('base64') },
        'keep.example': { auth: Buffer.from('k:k').toString('base64') },
      },
      detachKeys: 'ctrl-x',
      berthUnknownKey: { nested: [1, 2, { a: 'b' }] },
    });
    const b = await both(['logout', 'https://127.0.0.1:5997/v2/'], config);
    assert.equal(b.berth.r.code, 0);
    assert.equal(b.berth.r.stdout, 'Removing login credentials for 127.0.0.1:5997\n');
    assert.equal(b.berth.r.stdout, b.docker.r.stdout);
    const bj = JSON.parse(fs.readFileSync(path.join(b.berth.cfg, 'config.json'), 'utf8'));
    const dj = JSON.parse(fs.readFileSync(path.join(b.docker.cfg, 'config.json'), 'utf8'));
    assert.deepEqual(bj.auths, dj.auths);
    assert.deepEqual(Object.keys(bj.auths), ['keep.example']);
    assert.equal(bj.detachKeys, 'ctrl-x');
    // docker drops keys it does not know; berth keeps them
    assert.deepEqual(bj.berthUnknownKey, { nested: [1, 2, { a: 'b' }] });
    const nothing = await both(['logout']);
    assert.equal(nothing.berth.r.stdout, nothing.docker.r.stdout);
    assert.equal(nothing.berth.r.stdout, 'Removing login credentials for https://index.docker.io/v1/\n');
    assert.equal(fs.existsSync(path.join(nothing.berth.cfg, 'config.json')), false);
  });

  test('a malformed config.json is reported and never overwritten', async () => {
    const cfg = freshConfig();
    fs.mkdirSync(cfg);
    fs.writeFileSync(path.join(cfg, 'config.json'), '{"auths": {');
    const r = await cliRun('berth', fake.host, ['login', '-u', 'alice', '-p', 'pw', '127.0.0.1:5996'], { env: { DOCKER_CONFIG: cfg } });
    assert.equal(r.code, 1);
    assert.match(r.stderr, /WARNING: Error parsing config file/);
    assert.match(r.stderr, /Error saving credentials/);
    assert.equal(fs.readFileSync(path.join(cfg, 'config.json'), 'utf8'), '{"auths": {');
  });

  test('--config selects the directory, over DOCKER_CONFIG', async () => {
    const cfg = freshConfig();
    const other = freshConfig();
    const r = await run(process.execPath, [BERTH, '-H', fake.host, '--config', cfg, 'login', '-u', 'alice', '-p', 'pw', '127.0.0.1:5995'], { env: { DOCKER_CONFIG: other } });
    assert.equal(r.code, 0, r.stderr);
    assert.ok(fs.existsSync(path.join(cfg, 'config.json')));
    assert.ok(!fs.existsSync(other));
  });

  test('credential helpers: the same helper calls as docker for login, pull and logout', async () => {
    const hdir = path.join(tmp, 'helper');
    fs.mkdirSync(hdir, { recursive: true });
    const bin = writeFakeHelper(hdir, 'berthtest');
    const env = { BERTH_TEST_HELPER_DIR: hdir, PATH: `${bin}:${process.env.PATH}` };
    const server = '127.0.0.1:5994';
    const calls = () => {
      const f = path.join(hdir, 'calls.log');
      const s = fs.existsSync(f) ? fs.readFileSync(f, 'utf8') : '';
      fs.rmSync(f, { force: true });
      return s;
    };
    const seen: Record<Cli, string[]> = { docker: [], berth: [] };
    const files: Record<Cli, string> = { docker: '', berth: '' };
    for (const cli of CLIS) {
      const cfg = freshConfig();
      fs.mkdirSync(cfg);
      fs.writeFileSync(path.join(cfg, 'config.json'), JSON.stringify({ credsStore: 'berthtest' }));
      const o = { env: { ...env, DOCKER_CONFIG: cfg } };
      const login = await cliRun(cli, fake.host, ['login', '-u', 'alice', '-p', 'pw', server], o);
      assert.equal(login.code, 0, login.stderr);
      assert.doesNotMatch(login.stderr, /unencrypted/);
      seen[cli].push(calls());
      files[cli] = fs.readFileSync(path.join(cfg, 'config.json'), 'utf8');
      fake.take();
      const pull = await cliRun(cli, fake.host, ['pull', `${server}/x:1`], o);
      assert.equal(pull.code, 0, pull.stderr);
      seen[cli].push(calls(), JSON.stringify(decodeHeader(fake.take()[0].auth)));
      const again = await cliRun(cli, fake.host, ['login', server], o);
      assert.equal(again.code, 0, again.stderr);
      seen[cli].push(calls());
      const out = await cliRun(cli, fake.host, ['logout', server], o);
      assert.equal(out.code, 0, out.stderr);
      seen[cli].push(calls(), out.stdout, out.stderr);
      // a helper that is missing
      fs.writeFileSync(path.join(cfg, 'config.json'), JSON.stringify({ credHelpers: { [server]: 'missing-helper' } }));
      const broken = await cliRun(cli, fake.host, ['login', '-u', 'alice', '-p', 'pw', server], o);
      seen[cli].push(String(broken.code), broken.stderr.replaceAll('berth', 'docker'));
    }
    assert.equal(files.berth, files.docker);
    assert.deepEqual(JSON.parse(files.berth), { auths: { [server]: {} }, credsStore: 'berthtest' });
    assert.deepEqual(seen.berth, seen.docker);
    assert.match(seen.berth[0], /^store \{"ServerURL":"127\.0\.0\.1:5994","Username":"alice","Secret":"pw"\}/);
    assert.match(seen.berth[2], /"password":"pw"/);
    assert.match(seen.berth[seen.berth.length - 1], /executable file not found/);
  });
});

// ---------------------------------------------------------------------------------------------
const missing = peersMissing();

describe('berth and docker against dockerd and docker-registry', { skip: missing ? `peers unavailable: ${missing}` : false }, () => {
  let d: Dockerd;
  const regs: TestRegistry[] = [];
  let A: string; // open registry for berth
  let B: string; // open registry for docker
  let C: string; // htpasswd registry
  let cfgs: Record<Cli, string>;
  let tmp: string;

  before(async () => {
    tmp = fs.mkdtempSync('/tmp/brd-');
    cfgs = { berth: path.join(tmp, 'berth-cfg'), docker: path.join(tmp, 'docker-cfg') };
    d = await startDockerd({ busybox: true });
    for (const o of [{}, {}, { htpasswd: { user: 'alice', password: 's3cret' } }]) regs.push(await startRegistry(o));
    [A, B, C] = regs.map((r) => r.host);
    for (const [reg, name] of [[A, 'x:1'], [A, 'x:2'], [B, 'x:1'], [B, 'x:2'], [C, 'y:1']]) await d.dockerOk(['tag', 'busybox:latest', `${reg}/${name}`]);
  });
  after(async () => {
    await d?.stop();
    for (const r of regs) await r.stop();
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
    assert.equal(d ? fs.existsSync(d.root) : false, false);
  });

  const cli = (who: Cli, args: string[], opts: RunOpts = {}) => cliRun(who, d.host, args, { timeoutMs: 60_000, ...opts, env: { DOCKER_CONFIG: cfgs[who], ...opts.env } });
  /** berth works on registry A, docker on B: their outputs must match once the address is the same. */
  const reg = (who: Cli) => (who === 'berth' ? A : B);
  const same = (r: RunResult, who: Cli) => ({ code: r.code, stdout: r.stdout.replaceAll(reg(who), 'REG'), stderr: r.stderr.replaceAll(reg(who), 'REG').replaceAll('berth', 'docker') });
  // the daemon reports checksum verification and waiting only when it catches them in time
  // dockerd sends these per layer or not depending on how quickly the layer arrived: two fresh
  // pulls of one image differ in them, whichever CLI renders the stream.
  const steady = (s: string) => s.split('\n').filter((l) => !/: (Verifying Checksum|Waiting|Download complete)$/.test(l)).join('\n');
  async function removeImage(): Promise<void> {
    const ids = (await d.dockerOk(['images', '-q'])).split('\n').filter(Boolean);
    if (ids.length) await d.dockerOk(['rmi', '-f', ...new Set(ids)]);
  }

  test('push to a fresh registry, then again: the same lines as docker', async () => {
    for (let round = 0; round < 2; round++) {
      const out = {} as Record<Cli, ReturnType<typeof same>>;
      for (const who of CLIS) out[who] = same(await cli(who, ['push', `${reg(who)}/x:1`]), who);
      assert.equal(out.docker.code, 0, out.docker.stderr);
      assert.deepEqual(out.berth, out.docker);
      assert.match(out.berth.stdout, round === 0 ? /: Pushed\n/ : /: Layer already exists\n/);
      assert.match(out.berth.stdout, /^1: digest: sha256:[0-9a-f]{64} size: \d+$/m);
    }
    for (const who of CLIS) {
      const r = await cli(who, ['push', '-q', `${reg(who)}/x:2`]);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout, `${reg(who)}/x:2\n`);
    }
  });

  test('push failures: a tag that does not exist locally, a digest, -a with a tag', async () => {
    for (const args of [['push', 'REG/x'], ['push', 'REG/nothere:1'], ['push', '-a', 'REG/x:1'], ['push', 'REG/x@sha256:b5c620ab51e5bc2a6b9846db7a6268f1b9fb13631a2c7ceb0db5b213293d7db7']]) {
      const out = {} as Record<Cli, ReturnType<typeof same>>;
      for (const who of CLIS) out[who] = same(await cli(who, args.map((a) => a.replace('REG', reg(who)))), who);
      assert.deepEqual(out.berth, out.docker, args.join(' '));
      assert.equal(out.berth.code, 1);
    }
  });

  test('pull back (fresh, then up to date), -q, -a, and a real stream replayed through both renderers', async () => {
    await removeImage();
    const fresh = {} as Record<Cli, ReturnType<typeof same>>;
    for (const who of CLIS) {
      fresh[who] = same(await cli(who, ['pull', `${reg(who)}/x:1`]), who);
      await removeImage();
    }
    assert.equal(fresh.docker.code, 0, fresh.docker.stderr);
    assert.deepEqual({ ...fresh.berth, stdout: steady(fresh.berth.stdout) }, { ...fresh.docker, stdout: steady(fresh.docker.stdout) });
    assert.match(fresh.berth.stdout, /: Pull complete\nDigest: sha256:[0-9a-f]{64}\nStatus: Downloaded newer image for REG\/x:1\nREG\/x:1\n$/);

    for (const who of CLIS) await d.dockerOk(['pull', `${reg(who)}/x:1`]);
    for (const args of [['pull', 'REG/x:1'], ['pull', '-q', 'REG/x:2'], ['pull', '-a', 'REG/x'], ['image', 'pull', 'REG/x']]) {
      const out = {} as Record<Cli, ReturnType<typeof same>>;
      for (const who of CLIS) out[who] = same(await cli(who, args.map((a) => a.replace('REG', reg(who)))), who);
      assert.deepEqual(out.berth, out.docker, args.join(' '));
    }
    const q = await cli('berth', ['pull', '-q', `${A}/x:1`]);
    assert.equal(q.stdout, `${A}/x:1\n`);
    const all = await cli('berth', ['pull', '-a', `${A}/x`]);
    assert.match(all.stdout, /Status: Image is up to date for .*\/x\n/);
    assert.ok(all.stdout.endsWith(`${A}/x\n`));
  });

  test('pull of a missing tag or repository: docker\'s message and exit code', async () => {
    for (const args of [['pull', 'REG/x:nope'], ['pull', 'REG/nope'], ['pull', '-a', 'REG/nope'], ['pull', `${C}/y:1`]]) {
      const out = {} as Record<Cli, ReturnType<typeof same>>;
      for (const who of CLIS) out[who] = same(await cli(who, args.map((a) => a.replace('REG', reg(who)))), who);
      assert.deepEqual(out.berth, out.docker, args.join(' '));
      assert.equal(out.berth.code, 1, args.join(' '));
      assert.match(out.berth.stderr, /Error response from daemon: /);
    }
  });

  test('a real pull in a pseudo-terminal: redrawn in place, same final screen as docker', async () => {
    const shown = {} as Record<Cli, string[]>;
    for (const who of CLIS) {
      await removeImage();
      const r = await inPty(who, d.host, ['pull', `${reg(who)}/x:1`], { DOCKER_CONFIG: cfgs[who] });
      assert.equal(r.code, 0, r.stdout);
      assert.match(r.stdout, /\n\x1b\[1A\x1b\[2K\r[0-9a-f]{12}: Pulling fs layer \r\x1b\[1B/);
      assert.match(r.stdout, /Extracting \[=+>\s*\]/);
      shown[who] = screen(r.stdout.replaceAll(reg(who), 'REG'));
    }
    assert.deepEqual(shown.berth, shown.docker);
    assert.equal(shown.berth.length, 5);
    assert.match(shown.berth[1], /^[0-9a-f]{12}: Pull complete$/);
  });

  test('the stream dockerd sends, replayed to both CLIs, renders identically', async () => {
    await removeImage();
    const res = await new Promise<string>((resolve, reject) => {
      const req = http.request({ socketPath: d.sock, method: 'POST', path: `/v1.41/images/create?fromImage=${encodeURIComponent(`${A}/x`)}&tag=1`, headers: { 'X-Registry-Auth': 'e30=' } }, (r) => {
        let s = '';
        r.on('data', (c: Buffer) => (s += c));
        r.on('end', () => resolve(s));
      });
      req.on('error', reject);
      req.end();
    });
    assert.match(res, /"status":"Downloading","progressDetail":\{"current":\d+,"total":\d+\}/);
    const fake = new ReplayDaemon();
    await fake.start();
    try {
      fake.pullStream = res;
      const out = {} as Record<Cli, string>;
      for (const who of CLIS) out[who] = (await inPty(who, fake.host, ['pull', `${A}/x:1`], { DOCKER_CONFIG: path.join(tmp, 'nocfg') })).stdout;
      assert.equal(JSON.stringify(out.berth), JSON.stringify(out.docker));
      const piped = {} as Record<Cli, string>;
      for (const who of CLIS) piped[who] = (await cliRun(who, fake.host, ['pull', `${A}/x:1`], { env: { DOCKER_CONFIG: path.join(tmp, 'nocfg') } })).stdout;
      assert.equal(piped.berth, piped.docker);
    } finally {
      await fake.stop();
    }
  });

  test('run/create pull a missing image: "Unable to find image" and the progress on stderr', async () => {
    const ids: string[] = [];
    const out = {} as Record<Cli, ReturnType<typeof same>>;
    for (const who of CLIS) {
      await removeImage();
      const r = await cli(who, ['create', '--network', 'none', `${reg(who)}/x:1`, 'true']);
      ids.push(r.stdout.trim());
      out[who] = same({ ...r, stdout: '' }, who);
      // the container holds the layer: remove it so the other CLI's pull starts from nothing too
      if (/^[0-9a-f]{64}$/.test(r.stdout.trim())) await d.dockerOk(['rm', '-f', r.stdout.trim()]);
    }
    try {
      assert.equal(out.docker.code, 0, out.docker.stderr);
      assert.deepEqual({ ...out.berth, stderr: steady(out.berth.stderr) }, { ...out.docker, stderr: steady(out.docker.stderr) });
      assert.match(out.berth.stderr, /^Unable to find image 'REG\/x:1' locally\n1: Pulling from x\n/);
      for (const id of ids) assert.match(id, /^[0-9a-f]{64}$/);
      // a missing repository: create's error as is, run's with its usage hint and 125
      for (const cmd of ['create', 'run']) {
        const o = {} as Record<Cli, ReturnType<typeof same>>;
        for (const who of CLIS) o[who] = same(await cli(who, [cmd, '--rm', '--network', 'none', `${reg(who)}/nope:1`, 'true']), who);
        assert.deepEqual(o.berth, o.docker, cmd);
        assert.equal(o.berth.code, cmd === 'run' ? 125 : 1);
      }
      const quiet = await cli('berth', ['create', '-q', '--network', 'none', `${A}/x:2`, 'true']);
      ids.push(quiet.stdout.trim());
      assert.equal(quiet.stderr, '');
    } finally {
      for (const id of ids) if (/^[0-9a-f]{64}$/.test(id)) await d.docker(['rm', '-f', id]);
    }
  });

  test('login with berth, push with docker; login with docker, push and pull with berth; logout', async () => {
    const shared = path.join(tmp, 'shared-cfg');
    const env = { DOCKER_CONFIG: shared };
    await d.dockerOk(['pull', `${A}/x:1`]);
    await d.dockerOk(['tag', `${A}/x:1`, `${C}/y:1`]);
    // not logged in: both fail the same way
    const denied = {} as Record<Cli, RunResult>;
    for (const who of CLIS) denied[who] = await cli(who, ['push', `${C}/y:1`], { env });
    assert.equal(denied.berth.code, 1);
    assert.equal(denied.berth.stderr, denied.docker.stderr);
    assert.equal(denied.berth.stdout, denied.docker.stdout);
    assert.match(denied.berth.stderr, /no basic auth credentials/);

    const bad = {} as Record<Cli, RunResult>;
    for (const who of CLIS) bad[who] = await cli(who, ['login', '-u', 'alice', '--password-stdin', C], { env, input: 'wrong\n' });
    assert.equal(bad.berth.code, 1);
    assert.equal(bad.berth.code, bad.docker.code);
    assert.equal(bad.berth.stderr, bad.docker.stderr);
    assert.match(bad.berth.stderr, /^Error response from daemon: .*401 Unauthorized/m);
    assert.equal(fs.existsSync(path.join(shared, 'config.json')), false);

    const login = await cli('berth', ['login', '-u', 'alice', '--password-stdin', C], { env, input: 's3cret\n' });
    assert.equal(login.code, 0, login.stderr);
    assert.equal(login.stdout, 'Login Succeeded\n');
    const pushed = await cli('docker', ['push', `${C}/y:1`], { env });
    assert.equal(pushed.code, 0, pushed.stderr);
    assert.match(pushed.stdout, /: Pushed\n/);
    const out1 = await cli('berth', ['logout', C], { env });
    assert.equal(out1.stdout, `Removing login credentials for ${C}\n`);
    assert.equal(JSON.parse(fs.readFileSync(path.join(shared, 'config.json'), 'utf8')).auths[C], undefined);
    assert.equal((await cli('docker', ['push', `${C}/y:1`], { env })).code, 1);

    const dlogin = await cli('docker', ['login', '-u', 'alice', '-p', 's3cret', C], { env });
    assert.equal(dlogin.code, 0, dlogin.stderr);
    const bpush = await cli('berth', ['push', `${C}/y:1`], { env });
    assert.equal(bpush.code, 0, bpush.stderr);
    assert.match(bpush.stdout, /: Layer already exists\n/);
    await removeImage();
    const bpull = await cli('berth', ['pull', `${C}/y:1`], { env });
    assert.equal(bpull.code, 0, bpull.stderr);
    assert.match(bpull.stdout, /Status: Downloaded newer image/);
    await d.dockerOk(['tag', `${C}/y:1`, 'busybox:latest']);
    const dout = await cli('docker', ['logout', C], { env });
    assert.equal(dout.code, 0);
    const after = await cli('berth', ['pull', `${C}/y:1`], { env });
    assert.equal(after.code, 1);
    assert.match(after.stderr, /no basic auth credentials/);
  });
});
