import Router from '@koa/router';
import type pg from 'pg';
import { newNonce, payPageCsp, renderNotFoundPage, renderPayPage } from '../../checkout/pay-page.ts';
import { loadCheckout } from '../../checkout/view.ts';

/**
 * `/pay/{ref}`: the stable link a store gives its shopper, the hosted pay page. A small
 * server-rendered shell under a strict nonce-based CSP: the storefront widget (`/widget.js`)
 * renders the payment from the JSON embedded in the page and keeps it live over SSE.
 */
export function payRoutes(pool: pg.Pool): Router {
  const router = new Router();
  router.get('/pay/:ref', async (ctx) => {
    const nonce = newNonce();
    const snapshot = await loadCheckout(pool, ctx.params.ref!);
    ctx.set('Content-Security-Policy', payPageCsp(nonce, snapshot?.frameAncestors ?? []));
    ctx.set('X-Content-Type-Options', 'nosniff');
    ctx.set('Referrer-Policy', 'no-referrer');
    ctx.set('Cache-Control', 'no-store');
    ctx.type = 'html';
    if (!snapshot) {
      ctx.status = 404;
      ctx.body = renderNotFoundPage(nonce);
      return;
    }
    ctx.body = renderPayPage(snapshot, nonce);
  });
  return router;
}
