import Router from '@koa/router';
import type { Database } from '../../db/database.ts';
import { enqueueJob, type JobWaker } from '../../jobs/queue.ts';
import { renderSandboxPage } from './page.ts';
import { findSandboxPayment, type SandboxPayment } from './sandbox-store.ts';
import { SANDBOX_ACTIONS, scenario, type SandboxAction } from './scenarios.ts';
import { SANDBOX_SKINS } from './skins.ts';
import type { SandboxSkin } from './skin.ts';

/** Every skin's payment ids are URL-safe and bounded; anything else is not one. */
const TOKEN = /^[A-Za-z0-9_-]{8,100}$/;

export function sandboxPayPageUrl(publicUrl: string, payment: Pick<SandboxPayment, 'token' | 'gateway'>): string {
  return `${publicUrl}/sandbox/${payment.gateway}/gateway?token=${encodeURIComponent(payment.token)}`;
}

/**
 * The built-in sandbox gateway: under `/sandbox/{gateway}` each gateway's API as its skin plays
 * it, plus one hosted pay page whose buttons play scenarios (pay, underpay, …) and send the
 * signed callbacks that gateway would send. A store can take test payments with no crypto and
 * no network, on any gateway.
 */
export function sandboxRoutes(db: Database, opts: { stepDelayMs: number; waker: JobWaker; publicUrl: string }): Router {
  const router = new Router();
  for (const skin of SANDBOX_SKINS) {
    const prefix = `/sandbox/${skin.gateway}`;
    const gateway = new Router({ prefix });
    const api = skin.routes({ db, payPageUrl: (p) => sandboxPayPageUrl(opts.publicUrl, p) });
    gateway.use(api.routes(), api.allowedMethods());
    mountPayPage(gateway, skin, db, opts);
    router.use(gateway.routes(), gateway.allowedMethods());
  }
  return router;
}

function mountPayPage(router: Router, skin: SandboxSkin, db: Database, opts: { stepDelayMs: number; waker: JobWaker }): void {
  const find = async (token: string | undefined) => {
    const payment = token && TOKEN.test(token) ? await findSandboxPayment(db.pool, token) : undefined;
    return payment?.gateway === skin.gateway ? payment : undefined;
  };

  router.get('/gateway', async (ctx) => {
    const payment = await find(typeof ctx.query.token === 'string' ? ctx.query.token : undefined);
    ctx.set('Cache-Control', 'no-store');
    ctx.set('Content-Security-Policy', "default-src 'none'; style-src 'unsafe-inline'; form-action 'self' http: https:; base-uri 'none'; frame-ancestors 'self'");
    ctx.type = 'html';
    if (!payment) ctx.status = 404;
    ctx.body = renderSandboxPage(skin, payment);
  });

  // The pay page's buttons: a plain form POST, so it works without JavaScript.
  router.post('/gateway/:token/:action', async (ctx) => {
    const action = ctx.params.action as SandboxAction;
    const payment = await find(ctx.params.token);
    if (!payment || !SANDBOX_ACTIONS.includes(action) || !skin.actions.includes(action)) {
      ctx.status = 404;
      ctx.body = { success: false, message: `Unknown sandbox payment, or ${skin.gateway} has no "${action}" scenario`, body: null };
      return;
    }
    await enqueueJob(db.pool, { name: 'sandbox.deliver-ipn', data: { token: payment.token, steps: scenario(action), stepDelayMs: action === 'pay_late' ? opts.stepDelayMs * 5 : opts.stepDelayMs } });
    opts.waker.wake('sandbox.deliver-ipn');
    if (ctx.accepts('html', 'json') === 'json') {
      ctx.body = { success: true, message: `sandbox ${action} scheduled`, body: { token: payment.token } };
      return;
    }
    ctx.redirect(`/sandbox/${skin.gateway}/gateway?token=${encodeURIComponent(payment.token)}&done=${action}`);
  });
}
