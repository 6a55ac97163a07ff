import Router from '@koa/router';
import type { CallbackIngest } from '../../core/callback-ingest.ts';
import { readRawBody } from '../body.ts';

/** Gateway callbacks; the answer comes as soon as the callback is safely stored. */
export function ipnRoutes(ingest: CallbackIngest): Router {
  const router = new Router();
  router.post('/ipn/:gateway/:connectionId', async (ctx) => {
    const raw = await readRawBody(ctx, 64 * 1024);
    const result = await ingest.ingest(ctx.params.gateway!, ctx.params.connectionId!, raw, ctx.req.headers);
    ctx.status = 200;
    ctx.body = { received: true, duplicate: result.duplicate };
  });
  return router;
}
