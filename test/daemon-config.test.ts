// berthd's daemon.json: dockerd's keys applied (labels and debug in /info, registry mirrors and
// insecure registries, the default log driver, default ulimits), dockerd's refusals (a key given
// as a flag and in the file, an unknown key, a bad value) and what SIGHUP reloads.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { REPO, run, startDaemon, stopAndCheckClean, waitFor, type TestDaemon } from './harness.js';

const DAEMON = path.join(REPO, 'dist', 'src', 'daemon', 'main.js');

/** berthd with this config file, expected to refuse to start: returns what it logged. */
async function refused(config: unknown, extra: string[] = []): Promise<string> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bcfg-'));
  try {
    const file = path.join(dir, 'daemon.json');
    fs.writeFileSync(file, typeof config === 'string' ? config : JSON.stringify(config));
    const r = await run(process.execPath, [DAEMON, '--config-file', file, '-H', `unix://${dir}/s.sock`, '--data-root', `${dir}/d`, '--exec-root', `${dir}/e`, '--no-default-image', ...extra], { timeoutMs: 15_000 });
    assert.equal(r.code, 1, `berthd should stop: ${r.stderr}`);
    assert.ok(!fs.existsSync(`${dir}/s.sock`), 'nothing listens');
    return r.stderr;
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

describe('daemon.json', () => {
  let d: TestDaemon | undefined;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bcfg-'));
  const file = path.join(dir, 'daemon.json');

  after(async () => {
    await stopAndCheckClean(d);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test('keys from the file show in /info and apply to containers; SIGHUP reloads labels, debug, mirrors, insecure registries', async () => {
    fs.writeFileSync(
      file,
      JSON.stringify({
        labels: ['team=infra', 'zone=a'],
        debug: false,
        'registry-mirrors': ['https://mirror.invalid'],
        'insecure-registries': ['reg.invalid:5000'],
        'log-driver': 'json-file',
        'log-opts': { 'max-size': '10m' },
        'default-ulimits': { nofile: { Name: 'nofile', Soft: 1234, Hard: 2345 } },
        'max-concurrent-downloads': 2,
        'live-restore': true,
      }),
    );
    d = await startDaemon({ args: ['--config-file', file] });
    const info = (await d.api('GET', '/info')).body;
    assert.deepEqual(info.Labels, ['team=infra', 'zone=a']);
    assert.equal(info.Debug, false);
    assert.deepEqual(info.RegistryConfig.Mirrors, ['https://mirror.invalid']);
    assert.ok(info.RegistryConfig.IndexConfigs['reg.invalid:5000']);
    assert.equal(info.LoggingDriver, 'json-file');
    assert.equal(info.LiveRestoreEnabled, true);
    const id = (await d.dockerOk(['run', '-d', 'busybox', 'sh', '-c', 'ulimit -n; ulimit -Hn'])).trim();
    await d.dockerOk(['wait', id]);
    assert.equal(await d.dockerOk(['logs', id]), '1234\n2345\n');
    assert.deepEqual((await d.inspect(id)).HostConfig.LogConfig, { Type: 'json-file', Config: { 'max-size': '10m' } });
    assert.match(await d.dockerOk(['info', '--format', '{{json .Labels}}']), /team=infra/);

    const since = Math.floor(Date.now() / 1000);
    fs.writeFileSync(file, JSON.stringify({ labels: ['team=core'], debug: true, 'registry-mirrors': [], 'insecure-registries': ['other.invalid:5000'] }));
    process.kill(d.pid!, 'SIGHUP');
    await waitFor(async () => (await d!.api('GET', '/info')).body.Labels[0] === 'team=core', 'labels reloaded');
    const after = (await d.api('GET', '/info')).body;
    assert.equal(after.Debug, true);
    assert.deepEqual(after.RegistryConfig.Mirrors, []);
    assert.ok(after.RegistryConfig.IndexConfigs['other.invalid:5000']);
    const ev = await d.dockerOk(['events', '--since', String(since), '--until', String(Math.floor(Date.now() / 1000) + 1), '--filter', 'type=daemon', '--format', '{{.Action}}']);
    assert.match(ev, /^reload$/m);
    // A broken file on SIGHUP is reported and changes nothing.
    fs.writeFileSync(file, '{"labels": [');
    process.kill(d.pid!, 'SIGHUP');
    await waitFor(() => d!.log().includes('Error reloading configuration'), 'reload error logged');
    assert.deepEqual((await d.api('GET', '/info')).body.Labels, ['team=core']);
  });

  test('a key given as a flag and in the file, an unknown key, a bad value or a missing named file stop berthd with a message', async () => {
    assert.match(await refused({ labels: ['a=b'] }, ['--label', 'c=d']), /the following directives are specified both as a flag and in the configuration file: labels: \(from flag: \[c=d\], from file: \[a=b\]\)/);
    assert.match(await refused({ 'no-such-key': 1 }), /the following directives don't match any configuration option: no-such-key/);
    assert.match(await refused({ 'log-level': 'loud' }), /invalid log level: loud/);
    assert.match(await refused({ 'log-driver': 'foo' }), /error looking up logging plugin foo/);
    assert.match(await refused({ 'log-opts': { 'no-such-opt': '1' } }), /unknown log opt 'no-such-opt' for json-file log driver/);
    assert.match(await refused({ labels: 'a=b' }), /invalid value for labels/);
    assert.match(await refused('{not json'), /unable to configure the Docker daemon with file/);
    const missing = path.join(dir, 'none.json');
    const r = await run(process.execPath, [DAEMON, '--config-file', missing, '-H', `unix://${dir}/x.sock`], { timeoutMs: 15_000 });
    assert.equal(r.code, 1);
    assert.match(r.stderr, /unable to configure the Docker daemon with file .*none\.json: .*no such file or directory/);
  });
});
