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
      } else if (ctx.status === 405 || ctx.status === 501) {
        // The router answers wrong methods (405) and unknown ones (501) in plain text; an unknown
        // method is the caller's mistake too, so both leave as a 405 in the usual envelope.
        const allowed = ctx.response.get('Allow');
        ctx.status = 405;
        ctx.body = { error: { code: 'method_not_allowed', message: `${ctx.method} is not supported on ${ctx.path}${allowed ? `; use ${allowed}` : ''}.` } };
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
      // Not the error object itself: database errors carry request values (`where`, `detail`).
      const e = err as { name?: string; code?: string; message?: string; stack?: string };
      log.error({ error: e.name, dbCode: e.code, message: e.message?.slice(0, 200), at: e.stack?.split('\n').slice(1, 4).join(' | '), path: ctx.path, method: ctx.method }, 'unexpected error');
      ctx.status = 500;
      ctx.body = { error: { code: 'internal_error', message: 'Something went wrong on our side; it has been logged. Retry later.' } };
    }
  };
}
