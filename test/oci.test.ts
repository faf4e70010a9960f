// Tests of src/oci: unit tests of every rule, and real runs of generated specs under crun and runc.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import {
  chmodSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  rmdirSync,
  statfsSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { HostConfig } from '../src/types/api.js';
import { InvalidParameterError, NotImplementedError, SystemError } from '../src/errors.js';
import {
  DEFAULT_CAPABILITIES,
  DEFAULT_PATH_ENV,
  DEFAULT_SHM_SIZE,
  KNOWN_CAPABILITIES,
  capabilitiesFromMask,
  capabilityMask,
  daemonCapabilities,
  defaultMaskedPaths,
  defaultReadonlyPaths,
} from '../src/oci/defaults.js';
import {
  canonicalIP,
  etcFilesContent,
  hostnameFileContent,
  hostsFileContent,
  parseExtraHosts,
  resolvConfContent,
} from '../src/oci/etc-files.js';
import { INDEX_MEDIA_TYPES, MANIFEST_MEDIA_TYPES, MediaTypes } from '../src/oci/image-spec.js';
import type { ImageConfig } from '../src/oci/image-spec.js';
import type { Spec } from '../src/oci/runtime-spec.js';
import {
  convertSeccompProfile,
  hostKernelVersion,
  loadSeccompProfile,
  nativeArch,
  parseSeccompProfile,
} from '../src/oci/seccomp.js';
import type { DockerSeccompProfile } from '../src/oci/seccomp.js';
import { parseSignal, signalName } from '../src/oci/signals.js';
import { resolveDevices } from '../src/oci/devices.js';
import { probeHost } from '../src/oci/host-info.js';
import { mergeTmpfsOptions } from '../src/oci/mounts.js';
import { RLIM_INFINITY, buildRlimits, daemonHardLimits } from '../src/oci/rlimits.js';
import { normalizeCapabilities, parseSecurityOpts, tweakCapabilities } from '../src/oci/security.js';
import { buildSpec as buildOciSpec, specToJSON } from '../src/oci/spec.js';
import type { SpecInput } from '../src/oci/spec.js';
import { planMountPoints } from '../src/engine/containers/mount-points.js';
import { parseBind } from '../src/engine/containers/mount-spec.js';
import { userMounts } from '../src/engine/containers/mounts.js';
import { validateHostConfig as validateWithHost } from '../src/engine/containers/validate-host-config.js';
import { readFileInRoot, resolveInRoot, resolveUser, resolveUserFromFiles } from '../src/oci/user.js';

const SCRATCH = mkdtempSync(join(tmpdir(), 'berth-oci-test-'));
after(() => rmSync(SCRATCH, { recursive: true, force: true }));

/** Asserts `fn` throws an instance of `cls` whose message equals (string) or matches (RegExp) `msg`. */
function throwsWith(fn: () => unknown, cls: new (...a: never[]) => Error, msg: string | RegExp): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof cls, `expected ${cls.name}, got ${String(e)}`);
    if (typeof msg === 'string') assert.equal(e.message, msg);
    else assert.match(e.message, msg);
    return true;
  });
}

const PASSWD = [
  'root:x:0:0:root:/root:/bin/sh',
  'daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin',
  'nobody:x:65534:65534:nobody:/nonexistent:/bin/false',
  'app:x:1000:1000::/home/app:/bin/sh',
  'nohome:x:1001:1001:::/bin/sh',
  '',
].join('\n');
const GROUP = [
  '# comment line',
  'root:x:0:',
  'wheel:x:10:app,root',
  'audio:x:29:app',
  'nogroup:x:65534:',
  'app:x:1000:',
  'staff:x:50:',
  '',
].join('\n');

/** A minimal rootfs with static busybox. */
function makeRootfs(dir: string): string {
  const rootfs = join(dir, 'rootfs');
  for (const d of ['bin', 'etc', 'proc', 'sys', 'dev', 'tmp', 'home/app', 'root', 'mnt']) mkdirSync(join(rootfs, d), { recursive: true });
  chmodSync(join(rootfs, 'tmp'), 0o1777);
  copyFileSync('/bin/busybox', join(rootfs, 'bin/busybox'));
  chmodSync(join(rootfs, 'bin/busybox'), 0o755);
  for (const a of ['sh', 'cat', 'id', 'ls', 'grep', 'echo', 'hostname', 'touch', 'sleep', 'head', 'wc', 'mount', 'tr', 'ps', 'swapon']) {
    symlinkSync('busybox', join(rootfs, 'bin', a));
  }
  writeFileSync(join(rootfs, 'etc/passwd'), PASSWD);
  writeFileSync(join(rootfs, 'etc/group'), GROUP);
  return rootfs;
}

const HOST = probeHost();
const isCgroupV2 = (): boolean => HOST.cgroupV2;
const validateHostConfig = (hc: HostConfig): string[] => validateWithHost(hc, HOST);

/** What the engine gives buildSpec, before it resolves the mounts and devices. */
type TestInput = Omit<SpecInput, 'mounts' | 'devices'>;

const VOLUMES = { validate: (): void => undefined, path: (name: string): string => `/var/lib/vols/${name}` };

/** As the engine does it: validate and plan the mounts at create, resolve them and the devices at start, then build. */
function buildSpec(input: TestInput): Spec {
  validateHostConfig(input.hostConfig);
  const hc = input.hostConfig;
  const plan = planMountPoints({}, hc, VOLUMES, (id) => {
    throw new Error(`no container ${id} here`);
  });
  return buildOciSpec({ ...input, mounts: userMounts(plan.points, hc), devices: resolveDevices(hc) }, HOST);
}

function baseInput(over: Partial<TestInput> & { hostConfig?: HostConfig } = {}): TestInput {
  return {
    id: 'c1',
    rootfs: '/var/lib/berth/rootfs/c1',
    args: ['sh', '-c', 'true'],
    env: [DEFAULT_PATH_ENV, 'HOSTNAME=c1'],
    user: { uid: 0, gid: 0, additionalGids: [0], home: '/root', username: 'root' },
    cwd: '/',
    tty: false,
    openStdin: false,
    hostname: 'c1',
    hostConfig: {},
    etcFiles: { hostname: '/run/c1/hostname', hosts: '/run/c1/hosts', resolvConf: '/run/c1/resolv.conf' },
    cgroupsPath: '/berth/c1',
    ...over,
  };
}

// =============================================================================================

/** This test process's effective capabilities, read from /proc (berthd runs as the same root). */
function ownCapEff(): bigint {
  return BigInt('0x' + /^CapEff:\s*([0-9a-f]+)/m.exec(readFileSync('/proc/self/status', 'utf8'))![1]);
}
describe('signals', () => {
  test('names, prefixes, case and numbers', () => {
    for (const s of ['SIGTERM', 'TERM', 'term', 'sigterm', '15', 15]) assert.equal(parseSignal(s), 15);
    assert.equal(parseSignal('SIGKILL'), 9);
    assert.equal(parseSignal('hup'), 1);
    assert.equal(parseSignal('SIGRTMIN+1'), 35);
    assert.equal(parseSignal('RTMAX'), 64);
    assert.equal(parseSignal('SIGWINCH'), 28);
    assert.equal(signalName(15), 'SIGTERM');
    assert.equal(signalName(17), 'SIGCHLD');
  });
  test("invalid signals use Docker's message", () => {
    for (const s of ['SIGFOO', 'FOO', '0', '65', '-1', '', 'SIG', 'TERM1']) {
      throwsWith(() => parseSignal(s), InvalidParameterError, `invalid signal: ${s}`);
    }
    throwsWith(() => parseSignal('__proto__'), InvalidParameterError, 'invalid signal: __proto__');
  });
});

// =============================================================================================
describe('image spec types', () => {
  test('media types and a typed image config', () => {
    assert.equal(MediaTypes.OCI_MANIFEST, 'application/vnd.oci.image.manifest.v1+json');
    assert.equal(MediaTypes.DOCKER_MANIFEST, 'application/vnd.docker.distribution.manifest.v2+json');
    assert.ok(MANIFEST_MEDIA_TYPES.includes(MediaTypes.DOCKER_MANIFEST));
    assert.ok(INDEX_MEDIA_TYPES.includes(MediaTypes.OCI_INDEX));
    assert.ok(!INDEX_MEDIA_TYPES.includes(MediaTypes.OCI_MANIFEST));
    const cfg: ImageConfig = {
      architecture: 'amd64',
      os: 'linux',
      config: { Cmd: ['sh'], Env: [DEFAULT_PATH_ENV] },
      rootfs: { type: 'layers', diff_ids: ['sha256:' + '0'.repeat(64)] },
      history: [{ created_by: 'ADD rootfs', empty_layer: false }],
    };
    assert.equal(JSON.parse(JSON.stringify(cfg)).rootfs.type, 'layers');
  });
});

// =============================================================================================
describe('defaults', () => {
  test("Docker's default capability set and its bitmask", () => {
    assert.deepEqual(
      [...DEFAULT_CAPABILITIES].sort(),
      [
        'CAP_AUDIT_WRITE', 'CAP_CHOWN', 'CAP_DAC_OVERRIDE', 'CAP_FOWNER', 'CAP_FSETID', 'CAP_KILL', 'CAP_MKNOD',
        'CAP_NET_BIND_SERVICE', 'CAP_NET_RAW', 'CAP_SETFCAP', 'CAP_SETGID', 'CAP_SETPCAP', 'CAP_SETUID', 'CAP_SYS_CHROOT',
      ].sort(),
    );
    // The well-known CapEff of a default Docker container.
    assert.equal(capabilityMask(DEFAULT_CAPABILITIES).toString(16), 'a80425fb');
    assert.deepEqual(capabilitiesFromMask(0xa80425fbn).sort(), [...DEFAULT_CAPABILITIES].sort());
    assert.equal(KNOWN_CAPABILITIES[24], 'CAP_SYS_RESOURCE');
    assert.equal(KNOWN_CAPABILITIES[40], 'CAP_CHECKPOINT_RESTORE');
  });
  test('masked and read-only paths', () => {
    const masked = defaultMaskedPaths();
    for (const p of ['/proc/kcore', '/proc/keys', '/proc/timer_list', '/sys/firmware', '/proc/acpi', '/proc/scsi']) {
      assert.ok(masked.includes(p), p);
    }
    assert.deepEqual(defaultReadonlyPaths(), ['/proc/bus', '/proc/fs', '/proc/irq', '/proc/sys', '/proc/sysrq-trigger']);
  });
});

// =============================================================================================
describe('capabilities', () => {
  const all = [...KNOWN_CAPABILITIES];
  test('no adds or drops: the default set', () => {
    assert.deepEqual(tweakCapabilities(null, null, false, all), [...DEFAULT_CAPABILITIES]);
  });
  test('drop ALL, then add one (lower case, no prefix)', () => {
    assert.deepEqual(tweakCapabilities(null, ['ALL'], false, all), []);
    assert.deepEqual(tweakCapabilities(['net_admin'], ['all'], false, all), ['CAP_NET_ADMIN']);
  });
  test('add and drop individual capabilities', () => {
    const caps = tweakCapabilities(['SYS_ADMIN', 'CAP_SYS_PTRACE'], ['chown', 'CAP_NET_RAW'], false, all);
    assert.ok(caps.includes('CAP_SYS_ADMIN') && caps.includes('CAP_SYS_PTRACE'));
    assert.ok(!caps.includes('CAP_CHOWN') && !caps.includes('CAP_NET_RAW'));
    assert.equal(caps.length, DEFAULT_CAPABILITIES.length - 2 + 2);
  });
  test('add ALL minus drops', () => {
    const caps = tweakCapabilities(['ALL'], ['MKNOD'], false, all);
    assert.equal(caps.length, all.length - 1);
    assert.ok(!caps.includes('CAP_MKNOD'));
  });
  test('privileged gets whatever the daemon has', () => {
    const daemon = daemonCapabilities();
    assert.deepEqual(tweakCapabilities(['FOO'], null, true), [...daemon]);
    const status = readFileSync('/proc/self/status', 'utf8');
    const eff = BigInt('0x' + /^CapEff:\s*([0-9a-f]+)/m.exec(status)![1]);
    assert.equal(capabilityMask(daemon), eff & ((1n << BigInt(KNOWN_CAPABILITIES.length)) - 1n));
  });
  test("unknown capability: Docker's message", () => {
    throwsWith(() => tweakCapabilities(['FOO'], null, false, all), InvalidParameterError, 'unknown capability: "CAP_FOO"');
    throwsWith(() => tweakCapabilities(null, ['cap_foo'], false, all), InvalidParameterError, 'unknown capability: "CAP_FOO"');
    throwsWith(() => normalizeCapabilities(['CAP_']), InvalidParameterError, 'unknown capability: "CAP_"');
  });
  test('a known capability the daemon lacks is refused', () => {
    const available = all.filter((c) => c !== 'CAP_SYS_RESOURCE');
    throwsWith(
      () => tweakCapabilities(['SYS_RESOURCE'], null, false, available),
      InvalidParameterError,
      'capability not supported by your kernel or not available in the current environment: "CAP_SYS_RESOURCE"',
    );
  });
});

// =============================================================================================
describe('seccomp', () => {
  const profile = loadSeccompProfile();
  const names = (s: ReturnType<typeof convertSeccompProfile>): Set<string> =>
    new Set((s?.syscalls ?? []).filter((r) => r.action === 'SCMP_ACT_ALLOW').flatMap((r) => r.names));

  test('the profile is read once and cached', () => {
    assert.equal(loadSeccompProfile(), profile);
    assert.ok((profile.syscalls ?? []).length > 10);
  });
  /** Names with an unconditional-looking rule of this action in the converted profile. */
  const withAction = (s: ReturnType<typeof convertSeccompProfile>, action: string): Set<string> =>
    new Set((s?.syscalls ?? []).filter((r) => r.action === action && !r.args?.length).flatMap((r) => r.names));
  // Syscalls this profile gates on a capability (an ALLOW rule when the cap is in the bounding
  // set, an ERRNO(EPERM) rule otherwise), so the result differs with the capability set.
  const GATED: [string, string][] = [
    ['CAP_SYS_MODULE', 'init_module'],
    ['CAP_SYS_TIME', 'settimeofday'],
    ['CAP_SYS_ADMIN', 'setns'],
    ['CAP_SYS_BOOT', 'reboot'],
  ];
  const gatedInProfile = GATED.filter(([cap, name]) =>
    (profile.syscalls ?? []).some((r) => r.names?.includes(name) && (r.includes?.caps?.includes(cap) || r.excludes?.caps?.includes(cap))),
  );

  test('default caps: default action kept, common syscalls allowed, cap-gated ones refused', () => {
    const s = convertSeccompProfile(profile, DEFAULT_CAPABILITIES, { arch: 'amd64' })!;
    assert.equal(s.defaultAction, profile.defaultAction);
    assert.equal(s.defaultErrnoRet, profile.defaultErrnoRet);
    const allowed = names(s);
    for (const n of ['read', 'write', 'openat', 'execve', 'exit_group']) assert.ok(allowed.has(n), n);
    assert.ok(gatedInProfile.length >= 2, 'the profile gates syscalls on capabilities');
    const errno = withAction(s, 'SCMP_ACT_ERRNO');
    for (const [, name] of gatedInProfile) assert.ok(errno.has(name), name);
    assert.deepEqual(s.architectures, ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86', 'SCMP_ARCH_X32']);
    // no Docker-only keys leak into the OCI object
    for (const r of s.syscalls!) {
      assert.deepEqual(Object.keys(r).filter((k) => !['names', 'action', 'errnoRet', 'args'].includes(k)), []);
    }
  });
  test('capability-gated rules follow the bounding set', () => {
    for (const [cap, name] of gatedInProfile) {
      const s = convertSeccompProfile(profile, [...DEFAULT_CAPABILITIES, cap], { arch: 'amd64' });
      assert.ok(!withAction(s, 'SCMP_ACT_ERRNO').has(name), `${name} still refused with ${cap}`);
      assert.ok(
        (s?.syscalls ?? []).some((r) => r.action === 'SCMP_ACT_ALLOW' && r.names.includes(name)),
        `${name} not allowed with ${cap}`,
      );
      const without = convertSeccompProfile(profile, DEFAULT_CAPABILITIES, { arch: 'amd64' });
      assert.notDeepEqual(s, without);
    }
  });
  test('arch selection', () => {
    const arm = convertSeccompProfile(profile, DEFAULT_CAPABILITIES, { arch: 'arm64' })!;
    assert.deepEqual(arm.architectures, ['SCMP_ARCH_AARCH64', 'SCMP_ARCH_ARM']);
    if (process.arch === 'x64') assert.equal(nativeArch(), 'amd64');
  });
  test('includes/excludes by caps, arches and minKernel on a synthetic profile', () => {
    const p: DockerSeccompProfile = {
      defaultAction: 'SCMP_ACT_ERRNO',
      defaultErrnoRet: 1,
      archMap: [{ architecture: 'SCMP_ARCH_X86_64', subArchitectures: ['SCMP_ARCH_X86'] }],
      syscalls: [
        { names: ['a'], action: 'SCMP_ACT_ALLOW' },
        { names: ['b'], action: 'SCMP_ACT_ALLOW', includes: { caps: ['CAP_X', 'CAP_Y'] } },
        { names: ['c'], action: 'SCMP_ACT_ALLOW', excludes: { caps: ['CAP_X'] } },
        { names: ['d'], action: 'SCMP_ACT_ALLOW', includes: { arches: ['arm64'] } },
        { names: ['e'], action: 'SCMP_ACT_ALLOW', excludes: { arches: ['amd64'] } },
        { names: ['f'], action: 'SCMP_ACT_ALLOW', includes: { minKernel: '5.8' } },
        { names: ['g'], action: 'SCMP_ACT_ERRNO', errnoRet: 38, excludes: { minKernel: '5.8' } },
        { name: 'h', action: 'SCMP_ACT_ALLOW', args: [{ index: 0, value: 2080505856, valueTwo: 0, op: 'SCMP_CMP_MASKED_EQ' }] },
      ],
    };
    const conv = (caps: string[], kernel: { kernel: number; major: number }) =>
      convertSeccompProfile(p, caps, { arch: 'amd64', kernel })!;
    const s1 = conv(['CAP_X'], { kernel: 5, major: 4 });
    assert.deepEqual(s1.syscalls!.map((r) => r.names[0]), ['a', 'g', 'h']);
    assert.equal(s1.defaultErrnoRet, 1);
    assert.equal(s1.syscalls![1]!.errnoRet, 38);
    assert.deepEqual(s1.syscalls![2]!.args, [{ index: 0, value: 2080505856, valueTwo: 0, op: 'SCMP_CMP_MASKED_EQ' }]);
    const s2 = conv(['CAP_X', 'CAP_Y'], { kernel: 6, major: 1 });
    assert.deepEqual(s2.syscalls!.map((r) => r.names[0]), ['a', 'b', 'f', 'h']);
    const s3 = conv([], { kernel: 5, major: 8 });
    assert.deepEqual(s3.syscalls!.map((r) => r.names[0]), ['a', 'c', 'f', 'h']);
    assert.deepEqual(s3.architectures, ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86']);
  });
  test('empty profile means no seccomp; malformed profiles are refused', () => {
    assert.equal(convertSeccompProfile({ defaultAction: '', syscalls: [] }, []), undefined);
    throwsWith(() => parseSeccompProfile('{not json'), InvalidParameterError, /^Decoding seccomp profile failed/);
    throwsWith(() => parseSeccompProfile('{"defaultAction":"SCMP_ACT_NOPE"}'), InvalidParameterError, /unknown action/);
    throwsWith(
      () => convertSeccompProfile({ defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ name: 'a', names: ['b'], action: 'SCMP_ACT_ALLOW' }] }, []),
      InvalidParameterError,
      /both 'name' and 'names'/,
    );
    throwsWith(
      () => convertSeccompProfile({ defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['a'], action: 'SCMP_ACT_ALLOW', includes: { minKernel: 'x' } }] }, []),
      InvalidParameterError,
      /invalid kernel version/,
    );
  });
  test('host kernel version parsing', () => {
    assert.deepEqual(hostKernelVersion('6.1.0-18-amd64'), { kernel: 6, major: 1 });
    assert.deepEqual(hostKernelVersion('5.15.0'), { kernel: 5, major: 15 });
    assert.throws(() => hostKernelVersion('garbage'), SystemError);
  });
});

// =============================================================================================
describe('user resolution', () => {
  const r = (spec: string, groupAdd: string[] = []) => resolveUserFromFiles(spec, PASSWD, GROUP, groupAdd);
  test('"" is root', () => {
    assert.deepEqual(r(''), { uid: 0, gid: 0, additionalGids: [0, 10], home: '/root', username: 'root' });
  });
  test('by name: primary gid + supplementary groups + HOME', () => {
    assert.deepEqual(r('app'), { uid: 1000, gid: 1000, additionalGids: [1000, 10, 29], home: '/home/app', username: 'app' });
  });
  test('by uid', () => {
    assert.deepEqual(r('1000'), { uid: 1000, gid: 1000, additionalGids: [1000, 10, 29], home: '/home/app', username: 'app' });
  });
  test('name:group and uid:gid', () => {
    assert.deepEqual(r('app:staff'), { uid: 1000, gid: 50, additionalGids: [50], home: '/home/app', username: 'app' });
    assert.deepEqual(r('1000:29'), { uid: 1000, gid: 29, additionalGids: [29], home: '/home/app', username: 'app' });
    assert.deepEqual(r('daemon:0'), { uid: 1, gid: 0, additionalGids: [0], home: '/usr/sbin', username: 'daemon' });
  });
  test('numeric ids not in passwd/group are allowed', () => {
    assert.deepEqual(r('4242'), { uid: 4242, gid: 0, additionalGids: [0], home: '/' });
    assert.deepEqual(r('4242:4343'), { uid: 4242, gid: 4343, additionalGids: [4343], home: '/' });
    assert.deepEqual(resolveUserFromFiles('123:456', undefined, undefined), { uid: 123, gid: 456, additionalGids: [456], home: '/' });
  });
  test('empty home falls back to /', () => {
    assert.equal(r('nohome').home, '/');
  });
  test('GroupAdd by name and number', () => {
    assert.deepEqual(r('app', ['staff', '4444', '10']).additionalGids, [1000, 10, 29, 50, 4444]);
  });
  test("unknown names: Docker's messages", () => {
    throwsWith(() => r('xyz'), InvalidParameterError, 'unable to find user xyz: no matching entries in passwd file');
    throwsWith(
      () => resolveUserFromFiles('xyz', undefined, undefined),
      InvalidParameterError,
      'unable to find user xyz: no matching entries in passwd file',
    );
    throwsWith(() => r('app:nogrp'), InvalidParameterError, 'unable to find group nogrp: no matching entries in group file');
    throwsWith(() => r('app', ['nogrp']), InvalidParameterError, 'unable to find group nogrp: no matching entries in group file');
    throwsWith(() => r('99999999999'), InvalidParameterError, 'uids and gids must be in range 0-2147483647');
    throwsWith(() => r('-1'), InvalidParameterError, 'uids and gids must be in range 0-2147483647');
  });

  describe('reading the untrusted rootfs', () => {
    let dir: string;
    let rootfs: string;
    before(() => {
      dir = mkdtempSync(join(SCRATCH, 'userfs-'));
      rootfs = makeRootfs(dir);
      // a host file that must never be read through the container's symlinks
      mkdirSync(join(dir, 'outside'));
      writeFileSync(join(dir, 'outside/passwd'), 'evil:x:0:0::/evil:/bin/sh\n');
    });
    test('reads the rootfs passwd/group', () => {
      assert.deepEqual(resolveUser(rootfs, 'app', ['audio']), {
        uid: 1000, gid: 1000, additionalGids: [1000, 10, 29], home: '/home/app', username: 'app',
      });
    });
    test('relative symlink climbing out stays inside the rootfs', () => {
      const root2 = join(dir, 'r2');
      mkdirSync(join(root2, 'etc'), { recursive: true });
      symlinkSync('../../outside/passwd', join(root2, 'etc/passwd'));
      assert.equal(resolveInRoot(root2, '/etc/passwd'), join(dir, 'r2/outside/passwd'));
      assert.equal(readFileInRoot(root2, '/etc/passwd'), undefined);
      throwsWith(() => resolveUser(root2, 'evil'), InvalidParameterError, 'unable to find user evil: no matching entries in passwd file');
    });
    test('absolute symlinks (file and directory) resolve against the rootfs', () => {
      const root3 = join(dir, 'r3');
      mkdirSync(join(root3, 'real'), { recursive: true });
      writeFileSync(join(root3, 'real/passwd'), 'inner:x:7:7::/in:/bin/sh\n');
      symlinkSync(join(dir, 'outside'), join(root3, 'etc')); // absolute host path: means <root3>/<that path>
      assert.equal(readFileInRoot(root3, '/etc/passwd'), undefined);
      rmSync(join(root3, 'etc'));
      symlinkSync('/real', join(root3, 'etc'));
      assert.equal(resolveUser(root3, 'inner').uid, 7);
    });
    test('symlink loops, FIFOs and directories are not read', () => {
      const root4 = join(dir, 'r4');
      mkdirSync(join(root4, 'etc'), { recursive: true });
      symlinkSync('/etc/passwd', join(root4, 'etc/passwd'));
      throwsWith(() => readFileInRoot(root4, '/etc/passwd'), InvalidParameterError, /too many levels of symbolic links/);
      rmSync(join(root4, 'etc/passwd'));
      assert.equal(spawnSync('mkfifo', [join(root4, 'etc/passwd')]).status, 0);
      assert.equal(readFileInRoot(root4, '/etc/passwd'), undefined); // must not block
      mkdirSync(join(root4, 'etc/group'));
      assert.equal(readFileInRoot(root4, '/etc/group'), undefined);
      assert.deepEqual(resolveUser(root4, '5:6'), { uid: 5, gid: 6, additionalGids: [6], home: '/' });
    });
  });
});

// =============================================================================================
describe('etc files', () => {
  test('/etc/hostname', () => {
    assert.equal(hostnameFileContent('abc'), 'abc\n');
  });
  test('/etc/hosts: Docker layout, extra hosts, own IP with domain', () => {
    assert.equal(
      hostsFileContent({ hostname: 'web', domainname: 'example.com', ips: ['172.17.0.2'], extraHosts: ['db:10.0.0.5', 'v6:::FFFF:1.2.3.4', 'six:2001:DB8::0:1'] }),
      '127.0.0.1\tlocalhost\n' +
        '::1\tlocalhost ip6-localhost ip6-loopback\n' +
        'fe00::\tip6-localnet\n' +
        'ff00::\tip6-mcastprefix\n' +
        'ff02::1\tip6-allnodes\n' +
        'ff02::2\tip6-allrouters\n' +
        '10.0.0.5\tdb\n' +
        '1.2.3.4\tv6\n' +
        '2001:db8::1\tsix\n' +
        '172.17.0.2\tweb.example.com web\n',
    );
  });
  test('/etc/hosts without IPv6 and without a known IP', () => {
    assert.equal(hostsFileContent({ hostname: 'h', ipv6: false, extraHosts: ['a:::1', 'b:1.1.1.1'] }), '127.0.0.1\tlocalhost\n1.1.1.1\tb\n');
  });
  test('/etc/hosts: host network copies the host file unless there are extra hosts', () => {
    const f = join(SCRATCH, 'hosts-src');
    writeFileSync(f, '127.0.0.1 myhost\n');
    assert.equal(hostsFileContent({ hostname: 'h', networkMode: 'host', hostHostsPath: f }), '127.0.0.1 myhost\n');
    assert.match(hostsFileContent({ hostname: 'h', networkMode: 'host', hostHostsPath: f, extraHosts: ['x:1.2.3.4'] }), /1\.2\.3\.4\tx\n$/);
  });
  test('bad ExtraHosts', () => {
    throwsWith(() => parseExtraHosts(['nocolon']), InvalidParameterError, 'bad format for add-host: "nocolon"');
    throwsWith(() => parseExtraHosts([':1.2.3.4']), InvalidParameterError, 'bad format for add-host: ":1.2.3.4"');
    throwsWith(() => parseExtraHosts(['a:1.2.3']), InvalidParameterError, 'invalid IP address in add-host: "1.2.3"');
    throwsWith(() => parseExtraHosts(['gw:host-gateway']), InvalidParameterError, 'unable to derive the IP value for host-gateway');
    assert.deepEqual(parseExtraHosts(['gw:host-gateway'], ['10.0.0.1']), [{ ip: '10.0.0.1', hosts: 'gw' }]);
  });
  test('canonical IPs', () => {
    assert.equal(canonicalIP('fe00::0'), 'fe00::');
    assert.equal(canonicalIP('2001:0db8:0000:0000:0000:0000:0000:0001'), '2001:db8::1');
    assert.equal(canonicalIP('1:0:1:0:1:0:1:0'), '1:0:1:0:1:0:1:0');
    assert.equal(canonicalIP('::'), '::');
    assert.equal(canonicalIP('nope'), undefined);
  });

  const HOST = 'nameserver 127.0.0.53\nnameserver 10.1.1.1\nnameserver ::1\nnameserver 2001:db8::53\nsearch corp.example\noptions ndots:2 edns0\nsortlist 10.0.0.0\n';
  const HEADER =
    '# Generated by Docker Engine.\n# This file can be edited; Docker Engine will not make further changes once it\n# has been modified.\n\n';
  test('resolv.conf on a private network: loopback (and IPv6) nameservers dropped', () => {
    assert.equal(
      resolvConfContent({ hostContent: HOST, hostPath: '/etc/resolv.conf' }),
      HEADER +
        'nameserver 10.1.1.1\nsearch corp.example\noptions ndots:2 edns0\nsortlist 10.0.0.0\n\n' +
        "# Based on host file: '/etc/resolv.conf' (legacy)\n# Overrides: []\n# Option ndots from: host\n",
    );
  });
  test('resolv.conf: only loopback nameservers → Docker defaults', () => {
    const out = resolvConfContent({ hostContent: 'nameserver 127.0.0.1\nnameserver ::1\n', hostPath: '/etc/resolv.conf', networkMode: 'bridge' });
    assert.equal(
      out,
      HEADER + 'nameserver 8.8.8.8\nnameserver 8.8.4.4\n\n' +
        "# Based on host file: '/etc/resolv.conf' (legacy)\n# Used default nameservers.\n# Overrides: []\n",
    );
    const v6 = resolvConfContent({ hostContent: '', hostPath: '/x', ipv6: true });
    assert.match(v6, /nameserver 2001:4860:4860::8888\nnameserver 2001:4860:4860::8844\n/);
  });
  test('resolv.conf with host (and none) network keeps the host nameservers', () => {
    for (const networkMode of ['host', 'none']) {
      const out = resolvConfContent({ hostContent: HOST, hostPath: '/etc/resolv.conf', networkMode });
      assert.match(out, /^# Generated[^]*\n\nnameserver 127\.0\.0\.53\nnameserver 10\.1\.1\.1\nnameserver ::1\nnameserver 2001:db8::53\n/);
      assert.match(out, /# Based on host file: '\/etc\/resolv.conf'\n/);
    }
  });
  test('resolv.conf overrides: Dns, DnsSearch, DnsOptions', () => {
    const out = resolvConfContent({
      hostContent: HOST,
      hostPath: '/etc/resolv.conf',
      dns: ['127.0.0.1', '1.1.1.1'],
      dnsSearch: ['a.example', '.'],
      dnsOptions: ['ndots:5', 'timeout:1'],
    });
    assert.equal(
      out,
      HEADER +
        'nameserver 127.0.0.1\nnameserver 1.1.1.1\nsearch a.example\noptions ndots:5 timeout:1\nsortlist 10.0.0.0\n\n' +
        "# Based on host file: '/etc/resolv.conf' (legacy)\n# Overrides: [nameservers search options]\n# Option ndots from: override\n",
    );
    throwsWith(() => resolvConfContent({ hostContent: '', dns: ['not-an-ip'] }), InvalidParameterError, 'not-an-ip is not an ip address');
  });
  test('resolv.conf from this host (the real file, nothing contacted)', () => {
    const out = etcFilesContent({ hostname: 'x' }).resolvConf;
    assert.match(out, /^# Generated by Docker Engine\./);
    assert.match(out, /\nnameserver \S+\n/);
    assert.doesNotMatch(out, /\nnameserver 127\./);
  });
});

// =============================================================================================
describe('rlimits', () => {
  const hard = daemonHardLimits('Limit Soft Limit Hard Limit Units\nMax open files            1024                 20000                files\nMax processes             unlimited            unlimited            processes\nMax core file size        0                    unlimited            bytes\n');
  test('reads the daemon hard limits', () => {
    assert.equal(hard.get('RLIMIT_NOFILE'), 20000n);
    assert.equal(hard.get('RLIMIT_NPROC'), RLIM_INFINITY);
    const real = daemonHardLimits();
    assert.ok(real.get('RLIMIT_NOFILE')! > 0n);
  });
  test('clamps to the daemon hard limit, including user values', () => {
    assert.deepEqual(buildRlimits([{ Name: 'nofile', Soft: 1048576, Hard: 1048576 }], [], hard), [{ type: 'RLIMIT_NOFILE', soft: 20000, hard: 20000 }]);
    assert.deepEqual(buildRlimits([{ Name: 'nofile', Soft: 1024, Hard: 65536 }], [], hard), [{ type: 'RLIMIT_NOFILE', soft: 1024, hard: 20000 }]);
    assert.deepEqual(buildRlimits([{ Name: 'nofile', Soft: -1, Hard: -1 }], [], hard), [{ type: 'RLIMIT_NOFILE', soft: 20000, hard: 20000 }]);
  });
  test('daemon defaults merge under user ulimits', () => {
    const out = buildRlimits([{ Name: 'nofile', Soft: 100, Hard: 200 }], [{ Name: 'nofile', Soft: 1, Hard: 2 }, { Name: 'core', Soft: 0, Hard: 0 }], hard);
    assert.deepEqual(out, [{ type: 'RLIMIT_NOFILE', soft: 100, hard: 200 }, { type: 'RLIMIT_CORE', soft: 0, hard: 0 }]);
  });
  test('unlimited survives exactly into JSON', () => {
    const out = buildRlimits([{ Name: 'nproc', Soft: -1, Hard: -1 }], [], hard);
    assert.equal(out[0]!.hard, RLIM_INFINITY);
    const json = specToJSON({ ociVersion: '1.0.2', process: { user: { uid: 0, gid: 0 }, cwd: '/', rlimits: out } });
    assert.match(json, /"rlimits":\[\{"type":"RLIMIT_NPROC","soft":18446744073709551615,"hard":18446744073709551615\}\]/);
  });
  test("bad ulimits: Docker's messages", () => {
    throwsWith(() => buildRlimits([{ Name: 'nofiles', Soft: 1, Hard: 1 }], [], hard), InvalidParameterError, 'invalid ulimit type: nofiles');
    throwsWith(
      () => buildRlimits([{ Name: 'nofile', Soft: 10, Hard: 5 }], [], hard),
      InvalidParameterError,
      'ulimit soft limit must be less than or equal to hard limit: 10 > 5',
    );
    throwsWith(
      () => buildRlimits([{ Name: 'nofile', Soft: -1, Hard: 5 }], [], hard),
      InvalidParameterError,
      'ulimit soft limit must be less than or equal to hard limit: soft: -1 (unlimited), hard: 5',
    );
    throwsWith(() => buildRlimits([{ Name: 'nofile', Soft: -7, Hard: 5 }], [], hard), InvalidParameterError, /invalid ulimit argument/);
  });
});

// =============================================================================================
describe('security options', () => {
  test('parsing', () => {
    assert.equal(parseSecurityOpts(['no-new-privileges']).noNewPrivileges, true);
    assert.equal(parseSecurityOpts(['no-new-privileges=true']).noNewPrivileges, true);
    assert.equal(parseSecurityOpts(['no-new-privileges:true', 'no-new-privileges=false']).noNewPrivileges, false);
    assert.equal(parseSecurityOpts(['seccomp=unconfined']).seccomp, 'unconfined');
    assert.equal(parseSecurityOpts(['seccomp:unconfined']).seccomp, 'unconfined');
    assert.equal(parseSecurityOpts(['seccomp={"a":"b=c"}']).seccomp, '{"a":"b=c"}');
    assert.equal(parseSecurityOpts(['apparmor=unconfined', 'label=disable']).apparmor, 'unconfined');
  });
  test("bad options: Docker's messages", () => {
    throwsWith(() => parseSecurityOpts(['foo']), InvalidParameterError, 'invalid --security-opt 1: "foo"');
    throwsWith(() => parseSecurityOpts(['foo=bar']), InvalidParameterError, 'invalid --security-opt 2: "foo=bar"');
    throwsWith(() => parseSecurityOpts(['no-new-privileges=maybe']), InvalidParameterError, 'invalid --security-opt 2: "no-new-privileges=maybe"');
  });
});

// =============================================================================================
describe('buildSpec', () => {
  const nsTypes = (s: Spec) => s.linux!.namespaces!.map((n) => n.type).sort();
  const mount = (s: Spec, dest: string) => s.mounts!.find((m) => m.destination === dest);

  test("defaults: Docker's spec", () => {
    const s = buildSpec(baseInput());
    assert.equal(s.ociVersion, '1.0.2');
    assert.deepEqual(s.root, { path: '/var/lib/berth/rootfs/c1', readonly: false });
    assert.equal(s.hostname, 'c1');
    assert.equal(s.process!.terminal, false);
    assert.deepEqual(s.process!.args, ['sh', '-c', 'true']);
    assert.deepEqual(s.process!.env, [DEFAULT_PATH_ENV, 'HOSTNAME=c1', 'HOME=/root']);
    assert.deepEqual(s.process!.user, { uid: 0, gid: 0, additionalGids: [0] });
    assert.equal(s.process!.noNewPrivileges, false);
    assert.equal(s.process!.oomScoreAdj, 0);
    assert.equal(s.process!.rlimits, undefined);
    const caps = s.process!.capabilities!;
    assert.deepEqual(caps.bounding, [...DEFAULT_CAPABILITIES]);
    assert.deepEqual(caps.effective, caps.bounding);
    assert.deepEqual(caps.permitted, caps.bounding);
    assert.equal(caps.inheritable, undefined);
    assert.equal(caps.ambient, undefined);
    const expectNs = ['ipc', 'mount', 'network', 'pid', 'uts', ...(isCgroupV2() ? ['cgroup'] : [])].sort();
    assert.deepEqual(nsTypes(s), expectNs);
    assert.deepEqual(s.linux!.maskedPaths, defaultMaskedPaths());
    assert.deepEqual(s.linux!.readonlyPaths, defaultReadonlyPaths());
    assert.equal(s.linux!.cgroupsPath, '/berth/c1');
    assert.deepEqual(s.linux!.devices, []);
    assert.equal(s.linux!.resources!.devices![0]!.allow, false);
    assert.deepEqual(s.linux!.resources!.devices!.at(-1), { allow: false, type: 'c', major: 10, minor: 229, access: 'rwm' });
    assert.ok(s.linux!.seccomp && s.linux!.seccomp.syscalls!.length > 0);
    assert.deepEqual(
      s.mounts!.map((m) => m.destination),
      ['/proc', '/dev', '/dev/pts', '/sys', '/sys/fs/cgroup', '/dev/mqueue', '/dev/shm', '/etc/resolv.conf', '/etc/hostname', '/etc/hosts'],
    );
    assert.deepEqual(mount(s, '/dev/shm')!.options, ['nosuid', 'noexec', 'nodev', 'mode=1777', `size=${DEFAULT_SHM_SIZE}`]);
    assert.equal(DEFAULT_SHM_SIZE, 67108864);
    assert.ok(mount(s, '/sys')!.options!.includes('ro'));
    assert.deepEqual(mount(s, '/etc/hosts'), { destination: '/etc/hosts', type: 'bind', source: '/run/c1/hosts', options: ['rbind', 'rprivate'] });
    if (existsSync('/proc/sys/net/ipv4/ip_unprivileged_port_start')) {
      assert.equal(s.linux!.sysctl!['net.ipv4.ip_unprivileged_port_start'], '0');
      assert.equal(s.linux!.sysctl!['net.ipv4.ping_group_range'], '0 2147483647');
    }
    assert.doesNotThrow(() => JSON.parse(specToJSON(s)));
  });

  test('tty adds TERM and the console size; HOME is kept when set', () => {
    const s = buildSpec(baseInput({ tty: true, env: ['HOME=/x'], hostConfig: { ConsoleSize: [24, 80] } }));
    assert.equal(s.process!.terminal, true);
    assert.deepEqual(s.process!.env, ['HOME=/x', 'TERM=xterm']);
    assert.deepEqual(s.process!.consoleSize, { height: 24, width: 80 });
  });

  test('--privileged', () => {
    const s = buildSpec(baseInput({ hostConfig: { Privileged: true } }));
    // The expected set is read here from /proc, not from the code under test (daemonCapabilities).
    assert.equal(capabilityMask(s.process!.capabilities!.bounding!), ownCapEff() & ((1n << BigInt(KNOWN_CAPABILITIES.length)) - 1n));
    assert.deepEqual(s.linux!.maskedPaths, []);
    assert.deepEqual(s.linux!.readonlyPaths, []);
    assert.equal(s.linux!.seccomp, undefined);
    assert.ok(!mount(s, '/sys')!.options!.includes('ro'));
    assert.ok(!mount(s, '/sys/fs/cgroup')!.options!.includes('ro'));
    assert.deepEqual(s.linux!.resources!.devices, [{ allow: true, access: 'rwm' }]);
    const nul = s.linux!.devices!.find((d) => d.path === '/dev/null');
    assert.deepEqual({ ...nul, fileMode: undefined, uid: undefined, gid: undefined }, { path: '/dev/null', type: 'c', major: 1, minor: 3, fileMode: undefined, uid: undefined, gid: undefined });
    assert.ok(!s.linux!.devices!.some((d) => d.path.startsWith('/dev/pts/') || d.path === '/dev/console'));
  });

  test('seccomp=unconfined, a custom profile, and no-new-privileges', () => {
    assert.equal(buildSpec(baseInput({ hostConfig: { SecurityOpt: ['seccomp=unconfined'] } })).linux!.seccomp, undefined);
    const custom = JSON.stringify({ defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['reboot'], action: 'SCMP_ACT_ERRNO', errnoRet: 1 }] });
    assert.deepEqual(buildSpec(baseInput({ hostConfig: { SecurityOpt: [`seccomp=${custom}`] } })).linux!.seccomp, {
      defaultAction: 'SCMP_ACT_ALLOW',
      syscalls: [{ names: ['reboot'], action: 'SCMP_ACT_ERRNO', errnoRet: 1 }],
    });
    assert.equal(buildSpec(baseInput({ hostConfig: { SecurityOpt: ['no-new-privileges'] } })).process!.noNewPrivileges, true);
    throwsWith(() => buildSpec(baseInput({ hostConfig: { SecurityOpt: ['bogus'] } })), InvalidParameterError, 'invalid --security-opt 1: "bogus"');
  });

  test('the seccomp rules follow CapAdd', () => {
    const refused = (s: Spec) => new Set(s.linux!.seccomp!.syscalls!.filter((r) => r.action === 'SCMP_ACT_ERRNO' && !r.args?.length).flatMap((r) => r.names));
    assert.ok(refused(buildSpec(baseInput())).has('init_module'));
    const s = buildSpec(baseInput({ hostConfig: { CapAdd: ['SYS_MODULE'] } }));
    assert.ok(!refused(s).has('init_module'));
    assert.ok(s.process!.capabilities!.bounding!.includes('CAP_SYS_MODULE'));
  });

  test('host namespaces and cgroupns', () => {
    const s = buildSpec(baseInput({ hostConfig: { NetworkMode: 'host', PidMode: 'host', IpcMode: 'host', UTSMode: 'host', CgroupnsMode: 'private' } }));
    assert.deepEqual(nsTypes(s), ['cgroup', 'mount']);
    assert.equal(s.hostname, undefined);
    assert.deepEqual(mount(s, '/dev/shm'), { destination: '/dev/shm', type: 'bind', source: '/dev/shm', options: ['rbind', 'rprivate'] });
    assert.equal(s.linux!.sysctl?.['net.ipv4.ping_group_range'], undefined);
    assert.deepEqual(nsTypes(buildSpec(baseInput({ hostConfig: { CgroupnsMode: 'host', NetworkMode: 'none' } }))), ['ipc', 'mount', 'network', 'pid', 'uts']);
    for (const nm of ['none', 'bridge', 'default', 'container:abc', 'mynet']) {
      const n = buildSpec(baseInput({ hostConfig: { NetworkMode: nm } })).linux!.namespaces!.find((x) => x.type === 'network');
      assert.deepEqual(n, { type: 'network' }, nm);
    }
    const joined = buildSpec(baseInput({ hostConfig: { NetworkMode: 'container:abc' }, namespacePaths: { network: '/proc/42/ns/net' } }));
    assert.deepEqual(joined.linux!.namespaces!.find((x) => x.type === 'network'), { type: 'network', path: '/proc/42/ns/net' });
    assert.throws(() => buildSpec(baseInput({ hostConfig: { PidMode: 'container:abc' } })), NotImplementedError);
    const ipcNone = buildSpec(baseInput({ hostConfig: { IpcMode: 'none' } }));
    assert.equal(mount(ipcNone, '/dev/shm'), undefined);
  });

  test('invalid modes', () => {
    throwsWith(() => buildSpec(baseInput({ hostConfig: { IpcMode: 'bogus' } })), InvalidParameterError, 'invalid IPC mode: bogus');
    throwsWith(() => buildSpec(baseInput({ hostConfig: { PidMode: 'bogus' } })), InvalidParameterError, 'invalid PID mode: bogus');
    throwsWith(() => buildSpec(baseInput({ hostConfig: { UTSMode: 'bogus' } })), InvalidParameterError, 'invalid UTS mode: bogus');
    throwsWith(
      () => buildSpec(baseInput({ hostConfig: { CgroupnsMode: 'bogus' as 'host' } })),
      InvalidParameterError,
      'invalid cgroup namespace mode: bogus',
    );
  });

  test('--read-only', () => {
    const s = buildSpec(baseInput({ hostConfig: { ReadonlyRootfs: true, Tmpfs: { '/run': '' } } }));
    assert.equal(s.root!.readonly, true);
    assert.ok(mount(s, '/sys')!.options!.includes('ro'));
    assert.ok(!mount(s, '/proc')!.options!.includes('ro'));
    assert.ok(!mount(s, '/dev/shm')!.options!.includes('ro'));
    assert.deepEqual(mount(s, '/etc/hosts')!.options, ['rbind', 'ro', 'rprivate']);
    assert.ok(!mount(s, '/run')!.options!.includes('ro'));
  });

  test('ShmSize, masked/readonly path overrides', () => {
    const s = buildSpec(baseInput({ hostConfig: { ShmSize: 1048576, MaskedPaths: ['/proc/x'], ReadonlyPaths: [] } }));
    assert.ok(mount(s, '/dev/shm')!.options!.includes('size=1048576'));
    assert.deepEqual(s.linux!.maskedPaths, ['/proc/x']);
    assert.deepEqual(s.linux!.readonlyPaths, []);
    throwsWith(() => buildSpec(baseInput({ hostConfig: { ShmSize: -1 } })), InvalidParameterError, 'SHM size can not be less than 0');
  });

  test('--init', () => {
    const s = buildSpec(baseInput({ hostConfig: { Init: true }, initPath: '/usr/bin/tini-static' }));
    assert.deepEqual(s.process!.args, ['/sbin/docker-init', '--', 'sh', '-c', 'true']);
    assert.deepEqual(mount(s, '/sbin/docker-init'), { destination: '/sbin/docker-init', type: 'bind', source: '/usr/bin/tini-static', options: ['bind', 'ro'] });
    const hostPid = buildSpec(baseInput({ hostConfig: { Init: true, PidMode: 'host' }, initPath: '/usr/bin/tini-static' }));
    assert.deepEqual(hostPid.process!.args, ['sh', '-c', 'true']);
    assert.throws(() => buildSpec(baseInput({ hostConfig: { Init: true } })), SystemError);
  });

  test('resources', () => {
    const s = buildSpec(
      baseInput({
        hostConfig: {
          Memory: 64 << 20,
          MemoryReservation: 32 << 20,
          NanoCpus: 500_000_000,
          CpuShares: 512,
          CpusetCpus: '0',
          PidsLimit: 100,
          OomKillDisable: true,
          OomScoreAdj: 500,
          MemorySwappiness: 10,
          BlkioWeight: 300,
        },
      }),
    );
    const r = s.linux!.resources!;
    assert.equal(r.memory!.limit, 64 << 20);
    assert.equal(r.memory!.reservation, 32 << 20);
    assert.equal(r.memory!.disableOOMKiller, true);
    assert.equal(r.memory!.swappiness, 10);
    // Docker: swap defaults to 2x memory where the kernel can limit swap (v1: memsw accounting)
    if (!isCgroupV2()) {
      const swapAccounting = existsSync('/sys/fs/cgroup/memory/memory.memsw.limit_in_bytes');
      assert.equal(r.memory!.swap, swapAccounting ? 128 << 20 : undefined);
    }
    assert.deepEqual(r.cpu, { shares: 512, cpus: '0', period: 100000, quota: 50000 });
    assert.deepEqual(r.pids, { limit: 100 });
    // Like Docker, a weight the kernel cannot set (no blkio.weight without BFQ) is dropped at create.
    assert.deepEqual(r.blockIO, HOST.blkio.weight ? { weight: 300 } : undefined);
    assert.equal(s.process!.oomScoreAdj, 500);
    // 0 and -1 mean unlimited to Docker: no pids limit in the spec at all (crun writes -1 literally, which cgroup v1 refuses).
    assert.equal(buildSpec(baseInput({ hostConfig: { PidsLimit: 0 } })).linux!.resources!.pids, undefined);
    assert.equal(buildSpec(baseInput({ hostConfig: { PidsLimit: -1 } })).linux!.resources!.pids, undefined);
    assert.deepEqual(buildSpec(baseInput({ hostConfig: { CpuPeriod: 50000, CpuQuota: 25000 } })).linux!.resources!.cpu, { period: 50000, quota: 25000 });
    const noswap = buildSpec(baseInput({ hostConfig: { Memory: 64 << 20, MemorySwap: -1 } }));
    assert.equal(noswap.linux!.resources!.memory!.swap, undefined);
  });

  test("resource validation: Docker's messages", () => {
    const bad: [HostConfig, string][] = [
      [{ Memory: 1024 }, 'Minimum memory limit allowed is 6MB'],
      [{ Memory: 64 << 20, MemorySwap: 32 << 20 }, 'Minimum memoryswap limit should be larger than memory limit, see usage'],
      [{ MemorySwap: 64 << 20 }, 'You should always set the Memory limit when using Memoryswap limit, see usage'],
      [{ Memory: 16 << 20, MemoryReservation: 32 << 20 }, 'Minimum memory limit can not be less than memory reservation limit, see usage'],
      [{ MemorySwappiness: 101 }, 'Invalid value: 101, valid memory swappiness range is 0-100'],
      [{ NanoCpus: 1e9, CpuPeriod: 100000 }, 'Conflicting options: Nano CPUs and CPU Period cannot both be set'],
      [{ NanoCpus: 1e9, CpuQuota: 100000 }, 'Conflicting options: Nano CPUs and CPU Quota cannot both be set'],
      [{ CpuPeriod: 10 }, 'CPU cfs period can not be less than 1ms (i.e. 1000) or larger than 1s (i.e. 1000000)'],
      [{ CpuQuota: 10 }, 'CPU cfs quota can not be less than 1ms (i.e. 1000)'],
      [{ CpuShares: -1 }, 'invalid CPU shares (-1): value must be a positive integer'],
      [{ OomScoreAdj: 1001 }, 'Invalid value 1001, range for oom score adj is [-1000, 1000]'],
      [{ CpusetCpus: 'x' }, 'Invalid value x for cpuset cpus'],
      [{ DeviceCgroupRules: ['c 1:3'] }, "invalid device cgroup rule format: 'c 1:3'"],
    ];
    for (const [hc, msg] of bad) throwsWith(() => validateHostConfig(hc), InvalidParameterError, msg);
    const weighted = { ...HOST, blkio: { ...HOST.blkio, weight: true } };
    throwsWith(() => validateWithHost({ BlkioWeight: 5 }, weighted), InvalidParameterError, 'Range of blkio weight is from 10 to 1000');
    assert.deepEqual(validateWithHost({ BlkioWeight: 5 }, { ...HOST, blkio: { ...HOST.blkio, weight: false } }), [
      'Your kernel does not support Block I/O weight or the cgroup is not mounted. Weight discarded.',
    ]);
    throwsWith(() => validateHostConfig({ NanoCpus: 1e15 }), InvalidParameterError, /^range of CPUs is from 0\.01 to \d+\.00, as there are only \d+ CPUs available$/);
    throwsWith(() => validateHostConfig({ CpusetCpus: '0-4096' }), InvalidParameterError, /^Requested CPUs are not available - requested 0-4096, available: 0/);
  });

  test('devices and device cgroup rules', () => {
    const s = buildSpec(
      baseInput({
        hostConfig: {
          Devices: [{ PathOnHost: '/dev/null', PathInContainer: '/dev/mynull', CgroupPermissions: 'rw' }],
          DeviceCgroupRules: ['c 42:* rmw', 'a *:* r'],
        },
      }),
    );
    const d = s.linux!.devices!.find((x) => x.path === '/dev/mynull')!;
    assert.equal(d.type, 'c');
    assert.equal(d.major, 1);
    assert.equal(d.minor, 3);
    const rules = s.linux!.resources!.devices!;
    assert.deepEqual(rules.slice(-3), [
      { allow: true, type: 'c', major: 1, minor: 3, access: 'rw' },
      { allow: true, type: 'c', major: 42, minor: -1, access: 'rmw' },
      { allow: true, type: 'a', major: -1, minor: -1, access: 'r' },
    ]);
    throwsWith(
      () => buildSpec(baseInput({ hostConfig: { Devices: [{ PathOnHost: '/dev/nope', PathInContainer: '/dev/nope', CgroupPermissions: 'rwm' }] } })),
      InvalidParameterError,
      'error gathering device information while adding custom device "/dev/nope": no such file or directory',
    );
    throwsWith(
      () => buildSpec(baseInput({ hostConfig: { Devices: [{ PathOnHost: '/dev/null', PathInContainer: '/dev/null', CgroupPermissions: 'rwx' }] } })),
      InvalidParameterError,
      'invalid device mode: rwx',
    );
  });

  test('sysctls', () => {
    const s = buildSpec(baseInput({ domainname: 'example.com', hostConfig: { Sysctls: { 'net.ipv4.ip_forward': '1', 'kernel.shmmax': '1000' } } }));
    assert.equal(s.linux!.sysctl!['net.ipv4.ip_forward'], '1');
    assert.equal(s.linux!.sysctl!['kernel.shmmax'], '1000');
    assert.equal(s.linux!.sysctl!['kernel.domainname'], 'example.com');
    throwsWith(
      () => buildSpec(baseInput({ hostConfig: { NetworkMode: 'host', Sysctls: { 'net.ipv4.ip_forward': '1' } } })),
      InvalidParameterError,
      'sysctl "net.ipv4.ip_forward" is not allowed in host network namespace',
    );
    throwsWith(
      () => buildSpec(baseInput({ hostConfig: { Sysctls: { 'vm.swappiness': '1' } } })),
      InvalidParameterError,
      'sysctl "vm.swappiness" is not in a separate kernel namespace',
    );
  });

  describe('mounts', () => {
    let dir: string;
    before(() => {
      dir = mkdtempSync(join(SCRATCH, 'mounts-'));
      mkdirSync(join(dir, 'src'));
    });
    test('Binds: options, order by depth, read-only, propagation, missing source created', () => {
      const created = join(dir, 'created/deep');
      const s = buildSpec(
        baseInput({
          hostConfig: { Binds: [`${dir}/src:/a/b/c:ro`, `${dir}/src:/a`, `${created}:/x:rw,rshared`, `${dir}/src:/y:z`] },
        }),
      );
      const users = s.mounts!.filter((m) => m.type === 'bind' && !m.destination.startsWith('/etc/'));
      assert.deepEqual(users.map((m) => m.destination), ['/a', '/x', '/y', '/a/b/c']);
      assert.deepEqual(mount(s, '/a/b/c')!.options, ['rbind', 'ro', 'rprivate']);
      assert.deepEqual(mount(s, '/a')!.options, ['rbind', 'rprivate']);
      assert.deepEqual(mount(s, '/x')!.options, ['rbind', 'rshared']);
      assert.equal(s.linux!.rootfsPropagation, 'shared');
      assert.ok(existsSync(created));
    });
    test("Binds: Docker's parse errors", () => {
      throwsWith(() => parseBind('/a:/b:bogus'), InvalidParameterError, 'invalid mode: bogus');
      throwsWith(() => parseBind('/a:/b:ro,rw'), InvalidParameterError, 'invalid mode: ro,rw');
      throwsWith(() => parseBind('/a:/b:c:d'), InvalidParameterError, "invalid volume specification: '/a:/b:c:d'");
      throwsWith(() => parseBind(':/b'), InvalidParameterError, "invalid volume specification: ':/b'");
      throwsWith(() => parseBind('/a:/'), InvalidParameterError, `invalid volume specification: '/a:/': invalid mount config for type "bind": invalid specification: destination can't be '/'`);
      throwsWith(() => parseBind('/a:rel'), InvalidParameterError, `invalid volume specification: '/a:rel': invalid mount config for type "bind": invalid mount path: 'rel' mount path must be absolute`);
      assert.deepEqual(parseBind('myvol:/data:ro'), {
        point: { Type: 'volume', Name: 'myvol', Source: '', Destination: '/data', Driver: 'local', Mode: 'ro', RW: false, Propagation: '', CopyData: true },
        volume: { Name: 'myvol' },
      });
      const s = buildSpec(baseInput({ hostConfig: { Binds: ['myvol:/data:ro'] } }));
      assert.deepEqual(mount(s, '/data'), { destination: '/data', type: 'bind', source: '/var/lib/vols/myvol', options: ['rbind', 'ro', 'rprivate'] });
    });
    test("Mounts: bind source must exist (Docker's message), tmpfs options", () => {
      throwsWith(
        () => buildSpec(baseInput({ hostConfig: { Mounts: [{ Type: 'bind', Source: join(dir, 'missing'), Target: '/m' }] } })),
        InvalidParameterError,
        `invalid mount config for type "bind": bind source path does not exist: ${join(dir, 'missing')}`,
      );
      const s = buildSpec(
        baseInput({
          hostConfig: {
            Mounts: [
              { Type: 'bind', Source: join(dir, 'src'), Target: '/m/', ReadOnly: true, BindOptions: { NonRecursive: true } },
              { Type: 'tmpfs', Target: '/t', TmpfsOptions: { SizeBytes: 64 << 20, Mode: 0o1777 } },
            ],
          },
        }),
      );
      assert.deepEqual(mount(s, '/m'), { destination: '/m', type: 'bind', source: join(dir, 'src'), options: ['bind', 'ro', 'rprivate'] });
      assert.deepEqual(mount(s, '/t'), { destination: '/t', type: 'tmpfs', source: 'tmpfs', options: ['noexec', 'nosuid', 'nodev', 'rprivate', 'mode=1777', 'size=64m'] });
      throwsWith(
        () => buildSpec(baseInput({ hostConfig: { Mounts: [{ Type: 'tmpfs', Source: 'x', Target: '/t' }] } })),
        InvalidParameterError,
        'invalid mount config for type "tmpfs": field Source must not be specified',
      );
      throwsWith(
        () => buildSpec(baseInput({ hostConfig: { Mounts: [{ Type: 'npipe', Target: '/t' }] } })),
        InvalidParameterError,
        'invalid mount config for type "npipe": mount type unknown',
      );
    });
    test('Tmpfs: option merging and errors; duplicates; user mounts replace defaults', () => {
      assert.deepEqual(mergeTmpfsOptions(['noexec', 'nosuid', 'nodev', 'rprivate', 'exec', 'size=1m', 'size=2m']), ['nosuid', 'nodev', 'rprivate', 'exec', 'size=2m']);
      throwsWith(() => mergeTmpfsOptions(['foo=bar']), InvalidParameterError, 'invalid tmpfs option "foo"');
      const s = buildSpec(baseInput({ hostConfig: { Tmpfs: { '/run': 'exec,size=1m', '/dev/shm': 'size=2m' } } }));
      assert.deepEqual(mount(s, '/run')!.options, ['nosuid', 'nodev', 'rprivate', 'exec', 'size=1m']);
      assert.equal(s.mounts!.filter((m) => m.destination === '/dev/shm').length, 1);
      assert.deepEqual(mount(s, '/dev/shm')!.options, ['noexec', 'nosuid', 'nodev', 'rprivate', 'size=2m']);
      throwsWith(
        () => buildSpec(baseInput({ hostConfig: { Binds: [`${dir}/src:/run`], Tmpfs: { '/run': '' } } })),
        InvalidParameterError,
        'Duplicate mount point: /run',
      );
      const devUser = buildSpec(baseInput({ hostConfig: { Tmpfs: { '/dev': '' } } }));
      assert.ok(!devUser.mounts!.some((m) => m.destination.startsWith('/dev/')));
      const hostsUser = buildSpec(baseInput({ hostConfig: { Binds: [`${dir}/src:/etc/hosts`] } }));
      assert.equal(mount(hostsUser, '/etc/hosts')!.source, join(dir, 'src'));
    });
  });
});

// =============================================================================================
// Real runs under crun and runc.

function has(bin: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${bin}`]).status === 0;
}

const RUNTIMES = ['crun', 'runc'] as const;
const CGROUP_PARENT = `berth-oci-test-${process.pid}`;
const canRun = process.getuid?.() === 0 && existsSync('/bin/busybox');

describe('real containers', { skip: !canRun && 'needs root and /bin/busybox' }, () => {
  let dir: string;
  let rootfs: string;
  let counter = 0;
  const started: { runtime: string; id: string }[] = [];
  const stateDir = (rt: string) => join(dir, `state-${rt}`);

  before(() => {
    dir = mkdtempSync(join(SCRATCH, 'run-'));
    rootfs = makeRootfs(dir);
    // crun refuses cgroup v1 "hybrid" hosts unless the hugetlb hierarchy is mounted.
    if (statfsSync('/sys/fs/cgroup').type !== 0x63677270 && !readFileSync('/proc/self/mounts', 'utf8').includes(' /sys/fs/cgroup/hugetlb ')) {
      mkdirSync('/sys/fs/cgroup/hugetlb', { recursive: true });
      spawnSync('mount', ['-t', 'cgroup', '-o', 'hugetlb', 'cgroup', '/sys/fs/cgroup/hugetlb']);
    }
  });

  after(() => {
    for (const { runtime, id } of started) spawnSync(runtime, ['--root', stateDir(runtime), 'delete', '-f', id]);
    // the runtimes remove each container's cgroup; remove our parent in every hierarchy
    for (const h of readdirSync('/sys/fs/cgroup')) {
      for (const p of [join('/sys/fs/cgroup', h, CGROUP_PARENT), join('/sys/fs/cgroup', CGROUP_PARENT)]) {
        try {
          rmdirSync(p);
        } catch {
          // absent, or not a hierarchy
        }
      }
    }
    rmSync(dir, { recursive: true, force: true });
  });

  interface RunOpts {
    hostConfig?: HostConfig;
    user?: string;
    tty?: boolean;
  }

  /** Builds a bundle for `script`, runs it to completion, deletes the container. */
  function run(runtime: string, script: string, opts: RunOpts = {}): { status: number | null; stdout: string; stderr: string; spec: Spec; hosts: string } {
    const id = `berth-oci-${process.pid}-${++counter}`;
    const bundle = join(dir, id);
    mkdirSync(bundle);
    const hc = opts.hostConfig ?? {};
    const etc = etcFilesContent({ hostname: 'ctr' + counter, networkMode: hc.NetworkMode, ips: ['10.88.0.' + counter], extraHosts: hc.ExtraHosts });
    writeFileSync(join(bundle, 'hostname'), etc.hostname);
    writeFileSync(join(bundle, 'hosts'), etc.hosts);
    writeFileSync(join(bundle, 'resolv.conf'), etc.resolvConf);
    const user = resolveUser(rootfs, opts.user, hc.GroupAdd);
    const spec = buildSpec({
      id,
      rootfs,
      args: ['/bin/sh', '-c', script],
      env: [DEFAULT_PATH_ENV, `HOSTNAME=ctr${counter}`],
      user,
      cwd: '/',
      tty: false,
      openStdin: false,
      hostname: 'ctr' + counter,
      hostConfig: hc,
      etcFiles: { hostname: join(bundle, 'hostname'), hosts: join(bundle, 'hosts'), resolvConf: join(bundle, 'resolv.conf') },
      cgroupsPath: `/${CGROUP_PARENT}/${id}`,
      initPath: '/usr/bin/tini-static',
    });
    writeFileSync(join(bundle, 'config.json'), specToJSON(spec));
    started.push({ runtime, id });
    const r = spawnSync(runtime, ['--root', stateDir(runtime), 'run', '--bundle', bundle, id], { encoding: 'utf8', timeout: 60_000, stdio: ['ignore', 'pipe', 'pipe'] });
    spawnSync(runtime, ['--root', stateDir(runtime), 'delete', '-f', id]);
    return { status: r.status, stdout: r.stdout, stderr: r.stderr, spec, hosts: etc.hosts };
  }

  const statusField = (out: string, key: string): string => {
    const m = new RegExp(`^${key}:\\s*(\\S+)`, 'm').exec(out);
    assert.ok(m, `${key} not in output:\n${out}`);
    return m[1]!;
  };
  const hostInterrupts = readFileSync('/proc/interrupts', 'utf8').length;

  for (const rt of RUNTIMES) {
    describe(rt, { skip: !has(rt) && `${rt} not installed` }, () => {
      test('default container: caps, seccomp, masked and read-only /proc paths, hostname, /etc/hosts, id', () => {
        const r = run(
          rt,
          [
            'cat /proc/self/status',
            'echo "kcore=$(cat /proc/kcore 2>/dev/null | head -c 16 | wc -c)"',
            'echo "interrupts=$(cat /proc/interrupts | wc -c)"',
            'echo "keys=$(mount | grep -c " /proc/keys ")"',
            '(echo 1 > /proc/sys/kernel/shmmax) 2>/dev/null && echo procsys=rw || echo procsys=ro',
            'touch /rootfs-write && echo root=rw || echo root=ro',
            'echo "hostname=$(hostname)"',
            'echo "id=$(id)"',
            'echo "home=$HOME"',
            'echo ---hosts; cat /etc/hosts; echo ---end',
          ].join('; '),
        );
        assert.equal(r.status, 0, r.stderr);
        // Docker's 14 default capabilities, as every docker container shows them in /proc
        assert.equal(statusField(r.stdout, 'CapEff'), '00000000a80425fb');
        assert.equal(statusField(r.stdout, 'CapBnd'), '00000000a80425fb');
        assert.equal(statusField(r.stdout, 'CapInh'), '0000000000000000');
        assert.equal(statusField(r.stdout, 'Seccomp'), '2');
        assert.equal(statusField(r.stdout, 'NoNewPrivs'), '0');
        // /proc/kcore does not exist on every kernel; where it does, it must read empty
        assert.match(r.stdout, /^kcore=0$/m);
        if (hostInterrupts > 0) assert.match(r.stdout, /^interrupts=0$/m);
        assert.match(r.stdout, /^keys=1$/m);
        assert.match(r.stdout, /^procsys=ro$/m);
        assert.match(r.stdout, /^root=rw$/m);
        assert.match(r.stdout, new RegExp(`^hostname=ctr${counter}$`, 'm'));
        assert.match(r.stdout, /^id=uid=0\(root\) gid=0\(root\) groups=0\(root\),10\(wheel\)$/m);
        assert.match(r.stdout, /^home=\/root$/m);
        const hosts = /---hosts\n([^]*)---end/.exec(r.stdout)![1];
        assert.equal(hosts, r.hosts);
        assert.match(hosts!, new RegExp(`^10\\.88\\.0\\.${counter}\\tctr${counter}$`, 'm'));
      });

      test('--cap-drop ALL, --read-only, no-new-privileges, user and groups, pids and memory limits', () => {
        const v2 = isCgroupV2();
        const r = run(
          rt,
          [
            'grep -E "^(CapEff|CapBnd|NoNewPrivs|Seccomp):" /proc/self/status',
            'touch /rootfs-write 2>/dev/null && echo root=rw || echo root=ro',
            'touch /tmp/x 2>/dev/null && echo tmp=rw || echo tmp=ro',
            'echo "id=$(id)"',
            'echo "home=$HOME"',
            v2 ? 'echo "pids=$(cat /sys/fs/cgroup/pids.max)"' : 'echo "pids=$(cat /sys/fs/cgroup/pids/pids.max)"',
            v2 ? 'echo "mem=$(cat /sys/fs/cgroup/memory.max)"' : 'echo "mem=$(cat /sys/fs/cgroup/memory/memory.limit_in_bytes)"',
          ].join('; '),
          {
            user: 'app',
            hostConfig: {
              CapDrop: ['ALL'],
              ReadonlyRootfs: true,
              SecurityOpt: ['no-new-privileges'],
              GroupAdd: ['staff', '4242'],
              PidsLimit: 42,
              Memory: 48 * 1024 * 1024,
              Tmpfs: { '/tmp': '' },
            },
          },
        );
        assert.equal(r.status, 0, r.stderr);
        assert.equal(statusField(r.stdout, 'CapEff'), '0000000000000000');
        assert.equal(statusField(r.stdout, 'CapBnd'), '0000000000000000');
        assert.equal(statusField(r.stdout, 'NoNewPrivs'), '1');
        assert.equal(statusField(r.stdout, 'Seccomp'), '2');
        assert.match(r.stdout, /^root=ro$/m);
        assert.match(r.stdout, /^tmp=rw$/m);
        const id = /^id=(.*)$/m.exec(r.stdout)![1]!;
        assert.match(id, /^uid=1000\(app\) gid=1000\(app\) groups=/);
        const groups = id.replace(/^.*groups=/, '').split(',').sort();
        assert.deepEqual(groups, ['1000(app)', '10(wheel)', '29(audio)', '4242', '50(staff)'].sort());
        assert.match(r.stdout, /^home=\/home\/app$/m);
        assert.match(r.stdout, /^pids=42$/m);
        assert.match(r.stdout, new RegExp(`^mem=${48 * 1024 * 1024}$`, 'm'));
      });

      test('--privileged: all daemon capabilities, no seccomp, /sys writable, nothing masked, host devices', () => {
        const r = run(
          rt,
          [
            'grep -E "^(CapEff|Seccomp):" /proc/self/status',
            'echo "sys=$(mount | grep " on /sys type sysfs" | grep -o "(r[ow]")"',
            'echo "interrupts=$(cat /proc/interrupts | wc -c)"',
            '[ -c /dev/null ] && echo null=yes',
            `echo "devs=$(ls /dev | wc -l)"`,
          ].join('; '),
          { hostConfig: { Privileged: true } },
        );
        assert.equal(r.status, 0, r.stderr);
        // a privileged container has what this (root) test process has, read from /proc here
        assert.equal(BigInt('0x' + statusField(r.stdout, 'CapEff')), ownCapEff() & ((1n << BigInt(KNOWN_CAPABILITIES.length)) - 1n));
        assert.equal(statusField(r.stdout, 'Seccomp'), '0');
        assert.match(r.stdout, /^sys=\(rw$/m);
        if (hostInterrupts > 0) assert.doesNotMatch(r.stdout, /^interrupts=0$/m);
        assert.match(r.stdout, /^null=yes$/m);
        assert.ok(Number(/^devs=(\d+)$/m.exec(r.stdout)![1]) > 10);
      });

      test('seccomp=unconfined and CapAdd', () => {
        const r = run(rt, 'grep -E "^(CapEff|Seccomp):" /proc/self/status', {
          hostConfig: { SecurityOpt: ['seccomp=unconfined'], CapAdd: ['NET_ADMIN'], CapDrop: ['MKNOD'] },
        });
        assert.equal(r.status, 0, r.stderr);
        assert.equal(statusField(r.stdout, 'Seccomp'), '0');
        const caps = [...DEFAULT_CAPABILITIES.filter((c) => c !== 'CAP_MKNOD'), 'CAP_NET_ADMIN'];
        assert.equal(statusField(r.stdout, 'CapEff'), capabilityMask(caps).toString(16).padStart(16, '0'));
      });

      test('the default seccomp profile blocks syscalls even when the capability is there', () => {
        // swapon(2) is refused by the profile outright (EPERM); with CAP_SYS_ADMIN and no filter
        // the kernel gets to look at the file, which is no swap area (EINVAL).
        const script = 'touch /tmp/swapfile; swapon /tmp/swapfile 2>&1; grep "^Seccomp:" /proc/self/status';
        const filtered = run(rt, script, { hostConfig: { CapAdd: ['SYS_ADMIN'] } });
        assert.equal(filtered.status, 0, filtered.stderr);
        assert.match(filtered.stdout, /Operation not permitted/);
        assert.equal(statusField(filtered.stdout, 'Seccomp'), '2');
        const unfiltered = run(rt, script, { hostConfig: { CapAdd: ['SYS_ADMIN'], SecurityOpt: ['seccomp=unconfined'] } });
        assert.equal(unfiltered.status, 0, unfiltered.stderr);
        assert.match(unfiltered.stdout, /Invalid argument/);
        assert.doesNotMatch(unfiltered.stdout, /Operation not permitted/);
        assert.equal(statusField(unfiltered.stdout, 'Seccomp'), '0');
      });

      test('--init, clamped ulimits, binds, tmpfs, sysctls and CPU limits', () => {
        const hostDir = join(dir, 'bind-src');
        mkdirSync(hostDir, { recursive: true });
        writeFileSync(join(hostDir, 'f'), 'hello\n');
        const hardNofile = daemonHardLimits().get('RLIMIT_NOFILE')!;
        const r = run(
          rt,
          [
            'echo "pid1=$(tr "\\0" " " < /proc/1/cmdline)"',
            'echo "nofile=$(ulimit -n):$(ulimit -Hn)"',
            'echo "nproc=$(ulimit -u)"',
            'echo "data=$(cat /data/f)"',
            'touch /data/g 2>/dev/null && echo data=rw || echo data=ro',
            'echo "run=$(mount | grep " on /run type tmpfs" | grep -c "size=1024k")"',
            'echo "fwd=$(cat /proc/sys/net/ipv4/ip_forward)"',
            'echo "port=$(cat /proc/sys/net/ipv4/ip_unprivileged_port_start)"',
          ].join('; '),
          {
            hostConfig: {
              Init: true,
              Ulimits: [
                { Name: 'nofile', Soft: 1048576, Hard: 1048576 },
                { Name: 'nproc', Soft: 77, Hard: 88 },
              ],
              Binds: [`${hostDir}:/data:ro`],
              Tmpfs: { '/run': 'size=1m' },
              Sysctls: { 'net.ipv4.ip_forward': '1' },
              NanoCpus: 500_000_000,
            },
          },
        );
        assert.equal(r.status, 0, r.stderr);
        assert.match(r.stdout, /^pid1=\/sbin\/docker-init -- \/bin\/sh -c /m);
        const limit = hardNofile < 1048576n ? hardNofile : 1048576n;
        assert.match(r.stdout, new RegExp(`^nofile=${limit}:${limit}$`, 'm'));
        assert.match(r.stdout, /^nproc=77$/m);
        assert.match(r.stdout, /^data=hello$/m);
        assert.match(r.stdout, /^data=ro$/m);
        assert.match(r.stdout, /^run=1$/m);
        assert.match(r.stdout, /^fwd=1$/m);
        if (existsSync('/proc/sys/net/ipv4/ip_unprivileged_port_start')) assert.match(r.stdout, /^port=0$/m);
      });
    });
  }
});
