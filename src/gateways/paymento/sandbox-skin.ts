import crypto from 'node:crypto';
import Router from '@koa/router';
import type Koa from 'koa';
import { z } from 'zod';
import { hmacSha256 } from '../../crypto/signatures.ts';
import { readJsonObject } from '../sandbox/json-body.ts';
import { findSandboxAccount, findSandboxPayment, insertSandboxPayment, setSandboxSettings } from '../sandbox/sandbox-store.ts';
import { playArmedOutage, stablecoinAmount, type SandboxSkin } from '../sandbox/skin.ts';
import { storable } from '../../http/validation.ts';
import { PAYMENTO_STATUS, SIGNATURE_HEADER, type PaymentoIpn } from './protocol.ts';

const GATEWAY_WINDOW_MS = 60 * 60_000;
/** Sandbox tokens are 40 hex digits (sandbox-store.ts); anything else is not one. */
const TOKEN = /^[0-9a-f]{40}$/;
const text = (max: number) => storable(z.string().max(max));
const STATUS_NAMES = Object.fromEntries(Object.entries(PAYMENTO_STATUS).map(([k, v]) => [v, k])) as Record<number, string>;

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

function envelope(ctx: Koa.Context, status: number, success: boolean, message: string | null, body: unknown = null): void {
  ctx.status = status;
  ctx.body = { success, message, body };
}

/** Paymento as the sandbox plays it: its published API (same paths, headers, bodies, IPN signature). */
export const paymentoSandboxSkin: SandboxSkin = {
  gateway: 'paymento',
  actions: ['choose_coin', 'pay', 'underpay', 'overpay', 'pay_late', 'expire', 'cancel'],

  newAccount: () => ({ apiKey: 'sbx_' + crypto.randomBytes(18).toString('base64url'), secret: crypto.randomBytes(32).toString('hex') }),

  statusName: (payment) => STATUS_NAMES[payment.status] ?? String(payment.status),

  routes({ db, payPageUrl }) {
    const api = new Router({ prefix: '/v1' });
    const fail = (ctx: Koa.Context) => (status: number, message: string) => envelope(ctx, status, false, message);

    api.use(async (ctx, next) => {
      const key = ctx.get('api-key');
      const account = key ? await findSandboxAccount(db.pool, key, 'paymento') : undefined;
      if (!account) return envelope(ctx, 401, false, 'Invalid or missing Api-Key header');
      ctx.state.account = account;
      await next();
    });

    api.post('/payment/request', async (ctx) => {
      const body = await readJsonObject(ctx, PaymentRequestBody, fail(ctx));
      if (!body) return;
      // Like Paymento: well-formed but incomplete requests get success:false, not an HTTP error.
      if (!body.fiatAmount || !/^\d{1,12}(\.\d{1,8})?$/.test(body.fiatAmount) || !body.fiatCurrency || !/^[A-Za-z]{3}$/.test(body.fiatCurrency)) {
        return envelope(ctx, 200, false, 'fiatAmount (a positive decimal string) and fiatCurrency (three letters) are required');
      }
      const payment = await insertSandboxPayment(db.pool, {
        apiKey: ctx.state.account.apiKey, orderId: body.orderId ?? null, fiatAmount: body.fiatAmount, fiatCurrency: body.fiatCurrency.toUpperCase(),
        returnUrl: body.returnUrl ?? null, additionalData: body.additionalData ?? [],
        coin: 'USDT', expectedCrypto: stablecoinAmount(body.fiatAmount),
        expiresAt: new Date(Date.now() + GATEWAY_WINDOW_MS),
      });
      envelope(ctx, 200, true, null, payment.token);
    });

    api.post('/payment/verify', async (ctx) => {
      const body = await readJsonObject(ctx, z.looseObject({ token: z.string().max(200) }), fail(ctx));
      if (!body) return;
      if (await playArmedOutage(ctx, db, ctx.state.account.apiKey, () => envelope(ctx, 500, false, 'Simulated sandbox outage'))) return;
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
      const body = await readJsonObject(ctx, SettingsBody, fail(ctx));
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
    void payPageUrl; // Paymento's checkout URL is built by the adapter from the token, not handed out by the API.
    return api;
  },

  callback(payment, account) {
    const ipn: PaymentoIpn = {
      Token: payment.token, PaymentId: Number(payment.paymentId), OrderId: payment.orderId ?? '', OrderStatus: payment.status,
      AdditionalData: payment.additionalData,
    };
    const body = JSON.stringify(ipn);
    return {
      method: account.ipnMethod === 2 ? 'PUT' : 'POST',
      headers: { 'content-type': 'application/json', [SIGNATURE_HEADER]: hmacSha256(account.secret, body).toString('hex').toUpperCase() },
      body,
    };
  },
};
