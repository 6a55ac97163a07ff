import type { Queryable } from '../../db/database.ts';
import { JOB_PAYMENT_ID } from './search.ts';
import { iso, Params, inScope, type StoreScope } from './sql.ts';

export interface StoreHealth {
  id: string;
  name: string;
  platform: string;
  webhooks: { health: string; lastDeliveryAt: string | null; note: string | null } | null;
  gateway: { gateway: string; mode: string; lastOkAt: string | null; rejectedCallbacks: number } | null;
  /** The connection that takes over when the default cannot create a payment, if the merchant chose one. */
  fallback: { id: string; gateway: string; mode: string } | null;
  failingJobs: number;
  needsAttention: boolean;
  reasons: string[];
}

/**
 * Per visible store: webhook health (WooCommerce's own check, or the Shopify app's install state
 * and last delivery), the gateway connection (last successful call, refused callbacks), failing
 * jobs, and payments waiting for a review. One statement; every sub-lookup is indexed.
 */
export async function storesHealth(db: Queryable, scope: StoreScope): Promise<{ attention: boolean; stores: StoreHealth[] }> {
  const params = new Params();
  const { rows } = await db.query(
    `WITH failing AS (
       -- Failed jobs (retrying or given up) and the store each belongs to: its payment's, or the one it names.
       SELECT coalesce(jp.store_id::text, j.data ->> 'storeId') AS store_id
       FROM agenda_jobs j
       LEFT JOIN payments jp ON jp.id = ${JOB_PAYMENT_ID}
       WHERE j.failed_at IS NOT NULL
     )
     SELECT s.id, s.name, s.platform,
            ws.status AS woo_status, ws.failure_reason AS woo_failure, ws.webhook_health, ws.webhook_note, ws.last_webhook_at,
            sh.shop_domain, sh.installed_at, sh.uninstalled_at, sh.has_token,
            (SELECT max(received_at) FROM shopify_webhook_inbox wi WHERE wi.shop_domain = sh.shop_domain) AS shop_last_delivery,
            gc.gateway, gc.mode, gc.last_ok_at, gc.rejected_callbacks, fc.id AS fallback_id, fc.gateway AS fallback_gateway, fc.mode AS fallback_mode,
            ok.created_at AS last_ok_call_at,
            lc.created_at AS last_call_at, lc.data ->> 'outcome' AS last_call_outcome, lc.data ->> 'message' AS last_call_message,
            (SELECT count(*) FROM failing f WHERE f.store_id = s.id::text)::int AS failing_jobs,
            (SELECT count(*) FROM payments rp WHERE rp.store_id = s.id AND rp.status = 'review')::int AS reviews
     FROM stores s
     LEFT JOIN woocommerce_stores ws ON ws.store_id = s.id
     LEFT JOIN LATERAL (SELECT shop_domain, installed_at, uninstalled_at, access_token IS NOT NULL AS has_token
                        FROM shopify_shops WHERE store_id = s.id ORDER BY installed_at DESC NULLS LAST LIMIT 1) sh ON true
     LEFT JOIN gateway_connections gc ON gc.store_id = s.id AND gc.is_default
     LEFT JOIN gateway_connections fc ON fc.store_id = s.id AND fc.is_fallback AND fc.disabled_at IS NULL
     LEFT JOIN LATERAL (SELECT created_at FROM payment_events e
                        WHERE e.store_id = s.id AND e.type IN ('gateway.create', 'gateway.verify') AND e.data ->> 'outcome' = 'ok'
                        ORDER BY e.id DESC LIMIT 1) ok ON true
     LEFT JOIN LATERAL (SELECT created_at, data FROM payment_events e
                        WHERE e.store_id = s.id AND e.type IN ('gateway.create', 'gateway.verify')
                        ORDER BY e.id DESC LIMIT 1) lc ON true
     WHERE ${inScope(params, scope, 's.id')}
     ORDER BY s.name, s.id`,
    params.values,
  );

  const stores = rows.map((r): StoreHealth => {
    const reasons: string[] = [];
    let webhooks: StoreHealth['webhooks'] = null;
    if (r.platform === 'woocommerce') {
      if (r.woo_status === undefined || r.woo_status === null) {
        webhooks = { health: 'unknown', lastDeliveryAt: null, note: 'the store has not connected yet' };
      } else {
        webhooks = { health: r.woo_status === 'connected' ? r.webhook_health : r.woo_status, lastDeliveryAt: iso(r.last_webhook_at), note: r.webhook_note ?? r.woo_failure ?? null };
        if (r.woo_status === 'failed') reasons.push(`WooCommerce connection failed: ${r.woo_failure ?? 'see the store'}`);
        else if (r.woo_status === 'connected' && r.webhook_health === 'failing') reasons.push(`WooCommerce webhooks failing${r.webhook_note ? `: ${r.webhook_note}` : ''}`);
      }
    } else if (r.platform === 'shopify') {
      const installed = r.shop_domain && r.installed_at && !r.uninstalled_at && r.has_token;
      webhooks = {
        health: !r.shop_domain ? 'unknown' : installed ? 'ok' : 'disabled',
        lastDeliveryAt: iso(r.shop_last_delivery),
        note: !r.shop_domain ? 'no shop installed' : installed ? `app installed on ${r.shop_domain}` : `app uninstalled from ${r.shop_domain}: no webhooks arrive and nothing is written back`,
      };
      if (r.shop_domain && !installed) reasons.push(`the Shopify app is not installed on ${r.shop_domain}`);
    }

    let gateway: StoreHealth['gateway'] = null;
    if (r.gateway) {
      const lastOk = [r.last_ok_at, r.last_ok_call_at].filter(Boolean).map((d: Date) => d.getTime());
      gateway = { gateway: r.gateway, mode: r.mode, lastOkAt: lastOk.length ? new Date(Math.max(...lastOk)).toISOString() : null, rejectedCallbacks: Number(r.rejected_callbacks ?? 0) };
      if (r.last_call_outcome === 'error') reasons.push(`the last gateway call failed (${iso(r.last_call_at)}): ${r.last_call_message ?? 'error'}`);
    } else {
      reasons.push('no gateway connected: new orders cannot be paid');
    }
    const failingJobs = Number(r.failing_jobs ?? 0);
    if (failingJobs > 0) reasons.push(`${failingJobs} job${failingJobs === 1 ? '' : 's'} failing`);
    const reviews = Number(r.reviews ?? 0);
    if (reviews > 0) reasons.push(`${reviews} payment${reviews === 1 ? '' : 's'} waiting for a review`);
    const fallback = r.fallback_id ? { id: r.fallback_id, gateway: r.fallback_gateway, mode: r.fallback_mode } : null;
    return { id: r.id, name: r.name, platform: r.platform, webhooks, gateway, fallback, failingJobs, needsAttention: reasons.length > 0, reasons };
  });
  return { attention: stores.some((s) => s.needsAttention), stores };
}
