import type { PaymentService } from '../../core/payment-service.ts';
import type { SecretBox } from '../../crypto/secret-box.ts';
import type { Database } from '../../db/database.ts';
import { issueApiKey } from '../../db/stores-repo.ts';
import { CoinbridgeError } from '../../errors.ts';
import type { JobHandler } from '../../jobs/queue.ts';
import type { Logger } from '../../observability/log.ts';
import type { WooOrder } from './client.ts';
import { reconcileOrder } from './orders.ts';
import { clientFor, connectedWooStores, findWooStore } from './stores.ts';
import { ensureWebhooks } from './webhooks.ts';

interface Deps { db: Database; box: SecretBox; payments: PaymentService; log: Logger; publicUrl: string; allowPrivate: boolean; timeoutMs: number }

/** How far back the reconciler looks for orders the webhooks may have missed. */
const LOOKBACK_MS = 2 * 24 * 3600_000;

/**
 * After WooCommerce posted the keys: prove they work (a REST call), create the webhooks, and
 * issue the API key the plugin will fetch. Keys that do not work fail the connection for good,
 * with the reason the plugin shows.
 */
export function wooConnectJob(deps: Deps): JobHandler<{ storeId: string }> {
  return {
    name: 'woocommerce.connect',
    maxAttempts: 8,
    async run(data) {
      const store = await findWooStore(deps.db.pool, deps.box, data.storeId);
      if (!store || store.status !== 'connecting') return;
      const client = clientFor(store, deps);
      try {
        await client.get('system_status');
        await ensureWebhooks(deps.db, client, store, deps.publicUrl);
      } catch (err) {
        if (err instanceof CoinbridgeError && err.retryable) throw err;
        const reason = (err as Error).message;
        await deps.db.pool.query(`UPDATE woocommerce_stores SET status = 'failed', failure_reason = $2 WHERE store_id = $1`, [store.storeId, reason.slice(0, 500)]);
        deps.log.warn({ storeId: store.storeId, storeUrl: store.storeUrl, reason }, 'WooCommerce connection failed');
        return;
      }
      const apiKey = await issueApiKey(deps.db.pool, store.storeId);
      await deps.db.pool.query(
        `UPDATE woocommerce_stores SET status = 'connected', connected_at = now(), pending_api_key = $2 WHERE store_id = $1 AND status = 'connecting'`,
        [store.storeId, deps.box.seal(apiKey)],
      );
      deps.log.info({ storeId: store.storeId, storeUrl: store.storeUrl }, 'WooCommerce store connected');
    },
  };
}

/** One verified webhook delivery: a hint to read that order and act on what the store says. */
export function wooWebhookJob(deps: Deps): JobHandler<{ inboxId: string }> {
  return {
    name: 'woocommerce.webhook',
    maxAttempts: 12,
    concurrency: 10,
    async run(data) {
      const { rows } = await deps.db.pool.query('SELECT store_id, order_id, processed_at FROM woocommerce_webhook_inbox WHERE id = $1', [data.inboxId]);
      const row = rows[0];
      if (!row || row.processed_at) return;
      const store = await findWooStore(deps.db.pool, deps.box, row.store_id);
      let outcome = 'ignored: store not connected';
      if (store?.status === 'connected' && row.order_id) {
        try {
          const { data: order } = await clientFor(store, deps).get<WooOrder>(`orders/${row.order_id}`);
          outcome = await reconcileOrder(deps, store, order);
        } catch (err) {
          if (!(err instanceof CoinbridgeError) || err.retryable) throw err;
          outcome = `failed: ${err.message}`;
        }
      }
      await deps.db.pool.query('UPDATE woocommerce_webhook_inbox SET processed_at = now(), outcome = $2 WHERE id = $1', [data.inboxId, outcome.slice(0, 500)]);
    },
  };
}

/**
 * WooCommerce never retries a webhook, so this pass heals what deliveries missed: each
 * connected store's webhooks are checked (and put back), and its recent crypto orders are read
 * and reconciled.
 */
export function wooReconcileJob(deps: Deps): JobHandler<Record<string, never>> {
  return {
    name: 'woocommerce.reconcile',
    maxAttempts: 1,
    concurrency: 1,
    async run() {
      for (const store of await connectedWooStores(deps.db.pool, deps.box)) {
        const client = clientFor(store, deps);
        try {
          const { note } = await ensureWebhooks(deps.db, client, store, deps.publicUrl);
          if (note) deps.log.warn({ storeId: store.storeId, note }, 'WooCommerce webhooks repaired');
          const after = new Date(Date.now() - LOOKBACK_MS).toISOString();
          for (let page = 1; page <= 10; page++) {
            const { data: orders, headers } = await client.get<WooOrder[]>('orders', { status: 'pending,on-hold,cancelled', modified_after: after, per_page: 100, page });
            for (const order of orders) {
              await reconcileOrder(deps, store, order).catch((err: Error) =>
                deps.log.warn({ storeId: store.storeId, orderId: order.id, err: err.message }, 'WooCommerce order could not be reconciled'));
            }
            if (page >= Number(headers['x-wp-totalpages'] ?? 1)) break;
          }
        } catch (err) {
          // One unreachable store must not stop the others; the next pass tries again.
          await deps.db.pool.query(`UPDATE woocommerce_stores SET webhook_health = 'failing', webhook_note = $2, webhook_checked_at = now() WHERE store_id = $1`,
            [store.storeId, (err as Error).message.slice(0, 500)]);
          deps.log.warn({ storeId: store.storeId, err: (err as Error).message }, 'WooCommerce reconcile pass failed for a store');
        }
      }
    },
  };
}
