// The web view in a real headless Chromium against a real berthd (--ui): the stacks after import,
// run, commit and rm, drawn live without a reload; the union view's origin layers and whiteouts;
// actions only behind the page's switch; forged cross-site requests refused; and `berth ui`.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import http from 'node:http';
import path from 'node:path';
import fs from 'node:fs';
import { after, before, describe, test } from 'node:test';
import type { Page } from 'playwright-core';
import { launchBrowser, type Browser } from './browser.js';
import { freePort } from './tcp.js';
import { busyboxTar, makeTar, REPO, startDaemon, stopAndCheckClean, waitFor, type TestDaemon } from './harness.js';
import { haveRegistry, startRegistry, type TestRegistry } from './registry/registry.js';

let d: TestDaemon;
let browser: Browser;
let page: Page;
let port: number;
let base: string;
/** The page's URL as berthd logged it, with the session token. */
let pageUrl: string;
let sessionToken: string;
/** Containers a test started without a name: removed in `after` if the test did not get to it. */
const started: string[] = [];
const tmp = fs.mkdtempSync('/tmp/berth-ui-test-');


function request(opts: { port: number; path: string; method?: string; headers?: Record<string, string>; body?: string }): Promise<{ status: number; headers: http.IncomingHttpHeaders; text: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port: opts.port, path: opts.path, method: opts.method ?? 'GET', headers: opts.headers }, (res) => {
      let text = '';
      res.on('data', (c) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, text }));
    });
    req.on('error', reject);
    req.end(opts.body);
  });
}

async function graph(): Promise<any> {
  return (await d.api('GET', '/berth/layers')).body;
}

async function topLayerOf(image: string): Promise<string> {
  const id = JSON.parse(await d.dockerOk(['image', 'inspect', '--format', '{{json .Id}}', image]));
  return (await graph()).Images.find((i: any) => i.Id === id).Layers.at(-1);
}

const onLayer = (layer: string, inner: string): string => `.branch:has(> .layer[data-layer="${layer}"]) > .above > ${inner}`;

/**
 * Records, for every frame the page draws (a redraw replaces the stacks that changed), the
 * transforms drawn in it, with where they were drawn: `ctr ID CLASS on LAYER`, `layer ID CLASS
 * on PARENT`, `tag NAME fresh on LAYER`. A transform is drawn for 2.5 s; recording the frames
 * instead of polling the DOM makes what a test sees independent of how loaded the host is.
 */
function recordFrames(): void {
  const w = window as any;
  w.drawn = new Set<string>();
  const stacks = document.getElementById('stacks')!;
  const layerOf = (branch: Element | null | undefined): string => (branch?.querySelector(':scope > .layer') as HTMLElement | null)?.dataset.layer ?? '';
  const record = (): void => {
    for (const el of stacks.querySelectorAll<HTMLElement>('.ctr')) {
      const on = layerOf(el.closest('.branch'));
      const classes = [...el.classList].filter((c) => ['fresh', 'started', 'unwrapping', 'leaving', 'hardening'].includes(c));
      if (el.querySelector(':scope > .procspace')) classes.push('in-process-space');
      for (const c of classes) w.drawn.add(`ctr ${el.dataset.container} ${c} on ${on}`);
    }
    for (const el of stacks.querySelectorAll<HTMLElement>('.layer.ro.fresh, .layer.ro.committed')) {
      const parent = layerOf(el.parentElement?.parentElement?.parentElement);
      for (const c of ['fresh', 'committed']) if (el.classList.contains(c)) w.drawn.add(`layer ${el.dataset.layer} ${c} on ${parent}`);
    }
    for (const el of stacks.querySelectorAll<HTMLElement>('.tag.fresh')) w.drawn.add(`tag ${el.textContent} fresh on ${(el.closest('.layer') as HTMLElement).dataset.layer}`);
  };
  new MutationObserver(record).observe(stacks, { childList: true, subtree: true });
}

/** Waits until the page has drawn `frame` (see recordFrames), or a frame `frame` matches. */
async function drawn(frame: string | RegExp, timeout = 30_000): Promise<void> {
  const arg = typeof frame === 'string' ? { exact: frame, re: '' } : { exact: '', re: frame.source };
  try {
    await page.waitForFunction(({ exact, re }) => (re ? [...(window as any).drawn].some((f: string) => new RegExp(re).test(f)) : (window as any).drawn.has(exact)), arg, { timeout });
  } catch (e) {
    const seen = await page.evaluate(() => [...(window as any).drawn].join('\n'));
    throw new Error(`the page never drew "${frame}"; it drew:\n${seen}`, { cause: e });
  }
}

before(async () => {
  port = await freePort();
  d = await startDaemon({ noDefaultImage: true, args: ['--ui', `127.0.0.1:${port}`, '--ui-actions'] });
  pageUrl = /web view on (http:\/\/[^\s"]+)/.exec(d.log())![1];
  sessionToken = new URL(pageUrl).searchParams.get('token')!;
  browser = await launchBrowser();
  page = await browser.context.newPage();
  await page.goto(pageUrl);
  await page.waitForSelector('.status.ok');
  await page.evaluate(() => ((window as any).sameLoad = true));
  await page.evaluate(recordFrames);
});

after(async () => {
  await browser?.close();
  for (const c of ['ui-run', 'ui-act', 'ui-web', 'ui-made', ...started]) await d?.docker(['rm', '-f', c]);
  fs.rmSync(tmp, { recursive: true, force: true });
  await stopAndCheckClean(d);
});

describe('the live picture', () => {
  test('import: a new base layer with its tag appears without a reload', async () => {
    assert.match(await page.textContent('#stacks') ?? '', /No images yet/);
    await d.dockerOk(['import', '-c', 'CMD ["sh"]', '-', 'ui-base:1'], { input: busyboxTar([{ name: 'etc', type: 'dir' }, { name: 'etc/motd', content: 'hello\n' }]) });
    base = await topLayerOf('ui-base:1');
    await page.waitForSelector(`.forest > .branch > .layer.ro[data-layer="${base}"] .tag:text("ui-base:1")`);
    await drawn(`layer ${base} fresh on `);
    await drawn(`tag ui-base:1 fresh on ${base}`);
  });

  test('create, start, stop: a writable layer appears on the image, wraps in a process space, leaves it', async () => {
    const id = (await d.dockerOk(['create', '--name', 'ui-made', 'ui-base:1', 'sleep', '1000'])).trim();
    await drawn(`ctr ${id} fresh on ${base}`);
    await page.waitForSelector(onLayer(base, `.ctrs > .ctr.stopped[data-container="${id}"] > .layer.rw`));
    await d.berthOk(['start', id]);
    await drawn(`ctr ${id} started on ${base}`);
    await drawn(`ctr ${id} in-process-space on ${base}`);
    await d.dockerOk(['stop', '-t', '0', id]);
    await drawn(`ctr ${id} unwrapping on ${base}`);
    await page.waitForSelector(`.ctr.stopped[data-container="${id}"]:not(:has(.procspace))`);
    await d.dockerOk(['rm', id]);
  });

  test('run: a writable layer on the image, wrapped in a process space listing its processes', async () => {
    const id = (await d.dockerOk(['run', '-d', '--name', 'ui-run', 'ui-base:1', 'sh', '-c', 'echo bye > /etc/motd; rm /bin/ls; exec sleep 1000'])).trim();
    await page.waitForSelector(onLayer(base, `.ctrs > .ctr.running[data-container="${id}"] .procspace .layer.rw`));
    await page.waitForSelector(`.ctr[data-container="${id}"] .procs li:has-text("sleep 1000")`);
  });

  test('a running container\'s process space lists its published ports and mounts', async () => {
    const hostPort = await freePort();
    const id = (await d.dockerOk(['run', '-d', '--name', 'ui-web', '-p', `127.0.0.1:${hostPort}:80`, '-v', `${d.root}:/hostdir:ro`, 'ui-base:1', '/bin/busybox', 'httpd', '-f', '-p', '80'])).trim();
    const space = page.locator(`.ctr.running[data-container="${id}"] .procspace`);
    await space.locator(`.ports:has-text("127.0.0.1:${hostPort}→80/tcp")`).waitFor();
    assert.match(await space.locator('.mounts').innerText(), /→ \/hostdir \(ro\)/);
    await space.locator('.procs li:has-text("httpd")').waitFor();
    await d.dockerOk(['rm', '-f', id]);
  });

  test('commit: the writable layer becomes a read-only layer on the stack', async () => {
    const image = (await d.dockerOk(['commit', 'ui-run', 'ui-next:1'])).trim();
    const layer = await topLayerOf(image);
    assert.notEqual(layer, base);
    await drawn(`layer ${layer} committed on ${base}`);
    await page.waitForSelector(onLayer(base, `.branch > .layer.ro[data-layer="${layer}"]`));
    await page.waitForSelector(`.layer[data-layer="${layer}"] .tag:text("ui-next:1")`);
    // Shared layers are drawn once: the base layer is one box under both images.
    assert.equal(await page.locator(`.layer[data-layer="${base}"]`).count(), 1);
  });

  test('the union view shows each file\'s origin layer, the copy it hides, and whiteouts', async () => {
    await page.click('.tag:text("ui-next:1")');
    await page.click('#tabs button[data-tab="files"]');
    await page.click('a.dir[data-path="/etc"]');
    const motd = page.locator('table.files tr', { hasText: 'motd' });
    await motd.waitFor();
    assert.match(await motd.locator('td.origin').innerText(), /^L0 [0-9a-f]{12}$/);
    assert.match(await motd.innerText(), /hides 6 B in\s*L1/);
    await page.click('a[data-path="/"]');
    await page.click('a.dir[data-path="/bin"]');
    const ls = page.locator('table.files tr.wh', { hasText: 'ls' });
    await ls.waitFor();
    assert.match(await ls.innerText(), /whiteout: deleted in L0/);
    assert.match(await page.locator('table.files tr', { has: page.locator('td:first-child', { hasText: /^busybox$/ }) }).locator('td.origin').innerText(), /^L1 /);
  });

  test('wasted space and image comparison', async () => {
    await page.click('#tabs button[data-tab="efficiency"]');
    await page.waitForSelector('#panel .score');
    assert.match(await page.locator('#panel').innerText(), /6 B wasted of/);
    await page.click('#tabs button[data-tab="compare"]');
    const ids = await Promise.all(['ui-base:1', 'ui-next:1'].map(async (n) => (await d.dockerOk(['image', 'inspect', '--format', '{{.Id}}', n])).trim()));
    await page.selectOption('#cmp-a', ids[0]);
    await page.selectOption('#cmp-b', ids[1]);
    await page.click('#cmp-go');
    await page.waitForSelector('table.files tr.rowC:has-text("/etc/motd")');
    await page.waitForSelector('table.files tr.rowD:has-text("/bin/ls")');
    assert.equal(await page.locator(`#panel a[data-layer="${base}"]`).count(), 1, 'the shared layer');
    // Two layers of one image: the stack up to the base against the whole image.
    await page.selectOption('#cmp-a', `layer:${base}`);
    await page.click('#cmp-go');
    await page.waitForSelector('table.files tr.rowD:has-text("/bin/ls")');
  });

  test('a container\'s union view highlights its diff', async () => {
    const id = (await d.dockerOk(['inspect', '--format', '{{.Id}}', 'ui-run'])).trim();
    await page.click(`.ctr[data-container="${id}"] .layer.rw`);
    await page.click('#tabs button[data-tab="files"]');
    await page.click('a.dir[data-path="/etc"]');
    await page.waitForSelector('table.files tr.rowC:has-text("motd") .badge.chC');
    assert.match(await page.locator('.layers-legend li').first().innerText(), /L0 writable/);
  });

  test('rm: the writable layer is drawn leaving, then goes; ten times, the page never reloaded', async () => {
    // Each container is drawn on its layer before it is removed; a refresh landing while rm had
    // removed its writable layer but not yet its record once placed the ghost on no layer, and
    // the leaving frame was lost (2 of 3 runs): ten rm's, by both CLIs, each must be drawn.
    const ids = [(await d.dockerOk(['inspect', '--format', '{{.Id}}', 'ui-run'])).trim()];
    for (let i = 1; i < 10; i++) started.push((await d.dockerOk(['run', '-d', 'ui-base:1', 'sleep', '1000'])).trim());
    ids.push(...started);
    for (const [i, id] of ids.entries()) {
      await drawn(`ctr ${id} in-process-space on ${base}`);
      await (i % 2 ? d.berthOk(['rm', '-f', id]) : d.dockerOk(['rm', '-f', id]));
      await drawn(`ctr ${id} leaving on ${base}`);
    }
    for (const id of ids) await page.locator(`.ctr[data-container="${id}"]`).waitFor({ state: 'detached' });
    assert.equal(await page.evaluate(() => (window as any).sameLoad), true);
    const perf = await page.evaluate(() => (window as any).berthPerf);
    assert.ok(perf.updates.some((u: { action: string }) => u.action === 'container destroy'), 'the destroy event redrew the page');
  });

  test('build: each RUN step a container on the step below, its writable layer turned into the next layer; COPY a new layer; the tag last', async () => {
    const ctx = path.join(tmp, 'build');
    fs.mkdirSync(ctx);
    // The second RUN waits for the test (a file it is given by exec), so that the page is seen
    // drawing the step's container in its process space whatever the host's load; the first is
    // quick, created and gone between two of the page's reads.
    fs.writeFileSync(path.join(ctx, 'Dockerfile'), 'FROM ui-base:1\nRUN echo one > /one\nCOPY f /f\nENV STEP=2\nRUN while [ ! -e /go ]; do sleep 0.1; done; rm /go; echo two > /two\n');
    fs.writeFileSync(path.join(ctx, 'f'), 'f\n');
    const building = d.docker(['build', '-t', 'ui-built:1', ctx], { timeoutMs: 120_000 });
    const waiting = await waitFor(async () => ((await d.api('GET', '/containers/json')).body as any[]).find((c) => c.Command.includes('/go')), 'the second RUN step running', 60_000);
    const layers = async (ref: string): Promise<string[]> => {
      const id = JSON.parse(await d.dockerOk(['image', 'inspect', '--format', '{{json .Id}}', ref]));
      return (await graph()).Images.find((i: any) => i.Id === id).Layers;
    };
    await drawn(new RegExp(`^ctr ${waiting.Id} in-process-space on [0-9a-f]{64}$`), 60_000);
    await d.dockerOk(['exec', waiting.Id, 'sh', '-c', 'echo > /go']);
    const out = await building;
    assert.equal(out.code, 0, out.stderr);
    const steps = [...out.stdout.matchAll(/---> Running in ([0-9a-f]{12})/g)].map((m) => m[1]);
    // ENV has a container too, created and never started, as dockerd's legacy builder makes one.
    assert.equal(steps.length, 3, out.stdout);
    assert.ok(waiting.Id.startsWith(steps[2]));
    const [b, one, copied, two] = await layers('ui-built:1');
    assert.equal(b, base);
    await drawn(new RegExp(`^ctr ${steps[0]}[0-9a-f]{52} hardening on ${base}$`));
    await drawn(`layer ${one} committed on ${base}`);
    await drawn(`layer ${copied} fresh on ${one}`);
    await drawn(`ctr ${waiting.Id} in-process-space on ${copied}`);
    await drawn(`ctr ${waiting.Id} hardening on ${copied}`);
    await drawn(`layer ${two} committed on ${copied}`);
    await drawn(`tag ui-built:1 fresh on ${two}`);
    await page.locator(`.ctr[data-container="${waiting.Id}"]`).waitFor({ state: 'detached' });
    const envFrames: string[] = await page.evaluate((env) => [...(window as any).drawn].filter((f: string) => f.startsWith(`ctr ${env}`)), steps[1]);
    assert.equal(envFrames.filter((f) => f.includes(' in-process-space ')).length, 0, `ENV's container never ran: ${envFrames}`);
  });

  test('pull and load: the image\'s layers appear with its tag', { skip: haveRegistry() ? false : 'no docker-registry' }, async () => {
    let reg: TestRegistry | undefined;
    try {
      reg = await startRegistry();
      const name = `${reg.host}/ui/pulled:1`;
      await d.dockerOk(['import', '-', name], { input: makeTar([{ name: 'pulled.txt', content: 'from a registry\n' }]) });
      const layer = await topLayerOf(name);
      await d.dockerOk(['push', name]);
      const gone = async (): Promise<void> => {
        await d.dockerOk(['rmi', name]);
        await page.locator(`.layer[data-layer="${layer}"]`).waitFor({ state: 'detached' });
        await page.evaluate(() => (window as any).drawn.clear());
      };
      await gone();
      await d.berthOk(['pull', name]);
      await drawn(`layer ${layer} fresh on `);
      await drawn(`tag ${name} fresh on ${layer}`);
      const tar = path.join(tmp, 'pulled.tar');
      await d.dockerOk(['save', '-o', tar, name]);
      await gone();
      await d.dockerOk(['load', '-i', tar]);
      await drawn(`layer ${layer} fresh on `);
      await drawn(`tag ${name} fresh on ${layer}`);
      await d.dockerOk(['rmi', name]);
    } finally {
      await reg?.stop();
    }
  });

  test('actions need the page\'s explicit switch', async () => {
    const id = (await d.dockerOk(['run', '-d', '--name', 'ui-act', 'ui-base:1', 'sleep', '1000'])).trim();
    await page.click('#tabs button[data-tab="details"]');
    await page.locator(`.ctr[data-container="${id}"] .layer.rw`).click();
    await page.waitForSelector('#panel h2:text("ui-act")');
    assert.equal(await page.locator('[data-act]').count(), 0);
    await page.check('#actions-on');
    await page.click('[data-act="stop"]');
    await waitFor(async () => (await d.inspect(id)).State.Status === 'exited', 'stopped from the page', 20_000);
  });
});

describe('cross-site protections', () => {
  test('the page needs the URL\'s token, then its same-site cookie', async () => {
    assert.match(pageUrl, new RegExp(`^http://127\\.0\\.0\\.1:${port}/\\?token=[0-9a-f]{64}$`));
    assert.equal((await request({ port, path: '/' })).status, 403);
    assert.equal((await request({ port, path: `/?token=${'0'.repeat(64)}` })).status, 403);
    const r = await request({ port, path: `/?token=${sessionToken}` });
    assert.equal(r.status, 303);
    const cookie = String(r.headers['set-cookie']).split(';')[0];
    assert.match(String(r.headers['set-cookie']), /HttpOnly; SameSite=Strict/);
    const html = (await request({ port, path: '/', headers: { Cookie: cookie } })).text;
    assert.equal(/name="berth-token" content="([0-9a-f]{64})"/.exec(html)![1], sessionToken);
  });

  test('no token, a foreign Origin, a foreign Host: 403, and no CORS', async () => {
    const t = sessionToken;
    const host = `127.0.0.1:${port}`;
    assert.equal((await request({ port, path: '/api/containers/json', headers: { Host: host, 'X-Berth-Token': t } })).status, 200);
    assert.equal((await request({ port, path: '/api/containers/json' })).status, 403);
    assert.equal((await request({ port, path: '/api/containers/json', headers: { 'X-Berth-Token': 'f'.repeat(64) } })).status, 403);
    assert.equal((await request({ port, path: '/api/containers/json', headers: { 'X-Berth-Token': t, Origin: 'http://evil.example' } })).status, 403);
    assert.equal((await request({ port, path: '/api/containers/json', headers: { 'X-Berth-Token': t, 'Sec-Fetch-Site': 'cross-site' } })).status, 403);
    assert.equal((await request({ port, path: '/api/containers/json', headers: { 'X-Berth-Token': t, Host: `evil.example:${port}` } })).status, 403);
    assert.equal((await request({ port, path: '/', headers: { Host: `evil.example:${port}` } })).status, 403);
    assert.equal((await request({ port, path: '/api/containers/create', method: 'POST', headers: { 'X-Berth-Token': t, 'Content-Type': 'application/json' }, body: '{"Image":"ui-base:1"}' })).status, 403);
    const pre = await request({ port, path: '/api/containers/json', method: 'OPTIONS', headers: { Origin: 'http://evil.example', 'Access-Control-Request-Method': 'GET', 'Access-Control-Request-Headers': 'x-berth-token' } });
    assert.equal(pre.status, 403);
    assert.equal(pre.headers['access-control-allow-origin'], undefined);
  });

  test('a forged request from another site\'s page in the browser changes nothing', async () => {
    const victim = (await d.dockerOk(['run', '-d', 'ui-base:1', 'sleep', '1000'])).trim();
    const images = (await graph()).Images.length;
    const target = `http://127.0.0.1:${port}`;
    const evil = http.createServer((_req, res) => {
      res.writeHead(200, { 'Content-Type': 'text/html' });
      res.end(`<!doctype html><body><form id="f" method="POST" action="${target}/api/commit?container=${victim}"></form><script>
        window.result = {};
        fetch('${target}/api/containers/${victim}/stop', { method: 'POST', mode: 'no-cors' }).then(() => (window.result.noCors = 'sent'), (e) => (window.result.noCors = String(e)));
        fetch('${target}/api/containers/json').then((r) => r.text()).then((t) => (window.result.read = t), (e) => (window.result.read = 'blocked: ' + e));
        fetch('${target}/').then((r) => r.text()).then((t) => (window.result.page = t), (e) => (window.result.page = 'blocked: ' + e));
      </script></body>`);
    });
    const evilPort = await freePort();
    await new Promise<void>((r) => evil.listen(evilPort, '127.0.0.1', () => r()));
    try {
      const p = await browser.context.newPage();
      await p.goto(`http://localhost:${evilPort}/`);
      await p.waitForFunction(() => (window as any).result.read && (window as any).result.noCors && (window as any).result.page);
      const result = await p.evaluate(() => (window as any).result);
      assert.match(result.read, /^blocked/);
      assert.match(result.page, /^blocked/);
      await Promise.all([p.waitForLoadState('load'), p.evaluate(() => (document.getElementById('f') as HTMLFormElement).submit())]);
      assert.match((await p.textContent('body')) ?? '', /cross-site request refused|missing or wrong session token/);
      await p.close();
    } finally {
      evil.close();
    }
    assert.equal((await d.inspect(victim)).State.Status, 'running');
    assert.equal((await graph()).Images.length, images, 'no commit happened');
    await d.dockerOk(['rm', '-f', victim]);
  });
});

test('berth ui serves the page read-only on loopback and stops on SIGTERM', async () => {
  const uiPort = await freePort();
  const refused = spawn(process.execPath, [path.join(REPO, 'dist/berth.cjs'), '-H', d.host, 'ui', '--listen', `0.0.0.0:${uiPort}`]);
  const refusedCode = await new Promise((r) => refused.once('exit', r));
  assert.equal(refusedCode, 1);
  const proc = spawn(process.execPath, [path.join(REPO, 'dist/berth.cjs'), '-H', d.host, 'ui', '--listen', `127.0.0.1:${uiPort}`]);
  try {
    let out = '';
    proc.stdout.on('data', (c) => (out += c));
    await waitFor(() => out.includes('web view on'), 'berth ui start-up');
    assert.match(out, /read-only/);
    const t = /\?token=([0-9a-f]{64})/.exec(out)![1];
    assert.notEqual(t, sessionToken);
    assert.equal((await request({ port: uiPort, path: '/' })).status, 403);
    const graphRes = await request({ port: uiPort, path: '/api/berth/layers', headers: { 'X-Berth-Token': t } });
    assert.equal(graphRes.status, 200);
    assert.ok(JSON.parse(graphRes.text).Images.length >= 2);
    const act = await request({ port: uiPort, path: '/api/containers/ui-act/start', method: 'POST', headers: { 'X-Berth-Token': t } });
    assert.equal(act.status, 403);
    assert.match(JSON.parse(act.text).message, /actions are disabled/);
    assert.equal((await request({ port: uiPort, path: '/app.js' })).status, 200);
  } finally {
    proc.kill('SIGTERM');
  }
  assert.equal(await new Promise((r) => proc.once('exit', r)), 0);
});
