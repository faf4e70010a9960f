// The legacy builder's lines redrawn as BuildKit's plain progress, for a terminal: a numbered
// entry per step (`#3 [3/5] RUN make`), its output prefixed with the step and the seconds since
// it started, and `#3 DONE 1.2s` / `#3 CACHED` / `#3 ERROR` when it ends.

const STEP = /^Step (\d+)\/(\d+) : (.*)$/;

export class StepProgress {
  private step: { n: number; started: number; cached: boolean } | undefined;
  private partial = '';

  constructor(private readonly out: NodeJS.WritableStream) {}

  write(text: string): void {
    const lines = (this.partial + text).split('\n');
    this.partial = lines.pop() ?? '';
    for (const line of lines) this.line(line);
  }

  private line(line: string): void {
    const m = STEP.exec(line);
    if (m) {
      this.finish();
      this.step = { n: Number(m[1]), started: Date.now(), cached: false };
      this.out.write(`#${m[1]} [${m[1]}/${m[2]}] ${m[3]}\n`);
      return;
    }
    if (line === ' ---> Using cache') {
      if (this.step) this.step.cached = true;
      return;
    }
    if (/^ ---> /.test(line) || /^Removing intermediate container /.test(line)) return;
    if (/^Successfully (built|tagged) /.test(line)) {
      this.finish();
      const built = /^Successfully built (\S+)/.exec(line);
      this.out.write(built ? `writing image ${built[1]} done\n` : `naming to ${line.slice('Successfully tagged '.length)} done\n`);
      return;
    }
    if (!this.step) {
      this.out.write(`${line}\n`);
      return;
    }
    this.out.write(`#${this.step.n} ${((Date.now() - this.step.started) / 1000).toFixed(3)} ${line}\n`);
  }

  private finish(): void {
    if (!this.step) return;
    const s = this.step;
    this.step = undefined;
    this.out.write(s.cached ? `#${s.n} CACHED\n` : `#${s.n} DONE ${((Date.now() - s.started) / 1000).toFixed(1)}s\n`);
  }

  fail(): void {
    if (this.step) this.out.write(`#${this.step.n} ERROR\n`);
    this.step = undefined;
  }

  end(): void {
    if (this.partial) this.line(this.partial);
    this.partial = '';
    this.finish();
  }
}
