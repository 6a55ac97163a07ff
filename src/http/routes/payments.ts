import Router from '@koa/router';
import type Koa from 'koa';
import type pg from 'pg';
import { z } from 'zod';
import { formatAmount, parseAmount, parseCurrency } from '../../core/money.ts';
import type { PaymentService } from '../../core/payment-service.ts';
import { findPaymentForStore, type PaymentRow } from '../../db/payments-repo.ts';
import { storeForApiKey, type Store } from '../../db/stores-repo.ts';
import { InputError } from '../../errors.ts';
import { readJsonObject } from '../body.ts';
import { describeIssues, storable } from '../validation.ts';

const CreatePaymentBody = z.object({
  orderId: z.string().trim().min(1).max(128).regex(/^[\w.:#/@+-]+$/, 'letters, digits and . : # / @ + - _ only'),
  amount: z.union([z.string(), z.number()]),
  currency: z.string(),
  returnUrl: storable(z.string().max(2048)).pipe(z.url({ protocol: /^https?$/ })),
  customerEmail: z.email().max(254).optional(),
  metadata: z.record(storable(z.string().max(64)), z.union([storable(z.string().max(500)), z.number(), z.boolean(), z.null()])).optional()
    .refine((m) => m === undefined || Object.keys(m).length <= 20, 'at most 20 metadata keys'),
  language: z.string().regex(/^[a-z]{2}(-[A-Za-z]{2})?$/).optional(),
}).strict();

const IDEMPOTENCY_KEY = /^[\x21-\x7e]{1,255}$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function serializePayment(p: PaymentRow, payUrl: string) {
  return {
    id: p.id,
    ref: p.ref,
    orderId: p.orderId,
    status: p.status,
    amount: formatAmount(p.amount),
    currency: p.amount.currency,
    payUrl,
    expiresAt: p.expiresAt.toISOString(),
    createdAt: p.createdAt.toISOString(),
    updatedAt: p.updatedAt.toISOString(),
    crypto: p.cryptoExpected || p.cryptoReceived ? { coin: p.cryptoCoin, expected: p.cryptoExpected, received: p.cryptoReceived, txHash: p.txHash, network: p.network } : null,
    ...(p.failureReason ? { failureReason: p.failureReason } : {}),
  };
}

/** Store API keys come as `Authorization: Bearer cb_live_…`. */
export function storeAuth(pool: pg.Pool): Koa.Middleware {
  return async (ctx, next) => {
    const header = ctx.get('authorization');
    const match = /^Bearer\s+(\S+)$/i.exec(header);
    if (!match) throw new InputError('missing_api_key', 'Send the store API key as "Authorization: Bearer <key>".', 401);
    const store = await storeForApiKey(pool, match[1]!);
    if (!store) throw new InputError('invalid_api_key', 'This API key is not valid (revoked or mistyped).', 401);
    ctx.state.store = store;
    await next();
  };
}

/** The direct payments API used by custom stores and the WooCommerce plugin. */
export function paymentRoutes(deps: { pool: pg.Pool; payments: PaymentService }): Router {
  const router = new Router({ prefix: '/v1/payments' });
  router.use(storeAuth(deps.pool));

  router.post('/', async (ctx) => {
    const store = ctx.state.store as Store;
    const key = ctx.get('idempotency-key') || undefined;
    if (key !== undefined && !IDEMPOTENCY_KEY.test(key)) {
      throw new InputError('invalid_idempotency_key', 'Idempotency-Key must be 1–255 visible ASCII characters.', 400);
    }
    const body = CreatePaymentBody.safeParse(await readJsonObject(ctx, 16 * 1024));
    if (!body.success) {
      throw new InputError('invalid_request', 'The payment request has invalid fields; see details.', 400, describeIssues(body.error));
    }
    const currency = parseCurrency(body.data.currency);
    if (!currency.ok) throw new InputError('unsupported_currency', currency.reason, 400, [{ field: 'currency', problem: currency.reason }]);
    const amount = parseAmount(body.data.amount, currency.value);
    if (!amount.ok) throw new InputError('invalid_amount', amount.reason, 400, [{ field: 'amount', problem: amount.reason }]);

    const { payment, created } = await deps.payments.create(store, {
      orderId: body.data.orderId, amount: amount.value, returnUrl: body.data.returnUrl,
      customerEmail: body.data.customerEmail, metadata: body.data.metadata, language: body.data.language,
    }, key);
    ctx.status = created ? 201 : 200;
    ctx.body = serializePayment(payment, deps.payments.payUrl(payment));
  });

  router.get('/:id', async (ctx) => {
    const store = ctx.state.store as Store;
    const id = ctx.params.id!;
    const payment = UUID.test(id) ? await findPaymentForStore(deps.pool, store.id, id) : undefined;
    if (!payment) throw new InputError('payment_not_found', `No payment ${id} in this store.`, 404);
    ctx.body = serializePayment(payment, deps.payments.payUrl(payment));
  });
  return router;
}
