// rebaseArchive: renames the resource an archive holds (moby's RebaseArchiveEntries), e.g.
// "etc/…" → "config/…", so that extracting it creates the name the user asked for.

import { Readable } from 'node:stream';
import { ByteReader } from './stream.js';
import { END_OF_ARCHIVE, encodeHeader, padding } from './tar.js';
import { TarReader } from './tar-reader.js';

/**
 * A copy of the tar stream `input` in which the first occurrence of `oldBase` in each entry's
 * name (and in hard link targets) is replaced by `newBase`, as Go's strings.Replace(…, 1) does.
 * An `oldBase` of "/" means the root: `newBase` is put in front of every name.
 */
export function rebaseArchive(input: Readable, oldBase: string, newBase: string): Readable {
  const from = oldBase === '/' ? '' : oldBase;
  const rename = (s: string): string => s.replace(from, () => newBase);
  async function* gen(): AsyncGenerator<Buffer> {
    const tar = new TarReader(new ByteReader(input[Symbol.asyncIterator]() as AsyncIterator<Buffer>));
    for (;;) {
      const h = await tar.next();
      if (!h) break;
      yield encodeHeader({
        name: rename(h.name),
        type: h.type,
        mode: h.mode,
        uid: h.uid,
        gid: h.gid,
        size: h.size,
        mtime: h.mtime,
        linkname: h.type === 'link' ? rename(h.linkname) : h.linkname,
        uname: h.uname,
        gname: h.gname,
        devmajor: h.devmajor,
        devminor: h.devminor,
        xattrs: h.xattrs,
      });
      for (;;) {
        const c = await tar.read();
        if (!c) break;
        yield Buffer.from(c);
      }
      const p = padding(h.size);
      if (h.type === 'file' && p.length) yield p;
    }
    yield END_OF_ARCHIVE;
  }
  const out = Readable.from(gen(), { objectMode: false });
  out.on('close', () => input.destroy());
  return out;
}
