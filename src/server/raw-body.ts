import type { IncomingMessage } from 'node:http';
import { RequestError } from './wire.js';

const MAX_BODY_BYTES = 1024 * 1024;

// Docker sends no Content-Type, so body parsers would skip the body: read it
// ourselves and treat it as JSON whatever the headers say.
export async function readRawBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    const buffer = chunk as Buffer;
    size += buffer.length;
    if (size > MAX_BODY_BYTES) throw new RequestError(`request body exceeds ${MAX_BODY_BYTES} bytes`);
    chunks.push(buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}
