// Image archives (docker save / docker load): writing Docker 25+'s format, reading Docker's,
// skopeo's, umoci's and any OCI image layout.
export { saveLayout, writeArchive, type ArchiveEntry, type SaveImage, type SaveLayer } from './writer.js';
export { spoolArchive, SpooledArchive, type SpooledFile, type SpoolLimits, type SpoolTee } from './spool.js';
export { readImageArchive, MAX_JSON_SIZE, type ArchiveContents, type LoadImage, type LoadLayer } from './reader.js';
export { legacyLayerConfigs } from './legacy-v1.js';
