// berth update / container update (POST /containers/{id}/update): new limits and restart policy.

import type { ContainerUpdateResponse } from '../../types/api.js';
import { command, describe, parse, StatusError, type Ctx } from '../cli.js';
import { addUpdateFlags, updateFields, type UpdateFlagOpts } from './resource-opts.js';

export async function update(argv: string[], ctx: Ctx): Promise<number> {
  const c = command(ctx, { usage: '[OPTIONS] CONTAINER [CONTAINER...]', description: 'Update configuration of one or more containers', args: { min: 1 } });
  addUpdateFlags(c);
  const { opts, args } = parse<UpdateFlagOpts>(ctx, c, argv);
  if (!Object.values(opts).some((v) => v !== undefined)) throw new StatusError(1, 'you must provide one or more flags when using this command');
  const body = updateFields(opts);
  const errors: string[] = [];
  const warnings: string[] = [];
  for (const name of args) {
    try {
      const r = await ctx.client().post<ContainerUpdateResponse>(`/containers/${encodeURIComponent(name)}/update`, undefined, body);
      process.stdout.write(`${name}\n`);
      warnings.push(...(r?.Warnings ?? []));
    } catch (e) {
      errors.push(describe(e));
    }
  }
  if (warnings.length) process.stdout.write(`${warnings.join('\n')}\n`);
  if (errors.length) throw new StatusError(1, errors.join('\n'));
  return 0;
}
