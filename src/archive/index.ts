// Layer tars in and out: applyLayer (extract in overlay form), extractArchive (docker cp's plain
// extraction), packDirectory (export / diff), packResource (docker cp's archive of one path),
// changes (docker diff), plus the digest and compression helpers the image store needs. All
// extraction and cp reads go through Root, which confines paths as a chroot would.

export {
  applyLayer,
  cleanPath,
  OVERLAY_OPAQUE_XATTR,
  WHITEOUT_META_PREFIX,
  WHITEOUT_OPAQUE,
  WHITEOUT_PREFIX,
  type ApplyOptions,
  type ApplyResult,
} from './apply.js';
export { packDirectory, type PackOptions } from './pack.js';
export { changes, ChangeKind, type Change, type ChangeKindValue } from './changes.js';
export {
  detectCompression,
  DigestStream,
  Digester,
  digestOf,
  openMaybeCompressed,
  type Compression,
} from './stream.js';
export { dumpXattrs, setXattrs } from './xattr.js';
export { Root, ResolveError, type Dir, type RootMount } from './root.js';
