// How failures around a start read to a Docker client.
import { ConflictError } from '../../errors.js';

/** Docker's answer to pause, exec, … on a container waiting out its restart back-off. */
export function restartingError(id: string): ConflictError {
  return new ConflictError(`Container ${id} is restarting, wait until the container is running`);
}

/**
 * The runtime's wording of a failed exec, as Docker words it: the docker CLI maps
 * "executable file not found" / "no such file or directory" to exit 127 and "permission denied" /
 * "is a directory" to 126.
 */
export function dockerStartError(msg: string, command: string): string {
  const notFound = /executable file `([^`]*)` not found in \$PATH/.exec(msg);
  if (notFound) return `exec: "${notFound[1]}": executable file not found in $PATH`;
  // crun refuses a directory as "open executable: Operation not permitted"; runc says EISDIR.
  if (command.includes('/') && /open executable: Operation not permitted/.test(msg)) return `exec: "${command}": is a directory`;
  return msg.replace(/: Permission denied$/, ': permission denied');
}
