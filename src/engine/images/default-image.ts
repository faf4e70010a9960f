// The embedded default base image: `busybox:latest`, made on this host from Debian's busybox-static,
// since there is no registry to pull it from. The tar is deterministic (fixed times, sorted entries),
// so the same busybox binary always gives the same image id.
import { execFile } from 'node:child_process';
import { promises as fsp } from 'node:fs';
import { Readable } from 'node:stream';
import { promisify } from 'node:util';
import tar from 'tar-stream';

export const DEFAULT_IMAGE = 'busybox:latest';
export const BUSYBOX_PATH = '/bin/busybox';

const PASSWD = 'root:x:0:0:root:/root:/bin/sh\ndaemon:x:1:1:daemon:/usr/sbin:/bin/false\nbin:x:2:2:bin:/bin:/bin/false\nsys:x:3:3:sys:/dev:/bin/false\nnobody:x:65534:65534:nobody:/home:/bin/false\n';
const GROUP = 'root:x:0:\ndaemon:x:1:\nbin:x:2:\nsys:x:3:\nadm:x:4:\ntty:x:5:\nwheel:x:10:root\nusers:x:100:\nnogroup:x:65534:\n';

export interface DefaultImageTar {
  stream: Readable;
  created: string;
}

export async function busyboxApplets(): Promise<string[]> {
  const { stdout } = await promisify(execFile)(BUSYBOX_PATH, ['--list']);
  return stdout
    .split('\n')
    .map((s) => s.trim())
    .filter((s) => /^[a-z0-9_.[\]-]+$/i.test(s) && s !== 'busybox')
    .sort();
}

export async function defaultImageTar(): Promise<DefaultImageTar> {
  const st = await fsp.stat(BUSYBOX_PATH);
  const mtime = new Date(Math.floor(st.mtimeMs / 1000) * 1000);
  const applets = await busyboxApplets();
  const pack = tar.pack();
  const dir = (name: string, mode = 0o755): void => {
    pack.entry({ name, type: 'directory', mode, mtime, uid: 0, gid: 0 });
  };
  const file = (name: string, content: string | Buffer, mode = 0o644): void => {
    pack.entry({ name, type: 'file', mode, mtime, uid: 0, gid: 0 }, content);
  };
  for (const d of ['bin', 'dev', 'etc', 'home', 'proc', 'root', 'sys', 'usr', 'usr/sbin', 'var', 'var/spool', 'var/www']) dir(d, d === 'root' ? 0o700 : 0o755);
  dir('tmp', 0o1777);
  file('bin/busybox', await fsp.readFile(BUSYBOX_PATH), 0o755);
  for (const a of applets) pack.entry({ name: `bin/${a}`, type: 'link', linkname: 'bin/busybox', mode: 0o755, mtime, uid: 0, gid: 0 });
  file('etc/group', GROUP);
  file('etc/passwd', PASSWD);
  file('etc/shadow', 'root:*:10933:0:99999:7:::\nnobody:*:10933:0:99999:7:::\n', 0o600);
  pack.finalize();
  return { stream: pack as unknown as Readable, created: mtime.toISOString() };
}
