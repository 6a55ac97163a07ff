import { formatAmount, type CurrencyCode } from '../../core/money.ts';
import type { Queryable } from '../../db/database.ts';
import { iso, ORDER_NAME_SQL, Params, inScope, shopifyOrderNumber, UUID, type StoreScope } from './sql.ts';

export interface TimelineEntry {
  at: string;
  kind: 'event' | 'callback' | 'job';
  type: string;
  fromStatus: string | null;
  toStatus: string | null;
  cause: string | null;
  data: Record<string, unknown>;
  rawBody?: string;
  verdict?: string;
  outcome?: string | null;
  attempts?: number;
  error?: string | null;
}

export interface JobView {
  id: string;
  name: string;
  failedAt: string | null;
  failCount: number;
  failReason: string | null;
  nextRunAt: string | null;
  lockedAt: string | null;
}

/** The default gateway could not create the payment, so the fallback did: from which, and why. */
export interface FallbackView {
  fromGateway: string;
  fromConnectionId: string | null;
  /** The default gateway's own words (its error message), else the event's cause. */
  reason: string;
  code: string | null;
  /** The default's failure was transient (it did not answer) rather than a refusal. */
  retryable: boolean;
  at: string;
}

export interface PaymentDetail {
  payment: {
    id: string; ref: string; status: string; amount: string; currency: string;
    /** The connection that serves the payment (the one that created it at its gateway), with its gateway and mode. */
    gateway: string; mode: string; connectionId: string;
    fallback: FallbackView | null;
    gatewayPaymentId: string | null; crypto: { coin: string | null; network: string | null; expected: string | null; received: string | null } | null;
    txHash: string | null; customerEmail: string | null; payUrl: string; returnUrl: string; createdAt: string; updatedAt: string;
    expiresAt: string; lastVerifiedAt: string | null; failureReason: string | null;
  };
  store: { id: string; name: string; platform: string };
  order: { id: string; name: string | null; adminUrl: string | null; statusThere: string | null };
  timeline: TimelineEntry[];
  jobs: JobView[];
}

/** The payment's row with its store, connection and order facts, or undefined when out of scope. */
export async function findVisiblePayment(db: Queryable, scope: StoreScope, id: string): Promise<Record<string, any> | undefined> {
  if (!UUID.test(id)) return undefined;
  const params = new Params();
  const { rows } = await db.query(
    `SELECT p.*, s.name AS store_name, s.platform, gc.gateway, gc.mode,
            so.order_name AS shop_order_name, so.cancelled_at AS shop_order_cancelled_at, ${ORDER_NAME_SQL('p')} AS meta_order_name,
            sh.shop_domain, ws.store_url
     FROM payments p
     JOIN stores s ON s.id = p.store_id
     JOIN gateway_connections gc ON gc.id = p.connection_id
     LEFT JOIN LATERAL (SELECT order_name, cancelled_at FROM shopify_orders WHERE payment_id = p.id LIMIT 1) so ON true
     LEFT JOIN LATERAL (SELECT shop_domain FROM shopify_shops WHERE store_id = p.store_id ORDER BY installed_at DESC NULLS LAST LIMIT 1) sh ON true
     LEFT JOIN woocommerce_stores ws ON ws.store_id = p.store_id
     WHERE p.id = ${params.p(id)}::uuid AND ${inScope(params, scope, 'p.store_id')}`,
    params.values,
  );
  return rows[0];
}

function adminUrl(row: Record<string, any>): string | null {
  if (row.platform === 'shopify' && row.shop_domain) {
    const n = shopifyOrderNumber(row.order_id);
    return n ? `https://${row.shop_domain}/admin/orders/${n}` : null;
  }
  if (row.platform === 'woocommerce' && row.store_url && /^\d+$/.test(row.order_id)) {
    return `${row.store_url}/wp-admin/post.php?post=${row.order_id}&action=edit`;
  }
  return null;
}

/** What Coinbridge last knew of the order on the store's side, from its own records. */
function statusThere(row: Record<string, any>, lastWrite: { at: Date; data: Record<string, any> } | undefined): string | null {
  if (row.platform === 'direct') return null;
  const parts: string[] = [];
  if (row.store_order_cancelled_at || row.shop_order_cancelled_at) parts.push('order cancelled in the store');
  if (lastWrite) {
    const d = lastWrite.data;
    const text = d.outcome === 'error' ? `last write-back failed: ${String(d.message ?? d.code ?? 'error')}` : `last write-back ${String(d.outcome)}: ${String(d.reason ?? '')}`;
    parts.push(`${text.trim()} (${lastWrite.at.toISOString()})`);
  }
  return parts.length ? parts.join('; ') : null;
}

/**
 * Why the fallback serves this payment: the last `gateway.fallback` event that handed it to the
 * serving connection (a payment retried after a failure may have several). The reason is the
 * default gateway's error from its failed `gateway.create` just before, else the event's cause.
 */
function fallbackOf(events: Record<string, any>[], servingId: string): FallbackView | null {
  const index = events.findLastIndex((e) => e.type === 'gateway.fallback' && e.data?.to?.connectionId === servingId);
  if (index < 0) return null;
  const e = events[index]!;
  const from = (e.data?.from ?? {}) as { gateway?: string; connectionId?: string };
  const failed = events.slice(0, index).findLast((x) => x.type === 'gateway.create' && x.data?.outcome === 'error'
    && (from.connectionId === undefined || x.data?.connectionId === from.connectionId));
  const message = typeof failed?.data?.message === 'string' ? failed.data.message : undefined;
  return {
    fromGateway: String(from.gateway ?? 'unknown'), fromConnectionId: from.connectionId ?? null,
    reason: message ?? e.cause ?? 'no reason recorded', code: typeof e.data?.code === 'string' ? e.data.code : null,
    retryable: e.data?.retryable === true, at: iso(e.created_at)!,
  };
}

const utf8 = new TextDecoder('utf-8');

export async function paymentDetail(db: Queryable, scope: StoreScope, id: string, payUrl: (ref: string) => string): Promise<PaymentDetail | undefined> {
  const row = await findVisiblePayment(db, scope, id);
  if (!row) return undefined;
  const [events, callbacks, jobs] = await Promise.all([
    db.query(`SELECT id, type, from_status, to_status, cause, data, created_at, (extract(epoch FROM created_at) * 1000000)::bigint AS us
              FROM payment_events WHERE payment_id = $1 ORDER BY id`, [row.id]),
    db.query(`SELECT id, source, dedupe_key, raw_body, received_at, processed_at, outcome, (extract(epoch FROM received_at) * 1000000)::bigint AS us
              FROM inbox WHERE payment_id = $1 ORDER BY id`, [row.id]),
    db.query(`SELECT id, name, failed_at, fail_count, fail_reason, next_run_at, locked_at, last_run_at, created_at,
                     (extract(epoch FROM coalesce(failed_at, last_run_at, created_at)) * 1000000)::bigint AS us
              FROM agenda_jobs WHERE data ->> 'paymentId' = $1 ORDER BY created_at, id`, [row.id]),
  ]);

  type Sortable = { us: bigint; rank: number; seq: number; entry: TimelineEntry };
  const all: Sortable[] = [];
  for (const c of callbacks.rows) {
    all.push({ us: BigInt(c.us), rank: 0, seq: all.length, entry: {
      at: iso(c.received_at)!, kind: 'callback', type: `${c.source}.callback`, fromStatus: null, toStatus: null,
      cause: `${c.source} callback`, data: { dedupeKey: c.dedupe_key, processedAt: iso(c.processed_at) },
      rawBody: utf8.decode(c.raw_body as Buffer), verdict: 'signature valid', outcome: c.outcome ?? (c.processed_at ? 'processed' : 'waiting to be processed'),
    } });
  }
  let lastWrite: { at: Date; data: Record<string, any> } | undefined;
  for (const e of events.rows) {
    const data = (e.data ?? {}) as Record<string, unknown>;
    if (e.type === 'store.write') lastWrite = { at: e.created_at, data };
    all.push({ us: BigInt(e.us), rank: 1, seq: all.length, entry: {
      at: iso(e.created_at)!, kind: 'event', type: e.type, fromStatus: e.from_status, toStatus: e.to_status, cause: e.cause, data,
      ...(typeof data.outcome === 'string' ? { outcome: data.outcome } : {}),
    } });
  }
  for (const j of jobs.rows) {
    const state = j.locked_at ? 'running' : j.failed_at && !j.next_run_at ? 'failed' : j.failed_at ? 'retrying' : 'scheduled';
    all.push({ us: BigInt(j.us), rank: 2, seq: all.length, entry: {
      at: iso(j.failed_at ?? j.last_run_at ?? j.created_at)!, kind: 'job', type: j.name, fromStatus: null, toStatus: null,
      cause: `job ${j.name}`, data: { jobId: j.id, nextRunAt: iso(j.next_run_at) }, outcome: state, attempts: Number(j.fail_count ?? 0), error: j.fail_reason ?? null,
    } });
  }
  all.sort((a, b) => (a.us < b.us ? -1 : a.us > b.us ? 1 : a.rank - b.rank || a.seq - b.seq));

  const fallback = fallbackOf(events.rows, row.connection_id);
  const currency = row.currency as CurrencyCode;
  return {
    payment: {
      id: row.id, ref: row.ref, status: row.status, amount: formatAmount({ minor: BigInt(row.amount_minor), currency }), currency,
      gateway: row.gateway, mode: row.mode, connectionId: row.connection_id, fallback, gatewayPaymentId: row.gateway_payment_id,
      crypto: row.crypto_coin || row.crypto_expected || row.crypto_received || row.network
        ? { coin: row.crypto_coin, network: row.network, expected: row.crypto_expected, received: row.crypto_received } : null,
      txHash: row.tx_hash, customerEmail: row.customer_email, payUrl: payUrl(row.ref), returnUrl: row.return_url,
      createdAt: iso(row.created_at)!, updatedAt: iso(row.updated_at)!, expiresAt: iso(row.expires_at)!, lastVerifiedAt: iso(row.last_verified_at),
      failureReason: row.failure_reason,
    },
    store: { id: row.store_id, name: row.store_name, platform: row.platform },
    order: { id: row.order_id, name: row.shop_order_name ?? row.meta_order_name ?? null, adminUrl: adminUrl(row), statusThere: statusThere(row, lastWrite) },
    timeline: all.map((s) => s.entry),
    jobs: jobs.rows.map((j) => ({
      id: j.id, name: j.name, failedAt: iso(j.failed_at), failCount: Number(j.fail_count ?? 0), failReason: j.fail_reason ?? null,
      nextRunAt: iso(j.next_run_at), lockedAt: iso(j.locked_at),
    })),
  };
}
