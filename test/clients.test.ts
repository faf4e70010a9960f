// Real client libraries against a real berthd: Debian's python3-docker (docker-py) and dockerode,
// plus exec's terminal, stream and detach behaviour through the docker CLI in a pseudo-terminal.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import Docker from 'dockerode';
import { run, startDaemon, stopAndCheckClean, type TestDaemon } from './harness.js';

const PYTHON = '/usr/bin/python3';
const pyMissing: Promise<string | undefined> = fs.existsSync(PYTHON)
  ? run(PYTHON, ['-c', 'import docker']).then((r) => (r.code === 0 ? undefined : 'python3-docker is not installed'))
  : Promise.resolve('python3 is not installed');

/** Runs a docker-py snippet with `client` bound to the daemon; returns what it printed as JSON. */
async function py(d: TestDaemon, body: string): Promise<any> {
  const script = `import docker, json, sys\nclient = docker.DockerClient(base_url=${JSON.stringify(d.host)}, version='auto')\n${body}\n`;
  const r = await run(PYTHON, ['-c', script], { timeoutMs: 60_000 });
  assert.equal(r.code, 0, `docker-py: ${r.stderr}`);
  return JSON.parse(r.stdout.trim().split('\n').pop()!);
}

/**
 * Drives `docker exec -it` in a pseudo-terminal (python's pty): waits for the shell, sends the
 * keys, and reports what the terminal showed, whether the CLI exited and the shell's pid.
 */
async function execDetach(d: TestDaemon, container: string, keys: string, cli: string[], flags: string[] = [], wait = 5): Promise<{ out: string; exited: boolean; code: number | null }> {
  const script = `
import os, pty, sys, time, select, json
pid, fd = pty.fork()
if pid == 0:
    os.execvp(sys.argv[1], sys.argv[1:])
def read(t):
    out = b''; end = time.time() + t
    while time.time() < end:
        r, _, _ = select.select([fd], [], [], 0.05)
        if r:
            try: out += os.read(fd, 4096)
            except OSError: break
    return out
out = read(1.5)
os.write(fd, b'echo in-$((6*7))\\r')
out += read(0.7)
os.write(fd, bytes.fromhex(${JSON.stringify(Buffer.from(keys, 'latin1').toString('hex'))}))
wp, st = 0, 0
end = time.time() + float(os.environ['WAIT'])
while not wp and time.time() < end:
    out += read(0.1)
    wp, st = os.waitpid(pid, os.WNOHANG)
if not wp: os.kill(pid, 9); os.waitpid(pid, 0)
print(json.dumps({'out': out.decode('latin1'), 'exited': bool(wp), 'code': os.waitstatus_to_exitcode(st) if wp else None}))
`;
  const r = await run(PYTHON, ['-c', script, ...cli, 'exec', '-it', ...flags, container, 'sh'], { timeoutMs: 30_000, env: { DOCKER_CONFIG: d.dockerConfig, WAIT: String(wait) } });
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout.trim());
}

describe('client libraries and exec against berthd', async () => {
  const skip = await pyMissing;
  let d: TestDaemon;
  let ctr: string;

  before(async () => {
    d = await startDaemon();
    ctr = (await d.dockerOk(['run', '-d', 'busybox', 'sleep', '600'])).trim();
  });

  after(async () => {
    await stopAndCheckClean(d);
  });

  test('docker-py: containers.run reads back LogConfig and output; exec_run demuxes stdout and stderr, streamed or not', { skip }, async () => {
    const out = await py(
      d,
      `
ran = client.containers.run('busybox', ['sh', '-c', 'echo out; echo err >&2'], remove=True, stdout=True, stderr=True)
c = client.containers.get(${JSON.stringify(ctr)})
cmd = ['sh', '-c', 'echo o1; echo e1 >&2; echo o2']
demux = c.exec_run(cmd, demux=True)
plain = c.exec_run(cmd)
tty = c.exec_run(['sh', '-c', 'echo o1; echo e1 >&2'], tty=True)
streamed = c.exec_run(cmd, stream=True, demux=True)
parts = [[a and a.decode(), b and b.decode()] for a, b in streamed.output]
missing = c.exec_run(['no-such-binary'])
print(json.dumps({'ran': ran.decode(), 'demux': [demux.exit_code, demux.output[0].decode(), demux.output[1].decode()],
  'plain': plain.output.decode(), 'tty': tty.output.decode(), 'streamed': parts,
  'missing': [missing.exit_code, missing.output.decode()], 'log': c.attrs['HostConfig']['LogConfig']}))`,
    );
    assert.equal(out.ran, 'out\nerr\n');
    assert.deepEqual(out.demux, [0, 'o1\no2\n', 'e1\n']);
    assert.deepEqual([...out.plain.split('\n')].sort(), ['', 'e1', 'o1', 'o2']);
    assert.equal(out.tty, 'o1\r\ne1\r\n', 'a tty merges the streams with \\r\\n line ends');
    assert.equal(out.streamed.map((p: string[]) => p[0] ?? '').join(''), 'o1\no2\n');
    assert.equal(out.streamed.map((p: string[]) => p[1] ?? '').join(''), 'e1\n');
    assert.equal(out.missing[0], 126);
    assert.match(out.missing[1], /^OCI runtime exec failed: .*no-such-binary.*\r\n$/);
    assert.deepEqual(out.log, { Type: 'json-file', Config: {} });
  });

  test('dockerode: run, inspect and exec', async () => {
    const docker = new Docker({ socketPath: d.sock });
    const c = docker.getContainer(ctr);
    const info = await c.inspect();
    assert.equal(info.HostConfig.LogConfig?.Type, 'json-file');
    const e = await c.exec({ Cmd: ['sh', '-c', 'echo out; echo err >&2; exit 3'], AttachStdout: true, AttachStderr: true });
    const stream = await e.start({ hijack: true, stdin: false });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    docker.modem.demuxStream(stream, { write: (b: Buffer) => out.push(b) } as unknown as NodeJS.WritableStream, { write: (b: Buffer) => err.push(b) } as unknown as NodeJS.WritableStream);
    await new Promise((r) => stream.on('end', r));
    assert.equal(Buffer.concat(out).toString(), 'out\n');
    assert.equal(Buffer.concat(err).toString(), 'err\n');
    assert.equal((await e.inspect()).ExitCode, 3);
  });

  test('exec Detach: true answers at once; the process runs on', async () => {
    const created = await d.api('POST', `/containers/${ctr}/exec`, { Cmd: ['sleep', '3'] });
    const t0 = Date.now();
    const r = await d.api('POST', `/exec/${created.body.Id}/start`, { Detach: true });
    assert.equal(r.status, 200);
    assert.ok(Date.now() - t0 < 1500, `took ${Date.now() - t0} ms`);
    assert.equal((await d.api('GET', `/exec/${created.body.Id}/json`)).body.Running, true);
  });

  test('exec of a missing binary starts and exits 126 with the runtime message, as dockerd', async () => {
    const r = await d.docker(['exec', ctr, 'no-such-binary']);
    assert.equal(r.code, 126, r.stderr);
    assert.match(r.stdout + r.stderr, /OCI runtime exec failed: exec failed: .*no-such-binary/);
    const b = await d.berth(['exec', ctr, 'no-such-binary']);
    assert.equal(b.code, 126, b.stderr);
  });

  test('exec -it detaches on ctrl-p ctrl-q, --detach-keys and config.json detachKeys (docker and berth CLIs)', { skip }, async () => {
    const berthCli = [process.execPath, path.join(path.dirname(path.dirname(new URL(import.meta.url).pathname)), 'berth.cjs'), '-H', d.host];
    for (const cli of [['docker', '-H', d.host], berthCli]) {
      const plain = await execDetach(d, ctr, '\x10\x11', cli);
      assert.match(plain.out, /in-42/, 'the shell answered');
      assert.ok(plain.exited, `the CLI detached: ${JSON.stringify(plain.out)}`);
      const other = await execDetach(d, ctr, '\x01x', cli, [], 1.5);
      assert.ok(!other.exited, 'ctrl-a x is no detach sequence by default');
      const flag = await execDetach(d, ctr, '\x01x', cli, ['--detach-keys', 'ctrl-a,x']);
      assert.ok(flag.exited, `--detach-keys: ${JSON.stringify(flag.out)}`);
    }
    fs.writeFileSync(path.join(d.dockerConfig, 'config.json'), JSON.stringify({ detachKeys: 'ctrl-a,x' }));
    try {
      for (const cli of [['docker', '-H', d.host], berthCli]) {
        const viaConfig = await execDetach(d, ctr, '\x01x', cli);
        assert.ok(viaConfig.exited, `config.json detachKeys: ${JSON.stringify(viaConfig.out)}`);
      }
    } finally {
      fs.rmSync(path.join(d.dockerConfig, 'config.json'));
    }
    // The shells that were detached from still run.
    const ps = await d.dockerOk(['exec', ctr, 'ps', '-o', 'comm']);
    assert.ok(ps.split('\n').filter((l) => l.trim() === 'sh').length >= 6, ps);
  });
});
