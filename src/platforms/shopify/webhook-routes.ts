import Router from '@koa/router';
import type { SecretBox } from '../../crypto/secret-box.ts';
import { withTransaction, type Database } from '../../db/database.ts';
import { readRawBody } from '../../http/body.ts';
import { enqueueJobToRunSoon, type JobWaker } from '../../jobs/queue.ts';
import type { Logger } from '../../observability/log.ts';
import type { Metrics } from '../../observability/metrics.ts';
import { appForShop, findShopifyApp, pendingAppForShop, type ShopifyApp } from './apps.ts';
import { SHOP_DOMAIN, type ShopifyClients } from './clients.ts';
import { isShopifyWebhookTopic } from './topics.ts';

/** Order payloads with many lines are large; Shopify's own limit is a few MB. */
const BODY_LIMIT = 5 * 1024 * 1024;
const SOURCE = 'shopify';

/**
 * `POST /shopify/webhooks`. Verified with the library against the secret of the app the shop
 * installed (or its previous secret during a rotation's grace hour); stored once per event id
 * and per webhook id with its job in the same transaction; acknowledged without any outbound
 * call, well inside Shopify's 5 s.
 */
export function shopifyWebhookRoutes(deps: { db: Database; box: SecretBox; clients: ShopifyClients; defaultClientId: string | undefined; log: Logger; metrics: Metrics; waker: JobWaker }): Router {
  const router = new Router();

  router.post('/shopify/webhooks', async (ctx) => {
    const raw = await readRawBody(ctx, BODY_LIMIT);
    const shop = ctx.get('x-shopify-shop-domain').trim().toLowerCase();
    deps.metrics.callbackReceived(SOURCE);
    const refuse = (status: number, code: string, message: string) => {
      deps.metrics.callbackRejected(SOURCE, code);
      deps.log.warn({ shop: shop.slice(0, 100), topic: ctx.get('x-shopify-topic').slice(0, 60), code }, 'Shopify webhook refused');
      ctx.status = status;
      ctx.body = { error: { code, message } };
    };
    if (!SHOP_DOMAIN.test(shop)) return refuse(401, 'unknown_shop', 'X-Shopify-Shop-Domain is missing or not a Shopify shop domain.');
    const app = await appFor(shop);
    if (!app) return refuse(401, 'unknown_shop', `No Shopify app registration on this Coinbridge can verify webhooks for ${shop}.`);

    const body = raw.toString('utf8');
    let result = await deps.clients.for(app).webhooks.validate({ rawBody: body, rawRequest: ctx.req, rawResponse: ctx.res });
    if (!result.valid && result.reason === 'invalid_hmac' && app.previousSecret && app.previousSecretUntil && app.previousSecretUntil > new Date()) {
      result = await deps.clients.withSecret(app, app.previousSecret).webhooks.validate({ rawBody: body, rawRequest: ctx.req, rawResponse: ctx.res });
    }
    if (!result.valid) {
      if (result.reason === 'missing_headers') return refuse(400, 'missing_headers', 'Shopify webhook headers are missing (X-Shopify-Topic, -Hmac-Sha256, -Shop-Domain, -Webhook-Id, -API-Version).');
      return refuse(401, 'invalid_hmac', 'X-Shopify-Hmac-Sha256 does not match the body signed with this app\'s secret.');
    }
    if (result.webhookType !== 'webhooks') return refuse(400, 'unsupported_webhook', 'Only Admin API webhooks are accepted here.');
    // The library reports the topic as an enum name (ORDERS_CREATE); Shopify's header has the REST form.
    const topic = ctx.get('x-shopify-topic').trim().toLowerCase();
    if (!isShopifyWebhookTopic(topic)) {
      ctx.status = 200;
      ctx.body = { ok: true, ignored: `topic ${topic} is not one Coinbridge handles` };
      return;
    }
    const eventId = result.eventId || null;
    const job = await withTransaction(deps.db.pool, async (tx) => {
      const { rows } = await tx.query(
        `INSERT INTO shopify_webhook_inbox (shop_domain, topic, webhook_id, event_id, raw_body) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT DO NOTHING RETURNING id`,
        [shop, topic, result.webhookId, eventId, raw],
      );
      if (!rows[0]) return undefined;
      return enqueueJobToRunSoon(tx, deps.waker, { name: 'shopify.webhook', data: { inboxId: String(rows[0].id) } });
    });
    if (job) deps.waker.runSoon(job);
    else deps.metrics.callbackDuplicated(SOURCE);
    ctx.status = 200;
    ctx.body = { ok: true, duplicate: !job };
  });

  async function appFor(shop: string): Promise<ShopifyApp | undefined> {
    return (await appForShop(deps.db.pool, deps.box, shop))
      ?? (await pendingAppForShop(deps.db.pool, deps.box, shop))
      ?? (deps.defaultClientId ? await findShopifyApp(deps.db.pool, deps.box, deps.defaultClientId) : undefined);
  }
  return router;
}
