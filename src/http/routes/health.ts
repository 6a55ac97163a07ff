import Router from '@koa/router';
import type pg from 'pg';
import { migrationsApplied } from '../../db/migrate.ts';
import type { Metrics } from '../../observability/metrics.ts';

export function healthRoutes(deps: { pool: pg.Pool; metrics: Metrics }): Router {
  const router = new Router();
  router.get('/healthz', (ctx) => {
    ctx.body = { status: 'ok' };
  });
  router.get('/readyz', async (ctx) => {
    try {
      const ready = await migrationsApplied(deps.pool);
      ctx.status = ready ? 200 : 503;
      ctx.body = ready ? { status: 'ready' } : { status: 'not_ready', reason: 'migrations pending' };
    } catch (err) {
      ctx.status = 503;
      ctx.body = { status: 'not_ready', reason: `database unreachable: ${(err as Error).message}` };
    }
  });
  router.get('/metrics', async (ctx) => {
    ctx.type = deps.metrics.registry.contentType;
    ctx.body = await deps.metrics.registry.metrics();
  });
  return router;
}
