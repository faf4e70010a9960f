// A real project's use: Debian's docker-compose 1.29 (docker-py underneath) brings up two services
// on the project's network sharing a named volume, with a bind mount, a restart policy, a
// healthcheck, limits and a published port; up -d, ps, logs, restart and down -v work and leave
// nothing behind.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { run, startDaemon, stopAndCheckClean, waitFor, type TestDaemon } from './harness.js';
import { which } from './peers.js';
import { freePort } from './tcp.js';

let d: TestDaemon;
let dir: string;
const PROJECT = 'bcomp';

const composeFile = (port: number): string => `version: "2.4"
services:
  web:
    image: busybox
    command: sh -c 'echo web started; cp /site/index.html /data/copied; exec httpd -f -p 8080 -h /site'
    ports:
      - "127.0.0.1:${port}:8080"
    volumes:
      - data:/data
      - ./site:/site:ro
    restart: unless-stopped
    mem_limit: 64m
    cpus: 0.5
    pids_limit: 100
    healthcheck:
      test: ["CMD", "test", "-f", "/data/copied"]
      interval: 1s
      timeout: 2s
      retries: 3
  reader:
    image: busybox
    command: sh -c 'while ! test -f /data/copied; do sleep 0.2; done; cat /data/copied; exec sleep 1000'
    volumes:
      - data:/data:ro
    depends_on: [web]
volumes:
  data:
    labels:
      purpose: compose-test
`;

const compose = (args: string[]) =>
  run('docker-compose', ['-f', path.join(dir, 'docker-compose.yml'), '-p', PROJECT, ...args], { timeoutMs: 120_000, env: { DOCKER_HOST: d.host, COMPOSE_INTERACTIVE_NO_CLI: '1' } });

async function composeOk(args: string[]): Promise<string> {
  const r = await compose(args);
  if (r.code !== 0) throw new Error(`docker-compose ${args.join(' ')} exited ${r.code}\n${r.stdout}\n${r.stderr}`);
  return r.stdout + r.stderr;
}

function get(port: number, urlPath: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path: urlPath, timeout: 5000 }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => (res.statusCode === 200 ? resolve(body) : reject(new Error(`GET ${urlPath}: ${res.statusCode}`))));
    });
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', reject);
  });
}

describe('docker-compose 1.29', { skip: !which('docker-compose') && 'docker-compose is not installed' }, () => {
  let port: number;
  before(async () => {
    port = await freePort();
    d = await startDaemon();
    dir = path.join(d.root, 'project');
    fs.mkdirSync(path.join(dir, 'site'), { recursive: true });
    fs.writeFileSync(path.join(dir, 'site', 'index.html'), 'hello from the bind mount\n');
    fs.writeFileSync(path.join(dir, 'docker-compose.yml'), composeFile(port));
  });
  after(() => stopAndCheckClean(d));

  test('up -d, ps, logs, restart, down -v', async () => {
    await composeOk(['up', '-d']);
    const web = `${PROJECT}_web_1`;
    const volume = `${PROJECT}_data`;
    await waitFor(async () => /Up \(healthy\)/.test(await composeOk(['ps', 'web'])), 'web healthy', 30_000, 200);
    const ps = await composeOk(['ps']);
    assert.match(ps, new RegExp(`${PROJECT}_reader_1 .* Up`));
    await waitFor(async () => (await composeOk(['logs', '--no-color', 'reader'])).includes('hello from the bind mount'), 'reader logs', 20_000, 200);
    assert.match(await composeOk(['logs', '--no-color', 'web']), /web started/);
    assert.equal(await get(port, '/index.html'), 'hello from the bind mount\n');
    assert.match(ps, new RegExp(`${PROJECT}_web_1 .* Up \\(healthy\\)\\s+127\\.0\\.0\\.1:${port}->8080/tcp`));

    const info = JSON.parse(await d.dockerOk(['inspect', web]))[0];
    assert.equal(info.HostConfig.RestartPolicy.Name, 'unless-stopped');
    assert.equal(info.HostConfig.Memory, 64 * 1024 * 1024);
    assert.equal(info.HostConfig.NanoCpus, 5e8);
    assert.equal(info.HostConfig.PidsLimit, 100);
    const mounts = info.Mounts.map((m: any) => [m.Type, m.Name ?? m.Source, m.Destination, m.RW]).sort();
    assert.deepEqual(mounts, [
      ['bind', path.join(dir, 'site'), '/site', false],
      ['volume', volume, '/data', true],
    ]);
    const vol = JSON.parse(await d.dockerOk(['volume', 'inspect', volume]))[0];
    assert.equal(vol.Labels.purpose, 'compose-test');
    assert.equal(vol.Labels['com.docker.compose.project'], PROJECT);

    const startedAt = info.State.StartedAt;
    await composeOk(['restart']);
    const after = JSON.parse(await d.dockerOk(['inspect', web]))[0];
    assert.notEqual(after.State.StartedAt, startedAt);
    assert.equal(after.State.Running, true);
    await waitFor(async () => /Up \(healthy\)/.test(await composeOk(['ps', 'web'])), 'web healthy again', 30_000, 200);
    await waitFor(() => get(port, '/index.html').catch(() => ''), 'the published port after restart', 20_000, 200);

    await composeOk(['down', '-v']);
    assert.equal(await d.dockerOk(['ps', '-aq', '--filter', `label=com.docker.compose.project=${PROJECT}`]), '');
    assert.equal(await d.dockerOk(['volume', 'ls', '-q', '--filter', `name=${volume}`]), '');
    assert.ok(!fs.existsSync(path.join(d.dataRoot, 'volumes', volume)));
    assert.equal(await d.dockerOk(['network', 'ls', '-q', '--filter', `name=${PROJECT}_default`]), '');
    await assert.rejects(get(port, '/index.html'));
  });
});
