// berth inspect / container inspect / image inspect.

import { ApiError } from '../client/errors.js';
import { command, describe, parse, StatusError, type Ctx } from './cli.js';
import { parseTemplate, prepare } from './format/formatter.js';
import { FUNCS, TemplateError } from './format/template.js';

interface Opts {
  format?: string;
  size?: boolean;
  type?: string;
}

type Kind = 'container' | 'image' | 'volume';

async function fetchObject(ctx: Ctx, kind: Kind, name: string, size: boolean): Promise<unknown> {
  const client = ctx.client();
  const id = encodeURIComponent(name);
  if (kind === 'container') return client.get(`/containers/${id}/json`, { size: size ? 1 : undefined });
  if (kind === 'volume') return client.get(`/volumes/${id}`);
  return client.get(`/images/${id}/json`);
}

/** Writes objects as docker does: an indented JSON array, or the template once per object. */
export function renderInspect(objects: unknown[], format: string | undefined): string {
  if (!format || format === 'json') {
    if (format === 'json') return objects.map((o) => JSON.stringify(o) + '\n').join('');
    return JSON.stringify(objects, null, 4) + '\n';
  }
  const tmpl = parseTemplate(prepare(format));
  let s = '';
  for (const o of objects) {
    try {
      s += tmpl.execute(o, FUNCS, { strict: true, typed: true }) + '\n';
    } catch (e) {
      if (e instanceof TemplateError) throw new StatusError(1, `template parsing error: template: :1: ${e.message}`);
      throw e;
    }
  }
  return s;
}

async function run(argv: string[], ctx: Ctx, fixed: Kind | undefined): Promise<number> {
  const what = fixed ?? 'object';
  const c = command(ctx, {
    usage: `[OPTIONS] ${fixed ? fixed.toUpperCase() : 'NAME|ID'} [${fixed ? fixed.toUpperCase() : 'NAME|ID'}...]`,
    description: `Display detailed information on one or more ${what}s`,
    args: { min: 1 },
  });
  c.option('-f, --format <string>', 'Format output using a custom template');
  if (fixed !== 'image') c.option('-s, --size', 'Display total file sizes if the type is container');
  if (!fixed) c.option('--type <string>', 'Only inspect objects of the given type');
  const { opts, args } = parse<Opts>(ctx, c, argv);
  let kinds: Kind[] = fixed ? [fixed] : ['container', 'image', 'volume'];
  if (opts.type) {
    if (opts.type !== 'container' && opts.type !== 'image' && opts.type !== 'volume') {
      if (['network', 'node', 'service', 'task', 'plugin', 'secret', 'config'].includes(opts.type)) kinds = [];
      else throw new StatusError(1, `"${opts.type}" is not a valid value for --type`);
    } else kinds = [opts.type];
  }
  const found: unknown[] = [];
  const errors: string[] = [];
  for (const name of args) {
    let obj: unknown;
    let lastErr: unknown;
    for (const k of kinds) {
      try {
        obj = await fetchObject(ctx, k, name, !!opts.size);
        break;
      } catch (e) {
        lastErr = e;
        if (!(e instanceof ApiError && e.statusCode === 404)) break;
      }
    }
    if (obj !== undefined) found.push(obj);
    else if (lastErr instanceof ApiError && lastErr.statusCode === 404 && !fixed) errors.push(`Error: No such object: ${name}`);
    else if (lastErr && !(lastErr instanceof ApiError)) throw lastErr;
    else if (lastErr) errors.push(describe(lastErr));
    else errors.push(`Error: No such object: ${name}`);
  }
  process.stdout.write(renderInspect(found, opts.format));
  if (errors.length) throw new StatusError(1, errors.join('\n'));
  return 0;
}

export const inspect = (argv: string[], ctx: Ctx) => run(argv, ctx, undefined);
export const containerInspect = (argv: string[], ctx: Ctx) => run(argv, ctx, 'container');
export const imageInspect = (argv: string[], ctx: Ctx) => run(argv, ctx, 'image');
