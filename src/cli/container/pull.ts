// Progress output of an image pull, written to stderr by run/create.

import type { JSONMessage } from '../../api/types.js';
import { jsonStream } from '../../client/jsonstream.js';
import { StatusError } from '../cli.js';

export async function printJSONMessagesTo(res: AsyncIterable<Buffer>, out: NodeJS.WritableStream | null): Promise<void> {
  for await (const m of jsonStream<JSONMessage>(res)) {
    if (m.error || m.errorDetail) throw new Error(m.errorDetail?.message ?? m.error ?? 'unknown error');
    if (!out) continue;
    if (m.status) out.write(`${m.id ? `${m.id}: ` : ''}${m.status}\n`);
    else if (m.stream) out.write(m.stream);
  }
  void StatusError;
}
