import type { Queryable } from '../../db/database.ts';
import { iso, Params, inScope, type StoreScope } from './sql.ts';

export interface AuditEntry {
  at: string;
  email: string;
  role: string;
  action: string;
  storeId: string | null;
  paymentId: string | null;
  note: string | null;
  details: Record<string, unknown>;
}

/**
 * The audit log, newest first. Staff limited to some stores see only entries about those stores;
 * entries about no store (user management) are for operators only.
 */
export async function listAudit(db: Queryable, scope: StoreScope, f: { storeId?: string | undefined; paymentId?: string | undefined; limit: number }): Promise<AuditEntry[]> {
  const params = new Params();
  const where = [scope === 'all' ? 'TRUE' : `a.store_id IS NOT NULL AND ${inScope(params, scope, 'a.store_id')}`];
  if (f.storeId) where.push(`a.store_id = ${params.p(f.storeId)}::uuid`);
  if (f.paymentId) where.push(`a.payment_id = ${params.p(f.paymentId)}::uuid`);
  const { rows } = await db.query(
    `SELECT a.at, a.email, a.role, a.action, a.store_id, a.payment_id, a.note, a.details
     FROM admin_audit a WHERE ${where.join(' AND ')} ORDER BY a.id DESC LIMIT ${params.p(f.limit)}`,
    params.values,
  );
  return rows.map((r) => ({
    at: iso(r.at)!, email: r.email, role: r.role, action: r.action, storeId: r.store_id ?? null, paymentId: r.payment_id ?? null,
    note: r.note ?? null, details: r.details ?? {},
  }));
}
