import '@shopify/shopify-api/adapters/node';
import { setAbstractFetchFunc } from '@shopify/shopify-api/runtime';

/** Hosts that are a shop's own admin origin (reference/platforms.md, OAuth shop rule). */
const SHOP_HOST = /^[a-zA-Z0-9][a-zA-Z0-9-_]*\.(myshopify\.com|shopify\.com|myshopify\.io|shop\.dev)$/;

/**
 * The `SHOPIFY_ADMIN_ORIGIN` test seam. `@shopify/shopify-api` makes every OAuth-token and
 * Admin API call through one abstract fetch; pointed at the seam, `https://{shop}/admin/…` goes
 * to `{origin}/admin/…` instead, naming the shop in `x-shopify-shop-domain` (fetch cannot set
 * Host). The library's own logic — grants, HMAC, GraphQL — runs unchanged. Install it before any
 * Shopify client is made: the GraphQL client captures the fetch when constructed.
 */
export function routeShopifyAdminTo(origin: string | undefined): void {
  if (!origin) return;
  const base = new URL(origin);
  setAbstractFetchFunc(async (input: RequestInfo | URL, init?: RequestInit) => {
    const request = new Request(input, init);
    const url = new URL(request.url);
    if (!SHOP_HOST.test(url.hostname)) return fetch(request);
    const headers = new Headers(request.headers);
    headers.set('x-shopify-shop-domain', url.hostname);
    const body = request.method === 'GET' || request.method === 'HEAD' ? undefined : await request.arrayBuffer();
    return fetch(new URL(url.pathname + url.search, base), { method: request.method, headers, body, redirect: 'manual' });
  });
}
