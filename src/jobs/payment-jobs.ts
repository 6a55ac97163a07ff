import type { PaymentService } from '../core/payment-service.ts';
import { withTransaction, type Database } from '../db/database.ts';
import { enqueueJob, type JobHandler, type JobWaker } from './queue.ts';

/** Applies what the gateway's verify API says; one run per callback, expiry or reconcile pass. */
export function verifyPaymentJob(payments: PaymentService): JobHandler<{ paymentId: string; inboxId?: string; cause?: 'reconcile' | 'expiry' }> {
  return {
    name: 'payment.verify',
    maxAttempts: 12,
    concurrency: 10,
    async run(data) {
      const cause = data.inboxId ? { kind: 'callback' as const, inboxId: data.inboxId } : { kind: data.cause ?? ('reconcile' as const) };
      await payments.verify(data.paymentId, cause);
    },
  };
}

/** At expiry, ask the gateway once more: settles a payment whose callback never came, or expires it. */
export function expiryCheckJob(payments: PaymentService, db: Database): JobHandler<{ paymentId: string }> {
  return {
    name: 'payment.expiry-check',
    maxAttempts: 12,
    async run(data) {
      const { status } = await payments.verify(data.paymentId, { kind: 'expiry' });
      // A shortfall still open at expiry is the store's call (partial capture or review): no
      // transition reports it, so the expiry check hands it to the store's write-back itself.
      if (status === 'underpaid') {
        await enqueueJob(db.pool, { name: 'store.sync', data: { paymentId: data.paymentId, atExpiry: true } });
      }
    },
  };
}

/**
 * Heals lost callbacks: every open payment not verified recently gets a verify job, and a
 * creation abandoned mid-way (its requester gone) is closed as failed.
 */
export function reconcileJob(db: Database, opts: { staleAfterMs: number; batch: number; waker: JobWaker }): JobHandler<Record<string, never>> {
  return {
    name: 'payments.reconcile',
    maxAttempts: 1,
    concurrency: 1,
    async run() {
      const queued = await withTransaction(db.pool, async (tx) => {
        await tx.query(
          `WITH abandoned AS (
             UPDATE payments SET status = 'failed', failure_reason = 'creation abandoned: the gateway never confirmed it', claimed_until = NULL, updated_at = now()
             WHERE status = 'initiating' AND claimed_until < now() - interval '5 minutes' RETURNING id, store_id)
           INSERT INTO payment_events (payment_id, store_id, type, from_status, to_status, cause)
           SELECT id, store_id, 'transition', 'initiating', 'failed', 'reconciler: creation abandoned' FROM abandoned`,
        );
        const { rows } = await tx.query(
          `SELECT id FROM payments
           WHERE status IN ('created', 'pending', 'confirming', 'underpaid') AND gateway_payment_id IS NOT NULL
             AND coalesce(last_verified_at, created_at) < now() - $1 * interval '1 millisecond'
           ORDER BY coalesce(last_verified_at, created_at) LIMIT $2 FOR UPDATE SKIP LOCKED`,
          [opts.staleAfterMs, opts.batch],
        );
        for (const row of rows) {
          await enqueueJob(tx, { name: 'payment.verify', data: { paymentId: row.id, cause: 'reconcile' } });
        }
        // Mark them so the next pass does not queue the same payments again before they run.
        await tx.query('UPDATE payments SET last_verified_at = now() WHERE id = ANY($1::uuid[])', [rows.map((r) => r.id)]);
        return rows.length;
      });
      if (queued > 0) opts.waker.wake('payment.verify');
    },
  };
}
