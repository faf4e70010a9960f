// docker's --format handling: "table ...", "json", or a Go template, plus headers and tab layout.

import { HEADER_FUNCS, Template, TemplateError, goJSON } from './template.js';
import { TabWriter } from './tabwriter.js';

export function isTable(format: string): boolean {
  return format.startsWith('table');
}

/** Strips "table", trims spaces, and turns the two-character escapes \t and \n into real ones. */
export function prepare(format: string): string {
  let f = format;
  if (isTable(f)) f = f.slice('table'.length);
  f = f.replace(/^ +| +$/g, '');
  return f.replace(/\\t/g, '\t').replace(/\\n/g, '\n');
}

export function parseTemplate(src: string): Template {
  try {
    return new Template(src);
  } catch (e) {
    if (e instanceof TemplateError) throw new TemplateError(`template parsing error: template: :1: ${e.message}`);
    throw e;
  }
}

export interface ListFormat {
  /** The user's --format (or '' for the default). */
  format: string;
  /** The default table format for this list. */
  defaultTable: string;
  quiet?: boolean;
  /** Template used with --quiet. */
  quietFormat?: string;
}

/** Resolves docker's format keys: '' and 'table' → default table; 'json' → {{json .}}; quiet. */
export function resolveFormat(f: ListFormat): string {
  if (f.quiet && (f.format === '' || f.format === 'table' || !f.format)) return f.quietFormat ?? '{{.ID}}';
  if (f.format === '' || f.format === 'table') return f.defaultTable;
  if (f.format === 'json') return '{{json .}}';
  return f.format;
}

/** Renders items with a resolved format; headers are the column titles for table formats. */
export function renderList(format: string, items: unknown[], headers: Record<string, string>): string {
  const tmpl = parseTemplate(prepare(format));
  let body = '';
  for (const it of items) body += tmpl.execute(it) + '\n';
  if (!isTable(format)) return body;
  let header = '';
  try {
    header = tmpl.execute(headers, HEADER_FUNCS);
  } catch {
    // docker ignores header rendering errors
  }
  const tw = new TabWriter(10, 3);
  tw.write(header + '\n');
  tw.write(body);
  return tw.flush();
}

/** A formatting context whose JSON form has sorted keys and no methods (docker's MarshalJSON). */
export function jsonContext<T extends object>(o: T): T {
  Object.defineProperty(o, '__escapeHTML', { enumerable: false, value: true });
  Object.defineProperty(o, 'toJSON', {
    enumerable: false,
    value() {
      const out: Record<string, unknown> = {};
      for (const k of Object.keys(o).sort()) {
        const v = (o as Record<string, unknown>)[k];
        if (typeof v !== 'function') out[k] = v;
      }
      return out;
    },
  });
  return o;
}

export { goJSON };
