// An instruction's `--name=value` flags, checked against the ones it accepts (Docker's
// "Unknown flag" error); flags given without a value (`--link`) are "true".
import { DockerfileParseError, type Node } from './parser.js';

export function parseFlags(node: Node, allowed: string[]): Map<string, string> {
  const out = new Map<string, string>();
  for (const f of node.flags) {
    const eq = f.indexOf('=');
    const name = eq < 0 ? f : f.slice(0, eq);
    const value = eq < 0 ? 'true' : f.slice(eq + 1);
    if (!allowed.includes(name)) throw new DockerfileParseError(node.startLine, `Unknown flag: ${name}`);
    // RUN --mount may repeat: the values are kept apart by a newline.
    out.set(name, out.has(name) ? `${out.get(name)}\n${value}` : value);
  }
  return out;
}
