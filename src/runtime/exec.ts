// exec sessions through conmon's exec mode: conmon runs `<runtime> exec --detach --process <spec>`,
// becomes the subreaper of the new process, relays its stdio over an attach socket in the session
// dir and reports the exit status on the sync pipe (and in <session dir>/exit, via --persist-dir).
// The process is conmon's, not ours, so it survives a daemon restart.
import fs from 'node:fs/promises';
import path from 'node:path';
import { ConmonAttachStream } from './attach.js';
import { conmonArgs, startConmon } from './conmon.js';
import { readExitFile } from './exits.js';
import { socketUuid, type Layout } from './paths.js';
import type { ExecOptions, ExecSession } from './types.js';

export interface ExecContext {
  layout: Layout;
  conmonPath: string;
  runtimeName: string;
  runtimePath: string;
  runtimeArgs: string[];
  logLevel: string;
}

export async function runExec(ctx: ExecContext, id: string, opts: ExecOptions): Promise<ExecSession> {
  const dir = ctx.layout.execDir(id, opts.execId);
  await fs.mkdir(dir, { recursive: true, mode: 0o700 });
  const spec = path.join(dir, 'process.json');
  const proc = { ...opts.process, terminal: opts.tty };
  await fs.writeFile(spec, JSON.stringify(proc));
  const attach = opts.attach ?? true;
  const wantStream = attach || opts.attachStdin;
  let stream: ConmonAttachStream | undefined;

  const args = conmonArgs({
    id,
    uuid: socketUuid(opts.execId),
    name: id,
    runtimePath: ctx.runtimePath,
    runtimeArgs: ctx.runtimeArgs,
    bundle: dir,
    pidFile: path.join(dir, 'pid'),
    conmonPidFile: path.join(dir, 'conmon.pid'),
    persistDir: dir,
    socketDir: ctx.layout.socketDir,
    logLevel: ctx.logLevel,
    tty: opts.tty,
    stdin: opts.attachStdin,
    leaveStdinOpen: false,
    exec: { processSpec: spec, attach: wantStream },
  });

  const cleanup = async () => {
    await Promise.all([
      fs.rm(dir, { recursive: true, force: true }).catch(() => {}),
      // conmon's symlink to the session dir (socket-dir/<uuid>)
      fs.rm(path.join(ctx.layout.socketDir, socketUuid(opts.execId)), { force: true }).catch(() => {}),
    ]);
  };

  let started;
  try {
    started = await startConmon({
      conmonPath: ctx.conmonPath,
      args,
      cwd: dir,
      runtimeName: ctx.runtimeName,
      keepSync: true,
      what: 'exec',
      onAttachReady: wantStream
        ? async () => {
            stream = await ConmonAttachStream.connect(ctx.layout.attachSocket(dir, socketUuid(opts.execId)));
          }
        : undefined,
    });
  } catch (err) {
    stream?.close();
    await cleanup();
    throw err;
  }

  const exited = (async () => {
    let code: number;
    const msg = await started.nextMessage!();
    if (msg && Number.isInteger(msg.data) && msg.data >= 0) code = msg.data;
    else code = (await readExitFile(path.join(dir, 'exit')))?.exitCode ?? -1;
    started.release();
    await cleanup();
    return code;
  })();
  return { pid: started.pid, stream, exited };
}
