// Paymento as the gateway of a benchmark: the test suite's emulator (real HTTP, real HMAC) in this
// process, stores with a live connection to it, and the signed "Paid" callbacks it would send.
import crypto from 'node:crypto';
import type pg from 'pg';
import { newPaymentRef } from '../../src/crypto/api-keys.ts';
import { SecretBox } from '../../src/crypto/secret-box.ts';
import { createStore, insertConnection, issueApiKey } from '../../src/db/stores-repo.ts';
import { startPaymentoEmulator, type PaymentoEmulator } from '../../test/emulators/paymento/server.ts';
import { keepAliveAgent, send } from './http.ts';
import { onCleanup } from './run.ts';

export type { PaymentoEmulator };

/** `docs` verify shape: verifying a Paid payment approves it, as the live API does. */
export async function startPaymento(): Promise<PaymentoEmulator> {
  const emu = await startPaymentoEmulator({ verifyShape: 'docs' });
  onCleanup('close the Paymento emulator', () => emu.close());
  return emu;
}

/** Env that points a Coinbridge child's live Paymento calls at the emulator. */
export function paymentoEnv(emu: PaymentoEmulator): Record<string, string> {
  return { PAYMENTO_API_ORIGIN: emu.origin, PAYMENTO_GATEWAY_ORIGIN: emu.gatewayOrigin };
}

export interface BenchStore {
  storeId: string;
  /** Store API key (Bearer) for POST /v1/payments. */
  apiKey: string;
  connectionId: string;
  /** The emulated Paymento merchant behind the connection: its API key signs and routes everything. */
  merchant: { apiKey: string; secret: string };
}

/**
 * A store with a live Paymento connection to its own emulated merchant, written straight into
 * Coinbridge's database (what `node src/cli.ts create-store --mode live` stores, minus telling
 * the gateway an IPN URL: the benchmarks send the callbacks themselves).
 */
export async function liveStore(pool: pg.Pool, encryptionKey: string, emu: PaymentoEmulator, opts: { name: string; storeId?: string }): Promise<BenchStore> {
  const box = new SecretBox([Buffer.from(encryptionKey, 'base64')]);
  const merchant = emu.addMerchant();
  const storeId = opts.storeId ?? (await createStore(pool, { name: opts.name })).id;
  const connection = await insertConnection(pool, box, { storeId, gateway: 'paymento', mode: 'live', credentials: { apiKey: merchant.apiKey, ipnSecret: merchant.secret } });
  const apiKey = await issueApiKey(pool, storeId);
  return { storeId, apiKey, connectionId: connection.id, merchant };
}

/**
 * Makes the emulated payment Paid (without the emulator delivering anything) and returns the IPN
 * Paymento sends for it, signed: what the benchmark POSTs to /ipn/paymento/{connectionId}.
 */
export async function paidIpn(emu: PaymentoEmulator, merchantApiKey: string, token: string): Promise<{ body: string; signature: string }> {
  await emu.setStatus(token, 7, { notify: false });
  const body = emu.ipnBody(token, 7);
  return { body, signature: emu.signBody(merchantApiKey, body) };
}

export function ipnHeaders(signature: string): Record<string, string> {
  return { 'content-type': 'application/json', 'x-hmac-sha256-signature': signature };
}

export interface SeedOrder {
  orderId: string;
  /** Decimal string with 2 decimals, e.g. "25.00". */
  amount: string;
  currency: string;
  returnUrl: string;
  customerEmail: string;
  metadata: Record<string, string>;
}

export interface SeededPayment {
  paymentId: string;
  ref: string;
  orderId: string;
  /** Paymento's token: the gateway payment id. */
  token: string;
}

/**
 * Payments in the state POST /v1/payments leaves them (`created`, with a gateway payment at the
 * emulator made from the request Coinbridge's Paymento adapter sends), made in bulk: thousands
 * in a second or two instead of a minute of setup. For benchmarks of what happens AFTER creation;
 * creation itself is bench/create-payment.ts. Not made: the creation's event log entries, its
 * idempotency key and its expiry-check job, none of which settlement reads.
 */
export async function seedPayments(pool: pg.Pool, emu: PaymentoEmulator, store: BenchStore, orders: SeedOrder[]): Promise<SeededPayment[]> {
  const agent = keepAliveAgent(16);
  const out: SeededPayment[] = new Array(orders.length);
  let next = 0;
  await Promise.all(Array.from({ length: 16 }, async () => {
    while (next < orders.length) {
      const k = next++;
      const o = orders[k]!;
      const paymentId = crypto.randomUUID();
      const a = await send(agent, `${emu.origin}/v1/payment/request`, {
        headers: { 'content-type': 'application/json', 'api-key': store.merchant.apiKey },
        body: JSON.stringify({
          fiatAmount: o.amount, fiatCurrency: o.currency, returnUrl: o.returnUrl, orderId: o.orderId, riskSpeed: 1, emailAddress: o.customerEmail,
          additionalData: [{ key: 'CoinbridgePaymentId', value: paymentId }],
        }),
      });
      const token = (JSON.parse(a.body) as { body?: unknown }).body;
      if (a.status !== 200 || typeof token !== 'string') throw new Error(`the Paymento emulator refused a payment request: ${a.status} ${a.body}`);
      out[k] = { paymentId, ref: newPaymentRef(), orderId: o.orderId, token };
    }
  }));
  agent.destroy();
  const col = <T>(f: (o: SeedOrder, p: SeededPayment) => T) => orders.map((o, k) => f(o, out[k]!));
  await pool.query(
    `INSERT INTO payments (id, ref, store_id, connection_id, order_id, status, amount_minor, currency, return_url, customer_email, metadata, request_hash,
       gateway_payment_id, checkout_url, expires_at)
     SELECT s.id, s.ref, $1, $2, s.order_id, 'created', s.minor, s.currency, s.return_url, s.email, s.metadata, s.hash, s.token,
            $3 || '/gateway?token=' || s.token, now() + interval '1 hour'
     FROM unnest($4::uuid[], $5::text[], $6::text[], $7::bigint[], $8::text[], $9::text[], $10::text[], $11::jsonb[], $12::text[], $13::text[])
       AS s(id, ref, order_id, minor, currency, return_url, email, metadata, hash, token)`,
    [store.storeId, store.connectionId, emu.gatewayOrigin,
      col((_, p) => p.paymentId), col((_, p) => p.ref), col((o) => o.orderId), col((o) => o.amount.replace('.', '')), col((o) => o.currency),
      col((o) => o.returnUrl), col((o) => o.customerEmail), col((o) => JSON.stringify(o.metadata)),
      col((o) => crypto.createHash('sha256').update(JSON.stringify(o)).digest('hex')), col((_, p) => p.token)],
  );
  return out;
}
