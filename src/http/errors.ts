import type Koa from 'koa';
import { CoinbridgeError } from '../errors.ts';
import type { Logger } from '../observability/log.ts';

/**
 * Every error leaves as `{ error: { code, message, details? } }`: `code` for programs, `message`
 * for people (what went wrong, what to do). Unexpected errors are logged and never leak internals.
 */
export function errorHandler(log: Logger): Koa.Middleware {
  return async (ctx, next) => {
    try {
      await next();
      if (ctx.status === 404 && ctx.body === undefined) {
        ctx.status = 404;
        ctx.body = { error: { code: 'not_found', message: `No route for ${ctx.method} ${ctx.path}.` } };
      }
    } catch (err) {
      if (err instanceof CoinbridgeError && err.status < 500) {
        ctx.status = err.status;
        ctx.body = { error: { code: err.code, message: err.message, ...(err.details === undefined ? {} : { details: err.details }) } };
        return;
      }
      if (err instanceof CoinbridgeError) {
        ctx.status = err.status;
        ctx.body = { error: { code: err.code, message: err.message, ...(err.details === undefined ? {} : { details: err.details }) } };
        if (err.retryable) ctx.set('Retry-After', '2');
        log.warn({ code: err.code, path: ctx.path, err: err.message }, 'request failed');
        return;
      }
      const status = (err as { status?: number; expose?: boolean }).expose ? (err as { status: number }).status : 500;
      if (status < 500) {
        ctx.status = status;
        ctx.body = { error: { code: 'bad_request', message: (err as Error).message } };
        return;
      }
      log.error({ err, path: ctx.path, method: ctx.method }, 'unexpected error');
      ctx.status = 500;
      ctx.body = { error: { code: 'internal_error', message: 'Something went wrong on our side; it has been logged. Retry later.' } };
    }
  };
}
