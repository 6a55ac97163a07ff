import crypto from 'node:crypto';
import type { Queryable } from '../../db/database.ts';
import type { GatewayName } from '../types.ts';

/**
 * The sandbox gateway's own records (it plays a gateway; nothing here belongs to Coinbridge's
 * core). Its state machine keeps Paymento's status codes (PAYMENTO_STATUS) for every gateway it
 * plays; each gateway's skin (skin.ts) translates them into that gateway's own words.
 */
export interface SandboxPayment {
  token: string;
  paymentId: string;
  apiKey: string;
  gateway: GatewayName;
  orderId: string | null;
  fiatAmount: string | null;
  fiatCurrency: string | null;
  returnUrl: string | null;
  additionalData: { key: string | null; value: string | null }[];
  /** Paymento status code (the sandbox's own state machine). */
  status: number;
  coin: string;
  expectedCrypto: string;
  receivedCrypto: string;
  txHash: string | null;
  expiresAt: Date;
  createdAt: Date;
  /** The idempotency key the merchant created it with (gateways that honour one). */
  idempotencyKey: string | null;
  /** The payment passed Timeout (4) at some point: a later Paid is a late payment. */
  expiredOnce: boolean;
  /** Gateway-specific fields a skin keeps (CryptoNow's session_key and total_amount, …). */
  extra: Record<string, unknown>;
}

export interface SandboxAccount {
  apiKey: string;
  secret: string;
  gateway: GatewayName;
  ipnUrl: string | null;
  ipnMethod: number;
  /** Gateway-specific account settings (CryptoNow's commission mode, …). */
  extra: Record<string, unknown>;
}

function toSandboxPayment(r: Record<string, any>): SandboxPayment {
  return {
    token: r.token, paymentId: String(r.payment_id), apiKey: r.api_key, gateway: r.gateway, orderId: r.order_id, fiatAmount: r.fiat_amount,
    fiatCurrency: r.fiat_currency, returnUrl: r.return_url, additionalData: r.additional_data ?? [], status: r.status, coin: r.coin,
    expectedCrypto: r.expected_crypto, receivedCrypto: r.received_crypto, txHash: r.tx_hash, expiresAt: r.expires_at, createdAt: r.created_at,
    idempotencyKey: r.idempotency_key, expiredOnce: r.expired_once, extra: r.extra ?? {},
  };
}

function toSandboxAccount(r: Record<string, any>): SandboxAccount {
  return { apiKey: r.api_key, secret: r.secret, gateway: r.gateway, ipnUrl: r.ipn_url, ipnMethod: r.ipn_method, extra: r.extra ?? {} };
}

/** Opens a sandbox merchant account; the skin decides what its key and secret look like. */
export async function createSandboxAccount(
  q: Queryable,
  input: { gateway?: GatewayName; apiKey?: string; secret?: string; extra?: Record<string, unknown> } = {},
): Promise<SandboxAccount> {
  const apiKey = input.apiKey ?? 'sbx_' + crypto.randomBytes(18).toString('base64url');
  const secret = input.secret ?? crypto.randomBytes(32).toString('hex');
  const { rows } = await q.query('INSERT INTO sandbox_accounts (api_key, secret, gateway, extra) VALUES ($1, $2, $3, $4) RETURNING *',
    [apiKey, secret, input.gateway ?? 'paymento', JSON.stringify(input.extra ?? {})]);
  return toSandboxAccount(rows[0]);
}

/** The account with this API key, only when it belongs to `gateway` (a key of one sandbox gateway opens no other). */
export async function findSandboxAccount(q: Queryable, apiKey: string, gateway: GatewayName = 'paymento'): Promise<SandboxAccount | undefined> {
  const { rows } = await q.query('SELECT * FROM sandbox_accounts WHERE api_key = $1 AND gateway = $2', [apiKey, gateway]);
  return rows[0] ? toSandboxAccount(rows[0]) : undefined;
}

export async function setSandboxSettings(q: Queryable, apiKey: string, ipnUrl: string | null, ipnMethod: number): Promise<void> {
  await q.query('UPDATE sandbox_accounts SET ipn_url = $2, ipn_method = $3 WHERE api_key = $1', [apiKey, ipnUrl, ipnMethod]);
}

export async function setSandboxAccountExtra(q: Queryable, apiKey: string, extra: Record<string, unknown>): Promise<void> {
  await q.query('UPDATE sandbox_accounts SET extra = extra || $2::jsonb WHERE api_key = $1', [apiKey, JSON.stringify(extra)]);
}

export type NewSandboxPayment = Omit<SandboxPayment,
  'token' | 'paymentId' | 'status' | 'receivedCrypto' | 'txHash' | 'createdAt' | 'gateway' | 'idempotencyKey' | 'expiredOnce' | 'extra'> & {
  gateway?: GatewayName;
  idempotencyKey?: string | null;
  extra?: Record<string, unknown>;
  /** Defaults to 40 hex digits; skins with their own id shape (Crypto Checkout's cs_…) pass one. */
  token?: string;
};

export async function insertSandboxPayment(q: Queryable, p: NewSandboxPayment): Promise<SandboxPayment> {
  const token = p.token ?? crypto.randomBytes(20).toString('hex');
  const { rows } = await q.query(
    `INSERT INTO sandbox_payments (token, api_key, order_id, fiat_amount, fiat_currency, return_url, additional_data, coin, expected_crypto, expires_at,
       gateway, idempotency_key, extra)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) RETURNING *`,
    [token, p.apiKey, p.orderId, p.fiatAmount, p.fiatCurrency, p.returnUrl, JSON.stringify(p.additionalData), p.coin, p.expectedCrypto, p.expiresAt,
      p.gateway ?? 'paymento', p.idempotencyKey ?? null, JSON.stringify(p.extra ?? {})],
  );
  return toSandboxPayment(rows[0]);
}

export async function findSandboxPayment(q: Queryable, token: string): Promise<SandboxPayment | undefined> {
  const { rows } = await q.query('SELECT * FROM sandbox_payments WHERE token = $1', [token]);
  return rows[0] ? toSandboxPayment(rows[0]) : undefined;
}

/** The account's newest payments, newest first (`limit + 1` rows let a caller say whether there are more). */
export async function listSandboxPayments(q: Queryable, apiKey: string, gateway: GatewayName, limit: number): Promise<SandboxPayment[]> {
  const { rows } = await q.query('SELECT * FROM sandbox_payments WHERE api_key = $1 AND gateway = $2 ORDER BY created_at DESC, payment_id DESC LIMIT $3',
    [apiKey, gateway, limit]);
  return rows.map(toSandboxPayment);
}

export async function findSandboxPaymentByKey(q: Queryable, apiKey: string, idempotencyKey: string): Promise<SandboxPayment | undefined> {
  const { rows } = await q.query('SELECT * FROM sandbox_payments WHERE api_key = $1 AND idempotency_key = $2', [apiKey, idempotencyKey]);
  return rows[0] ? toSandboxPayment(rows[0]) : undefined;
}

export async function findSandboxPaymentByOrder(q: Queryable, apiKey: string, orderId: string): Promise<SandboxPayment | undefined> {
  const { rows } = await q.query('SELECT * FROM sandbox_payments WHERE api_key = $1 AND order_id = $2 ORDER BY created_at LIMIT 1', [apiKey, orderId]);
  return rows[0] ? toSandboxPayment(rows[0]) : undefined;
}

/** Moves a sandbox payment; reaching Timeout (4) is remembered so a later Paid counts as late. */
export async function updateSandboxPayment(q: Queryable, token: string, change: { status: number; receivedCrypto?: string; txHash?: string }): Promise<void> {
  await q.query(
    `UPDATE sandbox_payments SET status = $2, received_crypto = coalesce($3, received_crypto), tx_hash = coalesce($4, tx_hash),
       expired_once = expired_once OR $2 = 4 WHERE token = $1`,
    [token, change.status, change.receivedCrypto ?? null, change.txHash ?? null]);
}

/** Arms a simulated outage of the sandbox's verify/status endpoint (for testing retries). */
export async function failSandboxVerify(q: Queryable, apiKey: string, count: number, mode: '500' | 'timeout'): Promise<void> {
  await q.query('UPDATE sandbox_accounts SET fail_verify_count = $2, fail_verify_mode = $3 WHERE api_key = $1', [apiKey, count, mode]);
}

/** Consumes one simulated failure, if armed; returns its mode. */
export async function takeVerifyFailure(q: Queryable, apiKey: string): Promise<'500' | 'timeout' | undefined> {
  const { rows } = await q.query(
    'UPDATE sandbox_accounts SET fail_verify_count = fail_verify_count - 1 WHERE api_key = $1 AND fail_verify_count > 0 RETURNING fail_verify_mode',
    [apiKey],
  );
  return rows[0]?.fail_verify_mode;
}
