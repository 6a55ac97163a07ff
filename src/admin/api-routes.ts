import { Readable } from 'node:stream';
import Router from '@koa/router';
import type Koa from 'koa';
import { z } from 'zod';
import type { PaymentService } from '../core/payment-service.ts';
import { MerchantSettingsSchema } from '../core/settings.ts';
import { STORED_STATUSES, type StoredStatus } from '../core/status.ts';
import type { SecretBox } from '../crypto/secret-box.ts';
import { withTransaction, type Database } from '../db/database.ts';
import { findStore, updateStoreSettings } from '../db/stores-repo.ts';
import { CoinbridgeError, InputError } from '../errors.ts';
import type { GatewayRegistry } from '../gateways/registry.ts';
import { readJsonObject } from '../http/body.ts';
import { describeIssues, isStorableText, storable } from '../http/validation.ts';
import { enqueueJobToRunSoon, type JobName, type JobWaker } from '../jobs/queue.ts';
import type { Logger } from '../observability/log.ts';
import { audit, canSeeStore, csrfProtection, requireStaff, type AdminDeps, type StaffPrincipal, type StaffRole } from './access.ts';
import { chooseForStore, connectForStore, connectionViews, parseChoiceBody, parseConnectBody } from './gateways.ts';
import { listAudit } from './queries/audit-log.ts';
import { exportCsv } from './queries/export.ts';
import { storesHealth } from './queries/health.ts';
import { findMismatches } from './queries/mismatches.ts';
import { findVisiblePayment, paymentDetail } from './queries/payment-detail.ts';
import { searchPayments } from './queries/search.ts';
import { Params, inScope, UUID } from './queries/sql.ts';

export interface AdminApiDeps {
  db: Database; box: SecretBox; payments: PaymentService; waker: JobWaker; log: Logger; publicUrl: string; access: AdminDeps;
  /** For connecting gateways: proving new credentials and pointing the gateway's callbacks here. */
  gateways: GatewayRegistry;
}

const BODY_LIMIT = 16 * 1024;
const DECIDERS: StaffRole[] = ['merchant', 'operator'];

const ReasonBody = z.object({ reason: storable(z.string().trim().max(1000)).optional() }).strict();
const ResolveBody = z.object({
  to: z.enum(['paid', 'cancelled']),
  note: storable(z.string().trim().min(3, 'a note of at least 3 characters is required').max(1000)),
  reason: z.string().optional(),
}).strict();

function staffOf(ctx: Koa.Context): StaffPrincipal {
  return ctx.state.staff as StaffPrincipal;
}

function notFound(what: string): InputError {
  return new InputError('not_found', `No ${what} with this id (or not one of your stores).`, 404);
}

function query(ctx: Koa.Context, name: string): string | undefined {
  const value = ctx.query[name];
  if (Array.isArray(value)) throw new InputError('invalid_query', `Give \`${name}\` once.`, 400);
  // PostgreSQL refuses a NUL or a lone surrogate even as a query parameter.
  if (value !== undefined && !isStorableText(value)) {
    throw new InputError('invalid_query', `\`${name}\` contains a NUL character or invalid Unicode.`, 400);
  }
  return value === undefined || value === '' ? undefined : value;
}

function uuidQuery(ctx: Koa.Context, name: string): string | undefined {
  const value = query(ctx, name);
  if (value !== undefined && !UUID.test(value)) throw new InputError('invalid_query', `\`${name}\` must be a UUID.`, 400);
  return value?.toLowerCase();
}

/** `2025-03-01` or a full ISO 8601 date-time (`2025-03-01T00:00:00Z`). */
function dateQuery(ctx: Koa.Context, name: string): Date | undefined {
  const value = query(ctx, name);
  if (value === undefined) return undefined;
  const date = /^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?(Z|[+-]\d{2}:?\d{2})?)?$/.test(value) ? new Date(value.length === 10 ? `${value}T00:00:00Z` : value) : undefined;
  if (!date || Number.isNaN(date.getTime())) throw new InputError('invalid_query', `\`${name}\` must be an ISO 8601 date such as 2025-03-01 or 2025-03-01T12:00:00Z.`, 400);
  return date;
}

function limitQuery(ctx: Koa.Context, fallback: number, max: number): number {
  const value = query(ctx, 'limit');
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > max) throw new InputError('invalid_query', `\`limit\` must be a whole number from 1 to ${max}.`, 400);
  return n;
}

/** An optional JSON body: none at all is `{}`. */
async function optionalBody(ctx: Koa.Context): Promise<Record<string, unknown>> {
  const length = ctx.get('content-length');
  if ((length === '' || length === '0') && !ctx.get('transfer-encoding')) return {};
  return readJsonObject(ctx, BODY_LIMIT);
}

function parseBody<T>(schema: z.ZodType<T>, raw: unknown): T {
  const parsed = schema.safeParse(raw);
  if (!parsed.success) throw new InputError('invalid_request', 'The request has invalid fields; see details.', 400, describeIssues(parsed.error));
  return parsed.data;
}

/**
 * The support console's JSON API (issue 6): search, the order ↔ payment page, actions, health,
 * reconciliation. Every route needs a signed-in staff member (requireStaff) and, for changes, the
 * CSRF double-submit (csrfProtection). Every query is limited to the staff member's stores in SQL;
 * a payment or store outside them is answered 404, never 403, so its existence is not revealed.
 * Every action is written to the audit log with who, when and why.
 */
export function adminApiRoutes(deps: AdminApiDeps): Router {
  const { db, payments, waker } = deps;
  const router = new Router({ prefix: '/v1/admin' });
  const staff = [requireStaff(deps.access), csrfProtection(deps.access)];
  const deciders = [requireStaff(deps.access, { roles: DECIDERS }), csrfProtection(deps.access)];
  const payUrl = (ref: string) => payments.payUrl({ ref });

  /** The payment's store when the staff member may see it; 404 otherwise (also for malformed ids). */
  const visiblePayment = async (ctx: Koa.Context): Promise<{ id: string; storeId: string; ref: string; status: StoredStatus; platform: string }> => {
    const row = await findVisiblePayment(db.pool, staffOf(ctx).storeIds, String(ctx.params.id));
    if (!row) throw notFound('payment');
    return { id: row.id, storeId: row.store_id, ref: row.ref, status: row.status, platform: row.platform };
  };

  router.get('/stores', ...staff, async (ctx) => {
    const params = new Params();
    const { rows } = await db.pool.query(
      `SELECT s.id, s.name, s.platform FROM stores s WHERE ${inScope(params, staffOf(ctx).storeIds, 's.id')} ORDER BY s.name, s.id`, params.values);
    ctx.body = { stores: rows.map((r) => ({ id: r.id, name: r.name, platform: r.platform })) };
  });

  router.get('/search', ...staff, async (ctx) => {
    const q = query(ctx, 'q');
    if (q !== undefined && q.length > 300) throw new InputError('invalid_query', '`q` is at most 300 characters.', 400);
    let status = query(ctx, 'status');
    let failedJobs = query(ctx, 'failedJobs') === 'true';
    if (status === 'failed_jobs') {
      failedJobs = true;
      status = undefined;
    }
    if (status !== undefined && !(STORED_STATUSES as readonly string[]).includes(status)) {
      throw new InputError('invalid_query', `\`status\` must be one of ${STORED_STATUSES.join(', ')} (or failed_jobs).`, 400);
    }
    ctx.body = await searchPayments(db.pool, staffOf(ctx).storeIds, {
      q, storeId: uuidQuery(ctx, 'storeId'), status: status as StoredStatus | undefined, from: dateQuery(ctx, 'from'), to: dateQuery(ctx, 'to'),
      failedJobs, limit: limitQuery(ctx, 50, 200), before: query(ctx, 'before'),
    });
  });

  router.get('/payments/:id', ...staff, async (ctx) => {
    const detail = await paymentDetail(db.pool, staffOf(ctx).storeIds, String(ctx.params.id), payUrl);
    if (!detail) throw notFound('payment');
    ctx.body = detail;
  });

  router.post('/payments/:id/reverify', ...staff, async (ctx) => {
    const body = parseBody(ReasonBody, await optionalBody(ctx));
    const p = await visiblePayment(ctx);
    const who = staffOf(ctx);
    const entry = { action: 'payment.reverify', storeId: p.storeId, paymentId: p.id, note: body.reason ?? null };
    let result: { status: StoredStatus; changed: boolean };
    try {
      result = await payments.verify(p.id, { kind: 'manual', by: who.email });
    } catch (err) {
      const e = err as CoinbridgeError;
      await audit(db.pool, who, { ...entry, details: { outcome: 'error', code: e.code ?? 'error', message: e.message } });
      throw err;
    }
    await audit(db.pool, who, { ...entry, details: { outcome: 'ok', from: p.status, status: result.status, changed: result.changed } });
    ctx.body = { status: result.status, changed: result.changed };
  });

  router.post('/payments/:id/resync', ...staff, async (ctx) => {
    const body = parseBody(ReasonBody, await optionalBody(ctx));
    const p = await visiblePayment(ctx);
    if (p.platform === 'direct') {
      throw new InputError('not_a_platform_store', 'This payment belongs to a direct (API) store: there is no store order to write back to.', 409);
    }
    const job = await withTransaction(db.pool, async (tx) => {
      await audit(tx, staffOf(ctx), { action: 'payment.resync', storeId: p.storeId, paymentId: p.id, note: body.reason ?? null, details: { status: p.status } });
      return enqueueJobToRunSoon(tx, waker, { name: 'store.sync', data: { paymentId: p.id } });
    });
    waker.runSoon(job);
    ctx.body = { queued: true };
  });

  router.post('/jobs/:jobId/retry', ...staff, async (ctx) => {
    const body = parseBody(ReasonBody, await optionalBody(ctx));
    const jobId = String(ctx.params.jobId);
    const who = staffOf(ctx);
    if (!UUID.test(jobId)) throw notFound('job');
    const { rows } = await db.pool.query('SELECT id, name, data, failed_at, fail_count, fail_reason, locked_at FROM agenda_jobs WHERE id = $1', [jobId]);
    const job = rows[0];
    const data = (job?.data ?? {}) as Record<string, unknown>;
    let storeId: string | undefined;
    let paymentId: string | null = null;
    if (job && typeof data.paymentId === 'string') {
      const row = await findVisiblePayment(db.pool, who.storeIds, data.paymentId);
      if (row) ({ store_id: storeId, id: paymentId } = row);
    } else if (job && typeof data.storeId === 'string' && UUID.test(data.storeId) && canSeeStore(who, data.storeId)) {
      storeId = data.storeId;
    }
    if (!job || !storeId) throw notFound('job');
    if (!job.failed_at) throw new InputError('job_not_failed', `Job ${job.name} has not failed; only failed jobs are retried by hand.`, 409);
    if (job.locked_at) throw new InputError('job_running', `Job ${job.name} is running right now.`, 409);
    const retried = await withTransaction(db.pool, async (tx) => {
      const { rowCount } = await tx.query(
        // A fresh run with its full retry budget (the audit entry keeps what the failures were).
        `UPDATE agenda_jobs SET next_run_at = now(), failed_at = NULL, fail_count = NULL, locked_at = NULL, disabled = false
         WHERE id = $1 AND failed_at IS NOT NULL AND locked_at IS NULL`, [jobId]);
      if (!rowCount) return false;
      await audit(tx, who, { action: 'job.retry', storeId, paymentId, note: body.reason ?? null,
        details: { jobId, job: job.name, failCount: Number(job.fail_count ?? 0), failReason: job.fail_reason ?? null } });
      return true;
    });
    if (!retried) throw new InputError('job_not_failed', `Job ${job.name} changed meanwhile (it is running or was retried already).`, 409);
    waker.wake(job.name as JobName);
    ctx.body = { queued: true };
  });

  router.post('/payments/:id/resolve', ...deciders, async (ctx) => {
    const body = parseBody(ResolveBody, await readJsonObject(ctx, BODY_LIMIT));
    const p = await visiblePayment(ctx);
    const who = staffOf(ctx);
    const { status } = await payments.resolveReview(p.id, body.to, {
      by: `${who.email} (${who.role})`, note: body.note,
      inTransaction: (tx) => audit(tx, who, { action: 'payment.resolve', storeId: p.storeId, paymentId: p.id, note: body.note, details: { from: 'review', to: body.to } }),
    });
    ctx.body = { status };
  });

  router.get('/stores/:id/settings', ...staff, async (ctx) => {
    const id = String(ctx.params.id);
    const store = UUID.test(id) && canSeeStore(staffOf(ctx), id) ? await findStore(db.pool, id) : undefined;
    if (!store) throw notFound('store');
    ctx.body = { settings: store.settings };
  });

  router.put('/stores/:id/settings', ...deciders, async (ctx) => {
    const id = String(ctx.params.id);
    const who = staffOf(ctx);
    if (!UUID.test(id) || !canSeeStore(who, id)) throw notFound('store');
    const raw = await readJsonObject(ctx, BODY_LIMIT);
    // The partial schema would fill defaults for unsent keys; keep only what was sent.
    const partial = MerchantSettingsSchema.partial().strict().safeParse(raw);
    if (!partial.success) throw new InputError('invalid_settings', 'Some settings are not valid; see details.', 422, describeIssues(partial.error));
    const sent = Object.fromEntries(Object.entries(partial.data).filter(([key]) => Object.hasOwn(raw, key)));
    const settings = await withTransaction(db.pool, async (tx) => {
      const { rows } = await tx.query('SELECT id FROM stores WHERE id = $1 FOR UPDATE', [id]);
      if (!rows[0]) throw notFound('store');
      const store = (await findStore(tx, id))!;
      const merged = MerchantSettingsSchema.parse({ ...store.settings, ...sent });
      await updateStoreSettings(tx, id, merged);
      const changed = Object.fromEntries(Object.keys(sent)
        .filter((key) => JSON.stringify(store.settings[key as keyof typeof merged]) !== JSON.stringify(merged[key as keyof typeof merged]))
        .map((key) => [key, { from: store.settings[key as keyof typeof merged], to: merged[key as keyof typeof merged] }]));
      await audit(tx, who, { action: 'store.settings', storeId: id, note: typeof raw.reason === 'string' ? raw.reason : null, details: { changed } });
      return merged;
    });
    ctx.body = { settings };
  });

  /** The store's id when the staff member may see it and it exists; 404 otherwise (also for malformed ids). */
  const visibleStore = async (ctx: Koa.Context): Promise<string> => {
    const id = String(ctx.params.id).toLowerCase();
    if (!UUID.test(id) || !canSeeStore(staffOf(ctx), id) || !(await findStore(db.pool, id))) throw notFound('store');
    return id;
  };

  router.get('/stores/:id/gateways', ...staff, async (ctx) => {
    const id = await visibleStore(ctx);
    ctx.body = { connections: await connectionViews(db.pool, id) };
  });

  router.post('/stores/:id/gateways', ...deciders, async (ctx) => {
    const who = staffOf(ctx);
    const id = await visibleStore(ctx);
    const body = parseConnectBody(await readJsonObject(ctx, BODY_LIMIT));
    // What is recorded of the request: never the keys, nor the instance URL (it may carry credentials).
    const asked = { gateway: body.gateway, mode: body.mode, role: body.role };
    let conn;
    try {
      // No transaction is held across the gateway calls that prove the credentials.
      conn = await connectForStore({ db, box: deps.box, gateways: deps.gateways, publicUrl: deps.publicUrl, allowPrivateUrls: deps.access.config.allowPrivateUrls }, id, body,
        (tx, saved) => audit(tx, who, { action: 'store.gateway.connect', storeId: id, details: { ...asked, outcome: 'ok', connectionId: saved.id } }));
    } catch (err) {
      // Our errors say what went wrong in words fit for the log; anything else is only named.
      const e = err instanceof CoinbridgeError ? { code: err.code, message: err.message } : { code: 'error', message: 'unexpected error (see the server log)' };
      await audit(db.pool, who, { action: 'store.gateway.connect', storeId: id, details: { ...asked, outcome: 'error', ...e } });
      throw err;
    }
    deps.log.info({ storeId: id, by: who.email, gateway: conn.gateway, mode: conn.mode, role: body.role, connectionId: conn.id }, 'gateway connected from the console');
    const connections = await connectionViews(db.pool, id);
    ctx.status = 201;
    ctx.body = { connection: connections.find((c) => c.id === conn.id) ?? null, connections };
  });

  router.put('/stores/:id/gateways', ...deciders, async (ctx) => {
    const who = staffOf(ctx);
    const id = await visibleStore(ctx);
    // An optional `reason` beside the choice goes to the audit log, like the other actions' reasons.
    const { reason, ...raw } = await readJsonObject(ctx, BODY_LIMIT);
    const note = parseBody(ReasonBody, reason === undefined ? {} : { reason }).reason ?? null;
    const choice = parseChoiceBody(raw);
    await withTransaction(db.pool, async (tx) => {
      // One choice at a time per store (the same lock the settings change takes).
      await tx.query('SELECT id FROM stores WHERE id = $1 FOR UPDATE', [id]);
      const change = await chooseForStore(tx, id, choice);
      await audit(tx, who, { action: 'store.gateway.choose', storeId: id, note, details: change });
    });
    ctx.body = { connections: await connectionViews(db.pool, id) };
  });

  router.get('/audit', ...staff, async (ctx) => {
    ctx.body = { entries: await listAudit(db.pool, staffOf(ctx).storeIds, { storeId: uuidQuery(ctx, 'storeId'), paymentId: uuidQuery(ctx, 'paymentId'), limit: limitQuery(ctx, 200, 1000) }) };
  });

  router.get('/health', ...staff, async (ctx) => {
    ctx.body = await storesHealth(db.pool, staffOf(ctx).storeIds);
  });

  router.get('/export.csv', ...staff, async (ctx) => {
    const filters = { from: dateQuery(ctx, 'from'), to: dateQuery(ctx, 'to'), storeId: uuidQuery(ctx, 'storeId') };
    const who = staffOf(ctx);
    await audit(db.pool, who, { action: 'export.csv', storeId: filters.storeId ?? null,
      details: { from: filters.from?.toISOString() ?? null, to: filters.to?.toISOString() ?? null, storeId: filters.storeId ?? null } });
    const day = (d: Date | undefined) => (d ? d.toISOString().slice(0, 10) : 'all');
    ctx.type = 'text/csv; charset=utf-8';
    ctx.set('Content-Disposition', `attachment; filename="coinbridge-payments-${day(filters.from)}-${day(filters.to)}.csv"`);
    ctx.set('X-Content-Type-Options', 'nosniff');
    ctx.body = Readable.from(exportCsv(db.pool, who.storeIds, filters));
  });

  router.get('/mismatches', ...staff, async (ctx) => {
    ctx.body = { items: await findMismatches(db.pool, staffOf(ctx).storeIds, { from: dateQuery(ctx, 'from'), to: dateQuery(ctx, 'to'), storeId: uuidQuery(ctx, 'storeId') }) };
  });

  return router;
}
