// Tags and digests → image ids, in one atomically written file (like Docker's repositories.json).
import path from 'node:path';
import { readJsonFile, removeAtomicLeftovers, writeJsonAtomic } from '../util/fs.js';

interface ReferencesFile {
  /** canonical reference ("docker.io/library/busybox:latest" or "…@sha256:…") → image id */
  references: Record<string, string>;
}

export class ReferenceStore {
  private refs = new Map<string, string>();
  private readonly file: string;
  private writing: Promise<void> = Promise.resolve();

  constructor(metadataDir: string) {
    this.file = path.join(metadataDir, 'references.json');
  }

  async init(): Promise<void> {
    await removeAtomicLeftovers(path.dirname(this.file));
    const data = await readJsonFile<ReferencesFile>(this.file);
    this.refs = new Map(Object.entries(data?.references ?? {}));
  }

  get(ref: string): string | undefined {
    return this.refs.get(ref);
  }

  /** References naming this image, sorted for stable output. */
  referencesTo(imageId: string): string[] {
    const out: string[] = [];
    for (const [ref, id] of this.refs) if (id === imageId) out.push(ref);
    return out.sort();
  }

  all(): [string, string][] {
    return [...this.refs.entries()];
  }

  async set(ref: string, imageId: string): Promise<void> {
    this.refs.set(ref, imageId);
    await this.save();
  }

  async delete(ref: string): Promise<boolean> {
    const had = this.refs.delete(ref);
    if (had) await this.save();
    return had;
  }

  private save(): Promise<void> {
    // Serialise writes so a later state never gets overwritten by an earlier one.
    const snapshot: ReferencesFile = { references: Object.fromEntries(this.refs) };
    this.writing = this.writing.then(() => writeJsonAtomic(this.file, snapshot));
    return this.writing;
  }
}
