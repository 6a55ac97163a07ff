import { formatAmount, type CurrencyCode } from '../../core/money.ts';
import type { StoredStatus } from '../../core/status.ts';
import type { Queryable } from '../../db/database.ts';
import { InputError } from '../../errors.ts';
import { iso, ORDER_NAME_SQL, Params, inScope, UUID, type StoreScope } from './sql.ts';

export interface SearchFilters {
  q?: string | undefined;
  storeId?: string | undefined;
  status?: StoredStatus | undefined;
  from?: Date | undefined;
  to?: Date | undefined;
  failedJobs?: boolean | undefined;
  limit: number;
  before?: string | undefined;
}

export interface SearchItem {
  paymentId: string;
  ref: string;
  storeId: string;
  storeName: string;
  platform: string;
  orderId: string;
  orderName: string | null;
  status: StoredStatus;
  amount: string;
  currency: string;
  txHash: string | null;
  gatewayPaymentId: string | null;
  /** The gateway whose connection served the payment (the fallback's when the default could not), and its mode. */
  gateway: string;
  gatewayMode: string;
  customerEmail: string | null;
  createdAt: string;
  updatedAt: string;
  hasFailedJobs: boolean;
}

/** Keyset cursor: the last row's created_at in epoch microseconds (exact) and its id. */
function decodeCursor(before: string): { us: string; id: string } {
  const m = /^(\d{1,17})_([0-9a-f-]{36})$/i.exec(before);
  if (!m || !UUID.test(m[2]!)) throw new InputError('invalid_cursor', '`before` must be the nextBefore value of a previous page.', 400);
  return { us: m[1]!, id: m[2]! };
}

/** A job's payment id as a uuid (null when the job names none, or something that is not one). */
export const JOB_PAYMENT_ID = `CASE WHEN j.data ->> 'paymentId' ~* '^[0-9a-f]{8}-([0-9a-f]{4}-){3}[0-9a-f]{12}$' THEN (j.data ->> 'paymentId')::uuid END`;

function likePrefix(text: string): string {
  return `${text.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
}

/**
 * The payments matching a search box: each kind of identifier is looked up through its own
 * index, and the union of ids is then filtered and paged (newest first, keyset on created_at, id).
 */
export function matchClause(params: Params, rawQ: string): string {
  const q = rawQ.trim();
  const bare = q.replace(/^#/, '');
  const lower = q.toLowerCase();
  const names = [...new Set([q, `#${bare}`, bare])];
  const orderIds = [...new Set([q, ...(/^\d{1,20}$/.test(bare) ? [`gid://shopify/Order/${bare}`] : [])])];
  const $q = params.p(q);
  const $lower = params.p(lower);
  const $names = params.p(names);
  const $orderIds = params.p(orderIds);
  const branches = [
    `SELECT id FROM payments WHERE ref = ${$q}`,
    `SELECT id FROM payments WHERE gateway_payment_id = ${$q}`,
    `SELECT id FROM payments WHERE tx_hash IN (${$q}, ${$lower})`,
    `SELECT id FROM payments WHERE order_id = ANY(${$orderIds}::text[])`,
    `SELECT id FROM payments p WHERE ${ORDER_NAME_SQL('p')} = ANY(${$names}::text[])`,
    `SELECT payment_id FROM shopify_orders WHERE order_name = ANY(${$names}::text[]) AND payment_id IS NOT NULL`,
    // Email: exact, or a prefix of at least 3 characters (fewer would match half the customers).
    q.length >= 3
      ? `SELECT id FROM payments WHERE lower(customer_email) LIKE ${params.p(likePrefix(lower))}`
      : `SELECT id FROM payments WHERE lower(customer_email) = ${$lower}`,
  ];
  if (UUID.test(q)) branches.push(`SELECT ${params.p(q.toLowerCase())}::uuid`);
  return `p.id IN (${branches.join(' UNION ALL ')})`;
}

export async function searchPayments(db: Queryable, scope: StoreScope, f: SearchFilters): Promise<{ items: SearchItem[]; nextBefore: string | null }> {
  const params = new Params();
  const where = [inScope(params, scope, 'p.store_id')];
  if (f.q && f.q.trim() !== '') where.push(matchClause(params, f.q));
  if (f.storeId) where.push(`p.store_id = ${params.p(f.storeId)}::uuid`);
  if (f.status) where.push(`p.status = ${params.p(f.status)}`);
  if (f.from) where.push(`p.created_at >= ${params.p(f.from)}`);
  if (f.to) where.push(`p.created_at < ${params.p(f.to)}`);
  // From the (few) failed jobs to their payments, not from every payment to its jobs.
  if (f.failedJobs) where.push(`p.id IN (SELECT ${JOB_PAYMENT_ID} FROM agenda_jobs j WHERE j.failed_at IS NOT NULL)`);
  if (f.before) {
    const c = decodeCursor(f.before);
    where.push(`(p.created_at, p.id) < (timestamptz 'epoch' + ${params.p(c.us)}::bigint * interval '1 microsecond', ${params.p(c.id)}::uuid)`);
  }
  const sql = `
    SELECT p.id, p.ref, p.store_id, s.name AS store_name, s.platform, p.order_id,
           coalesce(so.order_name, ${ORDER_NAME_SQL('p')}) AS order_name,
           p.status, p.amount_minor, p.currency, p.tx_hash, p.gateway_payment_id, gc.gateway, gc.mode AS gateway_mode, p.customer_email, p.created_at, p.updated_at,
           (extract(epoch FROM p.created_at) * 1000000)::bigint AS created_us,
           EXISTS (SELECT 1 FROM agenda_jobs j WHERE j.data ->> 'paymentId' = p.id::text AND j.failed_at IS NOT NULL) AS has_failed_jobs
    FROM payments p
    JOIN stores s ON s.id = p.store_id
    -- By primary key, row by row like the store: the payments index still drives order and LIMIT.
    JOIN gateway_connections gc ON gc.id = p.connection_id
    LEFT JOIN LATERAL (SELECT order_name FROM shopify_orders WHERE payment_id = p.id LIMIT 1) so ON true
    WHERE ${where.join(' AND ')}
    ORDER BY p.created_at DESC, p.id DESC
    LIMIT ${params.p(f.limit + 1)}`;
  const { rows } = await db.query(sql, params.values);
  const page = rows.slice(0, f.limit);
  const last = page.at(-1);
  return {
    items: page.map((r) => ({
      paymentId: r.id, ref: r.ref, storeId: r.store_id, storeName: r.store_name, platform: r.platform, orderId: r.order_id,
      orderName: r.order_name ?? null, status: r.status,
      amount: formatAmount({ minor: BigInt(r.amount_minor), currency: r.currency as CurrencyCode }), currency: r.currency,
      txHash: r.tx_hash, gatewayPaymentId: r.gateway_payment_id, gateway: r.gateway, gatewayMode: r.gateway_mode, customerEmail: r.customer_email,
      createdAt: iso(r.created_at)!, updatedAt: iso(r.updated_at)!, hasFailedJobs: r.has_failed_jobs,
    })),
    nextBefore: rows.length > f.limit && last ? `${last.created_us}_${last.id}` : null,
  };
}
