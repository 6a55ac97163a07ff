import Router from '@koa/router';
import { CookieNotFound, InvalidOAuthError } from '@shopify/shopify-api';
import type { SecretBox } from '../../crypto/secret-box.ts';
import type { Database } from '../../db/database.ts';
import type { JobWaker } from '../../jobs/queue.ts';
import { InputError, UpstreamError } from '../../errors.ts';
import type { Logger } from '../../observability/log.ts';
import { appForShop, findShopifyApp, markInstallPending, pendingAppForShop, type ShopifyApp } from './apps.ts';
import { installed } from './installed.ts';
import { SHOP_DOMAIN, type ShopifyClients } from './clients.ts';

const CALLBACK_PATH = '/shopify/callback';
/** Shopify's OAuth timestamp tolerance (reference/platforms.md). */
const CALLBACK_MAX_AGE_S = 90;

function shopParam(value: unknown): string {
  const shop = typeof value === 'string' ? value.trim().toLowerCase() : '';
  if (!SHOP_DOMAIN.test(shop)) {
    throw new InputError('invalid_shop', 'The shop must be a Shopify shop domain such as "your-store.myshopify.com".', 400);
  }
  return shop.replace(/\/+$/, '');
}

/**
 * Authorization-code install. The library does the OAuth work — signed 60-second state cookie,
 * query HMAC, timestamp and shop checks, the code grant; Coinbridge picks the right app
 * registration, since one deployment serves many apps, and keeps the offline token sealed.
 */
export function shopifyInstallRoutes(deps: { db: Database; box: SecretBox; clients: ShopifyClients; defaultClientId: string | undefined; log: Logger; waker: JobWaker }): Router {
  const router = new Router({ prefix: '/shopify' });

  router.get('/install', async (ctx) => {
    const shop = shopParam(ctx.query.shop);
    const clientId = typeof ctx.query.client_id === 'string' ? ctx.query.client_id : undefined;
    let app: ShopifyApp | undefined;
    if (clientId) app = await findShopifyApp(deps.db.pool, deps.box, clientId);
    else app = (await appForShop(deps.db.pool, deps.box, shop)) ?? (deps.defaultClientId ? await findShopifyApp(deps.db.pool, deps.box, deps.defaultClientId) : undefined);
    if (!app) {
      throw new InputError('unknown_app', clientId
        ? `No Shopify app registration with client id ${clientId} on this Coinbridge.`
        : 'No Shopify app registration fits this install; pass client_id, or set SHOPIFY_API_KEY/SHOPIFY_API_SECRET.', 404);
    }
    await markInstallPending(deps.db.pool, shop, app.id);
    ctx.respond = false; // the library writes the redirect and its state cookie itself
    await deps.clients.for(app).auth.begin({ shop, callbackPath: CALLBACK_PATH, isOnline: false, rawRequest: ctx.req, rawResponse: ctx.res });
  });

  router.get('/callback', async (ctx) => {
    const shop = shopParam(ctx.query.shop);
    const app = await pendingAppForShop(deps.db.pool, deps.box, shop);
    if (!app) throw new InputError('unknown_install', `No install in progress for ${shop}; start again from /shopify/install.`, 400);
    // The library checks state, HMAC and shop but not the timestamp's age; a replayed callback
    // (even correctly signed) must be fresh.
    const timestamp = Number(ctx.query.timestamp);
    if (!Number.isInteger(timestamp) || Math.abs(Date.now() / 1000 - timestamp) > CALLBACK_MAX_AGE_S) {
      throw new InputError('invalid_oauth_callback', 'This install callback is too old or has no timestamp; start the install again.', 400);
    }
    let result;
    try {
      result = await deps.clients.for(app).auth.callback({ rawRequest: ctx.req, rawResponse: ctx.res, expiring: true });
    } catch (err) {
      if (err instanceof CookieNotFound) {
        throw new InputError('missing_oauth_cookie', 'The install state cookie is missing or expired (it lives 60 s); start the install again.', 400);
      }
      if (err instanceof InvalidOAuthError) {
        throw new InputError('invalid_oauth_callback', 'This install callback failed its checks (state, HMAC, timestamp or shop); start the install again.', 400);
      }
      deps.log.warn({ shop, err: (err as Error).message }, 'Shopify token exchange failed');
      throw new UpstreamError('shopify_token_failed', 'Shopify did not issue an access token; try the install again.');
    }
    const { session } = result;
    const saved = await installed(deps, { shop, app, session, via: 'authorization_code' });
    if (!saved) throw new InputError('install_superseded', `Another install for ${shop} started meanwhile; finish that one, or start again.`, 409);
    deps.log.info({ shop, clientId: app.clientId }, 'Shopify shop installed');
    for (const [name, value] of Object.entries(result.headers ?? {})) ctx.set(name, value as string | string[]);
    ctx.redirect(`https://${shop}/admin/apps/${encodeURIComponent(app.clientId)}`);
  });
  return router;
}
