import { ApiVersion, shopifyApi, type Shopify } from '@shopify/shopify-api';
import type { ShopifyApp } from './apps.ts';

/** The Admin API version Coinbridge speaks, pinned here and nowhere else. */
export const SHOPIFY_API_VERSION = ApiVersion.October25;

/** Shop domains Shopify issues (reference/platforms.md). */
export const SHOP_DOMAIN = /^[a-zA-Z0-9][a-zA-Z0-9-_]*\.(myshopify\.com|shopify\.com|myshopify\.io|shop\.dev)[/]*$/;

/** One configured `@shopify/shopify-api` instance per app registration, made on first use. */
export class ShopifyClients {
  readonly #publicUrl: URL;
  readonly #cache = new Map<string, Shopify>();

  constructor(publicUrl: string) {
    this.#publicUrl = new URL(publicUrl);
  }

  for(app: ShopifyApp): Shopify {
    return this.withSecret(app, app.secret);
  }

  /** A client that signs and verifies with `secret` (the previous one, during a rotation). */
  withSecret(app: ShopifyApp, secret: string): Shopify {
    const key = `${app.clientId}\u0000${secret}`;
    const cached = this.#cache.get(key);
    if (cached) return cached;
    const api = shopifyApi({
      apiKey: app.clientId,
      apiSecretKey: secret,
      scopes: app.scopes,
      hostName: this.#publicUrl.host,
      hostScheme: this.#publicUrl.protocol === 'http:' ? 'http' : 'https',
      apiVersion: SHOPIFY_API_VERSION,
      isEmbeddedApp: true,
      // Coinbridge logs for itself; the library's own lines would be unstructured.
      logger: { level: 0, log: async () => undefined },
    });
    this.#cache.set(key, api);
    return api;
  }
}
