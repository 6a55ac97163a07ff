import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startPaymentoEmulator, type PaymentoEmulator } from '../emulators/paymento/server.ts';
import { startShopifyEmulator, type ShopifyEmulator } from '../emulators/shopify/server.ts';
import { startWooCommerceEmulator, type WooCommerceEmulator } from '../emulators/woocommerce/server.ts';
import { setCookies } from '../support/admin.ts';
import { freshDatabaseUrl } from '../support/database.ts';
import { api, freePort, waitFor, type TestApp } from '../support/harness.ts';
import { spawnCoinbridge, type CoinbridgeProcess } from '../support/process.ts';
import { installShop, placeOrder } from '../support/shopify.ts';
import { beginConnect, claim } from '../support/woocommerce.ts';
import { leakedSecrets } from './endpoints.ts';

/**
 * A real Coinbridge process (node src/main.js) at LOG_LEVEL=trace, driven only over HTTP through
 * everything that handles a credential, the right way and the wrong way: first-run setup, staff
 * sign-in, a Shopify install with session tokens and webhooks, a WooCommerce connect with its key
 * grant, claim and webhooks, a live Paymento connection with signed callbacks, store API keys,
 * and forged or near-miss versions of each. Every byte the process wrote (stdout and stderr) is
 * then searched for every secret in play. (Each other file of this directory searches the logs of
 * the apps it starts the same way.)
 *
 * Staff emails are not searched for: the log names who did what on purpose. Shoppers' emails are:
 * customers/redact promises to remove them from what Coinbridge holds, which a log line would defeat.
 */
describe('a whole run of a real process logs no secret', { timeout: 120_000 }, () => {
  const planted = new Map<string, string>();
  const plant = (label: string, value: string) => { planted.set(value, label); };
  const mark = (what: string) => `planted-${what}-${crypto.randomBytes(9).toString('hex')}`;
  /** The same secret with its last character changed: what a typo or a guess looks like. */
  const nearMiss = (secret: string) => `${secret.slice(0, -1)}${secret.endsWith('0') ? '1' : '0'}`;
  let shopify: ShopifyEmulator;
  let woo: WooCommerceEmulator;
  let paymento: PaymentoEmulator;
  let proc: CoinbridgeProcess;
  let db: { url: string | undefined; drop(): Promise<void> };
  let dataDir: string;
  /** Everything the process wrote, stdout and stderr. */
  const output = () => proc?.output() ?? '';

  before(async () => {
    shopify = await startShopifyEmulator({ retryDelaysMs: [50, 100] });
    woo = await startWooCommerceEmulator({ allowInsecureCallback: true });
    paymento = await startPaymentoEmulator({ verifyShape: 'docs' });
    db = await freshDatabaseUrl();
    dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'cb-secrets-'));
  });
  after(async () => {
    if (proc && proc.child.exitCode === null) {
      proc.child.kill('SIGKILL');
      await proc.exited;
    }
    for (const close of [() => shopify?.close(), () => woo?.close(), () => paymento?.close(), () => db?.drop(), () => fs.rm(dataDir, { recursive: true, force: true })]) {
      await close()?.catch(() => undefined);
    }
  });

  it('runs every credential through the process, right and wrong', async () => {
    const shopifyApp = shopify.addApp({ secret: mark('shopify-secret') });
    const encryptionKey = crypto.randomBytes(32);
    const setupToken = mark('setup-token');
    const password = mark('password');
    const shopperEmail = `${mark('shopper')}@shopper.example`;
    plant('Shopify app secret', shopifyApp.secret);
    plant('ENCRYPTION_KEY', encryptionKey.toString('base64'));
    plant('ENCRYPTION_KEY (hex)', encryptionKey.toString('hex'));
    plant('ADMIN_SETUP_TOKEN', setupToken);
    plant('staff password', password);
    plant('shopper email', shopperEmail);

    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    proc = await spawnCoinbridge({
      NODE_ENV: 'test', HOST: '127.0.0.1', PUBLIC_URL: url, DATA_DIR: dataDir, LOG_LEVEL: 'trace', SEED_DEMO: 'true', ALLOW_PRIVATE_URLS: 'true',
      ENCRYPTION_KEY: encryptionKey.toString('base64'), ADMIN_SETUP_TOKEN: setupToken, JOB_POLL_MS: '200', JOB_LOCK_LIFETIME_MS: '4000',
      SHOPIFY_API_KEY: shopifyApp.clientId, SHOPIFY_API_SECRET: shopifyApp.secret, SHOPIFY_ADMIN_ORIGIN: shopify.origin,
      PAYMENTO_API_ORIGIN: paymento.origin, PAYMENTO_GATEWAY_ORIGIN: paymento.gatewayOrigin,
      ...(db.url ? { DATABASE_URL: db.url } : {}),
    }, port);
    // The support helpers only talk to the app over HTTP: its URL is all they need of it.
    const t = { url } as TestApp;

    // First-run setup and sign-in: a near-miss token and passwords first.
    assert.equal((await api(t, 'POST', '/v1/admin/setup', { body: { token: `${setupToken}x`, email: 'ops@staff.example', password } })).status, 403);
    const setup = await api(t, 'POST', '/v1/admin/setup', { body: { token: setupToken, email: 'ops@staff.example', password } });
    assert.equal(setup.status, 201, JSON.stringify(setup.body));
    for (const attempt of [`${password}x`, password.slice(0, -1), password.toUpperCase()]) {
      assert.equal((await api(t, 'POST', '/v1/admin/session', { body: { email: 'ops@staff.example', password: attempt } })).status, 401);
    }
    assert.equal((await api(t, 'POST', '/v1/admin/session', { body: { email: 'nobody@staff.example', password } })).status, 401);
    const signedIn = await api(t, 'POST', '/v1/admin/session', { body: { email: 'ops@staff.example', password } });
    assert.equal(signedIn.status, 200);
    const cookies = setCookies(signedIn.headers);
    plant('session cookie', cookies.cb_session!);
    plant('CSRF token', cookies.cb_csrf!);
    const staff = { cookie: `cb_session=${cookies.cb_session}; cb_csrf=${cookies.cb_csrf}`, 'x-csrf-token': cookies.cb_csrf! };

    // The demo store's key (written under DATA_DIR), a near miss of it, and a payment with a shopper's email.
    const demoKey = (await fs.readFile(path.join(dataDir, 'demo-store-api-key.txt'), 'utf8')).trim();
    plant('demo store API key', demoKey);
    plant('near-miss store API key', nearMiss(demoKey));
    assert.equal((await api(t, 'POST', '/v1/payments', { key: nearMiss(demoKey), body: { orderId: 'S-0', amount: '1.00', currency: 'USD', returnUrl: 'https://shop.example/' } })).status, 401);
    const demoPayment = await api(t, 'POST', '/v1/payments', { key: demoKey, body: { orderId: 'S-1', amount: '12.00', currency: 'USD', returnUrl: 'https://shop.example/', customerEmail: shopperEmail } });
    assert.equal(demoPayment.status, 201, JSON.stringify(demoPayment.body));

    // Shopify: OAuth install, embedded API with session tokens, forged tokens, signed and forged webhooks.
    const shop = 'secrets-shop.myshopify.com';
    await installShop({ emu: shopify, t, app: shopifyApp, close: async () => undefined }, shop);
    const token = shopify.sessionToken(shopifyApp.clientId, shop);
    plant('Shopify session token', token);
    assert.equal((await api(t, 'GET', '/shopify/app/api/settings', { headers: { authorization: `Bearer ${token}` } })).status, 200);
    for (const variant of ['expired', 'bad-signature', 'wrong-aud'] as const) {
      const bad = shopify.sessionToken(shopifyApp.clientId, shop, { variant });
      plant(`Shopify session token (${variant})`, bad);
      assert.equal((await api(t, 'GET', '/shopify/app/api/settings', { headers: { authorization: `Bearer ${bad}` } })).status, 401);
    }
    await placeOrder({ emu: shopify, t, app: shopifyApp, close: async () => undefined }, shop, { email: shopperEmail });
    const forged = JSON.stringify({ id: 1, email: shopperEmail });
    const forgedHmac = crypto.createHmac('sha256', `${shopifyApp.secret}x`).update(forged).digest('base64');
    plant('forged Shopify HMAC', forgedHmac);
    const refused = await api(t, 'POST', '/shopify/webhooks', { raw: forged, headers: {
      'content-type': 'application/json', 'x-shopify-topic': 'orders/create', 'x-shopify-shop-domain': shop, 'x-shopify-api-version': '2025-10',
      'x-shopify-webhook-id': crypto.randomUUID(), 'x-shopify-hmac-sha256': forgedHmac,
    } });
    assert.equal(refused.status, 401);

    // WooCommerce: key grant, the plugin's one-time claim, a live Paymento connection from the console.
    const w = { emu: woo, t, close: async () => undefined };
    const { claimSecret, res } = await beginConnect(w);
    plant('WooCommerce claim secret', claimSecret);
    assert.equal(res.status, 302);
    assert.equal((await woo.approve(res.headers.get('location')!)).callbackStatus, 200);
    const claimed = await waitFor('the plugin\'s claim', async () => { const r = await claim(w, claimSecret); return r.status === 202 ? undefined : r; });
    assert.equal(claimed.status, 200, JSON.stringify(claimed.body));
    const { storeId, apiKey: wooKey } = claimed.body as { storeId: string; apiKey: string };
    plant('WooCommerce store API key', wooKey);
    assert.equal((await claim(w, nearMiss(claimSecret))).status, 404);

    const wrongKeys = { apiKey: mark('wrong-paymento-key'), ipnSecret: mark('wrong-ipn-secret') };
    plant('rejected Paymento API key', wrongKeys.apiKey);
    plant('rejected IPN secret', wrongKeys.ipnSecret);
    const rejected = await api(t, 'POST', `/v1/admin/stores/${storeId}/gateways`, { headers: staff, body: { mode: 'live', ...wrongKeys } });
    assert.ok(rejected.status >= 400 && rejected.status < 500, JSON.stringify(rejected.body));
    const merchant = paymento.addMerchant();
    plant('Paymento API key', merchant.apiKey);
    plant('Paymento IPN secret', merchant.secret);
    const connected = await api(t, 'POST', `/v1/admin/stores/${storeId}/gateways`, { headers: staff, body: { mode: 'live', apiKey: merchant.apiKey, ipnSecret: merchant.secret } });
    assert.equal(connected.status, 201, JSON.stringify(connected.body));
    const connectionId = connected.body.connection.id as string;

    // A WooCommerce order paid through live Paymento: signed webhooks in, signed IPNs in, verify out.
    const order = woo.createOrder({ total: '30.00', email: shopperEmail });
    const payment = await api(t, 'POST', '/v1/payments', { key: wooKey, body: { orderId: String(order.id), amount: '30.00', currency: 'USD', returnUrl: `${woo.origin}/thanks`, customerEmail: shopperEmail } });
    assert.equal(payment.status, 201, JSON.stringify(payment.body));
    const pay = await api(t, 'GET', `/v1/checkout/${payment.body.ref}`);
    const paymentoToken = new URL(pay.body.gatewayUrl).searchParams.get('token')!;
    await paymento.setStatus(paymentoToken, 7);
    await waitFor('the live payment to be paid', async () => (await api(t, 'GET', `/v1/payments/${payment.body.id}`, { key: wooKey })).body.status === 'paid', 20_000);
    const ipnBody = paymento.ipnBody(paymentoToken, 7);
    const forgedIpn = crypto.createHmac('sha256', nearMiss(merchant.secret)).update(ipnBody).digest('hex');
    plant('forged IPN signature', forgedIpn);
    assert.equal((await api(t, 'POST', `/ipn/paymento/${connectionId}`, { raw: ipnBody, headers: { 'content-type': 'application/json', 'x-hmac-sha256-signature': forgedIpn } })).status, 401);
    const forgedWoo = crypto.createHmac('sha256', 'not-the-webhook-secret').update('{"id":1}').digest('base64');
    plant('forged WooCommerce signature', forgedWoo);
    assert.equal((await api(t, 'POST', `/woocommerce/webhooks/${storeId}`, { raw: '{"id":1}', headers: { 'content-type': 'application/json', 'x-wc-webhook-signature': forgedWoo } })).status, 401);
    await woo.settle();

    // Signing out, then the process stops the way an operator stops it.
    assert.equal((await api(t, 'DELETE', '/v1/admin/session', { headers: staff })).status, 204);
    proc.child.kill('SIGTERM');
    assert.equal(await proc.exited, 0);

    for (const tok of shopify.tokens) {
      plant('Shopify access token', tok.accessToken);
      if (tok.refreshToken) plant('Shopify refresh token', tok.refreshToken);
    }
    for (const key of woo.keys) {
      plant('WooCommerce consumer key', key.consumerKey);
      plant('WooCommerce consumer secret', key.consumerSecret);
    }
    for (const hook of woo.webhooks) plant('WooCommerce webhook secret', hook.secret);
    assert.ok(woo.webhooks.length >= 2 && shopify.tokens.length >= 1, 'the platforms handed out their secrets');
  });

  it('the process said what it did (so the search below is not vacuous)', () => {
    for (const what of ['Coinbridge is listening', 'Shopify shop installed', 'WooCommerce keys received', 'signature check failed', 'Shopify webhook refused', 'WooCommerce webhook refused', 'shutting down']) {
      assert.ok(output().includes(what), `the output mentions "${what}"`);
    }
    for (const line of output().split('\n').filter((l) => l.startsWith('{'))) assert.doesNotThrow(() => JSON.parse(line), line.slice(0, 200));
  });

  it('no byte of the process output holds a planted secret', () => {
    assert.ok(planted.size >= 25, `only ${planted.size} secrets planted`);
    assert.deepEqual(leakedSecrets(output(), [...planted.entries()].map(([value, label]) => [label, value])), []);
  });
});
