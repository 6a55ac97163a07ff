/**
 * Coinbridge beside the Shopify emulator: start both, install a shop through the real OAuth
 * flow, talk to the embedded API with session tokens, place crypto-method orders.
 */
import assert from 'node:assert/strict';
import { startShopifyEmulator, type ShopifyEmulator, type ShopifyEmulatorOptions } from '../emulators/shopify/server.ts';
import { api, startTestApp, waitFor, type ApiResponse, type TestApp } from './harness.ts';

export const CRYPTO_METHOD = 'Pay with crypto (USDC, BTC)';
const BROWSER = { 'user-agent': 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0 Safari/537.36' };

export interface WithShopify {
  emu: ShopifyEmulator;
  t: TestApp;
  /** The app registered through SHOPIFY_API_KEY/SECRET. */
  app: { clientId: string; secret: string };
  close(): Promise<void>;
}

export async function startWithShopify(opts: { emulator?: ShopifyEmulatorOptions; env?: Record<string, string> } = {}): Promise<WithShopify> {
  const emu = await startShopifyEmulator({ retryDelaysMs: [50, 100, 200], ...opts.emulator });
  const app = emu.addApp();
  let t: TestApp;
  try {
    t = await startTestApp({ SHOPIFY_ADMIN_ORIGIN: emu.origin, SHOPIFY_API_KEY: app.clientId, SHOPIFY_API_SECRET: app.secret, ...opts.env });
  } catch (err) {
    await emu.close();
    throw err;
  }
  return {
    emu, t, app,
    async close() {
      try { await t.close(); } finally { await emu.close(); }
    },
  };
}

/** The embedded app's JSON API, authenticated by a fresh session token. */
export function embedded(s: WithShopify, app: { clientId: string }, shop: string, method: string, path: string, body?: unknown): Promise<ApiResponse> {
  return api(s.t, method, `/shopify/app/api${path}`, { headers: { authorization: `Bearer ${s.emu.sessionToken(app.clientId, shop)}` }, ...(body === undefined ? {} : { body }) });
}

/**
 * Installs `shop` by authorization-code OAuth (as a merchant clicking through), waits for the
 * webhook registration, connects the sandbox gateway and names the crypto manual method.
 */
export async function installShop(s: WithShopify, shop: string, opts: { app?: { clientId: string }; settings?: Record<string, unknown> } = {}): Promise<{ storeId: string }> {
  const app = opts.app ?? s.app;
  s.emu.addShop(shop);
  const begin = await fetch(`${s.t.url}/shopify/install?shop=${shop}&client_id=${app.clientId}`, { headers: BROWSER, redirect: 'manual' });
  assert.equal(begin.status, 302, await begin.text());
  const authorize = new URL(begin.headers.get('location')!);
  const approved = await fetch(`${s.emu.origin}${authorize.pathname}${authorize.search}&shop=${shop}`, { redirect: 'manual' });
  assert.equal(approved.status, 302, await approved.text());
  const back = new URL(approved.headers.get('location')!);
  const cookies = begin.headers.getSetCookie().map((c) => c.split(';')[0]).join('; ');
  const done = await fetch(`${s.t.url}${back.pathname}${back.search}`, { headers: { ...BROWSER, cookie: cookies }, redirect: 'manual' });
  assert.equal(done.status, 302, await done.text());
  await waitFor(`webhooks registered for ${shop}`, async () => s.emu.webhookSubscriptions.filter((w) => w.shop === shop && w.clientId === app.clientId).length === 3);
  const gateway = await embedded(s, app, shop, 'POST', '/gateway', { mode: 'sandbox' });
  assert.equal(gateway.status, 200, JSON.stringify(gateway.body));
  const settings = await embedded(s, app, shop, 'PUT', '/settings', { paymentMethodName: 'pay with crypto', ...opts.settings });
  assert.equal(settings.status, 200, JSON.stringify(settings.body));
  return { storeId: settings.body.storeId };
}

/** A crypto-method order in the emulator, announced by `orders/create` to Coinbridge. */
export async function placeOrder(s: WithShopify, shop: string, opts: { total?: string; currency?: string; gateway?: string; email?: string; customerId?: number } = {}) {
  const order = s.emu.createOrder(shop, { total: opts.total ?? '40.00', currency: opts.currency ?? 'USD', gateway: opts.gateway ?? CRYPTO_METHOD, email: opts.email ?? 'buyer@example.com', customerId: opts.customerId ?? 7001 });
  const deliveries = await s.emu.emit(shop, 'orders/create', s.emu.orderPayload(order.id));
  assert.ok(deliveries.length >= 1 && deliveries.every((d) => d.delivered), 'orders/create delivered');
  return order;
}

/** The payment Coinbridge made for a Shopify order, once it exists. */
export async function paymentForOrder(s: WithShopify, orderGid: string, status?: string): Promise<{ id: string; ref: string; status: string; store_id: string }> {
  return waitFor(`a payment for ${orderGid}${status ? ` (${status})` : ''}`, async () => {
    const { rows } = await s.t.app.db.pool.query('SELECT id, ref, status, store_id FROM payments WHERE order_id = $1', [orderGid]);
    return rows[0] && (!status || rows[0].status === status) ? rows[0] : undefined;
  });
}

/** The captures Shopify shows on an order, in minor-unit-free decimal strings. */
export function capturesOf(emu: ShopifyEmulator, orderGid: string): string[] {
  return emu.order(orderGid).transactions.filter((tx) => tx.kind === 'CAPTURE').map((tx) => tx.amount);
}

/** GraphQL mutations Coinbridge sent for a shop, by name. */
export function adminCalls(emu: ShopifyEmulator, shop: string): string[] {
  return emu.requests
    .filter((r) => r.path.includes('/graphql.json') && r.headers['x-shopify-shop-domain'] === shop)
    .map((r) => /(?:mutation|query)\s+(\w+)/.exec(String((r.body as { query?: string })?.query ?? ''))?.[1] ?? '?');
}
