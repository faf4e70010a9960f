// berthd --userns-remap: root in a container is an unprivileged user of the host. A user of the
// test's own (created with a free /etc/subuid and /etc/subgid range, removed with its entries
// after) is the remap user of a berthd and of a test-started dockerd; the same checks run on
// both. Files made by container root land on the host owned by the mapped uid (writable layer,
// bind mount, volume), images come and go with their ids unshifted (load, save, commit, build,
// cp, export), dockerd's refusals are Berth's, and a restart of berthd keeps all of it.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { remapIdentity } from '../src/daemon/userns-remap.js';
import type { DataRootUsage } from '../src/types/berth.js';
import { parseConfig } from '../src/daemon/config.js';
import { TestDaemon, run, stopAndCheckClean, waitFor } from './harness.js';
import { Dockerd, peersMissing } from './peers.js';
import { haveRegistry, TestRegistry } from './registry/registry.js';

const RANGE = 65536;

/** The first id above every subordinate range already given out (as berthd picks one for berthremap). */
function freeStart(): number {
  let start = 100000;
  for (const file of ['/etc/subuid', '/etc/subgid']) {
    const text = fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : '';
    for (const l of text.split('\n')) {
      const f = l.split(':');
      if (f.length === 3 && Number(f[1]) + Number(f[2]) > start) start = Number(f[1]) + Number(f[2]);
    }
  }
  return start;
}

/** A system user with one subordinate range; userdel removes it with its group and its ranges. */
class RemapUser {
  readonly name = `berthut${randomBytes(3).toString('hex')}`;
  start = 0;

  create(): void {
    execFileSync('useradd', ['--system', '--user-group', '--no-create-home', '--shell', '/bin/false', this.name]);
    this.start = freeStart();
    const range = `${this.start}-${this.start + RANGE - 1}`;
    execFileSync('usermod', ['--add-subuids', range, '--add-subgids', range, this.name]);
  }

  remove(): void {
    execFileSync('userdel', [this.name], { stdio: 'ignore' });
    for (const f of ['/etc/subuid', '/etc/subgid']) {
      assert.ok(!fs.readFileSync(f, 'utf8').includes(`${this.name}:`), `${f} still names ${this.name}`);
    }
  }
}

type Engine = { name: string; docker(args: string[], opts?: { input?: string | Buffer }): Promise<{ code: number; stdout: string; stderr: string }> };

async function ok(e: Engine, args: string[]): Promise<string> {
  const r = await e.docker(args);
  assert.equal(r.code, 0, `${e.name}: docker ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

const uidMapLine = (s: string): string => s.trim().split(/\s+/).join(' ');

function owner(p: string): string {
  const st = fs.lstatSync(p);
  return `${st.uid}:${st.gid}`;
}

describe('--userns-remap: the accounts it reads', () => {
  const dir = fs.mkdtempSync('/tmp/bt-accounts-');
  const files = { passwd: `${dir}/passwd`, group: `${dir}/group`, subuid: `${dir}/subuid`, subgid: `${dir}/subgid` };
  before(() => {
    fs.writeFileSync(files.passwd, 'root:x:0:0::/root:/bin/sh\nberthremap:x:990:990::/:/bin/false\nalice:x:1000:1000::/:/bin/sh\nbob:x:1001:1001::/:/bin/sh\n');
    fs.writeFileSync(files.group, 'root:x:0:\nberthremap:x:990:\nalice:x:1000:\nstaff:x:50:\n');
    fs.writeFileSync(files.subuid, 'berthremap:100000:65536\nalice:200000:1000\n1000:300000:500\n');
    fs.writeFileSync(files.subgid, 'berthremap:100000:65536\nalice:400000:2000\n');
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  test('names, ids and default resolve to the user, its group and its stacked ranges', async () => {
    const d = await remapIdentity('default', files);
    assert.deepEqual([d?.user, d?.group, d?.ids.root], ['berthremap', 'berthremap', { uid: 100000, gid: 100000 }]);
    const a = await remapIdentity('1000:staff', files);
    assert.deepEqual([a?.user, a?.group], ['alice', 'staff']);
    // Entries by name and by uid, stacked from container id 0 in file order (dockerd's createIDMap).
    assert.deepEqual(a?.ids.uids, [{ containerID: 0, hostID: 200000, size: 1000 }, { containerID: 1000, hostID: 300000, size: 500 }]);
    assert.deepEqual(a?.ids.toHost({ uid: 1200, gid: 5 }), { uid: 300200, gid: 400005 });
    assert.deepEqual(a?.ids.toContainer({ uid: 300200, gid: 400005 }), { uid: 1200, gid: 5 });
    assert.deepEqual(a?.ids.toContainer({ uid: 0, gid: 0 }), { uid: 65534, gid: 65534 }, 'an unmapped host id is nobody inside');
    assert.throws(() => a?.ids.toHost({ uid: 1500, gid: 0 }), /Container ID 1500 cannot be mapped to a host ID/);
    assert.equal(await remapIdentity('root', files), undefined, 'root remapped to itself: user namespaces off');
  });

  test("bad values stop the daemon with dockerd's messages", async () => {
    await assert.rejects(remapIdentity('a:b:c', files), /Invalid user\/group specification in --userns-remap: "a:b:c"/);
    await assert.rejects(remapIdentity('nobodyhere', files), /Error during uid lookup for "nobodyhere"/);
    await assert.rejects(remapIdentity('4242', files), /Uid 4242 has no entry in \/etc\/passwd/);
    await assert.rejects(remapIdentity('alice:nogroup', files), /Error during gid lookup for "nogroup"/);
    await assert.rejects(remapIdentity('bob', files), /Error during gid lookup for "bob"/);
    await assert.rejects(remapIdentity('bob:staff', files), /No subuid ranges found for user "bob"/);
    assert.deepEqual(parseConfig('{"userns-remap": "default"}', 'daemon.json'), { 'userns-remap': 'default' });
    assert.throws(() => parseConfig('{"userns-remap": 5}', 'daemon.json'), /invalid value for userns-remap: 5/);
  });
});

describe('--userns-remap: containers through berthd and dockerd', () => {
  const user = new RemapUser();
  let berthd: TestDaemon;
  let dockerd: Dockerd | undefined;
  const engines: Engine[] = [];
  const dockerdMissing = peersMissing(['dockerd', 'docker']);

  before(async () => {
    user.create();
    berthd = new TestDaemon({ args: ['--userns-remap', user.name] });
    // As dockerd requires: the remapped root must be able to pass through every directory above the data root.
    fs.chmodSync(berthd.root, 0o711);
    await berthd.start();
    engines.push({ name: 'berthd', docker: (a, o) => berthd.docker(a, o) });
    if (!dockerdMissing) {
      dockerd = new Dockerd();
      fs.chmodSync(dockerd.root, 0o711);
      await dockerd.start(['--userns-remap', user.name]);
      await dockerd.importBusybox();
      engines.push({ name: 'dockerd', docker: (a, o) => dockerd!.docker(a, o) });
    }
  });
  after(async () => {
    try {
      await stopAndCheckClean(berthd);
      await dockerd?.stop();
    } finally {
      user.remove();
    }
  });

  test('root inside is the mapped user outside; info shows the userns option and the remapped root', async () => {
    for (const e of engines) {
      const out = await ok(e, ['run', '--rm', 'busybox', 'sh', '-c', 'id -u; id -g; cat /proc/self/uid_map; cat /proc/self/gid_map']);
      const [uid, gid, uidMap, gidMap] = out.trim().split('\n');
      assert.deepEqual([uid, gid, uidMapLine(uidMap!), uidMapLine(gidMap!)], ['0', '0', `0 ${user.start} ${RANGE}`, `0 ${user.start} ${RANGE}`], e.name);
      const info = JSON.parse(await ok(e, ['info', '--format', '{{json .}}']));
      assert.ok(info.SecurityOptions.includes('name=userns'), `${e.name}: ${info.SecurityOptions}`);
      assert.equal(path.basename(info.DockerRootDir), `${user.start}.${user.start}`, e.name);
      // --userns=host opts out: the host's whole range.
      const host = await ok(e, ['run', '--rm', '--userns=host', 'busybox', 'cat', '/proc/self/uid_map']);
      assert.equal(uidMapLine(host), '0 0 4294967295', e.name);
    }
    const viaBerth = await berthd.berthOk(['run', '--rm', 'busybox', 'cat', '/proc/self/uid_map']);
    assert.equal(uidMapLine(viaBerth), `0 ${user.start} ${RANGE}`);
    assert.match(await berthd.berthOk(['info']), /userns/);
    assert.equal(uidMapLine(await berthd.berthOk(['run', '--rm', '--userns', 'host', 'busybox', 'cat', '/proc/self/uid_map'])), '0 0 4294967295');
    const bad = await berthd.berth(['run', '--rm', '--userns', 'private', 'busybox', 'true']);
    assert.equal(bad.code, 125);
    assert.match(bad.stderr, /--userns: invalid USER mode/);
  });

  test("what Docker refuses with user namespaces is refused with dockerd's messages; --userns=host allows it", async () => {
    const refusals: [string[], RegExp][] = [
      [['--privileged'], /privileged mode is incompatible with user namespaces/],
      [['--network', 'host'], /cannot share the host's network namespace when user namespaces are enabled/],
      [['--pid', 'host'], /cannot share the host PID namespace when user namespaces are enabled/],
    ];
    for (const e of engines) {
      for (const [flags, msg] of refusals) {
        const r = await e.docker(['create', ...flags, 'busybox', 'true']);
        assert.notEqual(r.code, 0, `${e.name} ${flags}`);
        assert.match(r.stderr, msg, `${e.name} ${flags}`);
      }
      const id = (await ok(e, ['create', '--userns=host', '--privileged', 'busybox', 'true'])).trim();
      await ok(e, ['rm', id]);
    }
    const r = await berthd.api('POST', '/containers/create', { Image: 'busybox', HostConfig: { Privileged: true } });
    assert.equal(r.status, 400);
    assert.match(r.body.message, /privileged mode is incompatible with user namespaces/);
    const bad = await berthd.api('POST', '/containers/create', { Image: 'busybox', HostConfig: { UsernsMode: 'private' } });
    assert.deepEqual([bad.status, bad.body.message], [400, 'invalid USER mode: private']);
  });

  test('files container root writes are the mapped uid on the host: writable layer, bind mount, volume', async () => {
    for (const e of engines) {
      const bind = fs.mkdtempSync(`/tmp/bt-userns-bind-${e.name}-`);
      fs.chmodSync(bind, 0o777);
      const vol = `uv-${randomBytes(3).toString('hex')}`;
      try {
        const id = (await ok(e, ['run', '-d', '-v', `${bind}:/bind`, '-v', `${vol}:/vol`, 'busybox', 'sh', '-c', 'touch /upper /bind/b /vol/v && ls -ln /upper /vol/v && sleep 30'])).trim();
        const upper = JSON.parse(await ok(e, ['inspect', '--format', '{{json .GraphDriver.Data.UpperDir}}', id])) as string;
        await waitFor(() => fs.existsSync(path.join(upper, 'upper')), `${e.name}: /upper written`);
        const mapped = `${user.start}:${user.start}`;
        assert.equal(owner(path.join(upper, 'upper')), mapped, `${e.name}: upper dir file`);
        assert.equal(owner(upper), mapped, `${e.name}: the writable layer's root`);
        assert.equal(owner(path.join(bind, 'b')), mapped, `${e.name}: bind mount file`);
        const volDir = JSON.parse(await ok(e, ['volume', 'inspect', '--format', '{{json .Mountpoint}}', vol])) as string;
        assert.equal(owner(path.join(volDir, 'v')), mapped, `${e.name}: volume file`);
        assert.equal(owner(volDir), mapped, `${e.name}: the volume's root`);
        // Inside, the same files are root's; exec joins the same user namespace.
        const inside = await ok(e, ['exec', id, 'sh', '-c', 'stat -c "%u:%g %n" /upper /bind/b /vol/v; cat /proc/self/uid_map']);
        assert.match(inside, /^0:0 \/upper\n0:0 \/bind\/b\n0:0 \/vol\/v\n/, e.name);
        assert.equal(uidMapLine(inside.split('\n')[3]!), `0 ${user.start} ${RANGE}`, `${e.name}: exec`);
        await ok(e, ['rm', '-f', id]);
        await ok(e, ['volume', 'rm', vol]);
      } finally {
        fs.rmSync(bind, { recursive: true, force: true });
      }
    }
  });

  test("the container's network is its own: its /sys, raw sockets (ping), Docker's net sysctls", async () => {
    for (const e of engines) {
      const out = await ok(e, ['run', '--rm', 'busybox', 'sh', '-c', 'ls /sys/class/net | sort | tr "\\n" " "; gw=$(ip route | awk "/default/ {print \\$3}"); ping -c1 -W5 $gw >/dev/null && echo ping-ok; cat /proc/sys/net/ipv4/ip_unprivileged_port_start']);
      assert.match(out, /^eth0 lo ping-ok\n0\n$/, e.name);
    }
  });

  test("images keep their ids: build, save, load (also into dockerd), push, pull, commit, cp and export carry the image's ids", async () => {
    const e = engines[0]!;
    const tag = `userns-${randomBytes(3).toString('hex')}`;
    const ctx = fs.mkdtempSync('/tmp/bt-userns-ctx-');
    try {
      fs.writeFileSync(path.join(ctx, 'f'), 'x\n');
      fs.writeFileSync(
        path.join(ctx, 'Dockerfile'),
        // /app/big: a layer large enough that load unpacks it as the archive arrives.
        'FROM busybox\nWORKDIR /app/sub\nCOPY --chown=55:66 f /app/f\nRUN head -c 2000000 /dev/urandom > /app/big && chown 7:8 /app/big\nRUN echo "u:x:1234:1234::/:/bin/sh" >> /etc/passwd && chmod 1777 /tmp\nUSER u\nRUN touch /tmp/byu\n',
      );
      const built = await run('docker', ['-H', berthd.host, 'build', '-q', '-t', tag, ctx], { env: { DOCKER_BUILDKIT: '0', DOCKER_CONFIG: berthd.dockerConfig } });
      assert.equal(built.code, 0, built.stderr);
      const listing = '0:0 /app/sub 55:66 /app/f 7:8 /app/big 1234:1234 /tmp/byu ';
      const check = async (what: string) => {
        const out = await ok(e, ['run', '--rm', tag, 'sh', '-c', 'stat -c "%u:%g %n" /app/sub /app/f /app/big /tmp/byu | tr "\\n" " "']);
        assert.equal(out, listing, what);
      };
      await check('built');
      // Berth's layer views show the image's ids too, not the host's.
      const view = await berthd.api('GET', `/berth/images/${tag}/files?path=/app`);
      assert.equal(view.status, 200, view.text);
      const f = (view.body.Entries as { Name: string; Uid: number; Gid: number }[]).find((x) => x.Name === 'f');
      assert.deepEqual([f?.Uid, f?.Gid], [55, 66]);
      // The stored layers hold the image's own ids: a save loads back as the same image id.
      const id = (await ok(e, ['image', 'inspect', '--format', '{{.Id}}', tag])).trim();
      const archive = path.join(ctx, 'img.tar');
      await ok(e, ['save', '-o', archive, tag]);
      await ok(e, ['rmi', tag]);
      const loaded = await ok(e, ['load', '-i', archive]);
      assert.match(loaded, new RegExp(`Loaded image: ${tag}:latest`));
      assert.equal((await ok(e, ['image', 'inspect', '--format', '{{.Id}}', tag])).trim(), id);
      await check('loaded');
      if (engines[1]) {
        // dockerd checks every layer tar against its diff id and shows the image's own owners.
        const other = engines[1];
        await ok(other, ['load', '-i', archive]);
        assert.equal((await ok(other, ['image', 'inspect', '--format', '{{.Id}}', tag])).trim(), id);
        const out = await ok(other, ['run', '--rm', tag, 'sh', '-c', 'stat -c "%u:%g %n" /app/sub /app/f /app/big /tmp/byu | tr "\\n" " "']);
        assert.equal(out, listing, 'the remapped berthd\'s save, loaded by dockerd');
        await ok(other, ['rmi', tag]);
      }
      if (haveRegistry()) {
        // Pushed from the content store as it came, pulled back into the remapped store shifted.
        const registry = new TestRegistry();
        try {
          await registry.start();
          const remote = `${registry.host}/${tag}:latest`;
          await ok(e, ['tag', tag, remote]);
          await ok(e, ['push', remote]);
          await ok(e, ['rmi', remote]);
          await ok(e, ['rmi', tag]);
          await ok(e, ['pull', remote]);
          await ok(e, ['tag', remote, tag]);
          await ok(e, ['rmi', remote]);
          await check('pulled');
        } finally {
          await registry.stop();
        }
      }
      // A container's changes: commit, cp out and export list container ids; cp in lands as the mapped root.
      const c = (await ok(e, ['create', '--user', '0', tag, 'sh', '-c', 'true'])).trim();
      fs.writeFileSync(path.join(ctx, 'in'), 'in\n');
      await ok(e, ['cp', path.join(ctx, 'in'), `${c}:/app/in`]);
      const upper = JSON.parse(await ok(e, ['inspect', '--format', '{{json .GraphDriver.Data.UpperDir}}', c])) as string;
      assert.equal(owner(path.join(upper, 'app/in')), `${user.start}:${user.start}`);
      const cpOut = execFileSync('tar', ['-tvf', '-'], { input: execFileSync('docker', ['-H', berthd.host, 'cp', `${c}:/app`, '-'], { maxBuffer: 64 << 20 }) }).toString();
      assert.match(cpOut, /55\/66 .* app\/f\n/);
      assert.match(cpOut, /0\/0 .* app\/in\n/);
      const exported = execFileSync('tar', ['-tvf', '-'], { input: execFileSync('docker', ['-H', berthd.host, 'export', c], { maxBuffer: 64 << 20 }) }).toString();
      assert.match(exported, /1234\/1234 .* tmp\/byu\n/);
      assert.match(exported, /-rwxr-xr-x 0\/0 .* bin\/\[\n/);
      await ok(e, ['commit', c, `${tag}:c`]);
      const out = await ok(e, ['run', '--rm', `${tag}:c`, 'stat', '-c', '%u:%g', '/app/in']);
      assert.equal(out.trim(), '0:0');
      await ok(e, ['rm', c]);
      await ok(e, ['rmi', `${tag}:c`, tag]);
    } finally {
      fs.rmSync(ctx, { recursive: true, force: true });
    }
  });

  test('a restart of berthd keeps the mapping, the running container and its files', async () => {
    const id = (await berthd.dockerOk(['run', '-d', 'busybox', 'sh', '-c', 'touch /before; sleep 60'])).trim();
    await berthd.terminate();
    await berthd.start();
    const out = await berthd.dockerOk(['exec', id, 'sh', '-c', 'cat /proc/self/uid_map; stat -c "%u:%g" /before']);
    assert.deepEqual(out.trim().split('\n').map(uidMapLine), [`0 ${user.start} ${RANGE}`, '0:0']);
    const fresh = await berthd.dockerOk(['run', '--rm', 'busybox', 'cat', '/proc/self/uid_map']);
    assert.equal(uidMapLine(fresh), `0 ${user.start} ${RANGE}`);
    await berthd.dockerOk(['rm', '-f', id]);
  });

  test('system df accounts for the remapped data root to the byte: its subtree is all there is', async () => {
    const inner = `${user.start}.${user.start}`;
    assert.deepEqual(fs.readdirSync(berthd.dataRoot), [inner]);
    const u = (await berthd.api('GET', '/berth/system/df')).body as DataRootUsage;
    assert.equal(u.DataRoot, path.join(berthd.dataRoot, inner));
    const du = Number(execFileSync('du', ['-sbx', u.DataRoot], { encoding: 'utf8' }).split('\t')[0]);
    const docker = u.Docker.Images + u.Docker.Containers + u.Docker.Volumes + u.Docker.BuildCache;
    assert.equal(docker + u.Other.reduce((a, p) => a + p.Size, 0), du, JSON.stringify(u));
    assert.ok(!u.Other.some((p) => ['Other', 'Not as Docker counts it', 'Work in progress'].includes(p.Type)), JSON.stringify(u.Other));
  });
});
