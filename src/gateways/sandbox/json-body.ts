import type Koa from 'koa';
import type { z } from 'zod';
import { InputError } from '../../errors.ts';
import { readRawBody } from '../../http/body.ts';
import { describeIssues } from '../../http/validation.ts';

/**
 * A JSON object body checked against `schema`, for the sandbox's gateway APIs. On a bad body it
 * answers through `fail` in the played gateway's own error shape and returns undefined.
 */
export async function readJsonObject<T>(ctx: Koa.Context, schema: z.ZodType<T>, fail: (status: number, message: string) => void): Promise<T | undefined> {
  let raw: Buffer;
  try {
    raw = await readRawBody(ctx, 32 * 1024);
  } catch (err) {
    fail(err instanceof InputError ? err.status : 400, err instanceof InputError ? err.message : 'The request body could not be read');
    return undefined;
  }
  ctx.state.rawBody = raw;
  let parsed: unknown;
  try { parsed = JSON.parse(raw.toString('utf8')); } catch { parsed = undefined; }
  if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) {
    fail(400, 'Request body must be a JSON object');
    return undefined;
  }
  const checked = schema.safeParse(parsed);
  if (!checked.success) {
    fail(400, `Invalid request: ${describeIssues(checked.error).map((d) => `${d.field}: ${d.problem}`).join('; ')}`);
    return undefined;
  }
  return checked.data;
}
