import Router from '@koa/router';
import type pg from 'pg';
import { findPaymentByRef } from '../../db/payments-repo.ts';
import { InputError } from '../../errors.ts';

const REF = /^[A-Za-z0-9]{22}$/;

/**
 * `/pay/{ref}`: the stable link a store gives its shopper. For now it forwards to the gateway's
 * own hosted page; the hosted pay page and widget (issue 5) take this route over.
 */
export function payRoutes(pool: pg.Pool): Router {
  const router = new Router();
  router.get('/pay/:ref', async (ctx) => {
    const ref = ctx.params.ref!;
    const payment = REF.test(ref) ? await findPaymentByRef(pool, ref) : undefined;
    if (!payment) throw new InputError('payment_not_found', 'This payment link is not valid. Ask the store for a new one.', 404);
    if (!payment.checkoutUrl) throw new InputError('payment_not_ready', 'This payment could not be started. Ask the store to try again.', 409);
    ctx.set('Cache-Control', 'no-store');
    ctx.redirect(payment.checkoutUrl);
  });
  return router;
}
