// util/platform.ts: the one platform parser the CLI's flags and the daemon's parameters share,
// checked against containerd's platforms.Parse results and error words.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatPlatform, hostPlatform, parsePlatform } from '../src/util/platform.js';

test('platforms parse and normalise as containerd does', () => {
  const host = hostPlatform().architecture;
  const cases: [string, string][] = [
    ['linux', formatPlatform({ os: 'linux', architecture: host, variant: hostPlatform().variant })],
    ['arm64', 'linux/arm64'],
    ['aarch64', 'linux/arm64'],
    ['linux/arm64/v8', 'linux/arm64'],
    ['linux/arm', 'linux/arm/v7'],
    ['linux/arm/6', 'linux/arm/v6'],
    ['linux/armhf', 'linux/arm/v7'],
    ['linux/x86_64', 'linux/amd64'],
    ['linux/amd64/v1', 'linux/amd64'],
    ['linux/i386', 'linux/386'],
    ['macos/arm64', 'darwin/arm64'],
    ['Linux/AMD64', 'linux/amd64'],
  ];
  for (const [spec, want] of cases) assert.equal(formatPlatform(parsePlatform(spec)), want, spec);
});

test('bad platforms get containerd\'s words', () => {
  const cases: [string, string][] = [
    ['linux/*', '"linux/*": wildcards not yet supported: invalid argument'],
    ['linux/am d64', '"am d64" is an invalid component of "linux/am d64": platform specifier component must match "^[A-Za-z0-9_-]+$": invalid argument'],
    ['nosuch', '"nosuch": unknown operating system or architecture: invalid argument'],
    ['linux/amd64/v2/x', '"linux/amd64/v2/x": cannot parse platform specifier: invalid argument'],
  ];
  for (const [spec, message] of cases) assert.throws(() => parsePlatform(spec), { message }, spec);
});
