// Elastic tabstops, as Go's text/tabwriter lays them out (no flags; padding with spaces).
// A line's tab-terminated cells form columns; a column block is a run of consecutive lines
// that have a cell in that column; its width is the widest cell plus padding, at least minwidth.

function width(s: string): number {
  let n = 0;
  for (const _ of s) n++;
  return n;
}

export class TabWriter {
  private lines: string[][] = [];
  private partial = '';
  private out = '';

  constructor(
    private minwidth = 10,
    private padding = 3,
    private padchar = ' ',
  ) {}

  write(text: string): void {
    const all = this.partial + text;
    const parts = all.split('\n');
    this.partial = parts.pop() ?? '';
    for (const line of parts) {
      const cells = line.split('\t');
      this.lines.push(cells);
      // A line without tabs ends every column block (Go flushes on a one-cell line).
      if (cells.length === 1) this.flushLines();
    }
  }

  private flushLines(): void {
    if (!this.lines.length) return;
    const widths: number[] = [];
    this.format(widths, 0, this.lines.length);
    this.lines = [];
  }

  private format(widths: number[], line0: number, line1: number): void {
    const column = widths.length;
    for (let t = line0; t < line1; t++) {
      if (column >= this.lines[t].length - 1) continue;
      this.writeLines(widths, line0, t);
      line0 = t;
      let w = this.minwidth;
      for (; t < line1; t++) {
        const line = this.lines[t];
        if (column >= line.length - 1) break;
        const cw = width(line[column]) + this.padding;
        if (cw > w) w = cw;
      }
      widths.push(w);
      this.format(widths, line0, t);
      widths.pop();
      line0 = t;
    }
    this.writeLines(widths, line0, line1);
  }

  private writeLines(widths: number[], line0: number, line1: number): void {
    for (let i = line0; i < line1; i++) {
      const line = this.lines[i];
      let s = '';
      for (let j = 0; j < line.length; j++) {
        const c = line[j];
        s += c;
        if (j < widths.length && j < line.length - 1) s += this.padchar.repeat(Math.max(0, widths[j] - width(c)));
      }
      this.out += s + '\n';
    }
  }

  /** Lays out everything written so far and returns it. */
  flush(): string {
    if (this.partial) {
      this.lines.push(this.partial.split('\t'));
      this.partial = '';
    }
    this.flushLines();
    const o = this.out;
    this.out = '';
    return o;
  }
}

export function tabulate(text: string, minwidth = 10, padding = 3): string {
  const tw = new TabWriter(minwidth, padding);
  tw.write(text);
  return tw.flush();
}
