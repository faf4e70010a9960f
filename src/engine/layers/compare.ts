// Two images' union views compared file by file (moby#12641): what B adds, changes and deletes
// relative to A. Entries that come from the same shared layer are equal without a look.
import { byteCompare } from '../../archive/changes.js';
import type { FileDifference, ImageComparison, UnionEntry } from '../../types/berth.js';
import type { UnionTree } from './union.js';

export interface ComparedStack {
  name: string;
  tree: UnionTree;
  /** Chain ids, top first (index = UnionEntry.Layer). */
  keys: string[];
}

function differs(a: UnionEntry, b: UnionEntry): boolean {
  if (a.Type !== b.Type || a.Mode !== b.Mode || a.Uid !== b.Uid || a.Gid !== b.Gid) return true;
  if (a.Type === 'dir') return false;
  return a.Size !== b.Size || a.MtimeNs !== b.MtimeNs || a.LinkTarget !== b.LinkTarget;
}

export function compareStacks(a: ComparedStack, b: ComparedStack): ImageComparison {
  const baseA = [...a.keys].reverse();
  const baseB = [...b.keys].reverse();
  let shared = 0;
  while (shared < baseA.length && shared < baseB.length && baseA[shared] === baseB[shared]) shared++;
  const inA = new Map<string, UnionEntry>();
  for (const e of a.tree.visible()) inA.set(e.Path, e);
  const changes: FileDifference[] = [];
  for (const e of b.tree.visible()) {
    const old = inA.get(e.Path);
    inA.delete(e.Path);
    if (!old) changes.push({ Path: e.Path, Kind: 'A', Type: e.Type, Size: e.Size, OldSize: 0 });
    else if (a.keys[old.Layer] !== b.keys[e.Layer] && differs(old, e)) changes.push({ Path: e.Path, Kind: 'C', Type: e.Type, Size: e.Size, OldSize: old.Size });
  }
  for (const old of inA.values()) changes.push({ Path: old.Path, Kind: 'D', Type: old.Type, Size: 0, OldSize: old.Size });
  changes.sort((x, y) => byteCompare(x.Path, y.Path));
  const sum = (kind: FileDifference['Kind'], f: (d: FileDifference) => number): number => changes.filter((d) => d.Kind === kind).reduce((s, d) => s + f(d), 0);
  return {
    A: a.name,
    B: b.name,
    SharedLayers: baseA.slice(0, shared),
    OnlyA: baseA.slice(shared),
    OnlyB: baseB.slice(shared),
    Changes: changes,
    Summary: {
      Added: changes.filter((d) => d.Kind === 'A').length,
      Changed: changes.filter((d) => d.Kind === 'C').length,
      Deleted: changes.filter((d) => d.Kind === 'D').length,
      AddedBytes: sum('A', (d) => d.Size),
      ChangedBytes: sum('C', (d) => d.Size - d.OldSize),
      DeletedBytes: sum('D', (d) => d.OldSize),
    },
  };
}
