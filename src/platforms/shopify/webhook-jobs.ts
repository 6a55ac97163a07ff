import type { PaymentService } from '../../core/payment-service.ts';
import type { SecretBox } from '../../crypto/secret-box.ts';
import { withTransaction, type Database } from '../../db/database.ts';
import { CoinbridgeError, assertUnreachable } from '../../errors.ts';
import { JOBS_TABLE, type JobHandler } from '../../jobs/queue.ts';
import type { Logger } from '../../observability/log.ts';
import { exportCustomerData, redactCustomer, redactShop } from './compliance.ts';
import { orderCancelled, orderFromWebhook, paymentForOrder } from './orders.ts';
import { findShop, markUninstalled } from './shops.ts';
import { isShopifyWebhookTopic, type ShopifyWebhookTopic } from './topics.ts';

interface Deps { db: Database; box: SecretBox; payments: PaymentService; log: Logger }

/** Does the work of one stored webhook; its outcome is written back to the inbox row. */
export function shopifyWebhookJob(deps: Deps): JobHandler<{ inboxId: string }> {
  return {
    name: 'shopify.webhook',
    maxAttempts: 12,
    concurrency: 10,
    async run(data) {
      const { rows } = await deps.db.pool.query('SELECT * FROM shopify_webhook_inbox WHERE id = $1', [data.inboxId]);
      const row = rows[0];
      if (!row || row.processed_at) return; // handled (or redacted away) already
      const topic = String(row.topic);
      let outcome: string;
      if (!isShopifyWebhookTopic(topic)) outcome = 'ignored: unknown topic';
      else {
        try {
          outcome = await handle(deps, topic, row.shop_domain, JSON.parse(Buffer.from(row.raw_body).toString('utf8')));
        } catch (err) {
          // A final refusal (no gateway connected, gateway refused, bad order) is the outcome;
          // anything retryable goes back to the queue.
          if (!(err instanceof CoinbridgeError) || err.retryable) throw err;
          outcome = `failed: ${err.message}`;
          deps.log.warn({ shop: row.shop_domain, topic, code: err.code }, 'Shopify webhook could not be acted on');
        }
      }
      await deps.db.pool.query('UPDATE shopify_webhook_inbox SET processed_at = now(), outcome = $2 WHERE id = $1', [data.inboxId, outcome.slice(0, 500)]);
    },
  };
}

async function handle(deps: Deps, topic: ShopifyWebhookTopic, shopDomain: string, payload: Record<string, any>): Promise<string> {
  switch (topic) {
    case 'orders/create':
    case 'orders/cancelled': {
      const shop = await findShop(deps.db.pool, deps.box, shopDomain);
      if (!shop?.installed) return 'ignored: the app is not installed on this shop';
      const order = orderFromWebhook(payload);
      if (topic === 'orders/cancelled') return orderCancelled(deps, shop, order);
      const result = await paymentForOrder(deps, shop, order);
      return result.kind === 'payment' ? `payment ${result.payment.ref} is ${result.payment.status}` : `ignored: ${result.kind === 'not-crypto' ? 'not the crypto payment method' : 'order already cancelled'}`;
    }
    case 'app/uninstalled':
      await uninstall(deps.db, shopDomain);
      return 'uninstalled: tokens deleted, pending Shopify jobs dropped';
    case 'customers/data_request':
      return exportCustomerData(deps.db, shopDomain, payload);
    case 'customers/redact':
      return redactCustomer(deps.db, shopDomain, payload);
    case 'shop/redact':
      return redactShop(deps.db, shopDomain);
    default:
      return assertUnreachable(topic, 'Shopify webhook topic');
  }
}

/**
 * The shop removed the app: its tokens are revoked on Shopify's side and deleted here, and
 * queued work that would call its Admin API is dropped (a job already running finds no token).
 */
export async function uninstall(db: Database, shop: string): Promise<void> {
  await withTransaction(db.pool, async (tx) => {
    await markUninstalled(tx, shop);
    await tx.query(
      `DELETE FROM ${JOBS_TABLE} WHERE locked_at IS NULL AND (
         (name = 'shopify.register-webhooks' AND data ->> 'shop' = $1)
         OR (name = 'store.sync' AND (data ->> 'paymentId')::uuid IN (
           SELECT p.id FROM payments p JOIN shopify_shops s ON s.store_id = p.store_id WHERE s.shop_domain = $1)))`,
      [shop],
    );
  });
}
