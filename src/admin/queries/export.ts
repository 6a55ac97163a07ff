import { formatAmount, type CurrencyCode } from '../../core/money.ts';
import type { Queryable } from '../../db/database.ts';
import { iso, ORDER_NAME_SQL, Params, inScope, type StoreScope } from './sql.ts';

/** New columns go last, so a spreadsheet built on an earlier export keeps its column letters. */
export const CSV_COLUMNS = ['store', 'order', 'order_name', 'payment_ref', 'payment_id', 'status', 'amount', 'currency', 'crypto_coin', 'network',
  'crypto_expected', 'crypto_received', 'tx_hash', 'created_at', 'updated_at', 'gateway'] as const;

/**
 * One CSV cell (RFC 4180): quoted when it holds a comma, quote, CR or LF, quotes doubled. A cell a
 * spreadsheet would run as a formula (starting with = + - @, or a tab or CR that some programs
 * skip before one) gets a leading apostrophe, so opening the export never executes anything.
 */
export function csvCell(value: string | null | undefined): string {
  let text = value ?? '';
  if (/^[=+\-@\t\r]/.test(text)) text = `'${text}`;
  return /[",\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

export function csvLine(cells: readonly (string | null | undefined)[]): string {
  return `${cells.map(csvCell).join(',')}\r\n`;
}

export interface ExportFilters {
  from?: Date | undefined;
  to?: Date | undefined;
  storeId?: string | undefined;
}

const BATCH = 1000;

/**
 * The reconciliation export, oldest first, read in keyset batches so a large range never sits in
 * memory at once. Yields CSV lines, the header first.
 */
export async function* exportCsv(db: Queryable, scope: StoreScope, f: ExportFilters): AsyncGenerator<string> {
  yield csvLine(CSV_COLUMNS);
  let after: { us: string; id: string } | undefined;
  for (;;) {
    const params = new Params();
    const where = [inScope(params, scope, 'p.store_id')];
    if (f.storeId) where.push(`p.store_id = ${params.p(f.storeId)}::uuid`);
    if (f.from) where.push(`p.created_at >= ${params.p(f.from)}`);
    if (f.to) where.push(`p.created_at < ${params.p(f.to)}`);
    if (after) where.push(`(p.created_at, p.id) > (timestamptz 'epoch' + ${params.p(after.us)}::bigint * interval '1 microsecond', ${params.p(after.id)}::uuid)`);
    const { rows } = await db.query(
      `SELECT s.name AS store_name, p.order_id, coalesce(so.order_name, ${ORDER_NAME_SQL('p')}) AS order_name, p.ref, p.id, p.status,
              p.amount_minor, p.currency, p.crypto_coin, p.network, p.crypto_expected, p.crypto_received, p.tx_hash, p.created_at, p.updated_at,
              gc.gateway, (extract(epoch FROM p.created_at) * 1000000)::bigint AS created_us
       FROM payments p
       JOIN stores s ON s.id = p.store_id
       JOIN gateway_connections gc ON gc.id = p.connection_id
       LEFT JOIN LATERAL (SELECT order_name FROM shopify_orders WHERE payment_id = p.id LIMIT 1) so ON true
       WHERE ${where.join(' AND ')}
       ORDER BY p.created_at, p.id
       LIMIT ${BATCH}`,
      params.values,
    );
    let chunk = '';
    for (const r of rows) {
      chunk += csvLine([
        r.store_name, r.order_id, r.order_name, r.ref, r.id, r.status,
        formatAmount({ minor: BigInt(r.amount_minor), currency: r.currency as CurrencyCode }), r.currency,
        r.crypto_coin, r.network, r.crypto_expected, r.crypto_received, r.tx_hash, iso(r.created_at), iso(r.updated_at), r.gateway,
      ]);
    }
    if (chunk) yield chunk;
    if (rows.length < BATCH) return;
    const last = rows.at(-1)!;
    after = { us: last.created_us, id: last.id };
  }
}
