// Splits a byte stream of concatenated JSON values (newline separated or not) into parsed objects.

export class JSONSplitter {
  private text = '';
  private depth = 0;
  private inStr = false;
  private esc = false;
  private start = -1;
  private scanned = 0;

  push(chunk: string): unknown[] {
    this.text += chunk;
    const out: unknown[] = [];
    const t = this.text;
    let i = this.scanned;
    for (; i < t.length; i++) {
      const c = t[i];
      if (this.inStr) {
        if (this.esc) this.esc = false;
        else if (c === '\\') this.esc = true;
        else if (c === '"') this.inStr = false;
        continue;
      }
      if (c === '"') {
        this.inStr = true;
        if (this.start < 0) this.start = i;
      } else if (c === '{' || c === '[') {
        if (this.depth === 0) this.start = i;
        this.depth++;
      } else if (c === '}' || c === ']') {
        this.depth--;
        if (this.depth === 0) {
          out.push(JSON.parse(t.slice(this.start, i + 1)));
          this.start = -1;
        }
      }
    }
    if (this.depth === 0 && !this.inStr) {
      this.text = '';
      this.scanned = 0;
      this.start = -1;
    } else {
      const keep = this.start < 0 ? t.length : this.start;
      this.text = t.slice(keep);
      this.scanned = i - keep;
      this.start = this.start < 0 ? -1 : 0;
    }
    return out;
  }
}

export async function* jsonStream<T = unknown>(src: AsyncIterable<Buffer | string>): AsyncGenerator<T> {
  const sp = new JSONSplitter();
  const dec = new TextDecoder();
  for await (const chunk of src) {
    const s = typeof chunk === 'string' ? chunk : dec.decode(chunk, { stream: true });
    for (const v of sp.push(s)) yield v as T;
  }
}
