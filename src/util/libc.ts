// The C library through koffi (a C FFI), for the calls Node has no API for: mount(2) and
// umount2(2) (util/mount.ts), malloc_trim(3) (daemon/idle-memory.ts). Bound on first use, so that
// processes that never make such a call (the CLI) never load the FFI.
import { createRequire } from 'node:module';

type Koffi = typeof import('koffi');

let bound: { koffi: Koffi; lib: ReturnType<Koffi['load']> } | undefined;

export function libc(): { koffi: Koffi; lib: ReturnType<Koffi['load']> } {
  if (bound) return bound;
  const koffi = createRequire(import.meta.url)('koffi') as Koffi;
  bound = { koffi, lib: koffi.load('libc.so.6') };
  return bound;
}
