import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { ID_TOKEN_TYPE, OFFLINE_TOKEN_TYPE, TOKEN_EXCHANGE_GRANT, startShopifyEmulator } from './server.ts';
import type { ShopifyEmulator } from './server.ts';

const SHOP = 'coinbridge-test.myshopify.com';
const REDIRECT = 'https://app.example.com/auth/callback';

let emu: ShopifyEmulator;
let app: { clientId: string; secret: string };

before(async () => {
  emu = await startShopifyEmulator();
  emu.addShop(SHOP);
  app = emu.addApp({ scopes: 'read_orders,write_orders' });
});
after(async () => { await emu.close(); });

function shopHeaders(extra: Record<string, string> = {}): Record<string, string> {
  return { 'x-shopify-shop-domain': SHOP, ...extra };
}

async function authorize(state = crypto.randomBytes(32).toString('hex')): Promise<URL> {
  const q = new URLSearchParams({ client_id: app.clientId, scope: 'read_orders,write_orders', redirect_uri: REDIRECT, state });
  const res = await fetch(`${emu.origin}/admin/oauth/authorize?${q}`, { headers: shopHeaders(), redirect: 'manual' });
  assert.equal(res.status, 302);
  return new URL(res.headers.get('location')!);
}

async function tokenRequest(body: Record<string, string>, form = false): Promise<{ status: number; json: Record<string, unknown> }> {
  const res = await fetch(`${emu.origin}/admin/oauth/access_token`, {
    method: 'POST',
    headers: shopHeaders({ 'content-type': form ? 'application/x-www-form-urlencoded' : 'application/json' }),
    body: form ? new URLSearchParams(body).toString() : JSON.stringify(body),
  });
  return { status: res.status, json: (await res.json()) as Record<string, unknown> };
}

async function offlineToken(): Promise<string> {
  const code = (await authorize()).searchParams.get('code')!;
  const { status, json } = await tokenRequest({ client_id: app.clientId, client_secret: app.secret, code });
  assert.equal(status, 200);
  return json.access_token as string;
}

async function gql(token: string | null, query: string, variables: Record<string, unknown> = {}, e: ShopifyEmulator = emu, shop = SHOP) {
  const headers: Record<string, string> = { 'content-type': 'application/json', 'x-shopify-shop-domain': shop };
  if (token !== null) headers['x-shopify-access-token'] = token;
  const res = await fetch(`${e.origin}/admin/api/2025-10/graphql.json`, { method: 'POST', headers, body: JSON.stringify({ query, variables }) });
  return { status: res.status, json: (await res.json()) as any };
}

const CAPTURE = `mutation orderCapture($input: OrderCaptureInput!) {
  orderCapture(input: $input) { transaction { id kind status amountSet { shopMoney { amount currencyCode } } } userErrors { field message } }
}`;
const CANCEL = `mutation Cancel($orderId: ID!) {
  orderCancel(orderId: $orderId, reason: DECLINED, restock: true, refund: false, notifyCustomer: false, staffNote: "expired unpaid") {
    job { id } orderCancelUserErrors { field message code }
  }
}`;
const ORDER = `query Order($id: ID!) { order(id: $id) { id name cancelledAt displayFinancialStatus totalPriceSet { shopMoney { amount currencyCode } } paymentGatewayNames transactions { id kind status amountSet { shopMoney { amount currencyCode } } manuallyCapturable } } }`;

describe('OAuth authorize and code grant', () => {
  test('authorize redirects with a valid hmac, the state, host and shop', async () => {
    const state = crypto.randomBytes(32).toString('hex');
    const loc = await authorize(state);
    assert.equal(`${loc.origin}${loc.pathname}`, REDIRECT);
    const params = Object.fromEntries(loc.searchParams);
    assert.equal(params.state, state);
    assert.equal(params.shop, SHOP);
    assert.equal(Buffer.from(params.host!, 'base64url').toString(), 'admin.shopify.com/store/coinbridge-test');
    assert.ok(Math.abs(Number(params.timestamp) - Date.now() / 1000) < 90);
    const message = Object.keys(params).filter((k) => k !== 'hmac' && k !== 'signature').sort().map((k) => `${k}=${params[k]}`).join('&');
    assert.equal(params.hmac, crypto.createHmac('sha256', app.secret).update(message).digest('hex'));
  });

  test('the shop may come as a query parameter; an unknown client_id is a 400', async () => {
    const q = new URLSearchParams({ client_id: app.clientId, scope: 'read_orders', redirect_uri: REDIRECT, state: 'x', shop: SHOP });
    const ok = await fetch(`${emu.origin}/admin/oauth/authorize?${q}`, { redirect: 'manual' });
    assert.equal(ok.status, 302);
    q.set('client_id', 'nope');
    const bad = await fetch(`${emu.origin}/admin/oauth/authorize?${q}`, { redirect: 'manual' });
    assert.equal(bad.status, 400);
  });

  test('code → token (form body), then the code is refused when reused', async () => {
    const code = (await authorize()).searchParams.get('code')!;
    const first = await tokenRequest({ client_id: app.clientId, client_secret: app.secret, code }, true);
    assert.equal(first.status, 200);
    assert.match(first.json.access_token as string, /^shpat_/);
    assert.equal(first.json.scope, 'read_orders,write_orders');
    assert.equal(first.json.refresh_token, undefined);
    assert.ok(emu.installations.some((i) => i.shop === SHOP && i.clientId === app.clientId));
    const again = await tokenRequest({ client_id: app.clientId, client_secret: app.secret, code });
    assert.equal(again.status, 400);
    assert.equal(typeof again.json.error, 'string');
    assert.equal(typeof again.json.error_description, 'string');
  });

  test('wrong secret and expired code are refused', async () => {
    const code = (await authorize()).searchParams.get('code')!;
    const wrong = await tokenRequest({ client_id: app.clientId, client_secret: 'shpss_wrong', code });
    assert.equal(wrong.status, 400);
    assert.equal(wrong.json.error, 'invalid_client');
    const code2 = (await authorize()).searchParams.get('code')!;
    emu.advanceTime(61_000);
    try {
      const late = await tokenRequest({ client_id: app.clientId, client_secret: app.secret, code: code2 });
      assert.equal(late.status, 400);
    } finally {
      emu.advanceTime(-61_000);
    }
  });

  test('expiring=1 returns a refresh token, and refresh rotates the pair', async () => {
    const code = (await authorize()).searchParams.get('code')!;
    const first = await tokenRequest({ client_id: app.clientId, client_secret: app.secret, code, expiring: '1' });
    assert.equal(first.status, 200);
    assert.equal(first.json.expires_in, 3600);
    assert.match(first.json.refresh_token as string, /^shprt_/);
    assert.equal(typeof first.json.refresh_token_expires_in, 'number');
    const refresh = { client_id: app.clientId, client_secret: app.secret, grant_type: 'refresh_token', refresh_token: first.json.refresh_token as string };
    const second = await tokenRequest(refresh);
    assert.equal(second.status, 200);
    assert.notEqual(second.json.access_token, first.json.access_token);
    assert.notEqual(second.json.refresh_token, first.json.refresh_token);
    assert.equal((await tokenRequest(refresh)).status, 400, 'a used refresh token is refused');
  });
});

describe('token exchange', () => {
  const exchange = (subject_token: string) => tokenRequest({
    client_id: app.clientId, client_secret: app.secret, grant_type: TOKEN_EXCHANGE_GRANT,
    subject_token, subject_token_type: ID_TOKEN_TYPE, requested_token_type: OFFLINE_TOKEN_TYPE,
  });

  test('a good session token yields an offline token', async () => {
    const token = emu.sessionToken(app.clientId, SHOP);
    const [h, p, s] = token.split('.');
    assert.equal(s, crypto.createHmac('sha256', app.secret).update(`${h}.${p}`).digest('base64url'));
    const { status, json } = await exchange(token);
    assert.equal(status, 200);
    assert.match(json.access_token as string, /^shpat_/);
    assert.equal(json.scope, 'read_orders,write_orders');
    const probe = await gql(json.access_token as string, '{ shop { name } }');
    assert.equal(probe.status, 200);
  });

  for (const variant of ['expired', 'wrong-aud', 'alg-none', 'bad-signature', 'wrong-dest'] as const) {
    test(`session token variant "${variant}" is refused`, async () => {
      const { status, json } = await exchange(emu.sessionToken(app.clientId, SHOP, { variant }));
      assert.equal(status, 400);
      assert.equal(json.error, 'invalid_subject_token');
      assert.equal(typeof json.error_description, 'string');
    });
  }

  test('clock tolerance is 10 s', async () => {
    const token = emu.sessionToken(app.clientId, SHOP); // exp = now + 60
    emu.advanceTime(65_000);
    try {
      assert.equal((await exchange(token)).status, 200);
      emu.advanceTime(10_000);
      assert.equal((await exchange(token)).status, 400);
    } finally {
      emu.advanceTime(-75_000);
    }
  });
});

describe('Admin GraphQL', () => {
  let token: string;
  before(async () => { token = await offlineToken(); });

  test('no token, unknown token or revoked token → 401', async () => {
    assert.equal((await gql(null, '{ shop { name } }')).status, 401);
    assert.equal((await gql('shpat_nope', '{ shop { name } }')).status, 401);
    const doomed = await offlineToken();
    emu.revokeToken(doomed);
    assert.equal((await gql(doomed, '{ shop { name } }')).status, 401);
  });

  test('orderCapture records a partial and a final capture and refuses over-capture', async () => {
    const order = emu.createOrder(SHOP, { total: '100.00', currency: 'USD', gateway: 'Crypto (USDC, BTC…)' });
    const before = await gql(token, ORDER, { id: order.id });
    const o = before.json.data.order;
    assert.equal(o.displayFinancialStatus, 'PENDING');
    assert.deepEqual(o.paymentGatewayNames, ['Crypto (USDC, BTC…)']);
    assert.deepEqual(o.totalPriceSet.shopMoney, { amount: '100.0', currencyCode: 'USD' });
    assert.equal(o.transactions[0].manuallyCapturable, true);
    assert.equal(o.transactions[0].status, 'PENDING');

    const input = { id: order.id, parentTransactionId: order.transactionId, currency: 'USD' };
    const part = await gql(token, CAPTURE, { input: { ...input, amount: '40' } });
    assert.deepEqual(part.json.data.orderCapture.userErrors, []);
    assert.equal(part.json.data.orderCapture.transaction.kind, 'CAPTURE');
    assert.equal(part.json.data.orderCapture.transaction.status, 'SUCCESS');
    assert.ok(part.json.extensions.cost.throttleStatus.currentlyAvailable < 1000);

    const over = await gql(token, CAPTURE, { input: { ...input, amount: '60.01' } });
    assert.equal(over.json.data.orderCapture.transaction, null);
    assert.match(over.json.data.orderCapture.userErrors[0].message, /exceeds/);

    const rest = await gql(token, CAPTURE, { input: { ...input, amount: '60.00' } });
    assert.deepEqual(rest.json.data.orderCapture.userErrors, []);
    const stored = emu.order(order.id);
    assert.deepEqual(stored.transactions.filter((t) => t.kind === 'CAPTURE').map((t) => t.amount), ['40.0', '60.0']);
    const after = await gql(token, ORDER, { id: order.id });
    assert.equal(after.json.data.order.displayFinancialStatus, 'PAID');
    assert.equal(after.json.data.order.transactions[0].manuallyCapturable, false);
  });

  test('orderCancel records its arguments; capture on a cancelled order is refused', async () => {
    const order = emu.createOrder(SHOP, { total: '25.50', currency: 'EUR' });
    const cancel = await gql(token, CANCEL, { orderId: order.id });
    assert.deepEqual(cancel.json.data.orderCancel.orderCancelUserErrors, []);
    const stored = emu.order(order.id);
    assert.ok(stored.cancelledAt);
    assert.deepEqual(stored.cancel, { orderId: order.id, reason: 'DECLINED', restock: true, refund: false, notifyCustomer: false, staffNote: 'expired unpaid' });
    const capture = await gql(token, CAPTURE, { input: { id: order.id, parentTransactionId: order.transactionId, amount: '25.50', currency: 'EUR' } });
    assert.equal(capture.json.data.orderCapture.transaction, null);
    assert.match(capture.json.data.orderCapture.userErrors[0].message, /cancelled/);
    assert.equal(emu.order(order.id).transactions.length, 1);
  });

  test('webhookSubscriptionCreate, metafieldsSet and tagsAdd are recorded', async () => {
    const order = emu.createOrder(SHOP, { total: '5', currency: 'USD' });
    const sub = await gql(token, `mutation { webhookSubscriptionCreate(topic: ORDERS_CANCELLED, webhookSubscription: {callbackUrl: "https://cb.example.com/wh", format: JSON}) { webhookSubscription { id } userErrors { message } } }`);
    assert.deepEqual(sub.json.data.webhookSubscriptionCreate.userErrors, []);
    assert.ok(emu.webhookSubscriptions.some((w) => w.topic === 'ORDERS_CANCELLED' && w.callbackUrl === 'https://cb.example.com/wh'));
    const mf = await gql(token, 'mutation M($m: [MetafieldsSetInput!]!) { metafieldsSet(metafields: $m) { metafields { id } userErrors { message } } }', {
      m: [{ ownerId: order.id, namespace: 'coinbridge', key: 'invoice', type: 'single_line_text_field', value: 'inv_1' }],
    });
    assert.deepEqual(mf.json.data.metafieldsSet.userErrors, []);
    const tags = await gql(token, 'mutation T($id: ID!, $tags: [String!]!) { tagsAdd(id: $id, tags: $tags) { node { id } userErrors { message } } }', { id: order.id, tags: ['crypto-paid'] });
    assert.deepEqual(tags.json.data.tagsAdd.userErrors, []);
    const stored = emu.order(order.id);
    assert.deepEqual(stored.tags, ['crypto-paid']);
    assert.equal(stored.metafields[0]?.value, 'inv_1');
  });

  test('throttleNext answers THROTTLED, then the call goes through; failNext answers 5xx', async () => {
    emu.throttleNext(1);
    const t = await gql(token, '{ shop { name } }');
    assert.equal(t.status, 200);
    assert.equal(t.json.errors[0].extensions.code, 'THROTTLED');
    assert.equal(t.json.extensions.cost.actualQueryCost, null);
    assert.equal((await gql(token, '{ shop { name } }')).json.data.shop.myshopifyDomain, SHOP);
    emu.failNext(1, 502);
    assert.equal((await gql(token, '{ shop { name } }')).status, 502);
    assert.equal((await gql(token, '{ shop { name } }')).status, 200);
  });

  test('the leaky bucket empties and restores over time', async () => {
    const small = await startShopifyEmulator({ bucketSize: 20, restoreRate: 10, queryCost: 10 });
    try {
      small.addShop(SHOP);
      const a = small.addApp();
      const res = await fetch(`${small.origin}/admin/oauth/access_token`, {
        method: 'POST', headers: shopHeaders({ 'content-type': 'application/json' }),
        body: JSON.stringify({ client_id: a.clientId, client_secret: a.secret, grant_type: TOKEN_EXCHANGE_GRANT, subject_token: small.sessionToken(a.clientId, SHOP), subject_token_type: ID_TOKEN_TYPE, requested_token_type: OFFLINE_TOKEN_TYPE }),
      });
      const access = ((await res.json()) as { access_token: string }).access_token;
      const q = '{ shop { name } }';
      assert.ok((await gql(access, q, {}, small)).json.data);
      assert.ok((await gql(access, q, {}, small)).json.data);
      const third = await gql(access, q, {}, small);
      assert.equal(third.json.errors[0].extensions.code, 'THROTTLED');
      assert.ok(third.json.extensions.cost.throttleStatus.currentlyAvailable < 10);
      small.advanceTime(1_100);
      assert.ok((await gql(access, q, {}, small)).json.data, 'recovered after the bucket restored');
    } finally {
      await small.close();
    }
  });
});

describe('webhook delivery', () => {
  test('signed with base64 HMAC of the raw body and retried after a 500 with the same ids', async () => {
    const received: Array<{ headers: http.IncomingHttpHeaders; body: string }> = [];
    const receiver = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        received.push({ headers: req.headers, body: Buffer.concat(chunks).toString('utf8') });
        res.writeHead(received.length === 1 ? 500 : 200).end();
      });
    });
    await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', () => r()));
    try {
      const url = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/webhooks/shopify`;
      const result = await emu.deliverWebhook(SHOP, 'orders/cancelled', { id: 123, note: 'é' }, { url, secret: app.secret });
      assert.equal(result.delivered, true);
      assert.equal(result.attempts, 2);
      assert.equal(received.length, 2);
      for (const r of received) {
        assert.equal(r.headers['x-shopify-hmac-sha256'], crypto.createHmac('sha256', app.secret).update(r.body, 'utf8').digest('base64'));
        assert.equal(r.headers['x-shopify-topic'], 'orders/cancelled');
        assert.equal(r.headers['x-shopify-shop-domain'], SHOP);
        assert.ok(r.headers['x-shopify-api-version']);
        assert.ok(r.headers['x-shopify-triggered-at']);
        assert.equal(r.headers['x-shopify-webhook-id'], result.webhookId);
        assert.equal(r.headers['x-shopify-event-id'], result.eventId);
      }
      assert.equal(received[0]!.body, received[1]!.body);
      assert.deepEqual(emu.deliveries.filter((d) => d.webhookId === result.webhookId).map((d) => d.httpStatus), [500, 200]);
    } finally {
      receiver.closeAllConnections();
      await new Promise<void>((r) => receiver.close(() => r()));
    }
  });

  test('gives up after 8 retries', async () => {
    const receiver = http.createServer((_req, res) => { res.writeHead(503).end(); });
    await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', () => r()));
    try {
      const url = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/`;
      const result = await emu.deliverWebhook(SHOP, 'app/uninstalled', {}, { url, secret: app.secret, webhookId: 'wh-1', eventId: 'ev-1' });
      assert.deepEqual(result, { delivered: false, attempts: 9, webhookId: 'wh-1', eventId: 'ev-1' });
    } finally {
      receiver.closeAllConnections();
      await new Promise<void>((r) => receiver.close(() => r()));
    }
  });
});
