/**
 * The merchant's embedded app: session tokens (verified with jsonwebtoken, HS256 only), token
 * exchange when the offline token is missing, settings, several app registrations side by side,
 * secret rotation, expiring tokens, and the operator's CLI for app registrations.
 */
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { saveShopifyApp } from '../../src/platforms/shopify/apps.ts';
import { startPaymentoEmulator, type PaymentoEmulator } from '../emulators/paymento/server.ts';
import { TEST_ENCRYPTION_KEY, api, sandboxAction, sandboxToken, waitFor, waitForStatus } from '../support/harness.ts';
import { runCli } from '../support/process.ts';
import { capturesOf, embedded, installShop, paymentForOrder, placeOrder, startWithShopify, type WithShopify } from '../support/shopify.ts';

const b64url = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');

describe('Shopify embedded app and app registrations', () => {
  let s: WithShopify;
  let paymento: PaymentoEmulator;
  let app2: { clientId: string; secret: string };
  const SHOP_A = 'alpha.myshopify.com';
  const SHOP_B = 'bravo.myshopify.com';

  before(async () => {
    // Live Paymento connections go to the emulator.
    paymento = await startPaymentoEmulator({ verifyShape: 'docs' });
    s = await startWithShopify({ env: { PAYMENTO_API_ORIGIN: paymento.origin, PAYMENTO_GATEWAY_ORIGIN: paymento.gatewayOrigin } });
    app2 = s.emu.addApp();
    await saveShopifyApp(s.t.app.db.pool, s.t.app.box, app2);
    await installShop(s, SHOP_A);
    await installShop(s, SHOP_B, { app: app2 });
  });
  after(async () => {
    try { await s?.close(); } finally { await paymento?.close(); }
  });

  const withToken = (token: string) => api(s.t, 'GET', '/shopify/app/api/settings', { headers: { authorization: `Bearer ${token}` } });
  const webhookFor = (shop: string, secret: string, webhookId = crypto.randomUUID()) => {
    const body = JSON.stringify({ id: 1, domain: shop, note: 'rotation probe' });
    return fetch(`${s.t.url}/shopify/webhooks`, {
      method: 'POST', body,
      headers: {
        'content-type': 'application/json', 'x-shopify-topic': 'orders/create', 'x-shopify-shop-domain': shop, 'x-shopify-api-version': '2025-10',
        'x-shopify-webhook-id': webhookId, 'x-shopify-hmac-sha256': crypto.createHmac('sha256', secret).update(body).digest('base64'),
      },
    });
  };

  it('refuses session tokens that are forged, expired, early, for another app, or not HS256', async () => {
    const cases: Record<string, string> = {
      'alg none': s.emu.sessionToken(s.app.clientId, SHOP_A, { variant: 'alg-none' }),
      expired: s.emu.sessionToken(s.app.clientId, SHOP_A, { variant: 'expired' }),
      'not yet valid': s.emu.sessionToken(s.app.clientId, SHOP_A, { variant: 'not-yet-valid' }),
      'wrong audience': s.emu.sessionToken(s.app.clientId, SHOP_A, { variant: 'wrong-aud' }),
      'bad signature': s.emu.sessionToken(s.app.clientId, SHOP_A, { variant: 'bad-signature' }),
    };
    const valid = s.emu.sessionToken(s.app.clientId, SHOP_A);
    const [, payload] = valid.split('.');
    // HS/RS confusion: an RS256 header over a valid payload, "signed" with the client secret.
    const rsHead = `${b64url({ alg: 'RS256', typ: 'JWT' })}.${payload}`;
    cases['RS256 header'] = `${rsHead}.${crypto.createHmac('sha256', s.app.secret).update(rsHead).digest('base64url')}`;
    cases['not a JWT'] = 'abc.def';
    for (const [name, token] of Object.entries(cases)) {
      const res = await withToken(token);
      assert.equal(res.status, 401, name);
      assert.equal(res.body.error.code, 'invalid_session_token', name);
    }
    const missing = await api(s.t, 'GET', '/shopify/app/api/settings');
    assert.deepEqual([missing.status, missing.body.error.code], [401, 'missing_session_token']);
    assert.equal((await withToken(valid)).status, 200);
  });

  it('allows 10 seconds of clock skew on exp, not more', async () => {
    s.emu.advanceTime(-65_000); // exp = now - 5 s
    const slightlyLate = s.emu.sessionToken(s.app.clientId, SHOP_A);
    s.emu.advanceTime(-10_000); // exp = now - 15 s
    const tooLate = s.emu.sessionToken(s.app.clientId, SHOP_A);
    s.emu.advanceTime(75_000);
    assert.equal((await withToken(slightlyLate)).status, 200);
    assert.equal((await withToken(tooLate)).status, 401);
  });

  it('two shops on two app registrations: each verified with its own secret, each seeing only its own store', async () => {
    assert.equal((await webhookFor(SHOP_A, s.app.secret)).status, 200);
    assert.equal((await webhookFor(SHOP_B, app2.secret)).status, 200);
    assert.equal((await webhookFor(SHOP_B, s.app.secret)).status, 401, 'shop B is verified with app 2\'s secret only');
    assert.equal((await webhookFor(SHOP_A, app2.secret)).status, 401);

    const a = await embedded(s, s.app, SHOP_A, 'GET', '/settings');
    const b = await embedded(s, app2, SHOP_B, 'GET', '/settings');
    assert.equal(a.body.shop, SHOP_A);
    assert.equal(b.body.shop, SHOP_B);
    assert.notEqual(a.body.storeId, b.body.storeId);
    const crossed = await embedded(s, s.app, SHOP_B, 'GET', '/settings');
    assert.deepEqual([crossed.status, crossed.body.error.code], [403, 'wrong_app'], 'app 1\'s token cannot open shop B');

    const orderB = await placeOrder(s, SHOP_B, { total: '8.00' });
    const paymentB = await paymentForOrder(s, orderB.id, 'created');
    assert.equal(paymentB.store_id, b.body.storeId);
    await sandboxAction(s.t, await sandboxToken(s.t, paymentB.id), 'pay');
    await waitFor('the capture on shop B', async () => capturesOf(s.emu, orderB.id).length === 1);
    const calls = s.emu.requests.filter((r) => String((r.body as { query?: string })?.query).includes('orderCapture'));
    const tokenB = calls.at(-1)!.headers['x-shopify-access-token'];
    assert.equal(s.emu.tokens.find((tk) => tk.accessToken === tokenB)?.clientId, app2.clientId, 'shop B is written with app 2\'s token');
    const extension = await api(s.t, 'GET', `/shopify/extension/payment?order_id=${encodeURIComponent(orderB.id)}`, { headers: { authorization: `Bearer ${s.emu.sessionToken(s.app.clientId, SHOP_B)}` } });
    assert.equal(extension.status, 403, 'app 1 cannot read shop B\'s payments');
  });

  it('after a secret rotation the previous secret verifies for one hour, then not', async () => {
    const oldSecret = app2.secret;
    const newSecret = `shpss_${crypto.randomBytes(16).toString('hex')}`;
    await saveShopifyApp(s.t.app.db.pool, s.t.app.box, { clientId: app2.clientId, secret: newSecret });
    s.emu.addApp({ clientId: app2.clientId, secret: newSecret });
    app2 = { clientId: app2.clientId, secret: newSecret };
    assert.equal((await webhookFor(SHOP_B, newSecret)).status, 200);
    assert.equal((await webhookFor(SHOP_B, oldSecret)).status, 200, 'Shopify may still sign with the old secret');
    await s.t.app.db.pool.query("UPDATE shopify_apps SET previous_secret_until = now() - interval '1 second' WHERE client_id = $1", [app2.clientId]);
    assert.equal((await webhookFor(SHOP_B, oldSecret)).status, 401);
    assert.equal((await embedded(s, app2, SHOP_B, 'GET', '/settings')).status, 200, 'session tokens signed with the new secret work');
  });

  it('an embedded launch without an install recovers the offline token by token exchange', async () => {
    const shop = 'managed-install.myshopify.com';
    s.emu.addShop(shop);
    const res = await embedded(s, s.app, shop, 'GET', '/settings');
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.equal(res.body.gateway, null);
    assert.ok(s.emu.installations.some((i) => i.shop === shop && i.via === 'token_exchange'));
    await waitFor('webhooks registered after token exchange', async () => s.emu.webhookSubscriptions.filter((w) => w.shop === shop).length === 3);
    const { rows } = await s.t.app.db.pool.query('SELECT access_token, refresh_token, token_expires_at FROM shopify_shops WHERE shop_domain = $1', [shop]);
    assert.doesNotMatch(rows[0].access_token, /^shpat_/);
    assert.ok(rows[0].refresh_token && rows[0].token_expires_at, 'an expiring token with its refresh token');
  });

  it('settings: validated with every problem named; saved values come back', async () => {
    const bad = await embedded(s, s.app, SHOP_A, 'PUT', '/settings', { underpaymentToleranceBp: 5000, expiryMinutes: 1, paymentMethodName: '', bogus: true });
    assert.equal(bad.status, 422);
    const fields = bad.body.error.details.map((d: { field: string }) => d.field).sort();
    assert.deepEqual(fields, ['(body)', 'expiryMinutes', 'paymentMethodName', 'underpaymentToleranceBp']);
    const good = await embedded(s, s.app, SHOP_A, 'PUT', '/settings', { underpaymentToleranceBp: 100, expiryMinutes: 45, latePaymentPolicy: 'review', cancelOnExpiry: true });
    assert.equal(good.status, 200);
    assert.deepEqual({ ...good.body.settings }, { ...good.body.settings, underpaymentToleranceBp: 100, expiryMinutes: 45, latePaymentPolicy: 'review', cancelOnExpiry: true, paymentMethodName: 'pay with crypto' });
    const gw = await embedded(s, s.app, SHOP_A, 'POST', '/gateway', { mode: 'live' });
    assert.equal(gw.status, 422);
    const test = await embedded(s, s.app, SHOP_A, 'POST', '/gateway/test');
    assert.deepEqual(test.body, { ok: true });
  });

  it('gateways: list, connect, choose default and fallback; recent payments say which gateway served each', async () => {
    const SHOP = 'charlie.myshopify.com';
    await installShop(s, SHOP);
    const call = (method: string, path: string, body?: unknown) => embedded(s, s.app, SHOP, method, path, body);

    const listed = await call('GET', '/gateways');
    assert.equal(listed.status, 200, JSON.stringify(listed.body));
    assert.deepEqual(listed.body.connections.map((c: any) => [c.gateway, c.mode, c.role]), [['paymento', 'sandbox', 'default']],
      'the old {mode: "sandbox"} body (installShop) means the Paymento sandbox as default');
    const pay = listed.body.connections[0].id;

    const added = await call('POST', '/gateway', { gateway: 'cryptonow', mode: 'sandbox', role: 'fallback' });
    assert.equal(added.status, 200, JSON.stringify(added.body));
    assert.deepEqual([added.body.connection.gateway, added.body.connection.mode, added.body.connection.role], ['cryptonow', 'sandbox', 'fallback']);
    assert.deepEqual(added.body.connections.map((c: any) => c.role), ['default', 'fallback']);
    const now = added.body.connection.id;
    for (const c of added.body.connections) assert.deepEqual(Object.keys(c).sort(), ['createdAt', 'gateway', 'id', 'mode', 'rejectedCallbacks', 'role'], 'never a credential');

    const unknownGateway = await call('POST', '/gateway', { gateway: 'bitpay', mode: 'sandbox' });
    assert.deepEqual([unknownGateway.status, unknownGateway.body.error.code], [422, 'invalid_gateway']);
    const same = await call('PUT', '/gateways', { defaultId: now, fallbackId: now });
    assert.deepEqual([same.status, same.body.error.code], [422, 'fallback_is_default']);
    const shopAConnection = (await embedded(s, s.app, SHOP_A, 'GET', '/gateways')).body.connections[0].id;
    const foreign = await call('PUT', '/gateways', { defaultId: shopAConnection, fallbackId: null });
    assert.deepEqual([foreign.status, foreign.body.error.code], [404, 'unknown_connection'], "another shop's connection cannot be chosen");

    const chose = await call('PUT', '/gateways', { defaultId: now, fallbackId: pay });
    assert.equal(chose.status, 200, JSON.stringify(chose.body));
    assert.deepEqual(chose.body.connections.map((c: any) => [c.id, c.role]), [[now, 'default'], [pay, 'fallback']]);
    assert.deepEqual((await call('GET', '/settings')).body.gateway, { gateway: 'cryptonow', mode: 'sandbox' });

    // CryptoNow takes USD only: the EUR order is refused by the default and served by the fallback.
    const usd = await placeOrder(s, SHOP, { total: '11.00' });
    const usdPayment = await paymentForOrder(s, usd.id, 'created');
    const eur = await placeOrder(s, SHOP, { total: '12.00', currency: 'EUR' });
    const eurPayment = await paymentForOrder(s, eur.id, 'created');
    const recent = await call('GET', '/payments');
    assert.equal(recent.status, 200, JSON.stringify(recent.body));
    assert.deepEqual(recent.body.payments.map((x: any) => [x.id, x.orderId, x.orderName, x.status, x.amount, x.currency, x.gateway, x.mode]), [
      [eurPayment.id, eur.id, eur.name, 'created', '12.00', 'EUR', 'paymento', 'sandbox'],
      [usdPayment.id, usd.id, usd.name, 'created', '11.00', 'USD', 'cryptonow', 'sandbox'],
    ], 'newest first, each with the gateway that served it');
    assert.ok(recent.body.payments.every((x: any) => !Number.isNaN(Date.parse(x.createdAt))));
    const shopA = (await embedded(s, s.app, SHOP_A, 'GET', '/payments')).body.payments;
    assert.ok(!shopA.some((x: any) => x.id === usdPayment.id || x.id === eurPayment.id), "another shop's payments are not listed");

    // The old live body still means Paymento, as the default, proven against the gateway first.
    const merchant = paymento.addMerchant();
    const live = await call('POST', '/gateway', { mode: 'live', apiKey: merchant.apiKey, ipnSecret: merchant.secret });
    assert.equal(live.status, 200, JSON.stringify(live.body));
    assert.deepEqual(live.body.gateway, { gateway: 'paymento', mode: 'live' });
    assert.equal(live.body.connection.role, 'default');
    assert.ok(!JSON.stringify(live.body).includes(merchant.secret) && !JSON.stringify(live.body).includes(merchant.apiKey));
    const wrong = await call('POST', '/gateway', { mode: 'live', apiKey: 'NOT-A-REAL-KEY-123', ipnSecret: 'not-a-real-secret' });
    assert.deepEqual([wrong.status, wrong.body.error.code], [422, 'gateway_connection_refused']);
    assert.match(wrong.body.error.message, /^Paymento refused the connection: .*Nothing was saved/);
    assert.deepEqual((await call('GET', '/gateways')).body.connections.map((c: any) => [c.gateway, c.mode, c.role]),
      [['paymento', 'live', 'default'], ['paymento', 'sandbox', 'fallback'], ['cryptonow', 'sandbox', 'extra']]);
  });

  it('the settings page may be framed only by its shop and the Shopify admin', async () => {
    const res = await fetch(`${s.t.url}/shopify/app?shop=${SHOP_A}&host=abc&embedded=1`);
    assert.equal(res.status, 200);
    const csp = res.headers.get('content-security-policy') ?? '';
    assert.match(csp, new RegExp(`frame-ancestors https://${SHOP_A.replace('.', '\\.')} https://admin\\.shopify\\.com(;|$)`));
    assert.match(csp, /script-src 'nonce-[^']+'/);
    const html = await res.text();
    assert.ok(html.includes(`content="${s.app.clientId}"`), 'App Bridge gets the shop\'s app key');
    const other = await fetch(`${s.t.url}/shopify/app?shop=${SHOP_B}`);
    assert.match(other.headers.get('content-security-policy') ?? '', /frame-ancestors https:\/\/bravo\.myshopify\.com /);
    assert.ok((await other.text()).includes(`content="${app2.clientId}"`));
    assert.equal((await fetch(`${s.t.url}/shopify/app?shop=evil.example.com`)).status, 400);
  });
});

describe('Shopify expiring offline tokens', () => {
  let s: WithShopify;
  const SHOP = 'expiring.myshopify.com';
  before(async () => {
    // Tokens that live two minutes: inside the refresh margin, so every Admin call refreshes first.
    s = await startWithShopify({ emulator: { accessTokenTtlS: 120 } });
    await installShop(s, SHOP);
  });
  after(async () => { await s?.close(); });

  it('are refreshed before use, and the rotated refresh token is kept', async () => {
    const order = await placeOrder(s, SHOP, { total: '14.00' });
    const payment = await paymentForOrder(s, order.id, 'created');
    await sandboxAction(s.t, await sandboxToken(s.t, payment.id), 'pay');
    await waitForStatus(s.t, payment.id, 'paid');
    await waitFor('the capture', async () => capturesOf(s.emu, order.id).length === 1);
    const refreshes = () => s.emu.tokens.filter((tk) => tk.shop === SHOP && tk.grant === 'refresh_token');
    assert.ok(refreshes().length >= 1, 'a refresh grant was used');
    const { SecretBox } = await import('../../src/crypto/secret-box.ts');
    const box = new SecretBox([Buffer.from(TEST_ENCRYPTION_KEY, 'base64')]);
    const storedPair = async () => {
      const { rows } = await s.t.app.db.pool.query('SELECT access_token, refresh_token FROM shopify_shops WHERE shop_domain = $1', [SHOP]);
      return { access: box.open(rows[0].access_token), refresh: box.open(rows[0].refresh_token) };
    };
    // The write-back goes on after the capture (metafields, tags), refreshing as it goes: once it
    // is done, the newest token and its (unspent) refresh token must be the stored ones.
    // Refreshes that overlapped would leave an older pair stored for good, its refresh token spent.
    await waitFor('the newest token and refresh token to be the ones stored', async () => {
      const newest = refreshes().at(-1)!;
      const stored = await storedPair();
      return newest.refreshToken !== null && stored.access === newest.accessToken && stored.refresh === newest.refreshToken;
    });
  });
});

describe('CLI: add-shopify-app', () => {
  it('registers an app and prints its install URL; set-settings keeps the settings it is not given', async () => {
    const dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'cbt-cli-'));
    try {
      const env = { DATA_DIR: dataDir, ENCRYPTION_KEY: TEST_ENCRYPTION_KEY, PUBLIC_URL: 'https://pay.example.com', NODE_ENV: 'test', DATABASE_URL: '' };
      const out = await runCli(['add-shopify-app', '--client-id', 'cli-client', '--secret', 'shpss_cli_secret_1'], env);
      assert.equal(out.clientId, 'cli-client');
      assert.equal(out.installUrl, 'https://pay.example.com/shopify/install?client_id=cli-client&shop=');
      assert.ok(!JSON.stringify(out).includes('shpss_cli_secret_1'), 'the secret is not echoed');
      // set-settings changes only the keys it is given (zod's partial schemas fill in defaults).
      const store = await runCli(['create-store', '--name', 'CLI shop', '--settings', '{"expiryMinutes":90,"underpaymentToleranceBp":10}'], env);
      const changed = await runCli(['set-settings', '--store', store.storeId, '--settings', '{"latePaymentPolicy":"review"}'], env);
      assert.deepEqual([changed.settings.expiryMinutes, changed.settings.underpaymentToleranceBp, changed.settings.latePaymentPolicy], [90, 10, 'review']);
    } finally {
      await fs.rm(dataDir, { recursive: true, force: true });
    }
  });
});
