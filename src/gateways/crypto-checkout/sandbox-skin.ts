import crypto from 'node:crypto';
import Router from '@koa/router';
import type Koa from 'koa';
import { z } from 'zod';
import { compareRatio, parseDecimal } from '../../core/money.ts';
import { sha256Hex } from '../../crypto/signatures.ts';
import { storable } from '../../http/validation.ts';
import { PAYMENTO_STATUS } from '../paymento/protocol.ts';
import { readJsonObject } from '../sandbox/json-body.ts';
import { findSandboxAccount, findSandboxPayment, findSandboxPaymentByKey, insertSandboxPayment, listSandboxPayments, type SandboxAccount, type SandboxPayment } from '../sandbox/sandbox-store.ts';
import { playArmedOutage, type SandboxSkin } from '../sandbox/skin.ts';
import { SESSION_ID, SESSIONS_PATH, type CheckoutSession, type SessionStatus } from './protocol.ts';
import { signWebhook } from './signature.ts';

/** Crypto Checkout's documented default session lifetime. */
const SESSION_TTL_MS = 5 * 60_000;
/**
 * The sandbox prices in test ETH at a fixed fake rate, 1 ETH = 4,000 units of any fiat (the same
 * as the test emulator), so amounts are predictable; it is not a market price.
 */
const SANDBOX_ETH_PRICE = 4_000n;
const API_PREFIX = SESSIONS_PATH.slice(0, SESSIONS_PATH.lastIndexOf('/')); // '/api/v1'
const IDEMPOTENCY_KEY = /^[\x21-\x7e]{1,255}$/;
const text = (max: number) => storable(z.string().max(max));

const CreateBody = z.strictObject({
  amount: z.strictObject({
    value: z.string().regex(/^\d{1,12}(\.\d{1,8})?$/, 'must be a positive decimal string such as "50.00"'),
    currency: z.string().regex(/^[A-Za-z]{3}$/, 'must be a three-letter currency code'),
  }),
  metadata: z.record(z.string().max(40), text(500)).refine((m) => Object.keys(m).length <= 50, 'at most 50 keys').nullish(),
  successUrl: text(2048).regex(/^https?:\/\//, 'must be an http(s) URL').nullish(),
});

interface SessionExtra {
  checkoutUrl: string;
  address: string;
  wei: string;
  metadata: Record<string, string> | null;
  /** The create request's parameters, hashed: a replayed Idempotency-Key must come with the same ones. */
  fingerprint: string;
}

function fail(ctx: Koa.Context, status: number, code: string, message: string): void {
  ctx.status = status;
  ctx.body = { error: { code, message } };
}

/** fiat / price in wei (rounded half up) and in ETH (trailing zeros trimmed). */
function ethAmount(value: string): { wei: string; eth: string } {
  const [whole = '0', fraction = ''] = value.split('.');
  const den = 10n ** BigInt(fraction.length) * SANDBOX_ETH_PRICE;
  const wei = (BigInt(whole + fraction) * 10n ** 18n + den / 2n) / den;
  const digits = wei.toString().padStart(19, '0');
  return { wei: wei.toString(), eth: `${digits.slice(0, -18)}.${digits.slice(-18)}`.replace(/\.?0+$/, '') };
}

function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value && typeof value === 'object') {
    return `{${Object.keys(value).sort().map((k) => `${JSON.stringify(k)}:${canonicalJson((value as Record<string, unknown>)[k])}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

/** Crypto Checkout's word for a sandbox payment's state (the sandbox keeps Paymento codes). */
function sessionStatus(payment: SandboxPayment): SessionStatus | undefined {
  switch (payment.status) {
    case PAYMENTO_STATUS.Initialize:
    case PAYMENTO_STATUS.Pending:
      return 'pending';
    case PAYMENTO_STATUS.WaitingToConfirm:
      return 'detected';
    case PAYMENTO_STATUS.PartialPaid:
      return 'underpaid';
    case PAYMENTO_STATUS.Paid:
    case PAYMENTO_STATUS.Approve: {
      const received = parseDecimal(payment.receivedCrypto);
      const expected = parseDecimal(payment.expectedCrypto);
      // Excess first: the core judges lateness by its own expiry, but only the gateway can say "overpaid".
      if (received && expected && compareRatio(received, expected, 1n, 1n) > 0) return 'overpaid';
      return payment.expiredOnce ? 'paid_late' : 'paid';
    }
    case PAYMENTO_STATUS.Timeout:
    case PAYMENTO_STATUS.UserCanceled: // Crypto Checkout has no cancel: the session simply runs out.
      return 'expired';
    case PAYMENTO_STATUS.Reject:
      return 'failed';
    default:
      return undefined;
  }
}

function sessionObject(payment: SandboxPayment): CheckoutSession {
  const extra = payment.extra as Partial<SessionExtra>;
  return {
    id: payment.token,
    object: 'checkout_session',
    status: sessionStatus(payment) ?? String(payment.status),
    checkoutUrl: extra.checkoutUrl ?? '',
    address: extra.address ?? '',
    amount: { wei: extra.wei ?? '0', eth: payment.expectedCrypto },
    fiat: { amount: payment.fiatAmount ?? '', currency: payment.fiatCurrency ?? '' },
    expiresAt: new Date(payment.expiresAt).toISOString(),
    livemode: false,
    createdAt: new Date(payment.createdAt).toISOString(),
    metadata: extra.metadata ?? null,
    txHash: payment.txHash,
  };
}

/** Crypto Checkout as the sandbox plays it: the API the adapter uses, Bearer keys, signed `session.<status>` events. */
export const cryptoCheckoutSandboxSkin: SandboxSkin = {
  gateway: 'crypto-checkout',
  // No 'choose_coin' (one coin) and no 'cancel' (Crypto Checkout sessions cannot be cancelled).
  actions: ['pay', 'underpay', 'overpay', 'pay_late', 'expire'],

  newAccount: () => ({
    apiKey: `ck_test_${crypto.randomBytes(18).toString('base64url')}`,
    secret: `whsec_${crypto.randomBytes(24).toString('base64url')}`,
  }),

  statusName: (payment) => sessionStatus(payment) ?? String(payment.status),

  routes({ db, payPageUrl }) {
    const api = new Router({ prefix: API_PREFIX });

    api.use(async (ctx, next) => {
      const bearer = /^Bearer\s+(\S+)\s*$/i.exec(ctx.get('authorization'));
      const account = bearer ? await findSandboxAccount(db.pool, bearer[1]!, 'crypto-checkout') : undefined;
      if (!account) return fail(ctx, 401, 'unauthorized', 'Missing or invalid API key: send Authorization: Bearer ck_test_…');
      ctx.state.account = account;
      await next();
    });

    api.post('/checkout_sessions', async (ctx) => {
      const account = ctx.state.account as SandboxAccount;
      const key = ctx.get('idempotency-key') || null;
      if (key !== null && !IDEMPOTENCY_KEY.test(key)) return fail(ctx, 400, 'invalid_request', 'Idempotency-Key must be 1–255 visible ASCII characters');
      const body = await readJsonObject(ctx, CreateBody, (status, message) => fail(ctx, status, 'invalid_request', message));
      if (!body) return;
      if (!/[1-9]/.test(body.amount.value)) return fail(ctx, 400, 'invalid_request', 'amount.value must be greater than zero');
      const fingerprint = sha256Hex(canonicalJson(body));

      const replay = (existing: SandboxPayment): void => {
        if ((existing.extra as Partial<SessionExtra>).fingerprint !== fingerprint) {
          return fail(ctx, 422, 'idempotency_key_reused', 'This Idempotency-Key was already used with different request parameters');
        }
        ctx.status = 200;
        ctx.body = sessionObject(existing);
      };
      if (key !== null) {
        const existing = await findSandboxPaymentByKey(db.pool, account.apiKey, key);
        if (existing) return replay(existing);
      }

      const token = `cs_${crypto.randomBytes(18).toString('base64url')}`;
      const { wei, eth } = ethAmount(body.amount.value);
      const metadata = body.metadata ?? null;
      const extra: SessionExtra = {
        checkoutUrl: payPageUrl({ token, gateway: 'crypto-checkout' }),
        address: `0x${crypto.randomBytes(20).toString('hex')}`,
        wei, metadata, fingerprint,
      };
      let payment: SandboxPayment;
      try {
        payment = await insertSandboxPayment(db.pool, {
          token, gateway: 'crypto-checkout', apiKey: account.apiKey, idempotencyKey: key,
          orderId: metadata?.orderId ?? null, fiatAmount: body.amount.value, fiatCurrency: body.amount.currency.toUpperCase(),
          returnUrl: body.successUrl ?? null, additionalData: [], coin: 'ETH', expectedCrypto: eth,
          expiresAt: new Date(Date.now() + SESSION_TTL_MS), extra: extra as unknown as Record<string, unknown>,
        });
      } catch (err) {
        // Two creates with one key at once: the loser answers with the winner's session.
        const existing = key !== null && (err as { code?: string }).code === '23505' ? await findSandboxPaymentByKey(db.pool, account.apiKey, key) : undefined;
        if (!existing) throw err;
        return replay(existing);
      }
      ctx.status = 201;
      ctx.body = sessionObject(payment);
    });

    // What the adapter's testConnection calls: the newest sessions, `limit` of them.
    api.get('/checkout_sessions', async (ctx) => {
      const account = ctx.state.account as SandboxAccount;
      const limitText = typeof ctx.query.limit === 'string' ? ctx.query.limit : '25';
      const limit = /^\d{1,3}$/.test(limitText) ? Number(limitText) : NaN;
      if (!(limit >= 1 && limit <= 100)) return fail(ctx, 400, 'invalid_request', 'limit must be between 1 and 100');
      const found = await listSandboxPayments(db.pool, account.apiKey, 'crypto-checkout', limit + 1);
      ctx.body = { object: 'list', data: found.slice(0, limit).map(sessionObject), hasMore: found.length > limit };
    });

    api.get('/checkout_sessions/:id', async (ctx) => {
      const account = ctx.state.account as SandboxAccount;
      if (await playArmedOutage(ctx, db, account.apiKey, () => fail(ctx, 500, 'internal_error', 'Simulated sandbox outage'))) return;
      const id = ctx.params.id ?? '';
      const payment = SESSION_ID.test(id) ? await findSandboxPayment(db.pool, id) : undefined;
      if (!payment || payment.apiKey !== account.apiKey || payment.gateway !== 'crypto-checkout') {
        return fail(ctx, 404, 'not_found', `No such checkout session: ${id.slice(0, 100)}`);
      }
      ctx.body = sessionObject(payment);
    });

    return api;
  },

  callback(payment, account, now) {
    // A just-created session has made no transition yet; Pending (1) is `session.pending`, a documented event type.
    if (payment.status === PAYMENTO_STATUS.Initialize) return undefined;
    const status = sessionStatus(payment);
    if (status === undefined) return undefined;
    // The event id is derived from the session and its state, so a redelivery is the same event.
    // No event createdAt: the bytes must not change between redeliveries, and the sandbox keeps no event time.
    const event = {
      id: `evt_${sha256Hex(`${payment.token}:${status}`).slice(0, 26)}`,
      type: `session.${status}`,
      livemode: false,
      data: sessionObject(payment),
    };
    const body = JSON.stringify(event);
    const t = Math.floor(now.getTime() / 1000);
    return {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-webhook-signature': signWebhook(account.secret, t, body), 'x-webhook-timestamp': String(t) },
      body,
    };
  },
};
