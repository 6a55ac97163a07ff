import type { CurrencyCode, Money } from '../core/money.ts';
import type { StoredStatus } from '../core/status.ts';
import type { Queryable, SqlPart } from './database.ts';

export interface PaymentRow {
  id: string;
  ref: string;
  storeId: string;
  connectionId: string;
  orderId: string;
  status: StoredStatus;
  amount: Money;
  returnUrl: string;
  customerEmail: string | null;
  metadata: Record<string, unknown>;
  requestHash: string;
  gatewayPaymentId: string | null;
  checkoutUrl: string | null;
  cryptoExpected: string | null;
  cryptoReceived: string | null;
  cryptoCoin: string | null;
  txHash: string | null;
  network: string | null;
  failureReason: string | null;
  claimedUntil: Date | null;
  expiresAt: Date;
  storeOrderCancelledAt: Date | null;
  lastVerifiedAt: Date | null;
  createdAt: Date;
  updatedAt: Date;
}

export function toPayment(r: Record<string, any>): PaymentRow {
  return {
    id: r.id, ref: r.ref, storeId: r.store_id, connectionId: r.connection_id, orderId: r.order_id, status: r.status,
    amount: { minor: BigInt(r.amount_minor), currency: r.currency as CurrencyCode },
    returnUrl: r.return_url, customerEmail: r.customer_email, metadata: r.metadata ?? {}, requestHash: r.request_hash,
    gatewayPaymentId: r.gateway_payment_id, checkoutUrl: r.checkout_url, cryptoExpected: r.crypto_expected,
    cryptoReceived: r.crypto_received, cryptoCoin: r.crypto_coin, txHash: r.tx_hash, network: r.network,
    failureReason: r.failure_reason, claimedUntil: r.claimed_until, expiresAt: r.expires_at, storeOrderCancelledAt: r.store_order_cancelled_at ?? null,
    lastVerifiedAt: r.last_verified_at, createdAt: r.created_at, updatedAt: r.updated_at,
  };
}

export async function findPayment(q: Queryable, id: string, opts: { forUpdate?: boolean } = {}): Promise<PaymentRow | undefined> {
  const { rows } = await q.query(`SELECT * FROM payments WHERE id = $1${opts.forUpdate ? ' FOR UPDATE' : ''}`, [id]);
  return rows[0] ? toPayment(rows[0]) : undefined;
}

export async function findPaymentForStore(q: Queryable, storeId: string, id: string): Promise<PaymentRow | undefined> {
  const { rows } = await q.query('SELECT * FROM payments WHERE id = $1 AND store_id = $2', [id, storeId]);
  return rows[0] ? toPayment(rows[0]) : undefined;
}

export async function findLivePaymentForOrder(q: Queryable, storeId: string, orderId: string): Promise<PaymentRow | undefined> {
  const { rows } = await q.query(`SELECT * FROM payments WHERE store_id = $1 AND order_id = $2 AND status <> 'failed'`, [storeId, orderId]);
  return rows[0] ? toPayment(rows[0]) : undefined;
}

export async function findPaymentByRef(q: Queryable, ref: string): Promise<PaymentRow | undefined> {
  const { rows } = await q.query('SELECT * FROM payments WHERE ref = $1', [ref]);
  return rows[0] ? toPayment(rows[0]) : undefined;
}

export interface PaymentEvent {
  paymentId: string | null;
  storeId: string;
  type: string;
  fromStatus?: StoredStatus | null;
  toStatus?: StoredStatus | null;
  cause: string;
  data?: Record<string, unknown>;
}

/** The event log only ever grows (a trigger refuses updates). */
export async function appendEvent(q: Queryable, e: PaymentEvent): Promise<void> {
  const insert = eventsInsert([e]);
  await q.query(insert.text(1), insert.values);
}

/** Several events as one INSERT, logged in the order given: a part of a larger statement on a hot path. */
export function eventsInsert(events: PaymentEvent[]): SqlPart {
  const col = <T>(f: (e: PaymentEvent) => T) => events.map(f);
  return {
    text: (p) => `INSERT INTO payment_events (payment_id, store_id, type, from_status, to_status, cause, data)
      SELECT payment_id, store_id, type, from_status, to_status, cause, data
      FROM unnest($${p}::uuid[], $${p + 1}::uuid[], $${p + 2}::text[], $${p + 3}::text[], $${p + 4}::text[], $${p + 5}::text[], $${p + 6}::jsonb[])
        WITH ORDINALITY AS e(payment_id, store_id, type, from_status, to_status, cause, data, ord)
      ORDER BY ord`,
    values: [col((e) => e.paymentId), col((e) => e.storeId), col((e) => e.type), col((e) => e.fromStatus ?? null), col((e) => e.toStatus ?? null),
      col((e) => e.cause), col((e) => JSON.stringify(e.data ?? {}, bigintJson))],
  };
}

export function bigintJson(_key: string, value: unknown): unknown {
  return typeof value === 'bigint' ? value.toString() : value;
}

export interface EventRow {
  id: string;
  type: string;
  fromStatus: string | null;
  toStatus: string | null;
  cause: string;
  data: Record<string, unknown>;
  createdAt: Date;
}

export async function listEvents(q: Queryable, paymentId: string): Promise<EventRow[]> {
  const { rows } = await q.query('SELECT * FROM payment_events WHERE payment_id = $1 ORDER BY id', [paymentId]);
  return rows.map((r) => ({ id: r.id, type: r.type, fromStatus: r.from_status, toStatus: r.to_status, cause: r.cause, data: r.data, createdAt: r.created_at }));
}
