import type { Database } from '../db/database.ts';
import { appendEvent, findPayment } from '../db/payments-repo.ts';
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
  const byPlatform = new Map(adapters.map((a) => [a.platform, a]));
  return {
    name: 'store.sync',
    maxAttempts: 12,
    concurrency: 10,
    async run(data) {
      const payment = await findPayment(db.pool, data.paymentId);
      const store = payment ? await findStore(db.pool, payment.storeId) : undefined;
      if (!payment || !store || store.platform === 'direct') return;
      const adapter = byPlatform.get(store.platform);
      if (!adapter) return;
      const lease = await db.pool.query(
        `UPDATE payments SET store_sync_lease_until = now() + $2 * interval '1 millisecond'
         WHERE id = $1 AND (store_sync_lease_until IS NULL OR store_sync_lease_until < now()) RETURNING id`,
        [payment.id, opts.leaseMs],
      );
      if (lease.rowCount === 0) {
        // Come back when the holder's lease ends, not sooner: if the holder crashed, retrying every
        // second would spend every attempt before the lease lapses and the write-back would never run.
        const held = await db.pool.query(
          `SELECT greatest(0, ceil(extract(epoch FROM store_sync_lease_until - now()) * 1000))::int AS ms FROM payments WHERE id = $1`, [payment.id]);
        const retryAfterMs = Number(held.rows[0]?.ms ?? 0) + 250;
        throw new UpstreamError('store_sync_busy', 'another write-back for this payment is running', { retryAfterMs });
      }
      try {
        const result = await adapter.syncOrder(payment, store, { atExpiry: data.atExpiry === true });
        await appendEvent(db.pool, { paymentId: payment.id, storeId: store.id, type: 'store.write', cause: `sync ${payment.status} to ${store.platform}`,
          data: { outcome: result.outcome, reason: result.reason, writes: result.writes } });
      } catch (err) {
        const e = err as CoinbridgeError;
        await appendEvent(db.pool, { paymentId: payment.id, storeId: store.id, type: 'store.write', cause: `sync ${payment.status} to ${store.platform}`,
          data: { outcome: 'error', code: e.code ?? 'error', message: e.message, retryable: e.retryable !== false } });
        throw err;
      } finally {
        await db.pool.query('UPDATE payments SET store_sync_lease_until = NULL WHERE id = $1', [payment.id]);
      }
    },
  };
}
