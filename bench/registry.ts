#!/usr/bin/env node
// Registry throughput: pull and push of a large image of 5 gzip layers from Debian's docker-registry
// on 127.0.0.1 — Berth and dockerd through the same docker CLI, side by side with the floor (the
// same blobs fetched with curl in parallel, then `tar -xzf` of each, in order). Run as root:
//
//   npm run build && node dist/bench/registry.js [--quick] [--mb 500] [--runs 3]
//
// The image is made here as an OCI layout (5 layers of MB/5 megabytes, the first also holding the
// busybox rootfs) and copied into the source registry with skopeo. Every push goes to a fresh
// registry so nothing is "already there". Nothing is asserted; medians and ratios are printed.
import { createHash } from 'node:crypto';
import { createReadStream, mkdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { spawn } from 'node:child_process';
import {
  DOCKER_ENV,
  DOCKERD_CLI,
  log,
  mustTime,
  type OpContestant,
  opBenchArgs,
  prepareOpBench,
  opReport,
  type OpResult,
  type Peer,
  ratio,
  reportTime,
  runBench,
  runOps,
  sh,
  sleep,
  started,
  startBerth,
  startDockerdOrSkip,
  stopPid,
  TMP,
  verdict,
  which,
} from './lib.js';
import { freePort } from '../test/tcp.js';

const opts = opBenchArgs('registry.js', 'image size in MB (default 500), in 5 layers');
const MB = opts.mb;
const RUNS = opts.runs;
const LAYERS = 5;
const OP_TIMEOUT_MS = 15 * 60_000;
const REPO = 'bench/big';

// ---------------------------------------------------------------- registries

interface Registry {
  host: string; // 127.0.0.1:port
  pid: number;
}

async function startRegistry(name: string): Promise<Registry> {
  const dir = path.join(TMP, 'registries', name);
  mkdirSync(path.join(dir, 'data'), { recursive: true });
  const port = await freePort();
  const config = path.join(dir, 'config.yml');
  writeFileSync(
    config,
    `version: 0.1
log:
  level: error
storage:
  filesystem:
    rootdirectory: ${path.join(dir, 'data')}
  delete:
    enabled: true
http:
  addr: 127.0.0.1:${port}
`,
  );
  const proc = spawn('docker-registry', ['serve', config], { stdio: 'ignore', detached: true });
  started.push({ name: `registry ${name}`, proc, containers: new Set(), kind: 'docker-api' });
  const host = `127.0.0.1:${port}`;
  for (let i = 0; i < 100; i++) {
    const r = await fetch(`http://${host}/v2/`).catch(() => undefined);
    if (r?.status === 200) return { host, pid: proc.pid! };
    await sleep(50);
  }
  throw new Error(`docker-registry ${name} did not answer on ${host}`);
}

async function stopRegistry(r: Registry): Promise<void> {
  await stopPid(r.pid, 'docker-registry', 5000);
}

// ---------------------------------------------------------------- the image

function sha256File(file: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const h = createHash('sha256');
    createReadStream(file)
      .on('data', (d) => h.update(d))
      .on('error', reject)
      .on('end', () => resolve(`sha256:${h.digest('hex')}`));
  });
}

/** An OCI layout with LAYERS gzip layers of MB/LAYERS megabytes each; returns its directory. */
async function makeImage(): Promise<string> {
  const work = path.join(TMP, 'image-src');
  const layout = path.join(TMP, 'layout');
  const blobs = path.join(layout, 'blobs', 'sha256');
  mkdirSync(blobs, { recursive: true });
  const perLayer = Math.max(1, Math.round(MB / LAYERS));
  const diffIds: string[] = [];
  const layers: { digest: string; size: number }[] = [];
  for (let l = 0; l < LAYERS; l++) {
    const dir = path.join(work, `l${l}`);
    mkdirSync(path.join(dir, `layer${l}`), { recursive: true });
    if (l === 0) sh('tar', ['-xf', path.join(TMP, 'busybox.tar'), '-C', dir]);
    // half random, half base64 text: compresses about as well as real binaries and data
    sh('sh', ['-c', `for i in $(seq 1 ${perLayer}); do { head -c 524288 /dev/urandom; head -c 393216 /dev/urandom | base64 -w0; } > ${dir}/layer${l}/f$i; done`]);
    const tarFile = path.join(work, `l${l}.tar`);
    sh('tar', ['-cf', tarFile, '--sort=name', '-C', dir, '.']);
    diffIds.push(await sha256File(tarFile));
    sh('gzip', ['-n', tarFile]);
    const gz = `${tarFile}.gz`;
    const digest = await sha256File(gz);
    sh('mv', [gz, path.join(blobs, digest.slice(7))]);
    layers.push({ digest, size: statSync(path.join(blobs, digest.slice(7))).size });
    rmSync(dir, { recursive: true, force: true });
  }
  const config = Buffer.from(
    JSON.stringify({
      architecture: 'amd64',
      os: 'linux',
      created: '2026-01-01T00:00:00Z',
      config: { Cmd: ['sh'], Env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'] },
      rootfs: { type: 'layers', diff_ids: diffIds },
      history: diffIds.map((_, i) => ({ created: '2026-01-01T00:00:00Z', created_by: `bench layer ${i}` })),
    }),
  );
  const configDigest = `sha256:${createHash('sha256').update(config).digest('hex')}`;
  writeFileSync(path.join(blobs, configDigest.slice(7)), config);
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: configDigest, size: config.length },
      layers: layers.map((l) => ({ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: l.digest, size: l.size })),
    }),
  );
  const manifestDigest = `sha256:${createHash('sha256').update(manifest).digest('hex')}`;
  writeFileSync(path.join(blobs, manifestDigest.slice(7)), manifest);
  writeFileSync(path.join(layout, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  writeFileSync(
    path.join(layout, 'index.json'),
    JSON.stringify({
      schemaVersion: 2,
      manifests: [{ mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: manifestDigest, size: manifest.length, annotations: { 'org.opencontainers.image.ref.name': '1' } }],
    }),
  );
  rmSync(work, { recursive: true, force: true });
  return layout;
}

// ---------------------------------------------------------------- contestants

type Op = 'pull' | 'push';
type Contestant = OpContestant<Op>;
const FLOOR = 'floor: curl ∥ + tar -xzf';
const BERTH = 'Berth (docker CLI)';

function dockerContestant(peer: Peer, label: string, source: Registry): Contestant {
  const ref = `${source.host}/${REPO}:1`;
  const timed = async (argv: string[]): Promise<number> => (await mustTime(argv, DOCKER_ENV, OP_TIMEOUT_MS)).ms / 1000;
  return {
    name: label,
    run: async (op, i) => {
      if (op === 'pull') {
        await mustTime(peer.docker('rmi', '-f', ref), DOCKER_ENV).catch(() => undefined);
        return timed(peer.docker('pull', '-q', ref));
      }
      const target = await startRegistry(`${peer.name}-push-${i}`);
      try {
        const to = `${target.host}/${REPO}:1`;
        await mustTime(peer.docker('tag', ref, to), DOCKER_ENV);
        const s = await timed(peer.docker('push', '-q', to));
        await mustTime(peer.docker('rmi', to), DOCKER_ENV);
        return s;
      } finally {
        await stopRegistry(target);
      }
    },
  };
}

/** curl every layer blob in parallel, then `tar -xzf` each in order (as an engine must apply them). */
function floorContestant(source: Registry, layers: { digest: string }[]): Contestant {
  const dir = path.join(TMP, 'floor');
  mkdirSync(dir, { recursive: true });
  const script = path.join(dir, 'pull.sh');
  const urls = layers.map((l) => `http://${source.host}/v2/${REPO}/blobs/${l.digest}`);
  writeFileSync(
    script,
    `#!/bin/sh
set -e
d=$1; mkdir -p $d/rootfs
${urls.map((u, i) => `curl -sfo $d/${i}.tgz ${u} &`).join('\n')}
wait
${urls.map((_, i) => `tar -xzf $d/${i}.tgz -C $d/rootfs`).join('\n')}
`,
    { mode: 0o755 },
  );
  return {
    name: FLOOR,
    run: async (op, i) => {
      if (op !== 'pull') throw new Error('no floor for push');
      const target = path.join(dir, `run${i}`);
      const r = await mustTime(['/bin/sh', script, target], undefined, OP_TIMEOUT_MS);
      rmSync(target, { recursive: true, force: true });
      return r.ms / 1000;
    },
  };
}

async function main(): Promise<void> {
  await prepareOpBench(opts, ['docker-registry', 'skopeo', 'curl']);
  if (!which('docker-registry')) throw new Error('docker-registry is not installed');

  log(`making a ${MB} MB image of ${LAYERS} gzip layers`);
  const layout = await makeImage();
  const source = await startRegistry('source');
  sh('skopeo', ['copy', '-q', '--dest-tls-verify=false', `oci:${layout}:1`, `docker://${source.host}/${REPO}:1`]);
  const index = JSON.parse(sh('skopeo', ['inspect', '--raw', '--tls-verify=false', `docker://${source.host}/${REPO}:1`])) as { layers: { digest: string; size: number }[] };
  const megabytes = index.layers.reduce((a, l) => a + l.size, 0) / 2 ** 20;

  const contestants: Contestant[] = [floorContestant(source, index.layers)];
  log('starting berthd');
  contestants.push(dockerContestant(await startBerth('berth', 'crun'), BERTH, source));
  const dockerd = await startDockerdOrSkip(opts);
  if (dockerd) contestants.push(dockerContestant(dockerd, DOCKERD_CLI, source));

  const results = await runOps<Op>(['pull', 'push'], contestants, RUNS, (op, c) => op === 'pull' || c.name !== FLOOR);
  process.stdout.write(report(results, megabytes));
}

function report(results: OpResult<Op>[], megabytes: number): string {
  return opReport({
    title: `Berth registry benchmark — ${reportTime()} UTC — ${megabytes.toFixed(0)} MB compressed in ${LAYERS} layers, ${RUNS} run(s) each`,
    versions: sh('docker-registry', ['--version']).trim(),
    results,
    megabytes,
    floor: FLOOR,
    hasFloor: (op) => op === 'pull',
    target: (r, s, floor, dockerd) => {
      if (r.name !== BERTH) return undefined;
      const cell =
        r.op === 'pull'
          ? `≥ 1.5× dockerd: ${verdict(dockerd / s, (v) => v >= 1.5)}; ≤ 1.3× floor: ${verdict(s / floor, (v) => v <= 1.3)}`
          : `no slower than dockerd: ${verdict(dockerd / s, (v) => v >= 1)}`;
      return { cell, summary: `${cell} (${ratio(dockerd / s)} dockerd's speed${r.op === 'pull' ? `, ${ratio(s / floor)} the floor's time` : ''})` };
    },
    legend: 'MB/s: compressed megabytes ÷ median seconds. "× floor time": median ÷ the floor\'s (lower is better). "dockerd ÷": dockerd\'s time ÷ this one.',
  });
}

runBench(main);
