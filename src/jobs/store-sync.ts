import { combine, type Database, type SqlPart } from '../db/database.ts';
import { eventsInsert, toPayment, type PaymentEvent } from '../db/payments-repo.ts';
import { findStore } from '../db/stores-repo.ts';
import { CoinbridgeError, UpstreamError } from '../errors.ts';
import type { PlatformAdapter } from '../platforms/types.ts';
import type { JobHandler } from './queue.ts';

/**
 * Writes a payment's status back to its store (the outbox side of a transition). One write-back
 * per payment at a time, so two jobs cannot both find "nothing captured yet" and both capture.
 */
export function storeSyncJob(
  db: Database,
  adapters: PlatformAdapter[],
  /**
   * How long a write-back holds its payment at most: the job lock's lifetime, so a crashed
   * worker's lease lapses when its job becomes runnable again, not a minute after.
   */
  opts: { leaseMs: number },
): JobHandler<{ paymentId: string; atExpiry?: boolean }> {
  const byPlatform = new Map<string, PlatformAdapter>(adapters.map((a) => [a.platform, a]));
  return {
    name: 'store.sync',
    maxAttempts: 12,
    concurrency: 10,
    async run(data) {
      // Taking the lease reads the payment too: one round trip, and the status written back is
      // the one current when the lease was taken.
      const lease = await db.pool.query(
        `UPDATE payments SET store_sync_lease_until = now() + $2 * interval '1 millisecond'
         WHERE id = $1 AND (store_sync_lease_until IS NULL OR store_sync_lease_until < now()) RETURNING *`,
        [data.paymentId, opts.leaseMs],
      );
      if (lease.rowCount === 0) {
        // Come back when the holder's lease ends, not sooner: if the holder crashed, retrying every
        // second would spend every attempt before the lease lapses and the write-back would never run.
        const held = await db.pool.query(
          `SELECT greatest(0, ceil(extract(epoch FROM store_sync_lease_until - now()) * 1000))::int AS ms FROM payments WHERE id = $1`, [data.paymentId]);
        if (held.rowCount === 0) return; // no such payment: nothing to write back
        const retryAfterMs = Number(held.rows[0]?.ms ?? 0) + 250;
        throw new UpstreamError('store_sync_busy', 'another write-back for this payment is running', { retryAfterMs });
      }
      const payment = toPayment(lease.rows[0]);
      let event: PaymentEvent | undefined;
      try {
        const store = await findStore(db.pool, payment.storeId);
        const adapter = store ? byPlatform.get(store.platform) : undefined;
        if (!store || !adapter) return; // a direct store, or none: there is no order to write to
        const written = { paymentId: payment.id, storeId: store.id, type: 'store.write', cause: `sync ${payment.status} to ${store.platform}` };
        try {
          const result = await adapter.syncOrder(payment, store, { atExpiry: data.atExpiry === true });
          event = { ...written, data: { outcome: result.outcome, reason: result.reason, writes: result.writes } };
        } catch (err) {
          const e = err as CoinbridgeError;
          event = { ...written, data: { outcome: 'error', code: e.code ?? 'error', message: e.message, retryable: e.retryable !== false } };
          throw err;
        }
      } finally {
        await endLease(db, payment.id, event);
      }
    },
  };
}

/** Ends a write-back's lease, recording its outcome in the same statement when there is one. */
async function endLease(db: Database, paymentId: string, event: PaymentEvent | undefined): Promise<void> {
  const release: SqlPart = { text: (p) => `UPDATE payments SET store_sync_lease_until = NULL WHERE id = $${p}`, values: [paymentId] };
  const statement = event
    ? combine([eventsInsert([event]), release], ([logged, released]) => `WITH logged AS (${logged}) ${released}`)
    : combine([release], ([released]) => released!);
  await db.pool.query(statement.text, statement.values);
}
