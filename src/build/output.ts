// Output of stages that run at the same time, kept readable: the stages' lines come out in
// Dockerfile order. The earliest unfinished stage streams live; a later one is held until every
// stage before it is done, then its lines so far are written and it streams live in turn.
import type { BuildOutput } from './steps.js';

type Message = { stream: string } | { aux: unknown };

export class OrderedOutput {
  private readonly held = new Map<number, Message[]>();
  private readonly done = new Set<number>();
  private cursor = 0;

  constructor(
    private readonly order: number[],
    private readonly sink: BuildOutput,
  ) {
    for (const i of order) this.held.set(i, []);
  }

  forStage(index: number): BuildOutput {
    return {
      stream: (text) => this.push(index, { stream: text }),
      aux: (value) => this.push(index, { aux: value }),
    };
  }

  stageDone(index: number): void {
    this.done.add(index);
    this.advance();
  }

  private live(): number | undefined {
    return this.order[this.cursor];
  }

  private push(index: number, m: Message): void {
    if (this.live() === index || !this.held.has(index)) this.write(m);
    else this.held.get(index)!.push(m);
  }

  private write(m: Message): void {
    if ('stream' in m) this.sink.stream(m.stream);
    else this.sink.aux(m.aux);
  }

  /** Moves the live stage past the finished ones, flushing what each held. */
  private advance(): void {
    for (;;) {
      const cur = this.live();
      if (cur === undefined) return;
      for (const m of this.held.get(cur)!.splice(0)) this.write(m);
      if (!this.done.has(cur)) return;
      this.cursor++;
    }
  }
}
