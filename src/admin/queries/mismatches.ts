import { compareRatio, formatAmount, parseAmount, parseDecimal, type CurrencyCode, type Money } from '../../core/money.ts';
import { isPaid, type StoredStatus } from '../../core/status.ts';
import type { Queryable } from '../../db/database.ts';
import { Params, inScope, type StoreScope } from './sql.ts';

export type MismatchKind = 'store_paid_gateway_not' | 'gateway_paid_store_not' | 'amount_differs';

export interface Mismatch {
  kind: MismatchKind;
  paymentId: string;
  ref: string;
  storeId: string;
  orderId: string;
  detail: string;
}

export interface MismatchFilters {
  from?: Date | undefined;
  to?: Date | undefined;
  storeId?: string | undefined;
}

interface WriteOp { operation?: string; outcome?: string; request?: Record<string, any>; response?: Record<string, any> }
interface StoreWriteEvent { at: string; cause: string; data: { outcome?: string; reason?: string; message?: string; writes?: WriteOp[] } }

const PAID_SYNC = /^sync (paid|overpaid|paid_late) to /;

/**
 * Whether a successful write-back told the store the order is paid: a write made for a paid
 * status (not the "paid, but the order was cancelled" case, which only tags it for review), a
 * Shopify capture (other than the partial capture of a shortfall) or `coinbridge-paid` tag, or a
 * WooCommerce `set_paid` / `transaction_id`.
 */
export function showsPaid(e: StoreWriteEvent): boolean {
  if (e.data.outcome !== 'written' && e.data.outcome !== 'nothing-to-do') return false;
  if (PAID_SYNC.test(e.cause) && !String(e.data.reason ?? '').startsWith('paid, but the order was cancelled')) return true;
  return (e.data.writes ?? []).some((w) => w.outcome === 'ok' && (
    (w.operation === 'orderCapture' && !w.response?.skipped && !e.cause.startsWith('sync underpaid'))
    || (w.operation === 'tagsAdd' && Array.isArray(w.request?.tags) && w.request.tags.includes('coinbridge-paid'))
    || (w.operation === 'PUT order' && (w.request?.set_paid === true || typeof w.request?.transaction_id === 'string'))));
}

/** Money the store was asked to take for the order: the amounts of captures (or paid writes) that carried one. */
function writtenAmounts(events: StoreWriteEvent[], currency: CurrencyCode): { total: bigint; currencies: Set<string>; count: number } {
  let total = 0n;
  let count = 0;
  const currencies = new Set<string>();
  for (const e of events) {
    if (e.data.outcome !== 'written') continue;
    for (const w of e.data.writes ?? []) {
      if (w.outcome !== 'ok' || w.response?.skipped || (w.operation !== 'orderCapture' && w.operation !== 'PUT order')) continue;
      const amount = w.request?.amount;
      if (amount === undefined || amount === null) continue;
      const cur = String(w.request?.currency ?? currency).toUpperCase();
      currencies.add(cur);
      count++;
      if (cur !== currency) continue;
      const parsed = parseAmount(String(amount), currency);
      if (parsed.ok) total += parsed.value.minor;
    }
  }
  return { total, currencies, count };
}

/**
 * The reconciliation report over the payments made in the range (scoped in SQL):
 * - `gateway_paid_store_not`: paid at the gateway, a platform store, and no successful write-back
 *   told the store (and no write-back job is still pending);
 * - `store_paid_gateway_not`: a successful write-back told the store it was paid, but the payment
 *   is not in a paid status;
 * - `amount_differs`: money written to the store (a capture's amount) differs from the payment's
 *   amount, or, while marked paid, the crypto received is outside the store's tolerance of what
 *   was expected.
 */
export async function findMismatches(db: Queryable, scope: StoreScope, f: MismatchFilters): Promise<Mismatch[]> {
  const params = new Params();
  const where = [inScope(params, scope, 'p.store_id')];
  if (f.storeId) where.push(`p.store_id = ${params.p(f.storeId)}::uuid`);
  if (f.from) where.push(`p.created_at >= ${params.p(f.from)}`);
  if (f.to) where.push(`p.created_at < ${params.p(f.to)}`);
  // Only payments that are paid or were ever written to their store can mismatch.
  const { rows } = await db.query(
    `SELECT p.id, p.ref, p.store_id, p.order_id, p.status, p.amount_minor, p.currency, p.crypto_expected, p.crypto_received, s.platform,
            s.settings ->> 'underpaymentToleranceBp' AS tolerance_bp, w.writes,
            EXISTS (SELECT 1 FROM agenda_jobs j WHERE j.data ->> 'paymentId' = p.id::text AND j.name = 'store.sync'
                      AND (j.next_run_at IS NOT NULL OR j.locked_at IS NOT NULL) AND j.disabled IS NOT TRUE) AS sync_pending
     FROM payments p
     JOIN stores s ON s.id = p.store_id
     LEFT JOIN LATERAL (SELECT jsonb_agg(jsonb_build_object('at', e.created_at, 'cause', e.cause, 'data', e.data) ORDER BY e.id) AS writes
                        FROM payment_events e WHERE e.payment_id = p.id AND e.type = 'store.write') w ON true
     WHERE ${where.join(' AND ')}
       AND (p.status IN ('paid', 'overpaid', 'paid_late') OR w.writes IS NOT NULL)
     ORDER BY p.created_at, p.id`,
    params.values,
  );

  const found: Mismatch[] = [];
  for (const r of rows) {
    const status = r.status as StoredStatus;
    const currency = r.currency as CurrencyCode;
    const amount: Money = { minor: BigInt(r.amount_minor), currency };
    const writes = (r.writes ?? []) as StoreWriteEvent[];
    const base = { paymentId: r.id as string, ref: r.ref as string, storeId: r.store_id as string, orderId: r.order_id as string };
    const paid = isPaid(status);
    const storePaid = writes.filter(showsPaid);

    if (paid && r.platform !== 'direct' && storePaid.length === 0 && !r.sync_pending) {
      const last = writes.at(-1);
      const what = last
        ? last.data.outcome === 'error' ? `the last write-back failed: ${last.data.message ?? 'error'}` : `the last write-back was ${last.data.outcome}: ${last.data.reason ?? ''}`.trim()
        : 'no write-back was recorded';
      found.push({ ...base, kind: 'gateway_paid_store_not', detail: `payment is ${status}, but the ${r.platform} order was never updated as paid; ${what}` });
    }
    if (!paid && storePaid.length > 0) {
      found.push({ ...base, kind: 'store_paid_gateway_not', detail: `the ${r.platform} order was written as paid (${storePaid.at(-1)!.cause}, ${storePaid.at(-1)!.at}), but the payment is ${status}` });
    }
    const written = writtenAmounts(writes, currency);
    if (written.count > 0) {
      const otherCurrency = [...written.currencies].filter((c) => c !== currency);
      if (otherCurrency.length > 0) {
        found.push({ ...base, kind: 'amount_differs', detail: `the store was written amounts in ${otherCurrency.join(', ')}; the payment is in ${currency}` });
      } else if (written.total !== amount.minor) {
        found.push({ ...base, kind: 'amount_differs', detail: `the store captured ${formatAmount({ minor: written.total, currency })} ${currency}; the payment is ${formatAmount(amount)} ${currency}` });
      }
    }
    if (paid) {
      const expected = parseDecimal(r.crypto_expected);
      const received = parseDecimal(r.crypto_received);
      if (expected && received && expected.units > 0n) {
        const toleranceBp = /^\d{1,4}$/.test(String(r.tolerance_bp ?? '')) ? BigInt(r.tolerance_bp) : 50n;
        if (compareRatio(received, expected, 10_000n - toleranceBp, 10_000n) < 0) {
          found.push({ ...base, kind: 'amount_differs', detail: `marked ${status}, but ${r.crypto_received} was received of ${r.crypto_expected} expected (short beyond the store's ${toleranceBp} bp tolerance)` });
        } else if (status !== 'overpaid' && status !== 'paid_late' && compareRatio(received, expected, 1n, 1n) > 0) {
          found.push({ ...base, kind: 'amount_differs', detail: `marked ${status}, but ${r.crypto_received} was received of ${r.crypto_expected} expected (an excess not recorded as overpaid)` });
        }
      }
    }
  }
  return found;
}
