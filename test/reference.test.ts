import { test } from 'node:test';
import assert from 'node:assert/strict';
import { InvalidParameterError } from '../src/errors.js';
import {
  familiarName,
  familiarString,
  idHasPrefix,
  isDigest,
  isFullImageId,
  isShortIdPrefix,
  matchIdPrefix,
  normalizeImageId,
  parseDockerRef,
  parsePullReference,
  parseReference,
  parseRepositoryTag,
  shortId,
  validateContainerName,
} from '../src/reference/index.js';

const H64 = 'a'.repeat(32) + '0123456789abcdef0123456789abcdef';
const D = `sha256:${H64}`;

// [input, domain, path, tag, digest, fullString, familiarString]
const valid: Array<[string, string, string, string | undefined, string | undefined, string, string]> = [
  ['busybox', 'docker.io', 'library/busybox', undefined, undefined, 'docker.io/library/busybox', 'busybox'],
  ['busybox:latest', 'docker.io', 'library/busybox', 'latest', undefined, 'docker.io/library/busybox:latest', 'busybox:latest'],
  ['busybox:Latest_1.2-x', 'docker.io', 'library/busybox', 'Latest_1.2-x', undefined, 'docker.io/library/busybox:Latest_1.2-x', 'busybox:Latest_1.2-x'],
  ['library/busybox', 'docker.io', 'library/busybox', undefined, undefined, 'docker.io/library/busybox', 'busybox'],
  ['docker.io/library/busybox:1', 'docker.io', 'library/busybox', '1', undefined, 'docker.io/library/busybox:1', 'busybox:1'],
  ['index.docker.io/library/busybox', 'docker.io', 'library/busybox', undefined, undefined, 'docker.io/library/busybox', 'busybox'],
  ['docker.io/busybox', 'docker.io', 'library/busybox', undefined, undefined, 'docker.io/library/busybox', 'busybox'],
  ['user/app', 'docker.io', 'user/app', undefined, undefined, 'docker.io/user/app', 'user/app'],
  ['user/app:v2', 'docker.io', 'user/app', 'v2', undefined, 'docker.io/user/app:v2', 'user/app:v2'],
  ['docker.io/library/a/b', 'docker.io', 'library/a/b', undefined, undefined, 'docker.io/library/a/b', 'library/a/b'],
  ['localhost:5000/a/b:tag', 'localhost:5000', 'a/b', 'tag', undefined, 'localhost:5000/a/b:tag', 'localhost:5000/a/b:tag'],
  ['localhost/foo', 'localhost', 'foo', undefined, undefined, 'localhost/foo', 'localhost/foo'],
  ['registry.example.com/ns/img', 'registry.example.com', 'ns/img', undefined, undefined, 'registry.example.com/ns/img', 'registry.example.com/ns/img'],
  ['Example.COM/foo', 'Example.COM', 'foo', undefined, undefined, 'Example.COM/foo', 'Example.COM/foo'],
  ['[::1]:5000/foo:tag', '[::1]:5000', 'foo', 'tag', undefined, '[::1]:5000/foo:tag', '[::1]:5000/foo:tag'],
  ['[2001:db8::1]/foo', '[2001:db8::1]', 'foo', undefined, undefined, '[2001:db8::1]/foo', '[2001:db8::1]/foo'],
  ['foo_bar-baz__q-x--y/z.w', 'docker.io', 'foo_bar-baz__q-x--y/z.w', undefined, undefined, 'docker.io/foo_bar-baz__q-x--y/z.w', 'foo_bar-baz__q-x--y/z.w'],
  // Docker quirk: a first component with '.' is taken as a domain by splitDockerDomain, but '_'
  // is not valid in a domain, so the grammar parses the whole thing as a path with no domain.
  ['foo_bar.baz/z', '', 'foo_bar.baz/z', undefined, undefined, 'foo_bar.baz/z', 'foo_bar.baz/z'],
  [`busybox@${D}`, 'docker.io', 'library/busybox', undefined, D, `docker.io/library/busybox@${D}`, `busybox@${D}`],
  [`busybox:1.36@${D}`, 'docker.io', 'library/busybox', '1.36', D, `docker.io/library/busybox:1.36@${D}`, `busybox:1.36@${D}`],
  [`localhost:5000/x@${D}`, 'localhost:5000', 'x', undefined, D, `localhost:5000/x@${D}`, `localhost:5000/x@${D}`],
  [`busybox@sha512:${'c'.repeat(128)}`, 'docker.io', 'library/busybox', undefined, `sha512:${'c'.repeat(128)}`, `docker.io/library/busybox@sha512:${'c'.repeat(128)}`, `busybox@sha512:${'c'.repeat(128)}`],
  ['a'.repeat(237), 'docker.io', `library/${'a'.repeat(237)}`, undefined, undefined, `docker.io/library/${'a'.repeat(237)}`, 'a'.repeat(237)],
  [`busybox:${'t'.repeat(128)}`, 'docker.io', 'library/busybox', 't'.repeat(128), undefined, `docker.io/library/busybox:${'t'.repeat(128)}`, `busybox:${'t'.repeat(128)}`],
];

test('parseReference: valid references normalise like Docker', () => {
  for (const [input, domain, path, tag, digest, full, fam] of valid) {
    const r = parseReference(input);
    assert.equal(r.domain, domain, input);
    assert.equal(r.path, path, input);
    assert.equal(r.tag, tag, input);
    assert.equal(r.digest, digest, input);
    assert.equal(r.toString(), full, input);
    assert.equal(r.fullName, full, input);
    assert.equal(r.familiarString, fam, input);
    assert.equal(String(r), full, input);
    // Normalisation is idempotent.
    assert.equal(parseReference(full).toString(), full, input);
    assert.equal(parseReference(fam).toString(), full, input);
  }
});

const invalid: Array<[string, string]> = [
  ['', 'invalid reference format'],
  ['Busybox', 'invalid reference format: repository name (library/Busybox) must be lowercase'],
  ['user/App', 'invalid reference format: repository name (user/App) must be lowercase'],
  ['docker.io/Foo', 'invalid reference format: repository name (library/Foo) must be lowercase'],
  ['localhost:5000/Foo:tag', 'invalid reference format: repository name (Foo) must be lowercase'],
  [H64, `invalid repository name (${H64}), cannot specify 64-byte hexadecimal strings`],
  ['/busybox', 'invalid reference format'],
  ['busybox/', 'invalid reference format'],
  ['a//b', 'invalid reference format'],
  ['a/../b', 'invalid reference format'],
  ['../busybox', 'invalid reference format'],
  ['./busybox', 'invalid reference format'],
  ['foo\0bar', 'invalid reference format'],
  ['foo bar', 'invalid reference format'],
  ['foo:', 'invalid reference format'],
  ['a:b:c', 'invalid reference format'],
  ['foo___bar', 'invalid reference format'],
  ['foo..bar', 'invalid reference format'],
  ['foo-_bar', 'invalid reference format'],
  ['-foo', 'invalid reference format'],
  ['foo-', 'invalid reference format'],
  ['foo:-tag', 'invalid reference format'],
  [`foo:${'t'.repeat(129)}`, 'invalid reference format'],
  ['foo@sha256:abc', 'invalid reference format'],
  [`foo@sha256:${'a'.repeat(63)}`, 'invalid checksum digest length'],
  [`foo@sha512:${'a'.repeat(64)}`, 'invalid checksum digest length'],
  [`foo@md5:${'a'.repeat(32)}`, 'unsupported digest algorithm'],
  [`foo@sha256:${'A'.repeat(64)}`, 'invalid checksum digest format'],
  ['[fe80::1%eth0]:5000/foo', 'invalid reference format'],
  ['-host.com/foo', 'invalid reference format'],
  ['host.com:port/foo', 'invalid reference format'],
  ['a'.repeat(238), 'repository name must not be more than 255 characters'],
];

test('parseReference: invalid references fail with Docker messages as InvalidParameterError', () => {
  for (const [input, msg] of invalid) {
    assert.throws(
      () => parseReference(input),
      (e: unknown) => e instanceof InvalidParameterError && e.message === msg,
      `${JSON.stringify(input.slice(0, 80))} should fail with ${msg}`,
    );
  }
});

test('parseReference: pathological input is rejected quickly', () => {
  const t0 = Date.now();
  for (const s of ['a'.repeat(100_000) + '!', `${'a-'.repeat(50_000)}!`, `${'a.'.repeat(30_000)}/!`, '['.repeat(50_000)]) {
    assert.throws(() => parseReference(s), InvalidParameterError);
  }
  assert.ok(Date.now() - t0 < 2000, `took ${Date.now() - t0} ms`);
});

test('parseDockerRef: default tag, digest wins over tag', () => {
  assert.equal(parseDockerRef('busybox').toString(), 'docker.io/library/busybox:latest');
  assert.equal(parseDockerRef('user/app:1').toString(), 'docker.io/user/app:1');
  assert.equal(parseDockerRef(`busybox:1@${D}`).toString(), `docker.io/library/busybox@${D}`);
  assert.equal(parseDockerRef(`busybox@${D}`).toString(), `docker.io/library/busybox@${D}`);
  assert.equal(parseReference('busybox').tagNameOnly().familiarString, 'busybox:latest');
});

test('familiar forms for display', () => {
  assert.equal(familiarString('docker.io/library/busybox:latest'), 'busybox:latest');
  assert.equal(familiarString('docker.io/user/app:1'), 'user/app:1');
  assert.equal(familiarString('localhost:5000/x:y'), 'localhost:5000/x:y');
  assert.equal(familiarName('docker.io/library/busybox:latest'), 'busybox');
  assert.equal(familiarName('quay.io/a/b:c'), 'quay.io/a/b');
  assert.equal(familiarString('not a ref'), 'not a ref');
});

test('parseRepositoryTag: repo/tag query parameters', () => {
  assert.equal(parseRepositoryTag('', 'x'), undefined);
  assert.equal(parseRepositoryTag(undefined), undefined);
  assert.equal(parseRepositoryTag('busybox', '')!.toString(), 'docker.io/library/busybox:latest');
  assert.equal(parseRepositoryTag('busybox', undefined)!.toString(), 'docker.io/library/busybox:latest');
  assert.equal(parseRepositoryTag('busybox:1', '')!.toString(), 'docker.io/library/busybox:1');
  assert.equal(parseRepositoryTag('busybox:1', '2')!.toString(), 'docker.io/library/busybox:2');
  assert.equal(parseRepositoryTag('localhost:5000/a', 'v')!.familiarString, 'localhost:5000/a:v');
  assert.throws(() => parseRepositoryTag(`busybox@${D}`, ''), { message: 'cannot import digest reference' });
  assert.throws(() => parseRepositoryTag('busybox', 'bad tag'), { message: 'invalid tag format' });
  assert.throws(() => parseRepositoryTag('busybox', '.x'), { message: 'invalid tag format' });
  assert.throws(() => parseRepositoryTag('Busybox', 'x'), InvalidParameterError);
});

test('parsePullReference: fromImage + tag (which may be a digest)', () => {
  assert.equal(parsePullReference('busybox', '').toString(), 'docker.io/library/busybox');
  assert.equal(parsePullReference('busybox:', '').toString(), 'docker.io/library/busybox');
  assert.equal(parsePullReference('busybox', '1.36').toString(), 'docker.io/library/busybox:1.36');
  assert.equal(parsePullReference('busybox:1', D).toString(), `docker.io/library/busybox@${D}`);
  assert.throws(() => parsePullReference('busybox', 'no/slash'), { message: 'invalid tag format' });
});

test('digests and IDs', () => {
  assert.ok(isDigest(D));
  assert.ok(!isDigest('sha256:abc'));
  assert.ok(isFullImageId(D));
  assert.ok(isFullImageId(H64));
  assert.ok(!isFullImageId(H64.slice(1)));
  assert.ok(!isFullImageId(H64.toUpperCase()));
  assert.equal(normalizeImageId(H64), D);
  assert.throws(() => normalizeImageId('abc'), InvalidParameterError);
  assert.ok(isShortIdPrefix('abcd'));
  assert.ok(isShortIdPrefix('sha256:abcd'));
  assert.ok(!isShortIdPrefix('abc'));
  assert.ok(isShortIdPrefix('a', 1));
  assert.ok(!isShortIdPrefix('ABCD'));
  assert.ok(!isShortIdPrefix('xyz1'));
  assert.ok(!isShortIdPrefix(`${H64}0`));
  assert.ok(idHasPrefix(D, 'aaaa'));
  assert.ok(idHasPrefix(D, 'sha256:aaaa'));
  assert.ok(idHasPrefix(H64, 'sha256:aaaa'));
  assert.ok(!idHasPrefix(D, 'aaab'));
  assert.equal(shortId(D), 'aaaaaaaaaaaa');
  const other = `sha256:${'a'.repeat(12)}${'b'.repeat(52)}`;
  assert.deepEqual(matchIdPrefix([D, other], 'aaaaaaaaaaaaa'), { ambiguous: false, id: D });
  assert.deepEqual(matchIdPrefix([D, other], 'aaaa'), { ambiguous: true });
  assert.deepEqual(matchIdPrefix([D, other], 'ffff'), { ambiguous: false, id: undefined });
});

test('validateContainerName', () => {
  assert.equal(validateContainerName('web'), '/web');
  assert.equal(validateContainerName('/web'), '/web');
  assert.equal(validateContainerName('Web_1.x-y'), '/Web_1.x-y');
  assert.equal(validateContainerName('ab'), '/ab');
  for (const bad of ['a', '/a', '', '-web', '_web', '.web', 'we b', 'web/1', '//web', 'wéb', 'web\n']) {
    assert.throws(
      () => validateContainerName(bad),
      (e: unknown) =>
        e instanceof InvalidParameterError &&
        e.message === `Invalid container name (${bad}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed`,
      JSON.stringify(bad),
    );
  }
});
