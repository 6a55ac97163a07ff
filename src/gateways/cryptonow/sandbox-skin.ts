import crypto from 'node:crypto';
import Router from '@koa/router';
import type Koa from 'koa';
import { z } from 'zod';
import { InputError } from '../../errors.ts';
import { readRawBody } from '../../http/body.ts';
import { describeIssues, storable } from '../../http/validation.ts';
import { PAYMENTO_STATUS } from '../paymento/protocol.ts';
import { findSandboxAccount, findSandboxPayment, findSandboxPaymentByOrder, insertSandboxPayment, type SandboxAccount, type SandboxPayment } from '../sandbox/sandbox-store.ts';
import { playArmedOutage, type SandboxSkin } from '../sandbox/skin.ts';
import { COIN, CREATE_PAYMENT_PATH, CURRENCY, EVENTS, SESSION_KEY, SESSION_PATH_PREFIX, type CommissionMode } from './protocol.ts';
import { signWebhook, verifyRequest } from './signature.ts';

/** The guide's default payment window. The sandbox only shows it: a session closes when the shopper plays "expire". */
const PAYMENT_WINDOW_MS = 3 * 60_000;
const MICRO = 1_000_000n;
const BASE58 = '123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz';
/** The API paths the adapter calls, relative to the router's /api/v1 prefix. */
const API_PREFIX = '/api/v1';
const PAYMENTS_ROUTE = CREATE_PAYMENT_PATH.slice(API_PREFIX.length);
const SESSIONS_ROUTE = `${SESSION_PATH_PREFIX.slice(API_PREFIX.length)}:key`;

const CreateBody = z.looseObject({
  order_id: storable(z.string().min(1).max(128)),
  amount: z.union([z.string().max(40), z.number()]),
  currency: z.string().max(10),
  return_url: storable(z.string().max(2048)).optional(),
  success_url: storable(z.string().max(2048)).optional(),
  qr_id: z.unknown().optional(),
});

type SessionWord = 'active' | 'paid' | 'closed';

/** The sandbox's Paymento codes in CryptoNow's session words. */
function sessionWord(status: number): SessionWord {
  switch (status) {
    case PAYMENTO_STATUS.Paid: case PAYMENTO_STATUS.Approve: return 'paid';
    case PAYMENTO_STATUS.Timeout: case PAYMENTO_STATUS.UserCanceled: return 'closed';
    default: return 'active'; // 0, 1, 3 — and codes CryptoNow cannot express (a wallet sends the exact amount)
  }
}

function lastEvent(word: SessionWord): string {
  return word === 'paid' ? EVENTS.PaymentSuccess : word === 'closed' ? EVENTS.SessionClosed : EVENTS.PaymentCreated;
}

function base58(bytes: Buffer): string {
  let n = BigInt('0x' + bytes.toString('hex'));
  let out = '';
  while (n > 0n) { out = BASE58[Number(n % 58n)]! + out; n /= 58n; }
  return out;
}

/** Deterministic Solana-shaped fakes, so a redelivered callback carries the same bytes. */
function fakeTxid(token: string): string {
  return base58(Buffer.concat([crypto.createHash('sha256').update(`txid:${token}`).digest(), crypto.createHash('sha256').update(`txid2:${token}`).digest()]));
}
function fakeWallet(token: string): string {
  return base58(crypto.createHash('sha256').update(`wallet:${token}`).digest());
}

/** "12.50" → micro-dollars; undefined unless a positive USD amount with at most 2 decimals. */
function usdMicro(value: string | number): bigint | undefined {
  const m = /^(\d{1,12})(?:\.(\d{1,2}))?$/.exec(typeof value === 'number' ? String(value) : value);
  if (!m) return undefined;
  const units = BigInt(m[1]!) * MICRO + BigInt(((m[2] ?? '') + '000000').slice(0, 6));
  return units > 0n ? units : undefined;
}

function micro6(units: bigint): string {
  return `${units / MICRO}.${(units % MICRO).toString().padStart(6, '0')}`;
}

function isHttpUrl(value: string | undefined): boolean {
  if (value === undefined) return true;
  try {
    const u = new URL(value);
    return u.protocol === 'http:' || u.protocol === 'https:';
  } catch {
    return false;
  }
}

function commissionOf(account: SandboxAccount): { mode: CommissionMode; feePercent: number } {
  const mode = account.extra.commissionMode === 'merchant' ? 'merchant' : 'customer';
  const fee = account.extra.feePercent;
  return { mode, feePercent: typeof fee === 'number' && Number.isFinite(fee) && fee >= 0 && fee < 100 ? fee : 1 };
}

function fail(ctx: Koa.Context, status: number, error: string): void {
  ctx.status = status;
  ctx.body = { success: false, error };
}

function sessionJson(p: SandboxPayment, url: string): Record<string, unknown> {
  const word = sessionWord(p.status);
  return {
    session_key: p.token, payment_id: p.paymentId, order_id: p.orderId, status: word, last_event: lastEvent(word),
    amount: p.fiatAmount, total_amount: p.extra.total_amount ?? p.expectedCrypto, fee_amount: p.extra.fee_amount ?? null,
    commission_mode: p.extra.commission_mode ?? null, currency: CURRENCY,
    txid: word === 'paid' ? fakeTxid(p.token) : null, payer_wallet: word === 'paid' ? fakeWallet(p.token) : null, url,
    created_at: p.createdAt.toISOString(), expires_at: p.expiresAt.toISOString(),
  };
}

/** CryptoNow as the sandbox plays it: the same assumed API, signatures and webhooks as the adapter's (protocol.ts, signature.ts). */
export const cryptoNowSandboxSkin: SandboxSkin = {
  gateway: 'cryptonow',
  // A wallet sends exactly total_amount (no under/overpay); a shopper who leaves is a closed session (expire).
  actions: ['pay', 'pay_late', 'expire'],

  newAccount: () => ({
    apiKey: 'pk_' + crypto.randomBytes(18).toString('base64url'),
    secret: 'sk_' + crypto.randomBytes(32).toString('hex'),
    extra: { commissionMode: 'customer', feePercent: 1 },
  }),

  statusName: (payment) => sessionWord(payment.status),

  routes({ db, payPageUrl }) {
    const api = new Router({ prefix: API_PREFIX });

    // Every call: a known public key, then a signature over the exact bytes (signature.ts).
    api.use(async (ctx, next) => {
      const publicKey = ctx.get('x-public-key');
      const account = publicKey ? await findSandboxAccount(db.pool, publicKey, 'cryptonow') : undefined;
      if (!account) return fail(ctx, 401, 'Unknown or missing X-Public-Key');
      let raw: Buffer;
      try {
        raw = await readRawBody(ctx, 32 * 1024);
      } catch (err) {
        return fail(ctx, err instanceof InputError ? err.status : 400, err instanceof InputError ? err.message : 'The request body could not be read');
      }
      if (!verifyRequest(account.secret, { method: ctx.method, pathAndQuery: ctx.originalUrl, body: raw }, ctx.headers, Date.now())) {
        return fail(ctx, 401, 'Invalid signature');
      }
      ctx.state.account = account;
      ctx.state.rawBody = raw;
      await next();
    });

    api.post(PAYMENTS_ROUTE, async (ctx) => {
      const account = ctx.state.account as SandboxAccount;
      let parsed: unknown;
      try { parsed = JSON.parse((ctx.state.rawBody as Buffer).toString('utf8')); } catch { parsed = undefined; }
      if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) return fail(ctx, 400, 'Request body must be a JSON object');
      const checked = CreateBody.safeParse(parsed);
      if (!checked.success) return fail(ctx, 400, `Invalid request: ${describeIssues(checked.error).map((d) => `${d.field}: ${d.problem}`).join('; ')}`);
      const body = checked.data;
      if (body.qr_id !== undefined) {
        return fail(ctx, 400, body.return_url !== undefined || body.success_url !== undefined
          ? 'return_url and success_url must not be sent together with qr_id'
          : 'The sandbox plays the website scenario only: it has no vending QR codes');
      }
      if (body.currency !== CURRENCY) return fail(ctx, 400, `Only USD is supported, got currency ${JSON.stringify(body.currency)}`);
      const amount = usdMicro(body.amount);
      if (amount === undefined) return fail(ctx, 400, 'amount must be a positive USD amount with at most 2 decimals');
      if (!isHttpUrl(body.return_url) || !isHttpUrl(body.success_url)) return fail(ctx, 400, 'return_url and success_url must be absolute http(s) URLs');
      // Check-then-insert is not atomic; a sandbox merchant racing itself on one order is not worth a lock.
      if (await findSandboxPaymentByOrder(db.pool, account.apiKey, body.order_id)) {
        return fail(ctx, 409, `Payment with order_id ${body.order_id} already exists`);
      }
      const { mode, feePercent } = commissionOf(account);
      const fee = (amount * BigInt(Math.round(feePercent * 100)) + 9_999n) / 10_000n;
      const total = micro6(mode === 'customer' ? amount + fee : amount);
      const payment = await insertSandboxPayment(db.pool, {
        apiKey: account.apiKey, gateway: 'cryptonow', orderId: body.order_id, fiatAmount: String(body.amount), fiatCurrency: CURRENCY,
        returnUrl: body.success_url ?? body.return_url ?? null, additionalData: [],
        // What the shopper sends is total_amount, so that is the expected crypto.
        coin: COIN, expectedCrypto: total,
        expiresAt: new Date(Date.now() + PAYMENT_WINDOW_MS),
        extra: { total_amount: total, fee_amount: micro6(fee), commission_mode: mode, return_url: body.return_url ?? null, success_url: body.success_url ?? null },
      });
      ctx.body = {
        payment_id: payment.paymentId, session_key: payment.token, url: payPageUrl(payment), order_id: payment.orderId,
        amount: payment.fiatAmount, total_amount: total, fee_amount: micro6(fee), currency: CURRENCY, status: 'active',
        expires_at: payment.expiresAt.toISOString(),
      };
    });

    // View Session; also what testConnection calls (with a key that does not exist: 404).
    api.get(SESSIONS_ROUTE, async (ctx) => {
      const account = ctx.state.account as SandboxAccount;
      const key = ctx.params.key;
      const payment = key && SESSION_KEY.test(key) ? await findSandboxPayment(db.pool, key) : undefined;
      if (!payment || payment.apiKey !== account.apiKey || payment.gateway !== 'cryptonow') return fail(ctx, 404, 'Session not found');
      if (await playArmedOutage(ctx, db, account.apiKey, () => fail(ctx, 500, 'Simulated sandbox outage'))) return;
      ctx.body = sessionJson(payment, payPageUrl(payment));
    });

    return api;
  },

  callback(payment, account, now) {
    const event = payment.status === PAYMENTO_STATUS.Pending ? EVENTS.PaymentCreated
      : payment.status === PAYMENTO_STATUS.Paid || payment.status === PAYMENTO_STATUS.Approve ? EVENTS.PaymentSuccess
      : payment.status === PAYMENTO_STATUS.Timeout || payment.status === PAYMENTO_STATUS.UserCanceled ? EVENTS.SessionClosed
      : undefined;
    if (!event) return undefined;
    const word = sessionWord(payment.status);
    const body = JSON.stringify({
      event,
      data: {
        order_id: payment.orderId, payment_id: payment.paymentId, session_key: payment.token, status: word,
        amount: payment.fiatAmount, total_amount: payment.extra.total_amount ?? payment.expectedCrypto, currency: CURRENCY,
        txid: word === 'paid' ? fakeTxid(payment.token) : null, payer_wallet: word === 'paid' ? fakeWallet(payment.token) : null,
      },
    });
    return { method: 'POST', headers: { 'content-type': 'application/json', ...signWebhook(account.secret, body, now.getTime()) }, body };
  },
};
