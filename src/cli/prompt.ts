// docker's "Are you sure you want to continue? [y/N]" prompt.


export async function confirm(message: string): Promise<boolean> {
  process.stdout.write(`${message}\nAre you sure you want to continue? [y/N] `);
  const answer = await new Promise<string>((resolve) => {
    let buf = '';
    const onData = (c: Buffer) => {
      buf += c.toString();
      if (buf.includes('\n')) done();
    };
    const done = () => {
      process.stdin.off('data', onData);
      process.stdin.pause();
      resolve(buf);
    };
    process.stdin.on('data', onData);
    process.stdin.once('end', done);
  });
  const ok = /^\s*y(es)?\s*$/i.test(answer.split('\n')[0]);
  return ok;
}
