// Layer tars in and out: applyLayer (extract in overlay form), packDirectory (export / diff),
// changes (docker diff), plus the digest and compression helpers the image store needs.

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
