import { ApiVersion, shopifyApi, type Shopify } from '@shopify/shopify-api';
import type { ShopifyApp } from './apps.ts';

/** The Admin API version Coinbridge speaks, pinned here and nowhere else. */
export const SHOPIFY_API_VERSION = ApiVersion.October25;

/** Shop domains Shopify issues (reference/platforms.md). */
export const SHOP_DOMAIN = /^[a-zA-Z0-9][a-zA-Z0-9-_]*\.(myshopify\.com|shopify\.com|myshopify\.io|shop\.dev)[/]*$/;

/** One configured `@shopify/shopify-api` instance per app registration, made on first use. */
export class ShopifyClients {
  readonly #publicUrl: URL;
  readonly #cache = new Map<string, { secret: string; api: Shopify }>();

  constructor(publicUrl: string) {
    this.#publicUrl = new URL(publicUrl);
  }

  for(app: ShopifyApp): Shopify {
    const cached = this.#cache.get(app.clientId);
    if (cached && cached.secret === app.secret) return cached.api;
    const api = shopifyApi({
      apiKey: app.clientId,
      apiSecretKey: app.secret,
      scopes: app.scopes,
      hostName: this.#publicUrl.host,
      hostScheme: this.#publicUrl.protocol === 'http:' ? 'http' : 'https',
      apiVersion: SHOPIFY_API_VERSION,
      isEmbeddedApp: true,
      // Coinbridge logs for itself; the library's own lines would be unstructured.
      logger: { level: 0, log: async () => undefined },
    });
    this.#cache.set(app.clientId, { secret: app.secret, api });
    return api;
  }
}
