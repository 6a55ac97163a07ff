import crypto from 'node:crypto';
import type { Queryable } from '../../db/database.ts';

/** The sandbox gateway's own records (it plays Paymento; nothing here belongs to Coinbridge's core). */
export interface SandboxPayment {
  token: string;
  paymentId: string;
  apiKey: string;
  orderId: string | null;
  fiatAmount: string | null;
  fiatCurrency: string | null;
  returnUrl: string | null;
  additionalData: { key: string | null; value: string | null }[];
  status: number;
  coin: string;
  expectedCrypto: string;
  receivedCrypto: string;
  txHash: string | null;
  expiresAt: Date;
}

function toSandboxPayment(r: Record<string, any>): SandboxPayment {
  return {
    token: r.token, paymentId: r.payment_id, apiKey: r.api_key, orderId: r.order_id, fiatAmount: r.fiat_amount, fiatCurrency: r.fiat_currency,
    returnUrl: r.return_url, additionalData: r.additional_data ?? [], status: r.status, coin: r.coin, expectedCrypto: r.expected_crypto,
    receivedCrypto: r.received_crypto, txHash: r.tx_hash, expiresAt: r.expires_at,
  };
}

export async function createSandboxAccount(q: Queryable): Promise<{ apiKey: string; secret: string }> {
  const apiKey = 'sbx_' + crypto.randomBytes(18).toString('base64url');
  const secret = crypto.randomBytes(32).toString('hex');
  await q.query('INSERT INTO sandbox_accounts (api_key, secret) VALUES ($1, $2)', [apiKey, secret]);
  return { apiKey, secret };
}

export async function findSandboxAccount(q: Queryable, apiKey: string): Promise<{ apiKey: string; secret: string; ipnUrl: string | null; ipnMethod: number } | undefined> {
  const { rows } = await q.query('SELECT * FROM sandbox_accounts WHERE api_key = $1', [apiKey]);
  return rows[0] ? { apiKey: rows[0].api_key, secret: rows[0].secret, ipnUrl: rows[0].ipn_url, ipnMethod: rows[0].ipn_method } : undefined;
}

export async function setSandboxSettings(q: Queryable, apiKey: string, ipnUrl: string | null, ipnMethod: number): Promise<void> {
  await q.query('UPDATE sandbox_accounts SET ipn_url = $2, ipn_method = $3 WHERE api_key = $1', [apiKey, ipnUrl, ipnMethod]);
}

export async function insertSandboxPayment(q: Queryable, p: Omit<SandboxPayment, 'token' | 'paymentId' | 'status' | 'receivedCrypto' | 'txHash'>): Promise<SandboxPayment> {
  const token = crypto.randomBytes(20).toString('hex');
  const { rows } = await q.query(
    `INSERT INTO sandbox_payments (token, api_key, order_id, fiat_amount, fiat_currency, return_url, additional_data, coin, expected_crypto, expires_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING *`,
    [token, p.apiKey, p.orderId, p.fiatAmount, p.fiatCurrency, p.returnUrl, JSON.stringify(p.additionalData), p.coin, p.expectedCrypto, p.expiresAt],
  );
  return toSandboxPayment(rows[0]);
}

export async function findSandboxPayment(q: Queryable, token: string): Promise<SandboxPayment | undefined> {
  const { rows } = await q.query('SELECT * FROM sandbox_payments WHERE token = $1', [token]);
  return rows[0] ? toSandboxPayment(rows[0]) : undefined;
}

export async function updateSandboxPayment(q: Queryable, token: string, change: { status: number; receivedCrypto?: string; txHash?: string }): Promise<void> {
  await q.query('UPDATE sandbox_payments SET status = $2, received_crypto = coalesce($3, received_crypto), tx_hash = coalesce($4, tx_hash) WHERE token = $1',
    [token, change.status, change.receivedCrypto ?? null, change.txHash ?? null]);
}

/** Arms a simulated outage of the sandbox's verify endpoint (for testing retries). */
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
