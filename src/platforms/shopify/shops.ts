import { z } from 'zod';
import type { SecretBox } from '../../crypto/secret-box.ts';
import type { Queryable } from '../../db/database.ts';
import { createStore } from '../../db/stores-repo.ts';
import { storable } from '../../http/validation.ts';

/** What a Shopify merchant decides beyond the payment settings every store has. */
export const ShopSettingsSchema = z.object({
  /** Orders whose payment method name contains this (case-insensitive) get a crypto payment. */
  paymentMethodName: storable(z.string().trim().min(1).max(100)).default('crypto'),
  /** Expired and unpaid → cancel the order in Shopify (restock, no refund). */
  cancelOnExpiry: z.boolean().default(false),
  /** A shortfall still open at expiry: capture what arrived, or leave it to a human. */
  underpaidAtExpiry: z.enum(['partial_capture', 'review']).default('review'),
});
export type ShopSettings = z.infer<typeof ShopSettingsSchema>;

export function readShopSettings(stored: unknown): ShopSettings {
  const parsed = ShopSettingsSchema.safeParse(stored ?? {});
  return parsed.success ? parsed.data : ShopSettingsSchema.parse({});
}

export interface ShopRecord {
  domain: string;
  appId: string | null;
  storeId: string | null;
  accessToken: string | undefined;
  tokenExpiresAt: Date | null;
  refreshToken: string | undefined;
  refreshTokenExpiresAt: Date | null;
  installed: boolean;
  settings: ShopSettings;
}

function toShop(r: Record<string, any>, box: SecretBox): ShopRecord {
  return {
    domain: r.shop_domain, appId: r.app_id, storeId: r.store_id,
    accessToken: r.access_token ? box.open(r.access_token) : undefined,
    tokenExpiresAt: r.token_expires_at, refreshToken: r.refresh_token ? box.open(r.refresh_token) : undefined,
    refreshTokenExpiresAt: r.refresh_token_expires_at,
    installed: r.installed_at !== null && r.uninstalled_at === null && r.access_token !== null,
    settings: readShopSettings(r.settings),
  };
}

export async function findShop(q: Queryable, box: SecretBox, domain: string, opts: { forUpdate?: boolean } = {}): Promise<ShopRecord | undefined> {
  const { rows } = await q.query(`SELECT * FROM shopify_shops WHERE shop_domain = $1${opts.forUpdate ? ' FOR UPDATE' : ''}`, [domain]);
  return rows[0] ? toShop(rows[0], box) : undefined;
}

export async function shopForStore(q: Queryable, box: SecretBox, storeId: string): Promise<ShopRecord | undefined> {
  const { rows } = await q.query('SELECT * FROM shopify_shops WHERE store_id = $1', [storeId]);
  return rows[0] ? toShop(rows[0], box) : undefined;
}

export interface IssuedShopToken {
  accessToken: string;
  scopes: string;
  expiresAt: Date | undefined;
  refreshToken: string | undefined;
  refreshTokenExpiresAt: Date | undefined;
}

/**
 * Stores the shop's offline token (sealed) after a verified grant — the code grant of an install
 * in progress, a token exchange of a verified session token, or a refresh — and gives the shop
 * its Coinbridge store on first install. Returns false when the grant no longer applies (another
 * install took over meanwhile).
 */
export async function saveShopToken(
  q: Queryable, box: SecretBox,
  input: { shop: string; appId: string; token: IssuedShopToken; via: 'authorization_code' | 'token_exchange' | 'refresh' },
): Promise<boolean> {
  const t = input.token;
  const values = [input.shop, input.appId, box.seal(t.accessToken), t.scopes, t.expiresAt ?? null,
    t.refreshToken ? box.seal(t.refreshToken) : null, t.refreshTokenExpiresAt ?? null];
  const set = `app_id = $2, access_token = $3, scopes = $4, token_expires_at = $5, refresh_token = $6, refresh_token_expires_at = $7`;
  let result;
  if (input.via === 'authorization_code') {
    result = await q.query(
      `UPDATE shopify_shops SET ${set}, installed_at = now(), uninstalled_at = NULL, redacted_at = NULL, pending_app_id = NULL, pending_since = NULL
       WHERE shop_domain = $1 AND pending_app_id = $2`, values);
  } else if (input.via === 'token_exchange') {
    // The session token proved the app and the shop; an installed shop stays with its own app.
    result = await q.query(
      `INSERT INTO shopify_shops (shop_domain, app_id, access_token, scopes, token_expires_at, refresh_token, refresh_token_expires_at, installed_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, now())
       ON CONFLICT (shop_domain) DO UPDATE SET app_id = EXCLUDED.app_id, access_token = EXCLUDED.access_token, scopes = EXCLUDED.scopes,
         token_expires_at = EXCLUDED.token_expires_at, refresh_token = EXCLUDED.refresh_token,
         refresh_token_expires_at = EXCLUDED.refresh_token_expires_at, installed_at = now(), uninstalled_at = NULL, redacted_at = NULL
       WHERE shopify_shops.app_id IS NULL OR shopify_shops.app_id = EXCLUDED.app_id OR shopify_shops.uninstalled_at IS NOT NULL`, values);
  } else {
    result = await q.query(`UPDATE shopify_shops SET ${set} WHERE shop_domain = $1 AND app_id = $2 AND uninstalled_at IS NULL`, values);
  }
  if (result.rowCount === 0) return false;
  await ensureStoreForShop(q, input.shop);
  return true;
}

/** Each shop gets one Coinbridge store (platform `shopify`); reinstalling keeps it. */
export async function ensureStoreForShop(q: Queryable, shop: string): Promise<string> {
  const { rows } = await q.query('SELECT store_id FROM shopify_shops WHERE shop_domain = $1 FOR UPDATE', [shop]);
  if (rows[0]?.store_id) return rows[0].store_id;
  const store = await createStore(q, { name: shop, platform: 'shopify' });
  await q.query('UPDATE shopify_shops SET store_id = $2 WHERE shop_domain = $1', [shop, store.id]);
  return store.id;
}

export async function updateShopSettings(q: Queryable, shop: string, settings: ShopSettings): Promise<void> {
  await q.query('UPDATE shopify_shops SET settings = $2 WHERE shop_domain = $1', [shop, JSON.stringify(settings)]);
}

/** Uninstall: the tokens are useless now and must not linger. */
export async function markUninstalled(q: Queryable, shop: string): Promise<void> {
  await q.query(
    `UPDATE shopify_shops SET access_token = NULL, refresh_token = NULL, token_expires_at = NULL, refresh_token_expires_at = NULL,
       uninstalled_at = coalesce(uninstalled_at, now()) WHERE shop_domain = $1`, [shop]);
}

/** True when an order's payment method names match the shop's crypto manual method. */
export function paidWithCryptoMethod(gatewayNames: readonly string[], settings: ShopSettings): boolean {
  const wanted = settings.paymentMethodName.toLowerCase();
  return gatewayNames.some((name) => name.toLowerCase().includes(wanted));
}
