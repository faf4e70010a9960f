import { StatusError, type Ctx } from './cli.js';
export async function ui(_argv: string[], _ctx: Ctx): Promise<number> {
  throw new StatusError(1, 'not yet');
}
