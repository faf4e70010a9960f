export { Runtime, cgroupsPath } from './runtime.js';
export { readLogs } from './logs.js';
export { OciRuntimeError } from './oci-cli.js';
export { signalNumber } from './signals.js';
export type * from './types.js';
