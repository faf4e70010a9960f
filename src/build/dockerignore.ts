// .dockerignore: Docker's pattern rules (`*`, `**`, `?`, `!` exceptions, order matters) through
// @balena/dockerignore, a port of moby's matcher. Shared by the daemon (which drops excluded
// files from a context it receives) and the CLI (which leaves them out of the tar it sends).
import ignoreModule, { type Ignore } from '@balena/dockerignore';

type IgnoreFactory = () => Ignore;
// The package is CommonJS (module.exports = factory) while its typings declare a default export.
const ignore = ((ignoreModule as unknown as { default?: IgnoreFactory }).default ?? ignoreModule) as unknown as IgnoreFactory;

export interface IgnoreMatcher {
  /** The path (relative to the context, "/"-separated) is excluded. */
  excludes(rel: string): boolean;
  /** Some pattern is an exception: an excluded directory may still hold included entries. */
  readonly hasExceptions: boolean;
}

/** The patterns of a .dockerignore file: comments and blank lines dropped, paths cleaned. */
export function readIgnorePatterns(text: string): string[] {
  const out: string[] = [];
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const neg = line.startsWith('!');
    let p = (neg ? line.slice(1) : line).trim();
    p = p.replace(/^\/+/, '');
    if (p === '') continue;
    out.push(neg ? `!${p}` : p);
  }
  return out;
}

export function ignoreMatcher(patterns: string[]): IgnoreMatcher {
  const ig = ignore().add(patterns);
  return {
    excludes: (rel) => patterns.length > 0 && rel !== '' && rel !== '.' && ig.ignores(rel),
    hasExceptions: patterns.some((p) => p.startsWith('!')),
  };
}
