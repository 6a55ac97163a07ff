import Router from '@koa/router';
import type pg from 'pg';
import type { Store } from '../../db/stores-repo.ts';
import { InputError } from '../../errors.ts';
import { readJsonObject } from '../../http/body.ts';
import { storeAuth } from '../../http/routes/payments.ts';
import { describeIssues } from '../../http/validation.ts';
import { WooSettingsSchema, readWooSettings } from './stores.ts';

/**
 * `GET|PUT /v1/woocommerce/settings` with the store's API key (the plugin holds it): the order
 * status map and whether payment notes reach the customer. A PUT changes only what it sends.
 */
export function wooSettingsRoutes(pool: pg.Pool): Router {
  const router = new Router({ prefix: '/v1/woocommerce/settings' });
  router.use(storeAuth(pool));

  const current = async (storeId: string) => {
    const { rows } = await pool.query('SELECT settings, webhook_health, webhook_note, webhook_repaired_at, last_webhook_at FROM woocommerce_stores WHERE store_id = $1', [storeId]);
    if (!rows[0]) throw new InputError('not_a_woocommerce_store', 'This API key belongs to a store that is not connected to WooCommerce.', 404);
    return rows[0];
  };
  const view = (row: Record<string, any>) => ({
    settings: readWooSettings(row.settings),
    webhooks: { health: row.webhook_health, note: row.webhook_note, repairedAt: row.webhook_repaired_at, lastDeliveryAt: row.last_webhook_at },
  });

  router.get('/', async (ctx) => {
    ctx.body = view(await current((ctx.state.store as Store).id));
  });

  router.put('/', async (ctx) => {
    const store = ctx.state.store as Store;
    const raw = await readJsonObject(ctx, 16 * 1024);
    const before = readWooSettings((await current(store.id)).settings);
    const merged = { ...before, ...raw, statusMap: { ...before.statusMap, ...(raw.statusMap as object | undefined) } };
    const parsed = WooSettingsSchema.strict().safeParse(merged);
    if (!parsed.success) throw new InputError('invalid_settings', 'Some settings are not valid; see details.', 422, describeIssues(parsed.error));
    await pool.query('UPDATE woocommerce_stores SET settings = $2 WHERE store_id = $1', [store.id, JSON.stringify(parsed.data)]);
    ctx.body = view(await current(store.id));
  });
  return router;
}
