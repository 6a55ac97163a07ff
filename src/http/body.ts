import type Koa from 'koa';
import getRawBody from 'raw-body';
import { InputError } from '../errors.ts';

/** Reads the exact request bytes (signatures are checked on these), refusing oversized bodies. */
export async function readRawBody(ctx: Koa.Context, limitBytes: number): Promise<Buffer> {
  const declared = Number(ctx.get('content-length') || 0);
  if (declared > limitBytes) throw tooLarge(limitBytes);
  try {
    return await getRawBody(ctx.req, { limit: limitBytes, length: ctx.get('content-length') || undefined });
  } catch (err) {
    const type = (err as { type?: string }).type;
    if (type === 'entity.too.large') throw tooLarge(limitBytes);
    if (type === 'request.size.invalid') throw new InputError('body_length_mismatch', 'The body is not as long as Content-Length says.', 400);
    throw new InputError('body_unreadable', 'The request body could not be read.', 400);
  }
}

function tooLarge(limit: number): InputError {
  return new InputError('payload_too_large', `The request body is larger than ${limit} bytes.`, 413);
}

/** A JSON object body: right content type, valid JSON, an object at the top. */
export async function readJsonObject(ctx: Koa.Context, limitBytes: number): Promise<Record<string, unknown>> {
  if (!ctx.is('application/json')) {
    throw new InputError('unsupported_media_type', 'Send the body as JSON with Content-Type: application/json.', 415);
  }
  const raw = await readRawBody(ctx, limitBytes);
  let parsed: unknown;
  try {
    parsed = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(raw));
  } catch {
    throw new InputError('invalid_json', 'The body is not valid UTF-8 JSON.', 400);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new InputError('invalid_body', 'The body must be a JSON object.', 400);
  }
  return parsed as Record<string, unknown>;
}
