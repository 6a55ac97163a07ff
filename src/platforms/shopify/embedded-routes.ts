import crypto from 'node:crypto';
import Router from '@koa/router';
import { RequestedTokenType } from '@shopify/shopify-api';
import jwt from 'jsonwebtoken';
import type Koa from 'koa';
import { chooseForStore, connectForStore, connectionViews, parseChoiceBody, parseConnectBody } from '../../admin/gateways.ts';
import type { PaymentService } from '../../core/payment-service.ts';
import { MerchantSettingsSchema } from '../../core/settings.ts';
import { formatAmount, type CurrencyCode } from '../../core/money.ts';
import type { StoredStatus } from '../../core/status.ts';
import type { SecretBox } from '../../crypto/secret-box.ts';
import { withTransaction, type Database } from '../../db/database.ts';
import { findPayment, type PaymentRow } from '../../db/payments-repo.ts';
import { defaultConnection, findStore, updateStoreSettings } from '../../db/stores-repo.ts';
import { InputError, UpstreamError, assertUnreachable } from '../../errors.ts';
import type { GatewayRegistry } from '../../gateways/registry.ts';
import { readJsonObject } from '../../http/body.ts';
import { describeIssues } from '../../http/validation.ts';
import type { JobWaker } from '../../jobs/queue.ts';
import type { Logger } from '../../observability/log.ts';
import type { ShopifyAdmin } from './admin.ts';
import { appForShop, findShopifyApp, type ShopifyApp } from './apps.ts';
import { SHOP_DOMAIN, type ShopifyClients } from './clients.ts';
import { installed } from './installed.ts';
import { ORDER_QUERY, normaliseOrderGid, orderFromGraphql, paymentForOrder } from './orders.ts';
import { renderSettingsPage } from './settings-page.ts';
import { bearerToken, checkSessionToken, refusedSessionToken } from './session-token.ts';
import { findShop, ShopSettingsSchema, updateShopSettings, type ShopRecord } from './shops.ts';

interface Deps {
  db: Database; box: SecretBox; clients: ShopifyClients; admin: ShopifyAdmin; payments: PaymentService; gateways: GatewayRegistry;
  publicUrl: string; defaultClientId: string | undefined; log: Logger; waker: JobWaker;
  /** ALLOW_PRIVATE_URLS: a Crypto Checkout instance may be on loopback (development, tests). */
  allowPrivateUrls: boolean;
}

interface ShopSession { app: ShopifyApp; shop: ShopRecord; storeId: string }

const BODY_LIMIT = 16 * 1024;

const SettingsUpdate = MerchantSettingsSchema.partial().extend(ShopSettingsSchema.partial().shape).strict();
/** How many payments the settings page lists. */
const RECENT_PAYMENTS = 50;

/**
 * The merchant's embedded app (settings page and its JSON API) and the checkout extension's
 * endpoint. Everything after the HTML is authenticated by a Shopify session token; a launch for
 * a shop whose offline token is missing (managed install, or a token lost) recovers it by token
 * exchange.
 */
export function shopifyEmbeddedRoutes(deps: Deps): Router {
  const router = new Router({ prefix: '/shopify' });

  router.get('/app', async (ctx) => {
    const shop = typeof ctx.query.shop === 'string' ? ctx.query.shop.trim().toLowerCase() : '';
    if (!SHOP_DOMAIN.test(shop) || shop.includes('/')) throw new InputError('invalid_shop', 'Open the app from the Shopify admin (the shop parameter is missing or invalid).', 400);
    const app = await appForPage(shop, ctx.query.id_token);
    if (!app) throw new InputError('unknown_app', `No Shopify app registration on this Coinbridge serves ${shop}.`, 404);
    const nonce = crypto.randomBytes(16).toString('base64');
    ctx.set('Content-Security-Policy', [
      "default-src 'self'", `script-src 'nonce-${nonce}' https://cdn.shopify.com`, `style-src 'nonce-${nonce}'`, "connect-src 'self'",
      "img-src 'self' data:", "object-src 'none'", "base-uri 'none'", `frame-ancestors https://${shop} https://admin.shopify.com`,
    ].join('; '));
    ctx.set('Cache-Control', 'no-store');
    ctx.type = 'text/html; charset=utf-8';
    ctx.body = renderSettingsPage({ clientId: app.clientId, shop, nonce });
  });

  const api = new Router({ prefix: '/app/api' });
  api.use(async (ctx, next) => {
    ctx.state.shopSession = await adminSession(ctx);
    ctx.set('Cache-Control', 'no-store');
    await next();
  });

  api.get('/settings', async (ctx) => {
    ctx.body = await settingsView(ctx.state.shopSession);
  });

  api.put('/settings', async (ctx) => {
    const s = ctx.state.shopSession as ShopSession;
    const raw = await readJsonObject(ctx, BODY_LIMIT);
    const parsed = SettingsUpdate.safeParse(raw);
    if (!parsed.success) throw new InputError('invalid_settings', 'Some settings are not valid; see details.', 422, describeIssues(parsed.error));
    // Only what was sent changes (zod fills defaults into absent keys even in a partial schema).
    const update = pick(parsed.data, Object.keys(raw));
    await withTransaction(deps.db.pool, async (tx) => {
      const store = (await findStore(tx, s.storeId))!;
      await updateStoreSettings(tx, s.storeId, MerchantSettingsSchema.parse({ ...store.settings, ...pick(update, Object.keys(MerchantSettingsSchema.shape)) }));
      await updateShopSettings(tx, s.shop.domain, ShopSettingsSchema.parse({ ...s.shop.settings, ...pick(update, Object.keys(ShopSettingsSchema.shape)) }));
    });
    deps.log.info({ shop: s.shop.domain, changed: Object.keys(update) }, 'Shopify shop settings changed');
    ctx.body = await settingsView({ ...s, shop: (await findShop(deps.db.pool, deps.box, s.shop.domain))! });
  });

  // The body the support console takes too; the older `{mode}` bodies still mean Paymento as the default.
  api.post('/gateway', async (ctx) => {
    const s = ctx.state.shopSession as ShopSession;
    const body = parseConnectBody(await readJsonObject(ctx, BODY_LIMIT));
    const conn = await connectForStore(deps, s.storeId, body);
    deps.log.info({ shop: s.shop.domain, gateway: conn.gateway, mode: conn.mode, role: body.role, connectionId: conn.id }, 'Shopify shop connected a gateway');
    const connections = await connectionViews(deps.db.pool, s.storeId);
    ctx.body = { gateway: { gateway: conn.gateway, mode: conn.mode }, connection: connections.find((c) => c.id === conn.id) ?? null, connections };
  });

  api.get('/gateways', async (ctx) => {
    const s = ctx.state.shopSession as ShopSession;
    ctx.body = { connections: await connectionViews(deps.db.pool, s.storeId) };
  });

  api.put('/gateways', async (ctx) => {
    const s = ctx.state.shopSession as ShopSession;
    const choice = parseChoiceBody(await readJsonObject(ctx, BODY_LIMIT));
    const change = await withTransaction(deps.db.pool, async (tx) => {
      await tx.query('SELECT id FROM stores WHERE id = $1 FOR UPDATE', [s.storeId]);
      return chooseForStore(tx, s.storeId, choice);
    });
    deps.log.info({ shop: s.shop.domain, ...change }, 'Shopify shop chose its gateways');
    ctx.body = { connections: await connectionViews(deps.db.pool, s.storeId) };
  });

  /** The shop's most recent payments, newest first, each with the gateway that served it. */
  api.get('/payments', async (ctx) => {
    const s = ctx.state.shopSession as ShopSession;
    const { rows } = await deps.db.pool.query(
      `SELECT p.id, p.ref, p.order_id, so.order_name, p.status, p.amount_minor, p.currency, gc.gateway, gc.mode, p.created_at
       FROM payments p
       JOIN gateway_connections gc ON gc.id = p.connection_id
       LEFT JOIN LATERAL (SELECT order_name FROM shopify_orders WHERE payment_id = p.id LIMIT 1) so ON true
       WHERE p.store_id = $1
       ORDER BY p.created_at DESC, p.id DESC
       LIMIT $2`, [s.storeId, RECENT_PAYMENTS]);
    ctx.body = {
      payments: rows.map((r) => ({
        id: r.id, ref: r.ref, orderId: r.order_id, orderName: r.order_name ?? null, status: r.status,
        amount: formatAmount({ minor: BigInt(r.amount_minor), currency: r.currency as CurrencyCode }), currency: r.currency,
        gateway: r.gateway, mode: r.mode, createdAt: (r.created_at as Date).toISOString(),
      })),
    };
  });

  api.post('/gateway/test', async (ctx) => {
    const s = ctx.state.shopSession as ShopSession;
    const conn = await defaultConnection(deps.db.pool, deps.box, s.storeId);
    if (!conn) {
      ctx.body = { ok: false, message: 'No gateway is connected yet.' };
      return;
    }
    try {
      await deps.gateways.adapterFor(conn).testConnection(conn);
      ctx.body = { ok: true };
    } catch (err) {
      ctx.body = { ok: false, message: (err as Error).message };
    }
  });

  api.get('/data-requests', async (ctx) => {
    const s = ctx.state.shopSession as ShopSession;
    const { rows } = await deps.db.pool.query('SELECT id, request_id, customer_gid, export, created_at FROM shopify_data_requests WHERE shop_domain = $1 ORDER BY id DESC LIMIT 100', [s.shop.domain]);
    ctx.body = { dataRequests: rows.map((r) => ({ id: String(r.id), requestId: r.request_id, customerId: r.customer_gid, createdAt: r.created_at, data: r.export })) };
  });
  router.use(api.routes(), api.allowedMethods());

  // Checkout UI extensions run in a worker on Shopify's origin: the answer must be readable cross-origin.
  const cors: Koa.Middleware = async (ctx, next) => {
    ctx.set('Access-Control-Allow-Origin', '*');
    ctx.set('Access-Control-Allow-Headers', 'Authorization, Content-Type');
    ctx.set('Access-Control-Allow-Methods', 'GET, OPTIONS');
    ctx.set('Access-Control-Max-Age', '600');
    await next();
  };
  router.options('/extension/payment', cors, (ctx) => { ctx.status = 204; });
  router.get('/extension/payment', cors, async (ctx) => {
    const check = await checkSessionToken(deps.db.pool, deps.box, bearerToken(ctx.get('authorization')));
    if (!check.ok) throw refusedSessionToken(check.reason);
    const { app, shop: domain } = check.value;
    const shop = await findShop(deps.db.pool, deps.box, domain);
    if (!shop?.installed || shop.appId !== app.id) throw new InputError('shop_not_installed', `Coinbridge is not installed on ${domain} for this app.`, 403);
    const orderGid = normaliseOrderGid(typeof ctx.query.order_id === 'string' ? ctx.query.order_id : '');
    if (!orderGid) throw new InputError('invalid_order_id', 'order_id must be a Shopify order id (gid://shopify/Order/… or OrderIdentity/…).', 400);
    ctx.set('Cache-Control', 'no-store');
    const payment = await paymentOf(shop, orderGid);
    ctx.body = payment ? { show: true, status: payment.status, statusText: statusText(payment.status), payUrl: deps.payments.payUrl(payment),
      amount: formatAmount(payment.amount), currency: payment.amount.currency } : { show: false };
  });

  /** The order's payment; made now if the thank-you page beat the `orders/create` webhook. */
  async function paymentOf(shop: ShopRecord, orderGid: string): Promise<PaymentRow | undefined> {
    const { rows } = await deps.db.pool.query('SELECT payment_id FROM shopify_orders WHERE shop_domain = $1 AND order_gid = $2', [shop.domain, orderGid]);
    if (rows[0]?.payment_id) return findPayment(deps.db.pool, rows[0].payment_id);
    const data = await deps.admin.graphql<{ order: Record<string, unknown> | null }>(shop.domain, ORDER_QUERY, { id: orderGid });
    if (!data.order) throw new InputError('unknown_order', `There is no order ${orderGid} in ${shop.domain}.`, 404);
    const outcome = await paymentForOrder(deps, shop, orderFromGraphql(data.order));
    return outcome.kind === 'payment' ? outcome.payment : undefined;
  }

  async function adminSession(ctx: Koa.Context): Promise<ShopSession> {
    const token = bearerToken(ctx.get('authorization'));
    const check = await checkSessionToken(deps.db.pool, deps.box, token);
    if (!check.ok) throw refusedSessionToken(check.reason);
    const { app, shop: domain } = check.value;
    let shop = await findShop(deps.db.pool, deps.box, domain);
    if (shop?.installed && shop.appId !== app.id) {
      throw new InputError('wrong_app', `${domain} is installed through another Coinbridge app; open that app instead.`, 403);
    }
    if (!shop?.installed || !shop.storeId) {
      await exchangeToken(app, domain, token);
      shop = (await findShop(deps.db.pool, deps.box, domain))!;
    }
    return { app, shop, storeId: shop.storeId! };
  }

  async function exchangeToken(app: ShopifyApp, shop: string, sessionToken: string): Promise<void> {
    let session;
    try {
      ({ session } = await deps.clients.for(app).auth.tokenExchange({ shop, sessionToken, requestedTokenType: RequestedTokenType.OfflineAccessToken, expiring: true }));
    } catch (err) {
      deps.log.warn({ shop, err: (err as Error).message }, 'Shopify token exchange failed');
      throw new UpstreamError('shopify_token_exchange_failed', 'Shopify did not issue an access token for this shop; reload the app, or reinstall it.');
    }
    if (!(await installed(deps, { shop, app, session, via: 'token_exchange' }))) {
      throw new InputError('wrong_app', `${shop} is installed through another Coinbridge app; open that app instead.`, 403);
    }
    deps.log.info({ shop, clientId: app.clientId }, 'Shopify offline token recovered by token exchange');
  }

  async function settingsView(s: ShopSession) {
    const store = (await findStore(deps.db.pool, s.storeId))!;
    const conn = await defaultConnection(deps.db.pool, deps.box, s.storeId);
    return { shop: s.shop.domain, storeId: s.storeId, settings: { ...store.settings, ...s.shop.settings }, gateway: conn ? { gateway: conn.gateway, mode: conn.mode } : null };
  }

  /** Which app's key the page names: the installed one, else the one the launch token is for. */
  async function appForPage(shop: string, idToken: unknown): Promise<ShopifyApp | undefined> {
    const installedApp = await appForShop(deps.db.pool, deps.box, shop);
    if (installedApp) return installedApp;
    const aud = typeof idToken === 'string' ? (jwt.decode(idToken) as { aud?: unknown } | null)?.aud : undefined;
    if (typeof aud === 'string') {
      const app = await findShopifyApp(deps.db.pool, deps.box, aud);
      if (app) return app;
    }
    return deps.defaultClientId ? findShopifyApp(deps.db.pool, deps.box, deps.defaultClientId) : undefined;
  }

  return router;
}

function pick(obj: Record<string, unknown>, keys: string[]): Record<string, unknown> {
  return Object.fromEntries(Object.entries(obj).filter(([k, v]) => keys.includes(k) && v !== undefined));
}

/** What the shopper reads in the thank-you block, per status. */
export function statusText(status: StoredStatus): string {
  switch (status) {
    case 'initiating': return 'Preparing your payment…';
    case 'created': case 'pending': return 'Waiting for your payment.';
    case 'confirming': return 'Payment detected; waiting for network confirmations.';
    case 'underpaid': return 'Part of the amount arrived; complete the rest to finish.';
    case 'paid': case 'overpaid': case 'paid_late': return 'Payment received. Thank you!';
    case 'expired': return 'The payment window closed. Contact the store to pay again.';
    case 'cancelled': return 'This payment was cancelled.';
    case 'review': return 'The store is reviewing this payment and will contact you.';
    case 'failed': return 'The payment could not be started. Contact the store.';
    default: return assertUnreachable(status, 'payment status');
  }
}
