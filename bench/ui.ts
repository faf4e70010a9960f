#!/usr/bin/env node
// The web view at scale: 200 images and 500 containers (10 of them running) in a real berthd with
// --ui, the page in a real headless Chromium. Measured by the browser's own clock
// (window.berthPerf): the first render (navigation start → stacks drawn) and live updates (an
// event's arrival in the page → stacks redrawn, and the daemon's event time → redrawn; a
// container's event is drawn from the event itself, then confirmed by the reads). The floor
// is the data alone: the same two Engine API reads the page makes (/berth/layers and
// /containers/json, the running ones), timed from Node on the daemon's socket. Nothing is asserted.
//
//   npm run build && node dist/bench/ui.js [--images 200] [--containers 500] [--updates 20]
import { spawnSync } from 'node:child_process';
import http from 'node:http';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { launchBrowser } from '../test/browser.js';
import { freePort } from '../test/tcp.js';
import { api, apiJson, cleanup, log, median, p90, pool, ratio, startBerth, TMP, writeBusyboxTar } from './lib.js';
import { readFileSync } from 'node:fs';
import { loadavg } from 'node:os';

const { values } = parseArgs({ options: { images: { type: 'string', default: '200' }, containers: { type: 'string', default: '500' }, updates: { type: 'string', default: '20' }, running: { type: 'string', default: '10' } } });
const IMAGES = Number(values.images);
const CONTAINERS = Number(values.containers);
const UPDATES = Number(values.updates);
const RUNNING = Number(values.running);


/** POST /images/create?fromSrc=- with a tar body; resolves with the image id. */
function importTar(sock: string, tar: Buffer, query: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = http.request({ socketPath: sock, method: 'POST', path: `/images/create?fromSrc=-&${query}`, headers: { 'Content-Type': 'application/x-tar', 'Content-Length': tar.length } }, (res) => {
      let b = '';
      res.on('data', (d: Buffer) => (b += d));
      res.on('end', () => {
        const m = /"status":"(sha256:[0-9a-f]{64})"/.exec(b);
        if (m) resolve(m[1]);
        else reject(new Error(`import failed: ${b}`));
      });
    });
    req.on('error', reject);
    req.end(tar);
  });
}

/** A small layer tar of its own (tar(1) of a few generated files). */
function smallTar(i: number): Buffer {
  const dir = path.join(TMP, `layer-${i}`);
  spawnSync('mkdir', ['-p', `${dir}/opt/app${i}`, `${dir}/etc`]);
  for (let f = 0; f < 8; f++) spawnSync('sh', ['-c', `head -c ${1000 * (f + 1) * (i + 1)} /dev/urandom > ${dir}/opt/app${i}/f${f}`]);
  spawnSync('sh', ['-c', `echo app ${i} > ${dir}/etc/app-release`]);
  return spawnSync('tar', ['-C', dir, '-cf', '-', '.'], { maxBuffer: 64 << 20 }).stdout;
}

async function populate(sock: string): Promise<string[]> {
  const busybox = readFileSync(await writeBusyboxTar());
  const images = [await importTar(sock, busybox, 'repo=busybox&tag=latest&changes=' + encodeURIComponent('CMD ["sh"]'))];
  // 20 distinct base layers, each shared by several images (a label apart), until IMAGES minus the commits.
  const commits = Math.min(20, Math.floor(IMAGES / 10));
  const bases = Array.from({ length: 20 }, (_, i) => smallTar(i));
  const imports = Array.from({ length: IMAGES - 1 - commits }, (_, i) => i);
  images.push(...(await pool(imports, 4, (i) => importTar(sock, bases[i % bases.length], `repo=bench/app${i % bases.length}&tag=v${i}&changes=${encodeURIComponent(`LABEL n=${i}`)}`))));
  // Stacks: images committed from busybox containers, each one layer more.
  for (let i = 0; i < commits; i++) {
    const c = await apiJson<{ Id: string }>(sock, 'POST', '/containers/create', { Image: 'busybox', Cmd: ['sh', '-c', `mkdir -p /srv && head -c ${20000 * (i + 1)} /dev/urandom > /srv/data${i}`], HostConfig: { NetworkMode: 'none' } });
    await api(sock, 'POST', `/containers/${c.Id}/start`);
    await api(sock, 'POST', `/containers/${c.Id}/wait`);
    images.push((await apiJson<{ Id: string }>(sock, 'POST', `/commit?container=${c.Id}&repo=bench/stack&tag=s${i}`, {})).Id);
    await api(sock, 'DELETE', `/containers/${c.Id}`);
  }
  log(`${images.length} images`);
  const created = await pool(Array.from({ length: CONTAINERS }, (_, i) => i), 4, async (i) => {
    const image = i < RUNNING ? 'busybox' : images[i % images.length];
    const cfg = { Image: image, Cmd: i < RUNNING ? ['sleep', '3600'] : ['true'], HostConfig: { NetworkMode: 'none' } };
    return (await apiJson<{ Id: string }>(sock, 'POST', `/containers/create?name=bench-ui-${i}`, cfg)).Id;
  });
  for (const id of created.slice(0, RUNNING)) await api(sock, 'POST', `/containers/${id}/start`);
  log(`${created.length} containers (${RUNNING} running)`);
  return created;
}

async function main(): Promise<void> {
  const port = await freePort();
  // its own socket, roots, bridge and subnet (startBerth), and the web view on a free loopback port
  const peer = await startBerth('berth-ui', 'crun', ['--no-default-image', '--ui', `127.0.0.1:${port}`]);
  const { sock, daemon } = peer;
  const pageUrl = /web view on (http:\/\/[^\s"]+)/.exec(readFileSync(path.join(TMP, 'berth-ui', 'berthd.log'), 'utf8'))![1];
  const containers = await populate(sock);
  for (const id of containers) daemon.containers.add(id);

  // floor: the page's two reads, from Node
  // a warm-up read: the first one measures every container's writable layer (then cached)
  await api(sock, 'GET', '/berth/layers');
  const floor: number[] = [];
  const apart: Record<string, number[]> = { '/berth/layers': [], '/containers/json': [], '/containers/json?all=1': [] };
  for (let i = 0; i < 5; i++) {
    const t0 = performance.now();
    await Promise.all([api(sock, 'GET', '/berth/layers'), api(sock, 'GET', '/containers/json')]);
    floor.push(performance.now() - t0);
    for (const p of Object.keys(apart)) {
      const t1 = performance.now();
      await api(sock, 'GET', p);
      apart[p].push(performance.now() - t1);
    }
  }
  log(`floor: both ${median(floor).toFixed(0)} ms; ${Object.entries(apart).map(([p, xs]) => `${p} ${median(xs).toFixed(0)} ms`).join(', ')}`);

  const browser = await launchBrowser();
  try {
    const first: number[] = [];
    let page = await browser.context.newPage();
    for (let i = 0; i < 5; i++) {
      if (i > 0) {
        await page.close();
        page = await browser.context.newPage();
      }
      await page.goto(pageUrl);
      await page.waitForFunction(() => (window as any).berthPerf?.firstRender !== undefined, undefined, { timeout: 60_000 });
      first.push(await page.evaluate(() => (window as any).berthPerf.firstRender as number));
    }
    await page.waitForSelector('.status.ok');
    const nodes = await page.evaluate(() => document.querySelectorAll('.layer').length);
    // live updates: a create and a removal per round, each awaited in the page's log
    const inPage: number[] = [];
    const sinceEvent: number[] = [];
    const confirmed: number[] = [];
    const draws: number[] = [];
    for (let i = 0; i < UPDATES; i++) {
      for (const step of ['create', 'destroy']) {
        const before = await page.evaluate(() => (window as any).berthPerf.updates.length as number);
        if (step === 'create') {
          const c = await apiJson<{ Id: string }>(sock, 'POST', `/containers/create?name=bench-ui-live-${i}`, { Image: 'busybox', Cmd: ['true'] });
          daemon.containers.add(c.Id);
        } else await api(sock, 'DELETE', `/containers/bench-ui-live-${i}`);
        // until the reads that follow the event have confirmed what was drawn from it
        await page.waitForFunction((n) => { const u = (window as any).berthPerf.updates.slice(n); return u.length > 0 && u.every((x: any) => x.confirmedMs !== undefined); }, before, { timeout: 30_000 });
        const u = await page.evaluate((n) => (window as any).berthPerf.updates.slice(n) as { ms: number; confirmedMs: number; sinceEventMs: number; loadMs: number; drawMs: number }[], before);
        inPage.push(...u.map((x) => x.ms));
        confirmed.push(...u.map((x) => x.confirmedMs));
        draws.push(...u.map((x) => x.drawMs));
        sinceEvent.push(...u.map((x) => x.sinceEventMs));
      }
    }
    log(`live updates: drawing ${median(draws).toFixed(0)} ms (p90 ${p90(draws).toFixed(0)}); load average ${loadavg().map((x) => x.toFixed(1)).join(' ')}`);
    const f = (x: number): string => `${x.toFixed(0)} ms`;
    const rows = [
      ['first render (navigation → stacks drawn)', f(median(first)), f(p90(first)), f(median(floor)), ratio(median(first) / median(floor)), median(first) < 1000 ? 'met (< 1 s)' : 'NOT met (< 1 s)'],
      ['live update (event in page → redrawn)', f(median(inPage)), f(p90(inPage)), f(median(floor)), ratio(median(inPage) / median(floor)), p90(inPage) < 200 ? 'met (< 200 ms)' : 'NOT met (< 200 ms)'],
      ['live update (daemon event time → redrawn)', f(median(sinceEvent)), f(p90(sinceEvent)), '', '', p90(sinceEvent) < 200 ? 'met (< 200 ms)' : 'NOT met (< 200 ms)'],
      ['… confirmed by the reads (event in page → redrawn from them)', f(median(confirmed)), f(p90(confirmed)), f(median(floor)), ratio(median(confirmed) / median(floor)), ''],
    ];
    process.stdout.write(`\nWeb view with ${IMAGES} images, ${CONTAINERS} containers (${RUNNING} running), ${nodes} layer boxes drawn; ${new Date().toISOString().slice(0, 16)} UTC, load average ${loadavg().map((x) => x.toFixed(1)).join(' ')}\n\n`);
    process.stdout.write('| measure | median | p90 | floor (the two API reads, Node) | ratio to floor | target |\n|---|---|---|---|---|---|\n');
    for (const r of rows) process.stdout.write(`| ${r.join(' | ')} |\n`);
  } finally {
    await browser.close();
  }
}

main()
  .catch((e: Error) => {
    process.stderr.write(`${e.stack ?? e}\n`);
    process.exitCode = 1;
  })
  .finally(() => cleanup());
