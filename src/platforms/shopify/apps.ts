import type { SecretBox } from '../../crypto/secret-box.ts';
import type { Queryable } from '../../db/database.ts';

export interface ShopifyApp {
  id: string;
  clientId: string;
  secret: string;
  /** Still accepted until `previousSecretUntil` (a rotation's grace hour). */
  previousSecret: string | undefined;
  previousSecretUntil: Date | undefined;
  scopes: string[];
}

function toApp(r: Record<string, any>, box: SecretBox): ShopifyApp {
  return {
    id: r.id, clientId: r.client_id, secret: box.open(r.secret),
    previousSecret: r.previous_secret ? box.open(r.previous_secret) : undefined,
    previousSecretUntil: r.previous_secret_until ?? undefined,
    scopes: String(r.scopes).split(',').map((s) => s.trim()).filter(Boolean),
  };
}

/**
 * Adds an app registration, or updates its secret; a changed secret keeps the old one valid for
 * an hour, as Shopify may still sign with it.
 */
export async function saveShopifyApp(q: Queryable, box: SecretBox, input: { clientId: string; secret: string; scopes?: string[] }): Promise<ShopifyApp> {
  const existing = await findShopifyApp(q, box, input.clientId);
  if (existing && existing.secret === input.secret) return existing;
  const scopes = (input.scopes ?? existing?.scopes ?? ['read_orders', 'write_orders']).join(',');
  const { rows } = await q.query(
    `INSERT INTO shopify_apps (client_id, secret, scopes) VALUES ($1, $2, $3)
     ON CONFLICT (client_id) DO UPDATE SET previous_secret = shopify_apps.secret, previous_secret_until = now() + interval '1 hour',
       secret = EXCLUDED.secret, scopes = EXCLUDED.scopes
     RETURNING *`,
    [input.clientId, box.seal(input.secret), scopes],
  );
  return toApp(rows[0], box);
}

export async function findShopifyApp(q: Queryable, box: SecretBox, clientId: string): Promise<ShopifyApp | undefined> {
  const { rows } = await q.query('SELECT * FROM shopify_apps WHERE client_id = $1', [clientId]);
  return rows[0] ? toApp(rows[0], box) : undefined;
}

/** The app a shop installed through. */
export async function appForShop(q: Queryable, box: SecretBox, shop: string): Promise<ShopifyApp | undefined> {
  const { rows } = await q.query('SELECT a.* FROM shopify_shops s JOIN shopify_apps a ON a.id = s.app_id WHERE s.shop_domain = $1', [shop]);
  return rows[0] ? toApp(rows[0], box) : undefined;
}

/** The app of the install in progress for a shop, if one started in the last ten minutes. */
export async function pendingAppForShop(q: Queryable, box: SecretBox, shop: string): Promise<ShopifyApp | undefined> {
  const { rows } = await q.query(
    "SELECT a.* FROM shopify_shops s JOIN shopify_apps a ON a.id = s.pending_app_id WHERE s.shop_domain = $1 AND s.pending_since > now() - interval '10 minutes'",
    [shop],
  );
  return rows[0] ? toApp(rows[0], box) : undefined;
}

export async function markInstallPending(q: Queryable, shop: string, appId: string): Promise<void> {
  await q.query(
    `INSERT INTO shopify_shops (shop_domain, pending_app_id, pending_since) VALUES ($1, $2, now())
     ON CONFLICT (shop_domain) DO UPDATE SET pending_app_id = EXCLUDED.pending_app_id, pending_since = now()`,
    [shop, appId],
  );
}
