import Router from '@koa/router';
import type Koa from 'koa';
import type { Database } from '../../db/database.ts';
import { z } from 'zod';
import { InputError } from '../../errors.ts';
import { readRawBody } from '../../http/body.ts';
import { describeIssues, storable } from '../../http/validation.ts';
import { enqueueJob, type JobWaker } from '../../jobs/queue.ts';
import { PAYMENTO_STATUS } from '../paymento/protocol.ts';
import { renderSandboxPage } from './page.ts';
import { findSandboxAccount, findSandboxPayment, insertSandboxPayment, setSandboxSettings, takeVerifyFailure } from './sandbox-store.ts';
import { SANDBOX_ACTIONS, scenario, type SandboxAction } from './scenarios.ts';

const GATEWAY_WINDOW_MS = 60 * 60_000;
/** Sandbox tokens are 40 hex digits (sandbox-store.ts); anything else is not one. */
const TOKEN = /^[0-9a-f]{40}$/;
const text = (max: number) => storable(z.string().max(max));

const PaymentRequestBody = z.looseObject({
  fiatAmount: z.string().max(40).nullish(),
  fiatCurrency: z.string().max(10).nullish(),
  returnUrl: text(2048).nullish(),
  orderId: text(200).nullish(),
  riskSpeed: z.union([z.literal(0), z.literal(1)]).optional(),
  language: text(20).nullish(),
  emailAddress: text(254).nullish(),
  additionalData: z.array(z.object({ key: text(200).nullable(), value: text(2000).nullable() })).max(50).nullish(),
});

const SettingsBody = z.looseObject({
  IPN_Url: text(2048).nullish(),
  ipN_URL: text(2048).nullish(),
  IPN_Method: z.union([z.literal(1), z.literal(2)]).optional(),
  ipN_Method: z.union([z.literal(1), z.literal(2)]).optional(),
});
/** Longer than any caller's deadline, so a simulated timeout is one. */
const SIMULATED_HANG_MS = 130_000;
const STATUS_NAMES = Object.fromEntries(Object.entries(PAYMENTO_STATUS).map(([k, v]) => [v, k])) as Record<number, string>;

function envelope(ctx: Koa.Context, status: number, success: boolean, message: string | null, body: unknown = null): void {
  ctx.status = status;
  ctx.body = { success, message, body };
}

/**
 * A built-in gateway that speaks Paymento's published API (same paths, headers, bodies and IPN
 * signature), so a store can take test payments with no crypto and no network.
 */
export function sandboxRoutes(db: Database, opts: { stepDelayMs: number; waker: JobWaker }): Router {
  const router = new Router({ prefix: '/sandbox/paymento' });
  const api = new Router({ prefix: '/v1' });

  api.use(async (ctx, next) => {
    const key = ctx.get('api-key');
    const account = key ? await findSandboxAccount(db.pool, key) : undefined;
    if (!account) return envelope(ctx, 401, false, 'Invalid or missing Api-Key header');
    ctx.state.account = account;
    await next();
  });

  /** A JSON object body checked against `schema`; answers the Paymento-style error itself. */
  const jsonBody = async <T>(ctx: Koa.Context, schema: z.ZodType<T>): Promise<T | undefined> => {
    let raw: Buffer;
    try {
      raw = await readRawBody(ctx, 32 * 1024);
    } catch (err) {
      const status = err instanceof InputError ? err.status : 400;
      envelope(ctx, status, false, err instanceof InputError ? err.message : 'The request body could not be read');
      return undefined;
    }
    let parsed: unknown;
    try { parsed = JSON.parse(raw.toString('utf8')); } catch { parsed = undefined; }
    if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) {
      envelope(ctx, 400, false, 'Request body must be a JSON object');
      return undefined;
    }
    const checked = schema.safeParse(parsed);
    if (!checked.success) {
      envelope(ctx, 400, false, `Invalid request: ${describeIssues(checked.error).map((d) => `${d.field}: ${d.problem}`).join('; ')}`);
      return undefined;
    }
    return checked.data;
  };

  api.post('/payment/request', async (ctx) => {
    const body = await jsonBody(ctx, PaymentRequestBody);
    if (!body) return;
    // Like Paymento: well-formed but incomplete requests get success:false, not an HTTP error.
    if (!body.fiatAmount || !/^\d{1,12}(\.\d{1,8})?$/.test(body.fiatAmount) || !body.fiatCurrency || !/^[A-Za-z]{3}$/.test(body.fiatCurrency)) {
      return envelope(ctx, 200, false, 'fiatAmount (a positive decimal string) and fiatCurrency (three letters) are required');
    }
    const payment = await insertSandboxPayment(db.pool, {
      apiKey: ctx.state.account.apiKey, orderId: body.orderId ?? null, fiatAmount: body.fiatAmount, fiatCurrency: body.fiatCurrency.toUpperCase(),
      returnUrl: body.returnUrl ?? null, additionalData: body.additionalData ?? [],
      // Sandbox USDT trades at exactly 1.000000 per unit of any fiat, so amounts stay easy to read.
      coin: 'USDT', expectedCrypto: `${body.fiatAmount.split('.')[0]}.${((body.fiatAmount.split('.')[1] ?? '') + '000000').slice(0, 6)}`,
      expiresAt: new Date(Date.now() + GATEWAY_WINDOW_MS),
    });
    envelope(ctx, 200, true, null, payment.token);
  });

  api.post('/payment/verify', async (ctx) => {
    const body = await jsonBody(ctx, z.looseObject({ token: z.string().max(200) }));
    if (!body) return;
    const failure = await takeVerifyFailure(db.pool, ctx.state.account.apiKey);
    if (failure === '500') return envelope(ctx, 500, false, 'Simulated sandbox outage');
    if (failure === 'timeout') {
      await new Promise<void>((resolve) => {
        setTimeout(resolve, SIMULATED_HANG_MS).unref();
        ctx.req.socket.once('close', () => resolve());
      });
      return envelope(ctx, 504, false, 'Simulated sandbox timeout');
    }
    const payment = TOKEN.test(body.token) ? await findSandboxPayment(db.pool, body.token) : undefined;
    if (!payment || payment.apiKey !== ctx.state.account.apiKey) return envelope(ctx, 400, false, 'Payment not found');
    envelope(ctx, 200, payment.status === PAYMENTO_STATUS.Paid || payment.status === PAYMENTO_STATUS.Approve, null, {
      token: payment.token,
      orderId: payment.orderId,
      orderStatus: STATUS_NAMES[payment.status] ?? String(payment.status),
      additionalData: [...payment.additionalData, { key: 'OrderId', value: payment.orderId }],
      settlement: {
        expectedCryptoAmount: payment.expectedCrypto,
        requestedFiatAmount: payment.fiatAmount,
        receivedCryptoAmount: payment.receivedCrypto,
        pendingTxHash: payment.txHash,
        coin: payment.coin,
        fiatCurrency: payment.fiatCurrency,
      },
    });
  });

  api.post('/payment/settings', async (ctx) => {
    const body = await jsonBody(ctx, SettingsBody);
    if (!body) return;
    const url = body.IPN_Url ?? body.ipN_URL ?? null;
    const method = body.IPN_Method ?? body.ipN_Method ?? 1;
    if (url !== null && !/^https?:\/\//.test(url)) return envelope(ctx, 200, false, 'IPN_Url must be an http(s) URL');
    await setSandboxSettings(db.pool, ctx.state.account.apiKey, url, method);
    envelope(ctx, 200, true, null, { ipN_URL: url, ipN_Method: method });
  });
  api.get('/payment/settings', (ctx) => envelope(ctx, 200, true, null, { ipN_URL: ctx.state.account.ipnUrl, ipN_Method: ctx.state.account.ipnMethod }));
  api.get('/payment/coins', (ctx) => envelope(ctx, 200, true, null, [{ name: 'Tether (sandbox)', shortcut: 'USDT' }]));
  api.get('/coins', (ctx) => envelope(ctx, 200, true, null, [{ name: 'Tether (sandbox)', shortcut: 'USDT', contractAddress: null, chainId: null, network: 'sandbox', isTest: true }]));
  api.get('/currencies', (ctx) => envelope(ctx, 200, true, null, [{ id: 1, title: 'USD' }, { id: 2, title: 'EUR' }]));
  api.get('/languages', (ctx) => envelope(ctx, 200, true, null, [{ name: 'en', displayName: 'English', culture: 'en-US' }]));
  api.get('/info', (ctx) => envelope(ctx, 200, true, null, { version: 'coinbridge-sandbox-1' }));
  api.get('/ping', (ctx) => envelope(ctx, 200, true, 'pong'));
  api.get('/ping/merchant', (ctx) => envelope(ctx, 200, true, null, { name: 'Coinbridge sandbox merchant', isActive: true }));

  router.use(api.routes(), api.allowedMethods());

  router.get('/gateway', async (ctx) => {
    const token = typeof ctx.query.token === 'string' ? ctx.query.token : '';
    const payment = TOKEN.test(token) ? await findSandboxPayment(db.pool, token) : undefined;
    ctx.set('Cache-Control', 'no-store');
    ctx.set('Content-Security-Policy', "default-src 'none'; style-src 'unsafe-inline'; form-action 'self' http: https:; base-uri 'none'; frame-ancestors 'self'");
    if (!payment) {
      ctx.status = 404;
      ctx.type = 'html';
      ctx.body = renderSandboxPage(undefined, STATUS_NAMES);
      return;
    }
    ctx.type = 'html';
    ctx.body = renderSandboxPage(payment, STATUS_NAMES);
  });

  // The pay page's buttons: a plain form POST, so it works without JavaScript.
  router.post('/gateway/:token/:action', async (ctx) => {
    const action = ctx.params.action as SandboxAction;
    const payment = TOKEN.test(ctx.params.token!) ? await findSandboxPayment(db.pool, ctx.params.token!) : undefined;
    if (!payment || !SANDBOX_ACTIONS.includes(action)) {
      ctx.status = 404;
      ctx.body = { success: false, message: 'Unknown sandbox payment or action', body: null };
      return;
    }
    await enqueueJob(db.pool, { name: 'sandbox.deliver-ipn', data: { token: payment.token, steps: scenario(action), stepDelayMs: action === 'pay_late' ? opts.stepDelayMs * 5 : opts.stepDelayMs } });
    opts.waker.wake('sandbox.deliver-ipn');
    if (ctx.accepts('html', 'json') === 'json') {
      ctx.body = { success: true, message: `sandbox ${action} scheduled`, body: { token: payment.token } };
      return;
    }
    ctx.redirect(`/sandbox/paymento/gateway?token=${payment.token}&done=${action}`);
  });
  return router;
}
