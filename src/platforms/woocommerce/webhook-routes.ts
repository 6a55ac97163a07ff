import Router from '@koa/router';
import type { SecretBox } from '../../crypto/secret-box.ts';
import { sha256Hex, verifyBase64Hmac } from '../../crypto/signatures.ts';
import { withTransaction, type Database } from '../../db/database.ts';
import { readRawBody } from '../../http/body.ts';
import { enqueueJobToRunSoon, type JobWaker } from '../../jobs/queue.ts';
import type { Logger } from '../../observability/log.ts';
import type { Metrics } from '../../observability/metrics.ts';

const BODY_LIMIT = 2 * 1024 * 1024;
const SOURCE = 'woocommerce';
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
/** WooCommerce's activation ping: form-encoded, unsigned, must get exactly 200. */
const PING = /^webhook_id=\d{1,20}$/;

/**
 * `POST /woocommerce/webhooks/{storeId}`. Signed deliveries (`X-WC-Webhook-Signature`, base64
 * HMAC-SHA256 of the raw body with the secret Coinbridge gave the webhook) are stored and worked
 * in a job that reads the order from the store — the body is the order at delivery time, so only
 * its id is trusted as a hint.
 */
export function wooWebhookRoutes(deps: { db: Database; box: SecretBox; log: Logger; metrics: Metrics; waker: JobWaker }): Router {
  const router = new Router();
  router.post('/woocommerce/webhooks/:storeId', async (ctx) => {
    const raw = await readRawBody(ctx, BODY_LIMIT);
    const signature = ctx.get('x-wc-webhook-signature');
    if (!signature && ctx.is('application/x-www-form-urlencoded') && PING.test(raw.toString('latin1').trim())) {
      ctx.status = 200;
      ctx.body = '';
      return;
    }
    deps.metrics.callbackReceived(SOURCE);
    const storeId = ctx.params.storeId ?? '';
    const refuse = (code: string, message: string) => {
      deps.metrics.callbackRejected(SOURCE, code);
      deps.log.warn({ storeId: storeId.slice(0, 40), code }, 'WooCommerce webhook refused');
      ctx.status = 401;
      ctx.body = { error: { code, message } };
    };
    const { rows } = UUID.test(storeId)
      ? await deps.db.pool.query(`SELECT webhook_secret FROM woocommerce_stores WHERE store_id = $1 AND status = 'connected'`, [storeId])
      : { rows: [] };
    // An unknown store and a bad signature look the same from outside.
    if (!rows[0] || !verifyBase64Hmac(raw, deps.box.open(rows[0].webhook_secret), signature)) {
      return refuse('invalid_signature', 'X-WC-Webhook-Signature does not match the body signed with this webhook\'s secret.');
    }
    let orderId: string | null = null;
    try {
      const body = JSON.parse(raw.toString('utf8')) as { id?: unknown };
      if (typeof body.id === 'number' || (typeof body.id === 'string' && /^\d{1,20}$/.test(body.id))) orderId = String(body.id);
    } catch { /* a signed but non-JSON body carries no order to look at */ }
    // X-WC-Webhook-Delivery-ID is a hash of the webhook id and the current second, so two
    // deliveries (for different orders) in one second share it: only the same id with the same
    // body is a repeat. A repeat that slips through costs nothing — the job only reads the order.
    const deliveryId = sha256Hex(Buffer.concat([Buffer.from(`${ctx.get('x-wc-webhook-delivery-id')}\n`), raw]));
    const topic = ctx.get('x-wc-webhook-topic').slice(0, 60) || 'unknown';
    const job = await withTransaction(deps.db.pool, async (tx) => {
      const inserted = await tx.query(
        `INSERT INTO woocommerce_webhook_inbox (store_id, delivery_id, topic, order_id, raw_body) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT DO NOTHING RETURNING id`,
        [storeId, deliveryId, topic, orderId, raw],
      );
      await tx.query('UPDATE woocommerce_stores SET last_webhook_at = now() WHERE store_id = $1', [storeId]);
      if (!inserted.rows[0] || !orderId) return undefined;
      return enqueueJobToRunSoon(tx, deps.waker, { name: 'woocommerce.webhook', data: { inboxId: String(inserted.rows[0].id) } });
    });
    if (job) deps.waker.runSoon(job);
    else deps.metrics.callbackDuplicated(SOURCE);
    ctx.status = 200;
    ctx.body = { ok: true };
  });
  return router;
}
