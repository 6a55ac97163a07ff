/**
 * Shopify end to end against the emulator: install, orders/create, the shopper paying in the
 * sandbox, the IPN, and the capture Shopify records — plus the webhook refusals, duplicates,
 * cancellations, uninstall and the privacy topics.
 */
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { enqueueJob } from '../../src/jobs/queue.ts';
import { api, eventsOf, sandboxAction, sandboxToken, waitFor, waitForStatus } from '../support/harness.ts';
import { adminCalls, capturesOf, embedded, installShop, paymentForOrder, placeOrder, startWithShopify, type WithShopify } from '../support/shopify.ts';

describe('Shopify: orders become payments, verified payments capture the order', () => {
  let s: WithShopify;
  const SHOP = 'journey.myshopify.com';
  let storeId: string;

  before(async () => {
    s = await startWithShopify();
    ({ storeId } = await installShop(s, SHOP));
  });
  after(async () => { await s?.close(); });

  const pay = async (paymentId: string, action = 'pay') => sandboxAction(s.t, await sandboxToken(s.t, paymentId), action);
  const webhook = (topic: string, body: string, headers: Record<string, string> = {}) => fetch(`${s.t.url}/shopify/webhooks`, {
    method: 'POST', body,
    headers: {
      'content-type': 'application/json', 'x-shopify-topic': topic, 'x-shopify-shop-domain': SHOP, 'x-shopify-api-version': '2025-10',
      'x-shopify-webhook-id': crypto.randomUUID(), 'x-shopify-event-id': crypto.randomUUID(), 'x-shopify-triggered-at': new Date().toISOString(),
      'x-shopify-hmac-sha256': crypto.createHmac('sha256', s.app.secret).update(body).digest('base64'), ...headers,
    },
  });

  it('full journey: order → payment → paid in the sandbox → IPN → orderCapture with the amount on the pending sale, metafields, tag', async () => {
    const order = await placeOrder(s, SHOP, { total: '40.00' });
    const payment = await paymentForOrder(s, order.id, 'created');
    assert.equal(payment.store_id, storeId);
    await pay(payment.id);
    await waitForStatus(s.t, payment.id, 'paid');
    const shown = await waitFor('Shopify to show the capture and the tag', async () => {
      const o = s.emu.order(order.id);
      return o.tags.includes('coinbridge-paid') ? o : undefined;
    });
    const captures = shown.transactions.filter((tx) => tx.kind === 'CAPTURE');
    assert.equal(captures.length, 1);
    assert.equal(Number(captures[0]!.amount), 40);
    assert.equal(captures[0]!.currency, 'USD');
    assert.equal(captures[0]!.parentId, order.transactionId, 'captured on the pending sale the manual method left');
    const meta = Object.fromEntries(shown.metafields.filter((m) => m.namespace === 'coinbridge').map((m) => [m.key, m.value]));
    assert.equal(meta.payment_id, payment.id);
    assert.equal(meta.pay_url, `${s.t.app.config.publicUrl}/pay/${payment.ref}`);
    assert.ok(meta.tx_hash, 'the transaction hash is on the order');
    const capture = s.emu.requests.find((r) => String((r.body as { query?: string })?.query).includes('orderCapture'))!;
    assert.equal(capture.path, '/admin/api/2025-10/graphql.json', 'the pinned API version');
  });

  it('a webhook with a bad HMAC gets 401 and changes nothing', async () => {
    const order = s.emu.createOrder(SHOP, { total: '5.00', currency: 'USD', gateway: 'Pay with crypto' });
    const body = JSON.stringify(s.emu.orderPayload(order.id));
    const before = (await s.t.app.db.pool.query('SELECT count(*)::int AS n FROM shopify_webhook_inbox')).rows[0].n;
    for (const hmac of ['', 'AAAA', crypto.createHmac('sha256', 'not-the-secret').update(body).digest('base64')]) {
      const res = await webhook('orders/create', body, { 'x-shopify-hmac-sha256': hmac });
      assert.equal(res.status, 401, hmac);
    }
    const tampered = await webhook('orders/create', body.replace('"total_price":"', '"total_price":"1'), { 'x-shopify-hmac-sha256': crypto.createHmac('sha256', s.app.secret).update(body).digest('base64') });
    assert.equal(tampered.status, 401);
    assert.equal((await s.t.app.db.pool.query('SELECT count(*)::int AS n FROM shopify_webhook_inbox')).rows[0].n, before);
    await new Promise((r) => setTimeout(r, 300));
    assert.equal((await s.t.app.db.pool.query('SELECT count(*)::int AS n FROM payments WHERE order_id = $1', [order.id])).rows[0].n, 0);
  });

  it('the same delivery twice (same webhook id, or same event id) has one effect', async () => {
    const order = s.emu.createOrder(SHOP, { total: '7.00', currency: 'USD', gateway: 'Pay with crypto' });
    const body = JSON.stringify(s.emu.orderPayload(order.id));
    const ids = { 'x-shopify-webhook-id': crypto.randomUUID(), 'x-shopify-event-id': crypto.randomUUID() };
    const first = await webhook('orders/create', body, ids);
    const again = await webhook('orders/create', body, ids);
    const sameEvent = await webhook('orders/create', body, { 'x-shopify-event-id': ids['x-shopify-event-id'] });
    assert.deepEqual([first.status, again.status, sameEvent.status], [200, 200, 200]);
    assert.deepEqual([(await first.json()).duplicate, (await again.json()).duplicate, (await sameEvent.json()).duplicate], [false, true, true]);
    await paymentForOrder(s, order.id, 'created');
    assert.equal((await s.t.app.db.pool.query('SELECT count(*)::int AS n FROM shopify_webhook_inbox WHERE convert_from(raw_body, \'UTF8\') = $1', [body])).rows[0].n, 1);
  });

  it('an order paid with another method gets no payment', async () => {
    const order = s.emu.createOrder(SHOP, { total: '9.00', currency: 'USD', gateway: 'Cash on Delivery (COD)' });
    await s.emu.emit(SHOP, 'orders/create', s.emu.orderPayload(order.id));
    await waitFor('the webhook to be worked', async () => (await s.t.app.db.pool.query(
      "SELECT outcome FROM shopify_webhook_inbox WHERE convert_from(raw_body, 'UTF8')::jsonb ->> 'admin_graphql_api_id' = $1 AND processed_at IS NOT NULL", [order.id])).rows[0]?.outcome);
    assert.equal((await s.t.app.db.pool.query('SELECT count(*)::int AS n FROM payments WHERE order_id = $1', [order.id])).rows[0].n, 0);
  });

  it('an underpayment still open at expiry is captured in part when the shop chooses that', async () => {
    await embedded(s, s.app, SHOP, 'PUT', '/settings', { underpaidAtExpiry: 'partial_capture' });
    try {
      const order = await placeOrder(s, SHOP, { total: '40.00' });
      const payment = await paymentForOrder(s, order.id, 'created');
      await pay(payment.id, 'underpay');
      await waitForStatus(s.t, payment.id, 'underpaid');
      await s.t.app.db.pool.query("UPDATE payments SET expires_at = now() - interval '1 minute' WHERE id = $1", [payment.id]);
      await enqueueJob(s.t.app.db.pool, { name: 'payment.expiry-check', data: { paymentId: payment.id } });
      await waitFor('the partial capture', async () => capturesOf(s.emu, order.id).length === 1);
      assert.deepEqual(capturesOf(s.emu, order.id).map(Number), [20], 'half the crypto arrived: half the order is captured');
      await waitFor('the underpaid tag', async () => s.emu.order(order.id).tags.includes('coinbridge-underpaid'));
    } finally {
      await embedded(s, s.app, SHOP, 'PUT', '/settings', { underpaidAtExpiry: 'review' });
    }
  });

  it('by default an underpayment open at expiry goes to review, with no capture', async () => {
    const order = await placeOrder(s, SHOP, { total: '30.00' });
    const payment = await paymentForOrder(s, order.id, 'created');
    await pay(payment.id, 'underpay');
    await waitForStatus(s.t, payment.id, 'underpaid');
    await s.t.app.db.pool.query("UPDATE payments SET expires_at = now() - interval '1 minute' WHERE id = $1", [payment.id]);
    await enqueueJob(s.t.app.db.pool, { name: 'payment.expiry-check', data: { paymentId: payment.id } });
    await waitForStatus(s.t, payment.id, 'review');
    await waitFor('the review tag', async () => s.emu.order(order.id).tags.includes('coinbridge-review'));
    assert.deepEqual(capturesOf(s.emu, order.id), []);
  });

  it('the thank-you block gets the pay URL, making the payment if the webhook has not come yet — still one payment per order', async () => {
    const order = s.emu.createOrder(SHOP, { total: '15.00', currency: 'USD', gateway: 'Pay with crypto', email: 'early@example.com', customerId: 7002 });
    const identity = order.id.replace('/Order/', '/OrderIdentity/');
    const ask = () => api(s.t, 'GET', `/shopify/extension/payment?order_id=${encodeURIComponent(identity)}`, { headers: { authorization: `Bearer ${s.emu.sessionToken(s.app.clientId, SHOP)}`, origin: 'https://extensions.shopifycdn.com' } });
    const [a, b] = await Promise.all([ask(), ask()]);
    assert.equal(a.status, 200, JSON.stringify(a.body));
    assert.equal(a.headers.get('access-control-allow-origin'), '*');
    assert.equal(a.body.show, true);
    assert.equal(a.body.payUrl, b.body.payUrl);
    assert.match(a.body.payUrl, /\/pay\/[A-Za-z0-9_-]+$/);
    assert.deepEqual([a.body.amount, a.body.currency, a.body.status], ['15.00', 'USD', 'created']);
    await s.emu.emit(SHOP, 'orders/create', s.emu.orderPayload(order.id));
    await waitFor('the late webhook to be worked', async () => (await s.t.app.db.pool.query(
      "SELECT outcome FROM shopify_webhook_inbox WHERE convert_from(raw_body, 'UTF8')::jsonb ->> 'admin_graphql_api_id' = $1 AND processed_at IS NOT NULL", [order.id])).rows[0]?.outcome);
    assert.equal((await s.t.app.db.pool.query('SELECT count(*)::int AS n FROM payments WHERE order_id = $1', [order.id])).rows[0].n, 1);
    const preflight = await fetch(`${s.t.url}/shopify/extension/payment`, { method: 'OPTIONS', headers: { origin: 'https://extensions.shopifycdn.com', 'access-control-request-headers': 'authorization' } });
    assert.equal(preflight.status, 204);
    assert.match(preflight.headers.get('access-control-allow-headers') ?? '', /Authorization/i);

    const other = s.emu.createOrder(SHOP, { total: '3.00', currency: 'USD', gateway: 'Bank Deposit' });
    const none = await api(s.t, 'GET', `/shopify/extension/payment?order_id=${encodeURIComponent(other.id)}`, { headers: { authorization: `Bearer ${s.emu.sessionToken(s.app.clientId, SHOP)}` } });
    assert.deepEqual(none.body, { show: false });
    const forged = await api(s.t, 'GET', `/shopify/extension/payment?order_id=${encodeURIComponent(order.id)}`, { headers: { authorization: `Bearer ${s.emu.sessionToken(s.app.clientId, SHOP, { variant: 'bad-signature' })}` } });
    assert.equal(forged.status, 401);
  });

  it('customers/data_request gives the merchant what Coinbridge holds; customers/redact removes it', async () => {
    const order = await placeOrder(s, SHOP, { total: '11.00', email: 'private@example.com', customerId: 9001 });
    const payment = await paymentForOrder(s, order.id, 'created');
    const customer = { id: 9001, email: 'private@example.com', phone: null };
    const numericOrder = Number(order.id.split('/').pop());
    const request = await s.emu.deliverWebhook(SHOP, 'customers/data_request', { shop_domain: SHOP, orders_requested: [numericOrder], customer, data_request: { id: 555 } }, { url: `${s.t.url}/shopify/webhooks`, secret: s.app.secret });
    assert.ok(request.delivered);
    const exported = await waitFor('the export', async () => {
      const res = await embedded(s, s.app, SHOP, 'GET', '/data-requests');
      return res.body.dataRequests?.find((d: any) => d.requestId === '555');
    });
    assert.equal(exported.data.orders.length, 1);
    assert.equal(exported.data.orders[0].email, 'private@example.com');
    assert.equal(exported.data.orders[0].payment.ref, payment.ref);

    const redact = await s.emu.deliverWebhook(SHOP, 'customers/redact', { shop_domain: SHOP, customer, orders_to_redact: [numericOrder] }, { url: `${s.t.url}/shopify/webhooks`, secret: s.app.secret });
    assert.ok(redact.delivered);
    await waitFor('the redaction', async () => (await s.t.app.db.pool.query('SELECT customer_email FROM payments WHERE id = $1', [payment.id])).rows[0].customer_email === null);
    const leftovers = await s.t.app.db.pool.query(
      `SELECT 'payments' AS t FROM payments WHERE customer_email = 'private@example.com'
       UNION ALL SELECT 'orders' FROM shopify_orders WHERE customer_email = 'private@example.com' OR customer_gid = 'gid://shopify/Customer/9001'
       UNION ALL SELECT 'inbox' FROM shopify_webhook_inbox WHERE position('private@example.com' in convert_from(raw_body, 'UTF8')) > 0
       UNION ALL SELECT 'exports' FROM shopify_data_requests WHERE export::text LIKE '%private@example.com%'`);
    assert.deepEqual(leftovers.rows, [], 'no copy of the customer\'s email is left');
    assert.equal((await s.t.app.db.pool.query('SELECT status FROM payments WHERE id = $1', [payment.id])).rows[0].status, 'created', 'the payment itself stays');
  });

  it('every step of a paid order is in the payment\'s event log', async () => {
    const order = await placeOrder(s, SHOP, { total: '6.00' });
    const payment = await paymentForOrder(s, order.id, 'created');
    await pay(payment.id);
    await waitFor('the write-back', async () => (await eventsOf(s.t, payment.id)).some((e) => e.type === 'store.write' && e.data.outcome === 'written'));
    const types = (await eventsOf(s.t, payment.id)).map((e) => e.type);
    for (const type of ['payment.requested', 'gateway.create', 'transition', 'gateway.verify', 'store.write']) assert.ok(types.includes(type), type);
    const write = (await eventsOf(s.t, payment.id)).find((e) => e.type === 'store.write' && e.data.outcome === 'written')!;
    assert.deepEqual(write.data.writes.map((w: any) => w.operation), ['orderCapture', 'metafieldsSet', 'tagsAdd']);
  });

  it('logs carry no app secret, Shopify token or customer email', () => {
    const logs = s.t.logs.join('');
    assert.ok(logs.includes('Shopify'), 'there are Shopify log lines to look at');
    const planted = [s.app.secret, ...s.emu.tokens.flatMap((tk) => [tk.accessToken, tk.refreshToken ?? '']).filter(Boolean), 'buyer@example.com', 'private@example.com'];
    for (const secret of planted) assert.ok(!logs.includes(secret), `a log line contains ${secret.slice(0, 8)}…`);
  });
});

describe('Shopify: uninstall and shop/redact', () => {
  let s: WithShopify;
  const SHOP = 'leaving.myshopify.com';
  before(async () => {
    s = await startWithShopify();
    await installShop(s, SHOP);
  });
  after(async () => { await s?.close(); });

  it('app/uninstalled deletes the tokens and no Admin call is made for that shop afterwards; shop/redact deletes its personal data', async () => {
    const order = await placeOrder(s, SHOP, { total: '19.00', email: 'gone@example.com', customerId: 42 });
    const payment = await paymentForOrder(s, order.id, 'created');
    const [uninstalled] = await s.emu.emit(SHOP, 'app/uninstalled', { id: 1, domain: SHOP });
    assert.ok(uninstalled?.delivered);
    await waitFor('the tokens to be gone', async () => {
      const { rows } = await s.t.app.db.pool.query('SELECT access_token, refresh_token, uninstalled_at FROM shopify_shops WHERE shop_domain = $1', [SHOP]);
      return rows[0].access_token === null && rows[0].refresh_token === null && rows[0].uninstalled_at !== null;
    });
    const callsBefore = adminCalls(s.emu, SHOP).length;
    await sandboxAction(s.t, await sandboxToken(s.t, payment.id), 'pay');
    await waitForStatus(s.t, payment.id, 'paid');
    await waitFor('the write-back to be skipped', async () => (await eventsOf(s.t, payment.id)).some((e) => e.type === 'store.write' && e.data.outcome === 'skipped'));
    assert.equal(adminCalls(s.emu, SHOP).length, callsBefore, 'no Admin API call after uninstall');
    assert.deepEqual(capturesOf(s.emu, order.id), []);
    const settings = await embedded(s, s.app, SHOP, 'GET', '/settings');
    assert.equal(settings.status, 200, 'a later launch recovers a token by token exchange');

    const redact = await s.emu.deliverWebhook(SHOP, 'shop/redact', { shop_id: 1, shop_domain: SHOP }, { url: `${s.t.url}/shopify/webhooks`, secret: s.app.secret });
    assert.ok(redact.delivered);
    await waitFor('the shop redaction', async () => (await s.t.app.db.pool.query('SELECT redacted_at FROM shopify_shops WHERE shop_domain = $1', [SHOP])).rows[0].redacted_at !== null);
    const { rows } = await s.t.app.db.pool.query(
      `SELECT (SELECT count(*)::int FROM payments p JOIN shopify_shops sh ON sh.store_id = p.store_id WHERE sh.shop_domain = $1 AND p.customer_email IS NOT NULL) AS emails,
              (SELECT count(*)::int FROM shopify_orders WHERE shop_domain = $1 AND (customer_email IS NOT NULL OR customer_gid IS NOT NULL)) AS customers,
              (SELECT count(*)::int FROM shopify_webhook_inbox WHERE shop_domain = $1 AND topic <> 'shop/redact') AS payloads,
              (SELECT count(*)::int FROM shopify_shops WHERE shop_domain = $1 AND access_token IS NOT NULL) AS tokens`, [SHOP]);
    assert.deepEqual(rows[0], { emails: 0, customers: 0, payloads: 0, tokens: 0 });
  });
});
