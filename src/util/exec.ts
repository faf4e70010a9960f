import { execFile } from 'node:child_process';

export interface CommandResult {
  stdout: string;
  stderr: string;
}

/** Runs a host tool (mount, umount, ...) and fails with its stderr, which is what a user needs to see. */
export function runCommand(file: string, args: string[], opts: { cwd?: string; input?: string } = {}): Promise<CommandResult> {
  return new Promise((resolve, reject) => {
    const child = execFile(file, args, { cwd: opts.cwd, maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (err) {
        const msg = (stderr || err.message).toString().trim();
        reject(new Error(`${file} ${args.join(' ')}: ${msg}`));
      } else {
        resolve({ stdout: stdout.toString(), stderr: stderr.toString() });
      }
    });
    if (opts.input !== undefined) child.stdin?.end(opts.input);
  });
}
