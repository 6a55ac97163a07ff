/**
 * Proves the WooCommerce emulator against the official client, `@woocommerce/woocommerce-rest-api`
 * (OAuth 1.0a, HMAC-SHA256, parameters in the query string, since the emulator is plain http).
 */
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import WooCommerceRestApiPkg from '@woocommerce/woocommerce-rest-api';
import { startWooCommerceEmulator } from './server.ts';
import type { ApiKey, WooCommerceEmulator, WooCommerceEmulatorOptions, WooOrder } from './server.ts';

// CommonJS with `exports.default`: under Node's ESM loader the class sits one level down.
const WooCommerceRestApi = WooCommerceRestApiPkg.default;
type Api = InstanceType<typeof WooCommerceRestApi>;

/** The library's own signing steps (private in its typings), to build requests it would send and then spoil them. */
interface OAuthLike {
  authorize(request: { url: string; method: string }): Record<string, string>;
  toHeader(data: Record<string, string>): { Authorization: string };
}
interface LibInternals {
  _getUrl(endpoint: string, params: Record<string, unknown>): string;
  _getOAuth(): OAuthLike;
}

// ---- a receiver standing in for Coinbridge: key callback and webhook deliveries ----

interface Received { method: string; path: string; headers: http.IncomingHttpHeaders; body: string }
const received: Received[] = [];
const statusFor = new Map<string, number>();
let receiverOrigin = '';
const receiver = http.createServer(async (req, res) => {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  received.push({ method: req.method ?? '', path: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks).toString('utf8') });
  res.writeHead(statusFor.get(req.url ?? '') ?? 200, { 'content-type': 'text/plain' });
  res.end('ok');
});
const receivedAt = (path: string) => received.filter((r) => r.path === path);
/** Webhook deliveries only (the activation ping goes to the same URL, without the X-WC-Webhook-* headers). */
const deliveredAt = (path: string) => receivedAt(path).filter((r) => r.headers['x-wc-webhook-topic'] !== undefined);

const emulators: WooCommerceEmulator[] = [];
async function fresh(opts: WooCommerceEmulatorOptions = { allowInsecureCallback: true }): Promise<WooCommerceEmulator> {
  const e = await startWooCommerceEmulator(opts);
  emulators.push(e);
  return e;
}

before(async () => {
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  receiverOrigin = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}`;
});
after(async () => {
  await Promise.all(emulators.map((e) => e.close()));
  receiver.closeAllConnections();
  await new Promise<void>((resolve) => receiver.close(() => resolve()));
});

function client(e: WooCommerceEmulator, key: Pick<ApiKey, 'consumerKey' | 'consumerSecret'>): Api {
  return new WooCommerceRestApi({ url: e.origin, consumerKey: key.consumerKey, consumerSecret: key.consumerSecret, version: 'wc/v3', queryStringAuth: false });
}

/** Awaits a call that must fail; returns the error response. */
async function refused(p: Promise<unknown>): Promise<{ status: number; data: { code: string; message: string; data: { status: number } }; headers: Record<string, string> }> {
  try {
    await p;
  } catch (err) {
    const res = (err as { response?: { status: number; data: never; headers: Record<string, string> } }).response;
    assert.ok(res, `expected an HTTP answer, got ${(err as Error).message}`);
    return res;
  }
  assert.fail('the call was expected to fail');
}

/** Exactly the URL the library would request (params in the query, signed), for spoiling. */
function signedUrl(api: Api, method: string, endpoint: string, params: Record<string, unknown> = {}): URL {
  const lib = api as unknown as LibInternals;
  const url = lib._getUrl(endpoint, params);
  const oauth = lib._getOAuth().authorize({ url, method });
  return new URL(`${url}${url.includes('?') ? '&' : '?'}${new URLSearchParams(oauth)}`);
}

async function send(url: URL | string, init: RequestInit = {}): Promise<{ status: number; json: any; headers: Headers }> {
  const res = await fetch(url, init);
  const text = await res.text();
  let json: unknown = text;
  try { json = JSON.parse(text); } catch { /* not JSON */ }
  return { status: res.status, json, headers: res.headers };
}

function authorizeUrl(e: WooCommerceEmulator, p: Partial<Record<'app_name' | 'scope' | 'user_id' | 'return_url' | 'callback_url', string>> = {}): string {
  const q = new URLSearchParams({
    app_name: 'Coinbridge', scope: 'read_write', user_id: 'store-42',
    return_url: 'https://coinbridge.example/woocommerce/return', callback_url: `${receiverOrigin}/keys`, ...p,
  });
  for (const [k, v] of Object.entries(p)) if (v === '') q.delete(k);
  return `${e.origin}/wc-auth/v1/authorize?${q}`;
}

const WC_DATE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}$/;

describe('key generation (/wc-auth/v1)', () => {
  let emu: WooCommerceEmulator;
  before(async () => { emu = await fresh(); });

  test('authorize refuses what WooCommerce refuses, with its messages', async () => {
    for (const p of ['app_name', 'user_id', 'return_url', 'callback_url', 'scope'] as const) {
      const res = await send(authorizeUrl(emu, { [p]: '' }));
      assert.equal(res.status, 401, p); // wp_die( …, array( 'response' => 401 ) )
      assert.match(res.json, new RegExp(`Error: Missing parameter ${p}\\.`));
    }
    assert.match((await send(authorizeUrl(emu, { scope: 'admin' }))).json, /Error: Invalid scope admin\./);
    const strict = await fresh({});
    const insecure = await send(authorizeUrl(strict, { callback_url: 'http://coinbridge.example/keys' }));
    assert.equal(insecure.status, 401);
    assert.match(insecure.json, /The callback_url needs to be over SSL/);
    // A URL without a scheme is taken as https://, so it passes the SSL check.
    assert.equal((await send(authorizeUrl(strict, { callback_url: 'coinbridge.example/keys' }))).status, 200);

    const page = await send(authorizeUrl(emu));
    assert.equal(page.status, 200);
    assert.match(page.json, /Coinbridge would like to connect to your store/);
    assert.equal(emu.authorizations.at(-1)?.state, 'pending');
  });

  test('approve POSTs the key pair to callback_url, then sends the browser to return_url?success=1', async () => {
    const before = receivedAt('/keys').length;
    const result = await emu.approve(authorizeUrl(emu));
    assert.equal(result.callbackStatus, 200);
    assert.equal(result.redirect, 'https://coinbridge.example/woocommerce/return?success=1&user_id=store-42');
    const posts = receivedAt('/keys');
    assert.equal(posts.length, before + 1);
    const post = posts.at(-1)!;
    assert.equal(post.method, 'POST');
    assert.match(String(post.headers['content-type']), /^application\/json/);
    const body = JSON.parse(post.body) as Record<string, unknown>;
    assert.deepEqual(Object.keys(body), ['key_id', 'user_id', 'consumer_key', 'consumer_secret', 'key_permissions']);
    assert.equal(body.user_id, 'store-42');
    assert.equal(body.key_permissions, 'read_write');
    assert.match(String(body.consumer_key), /^ck_[0-9a-f]{40}$/);
    assert.match(String(body.consumer_secret), /^cs_[0-9a-f]{40}$/);
    assert.equal(body.key_id, result.key?.keyId);

    const api = client(emu, { consumerKey: String(body.consumer_key), consumerSecret: String(body.consumer_secret) });
    const status = await api.get('system_status');
    assert.equal(status.status, 200);
    assert.equal(status.data.environment.home_url, emu.origin);
  });

  test('a callback that answers anything but 200 gets its keys deleted and an error page; deny sends success=0 and no keys', async () => {
    statusFor.set('/keys-broken', 201);
    const failed = await emu.approve(authorizeUrl(emu, { callback_url: `${receiverOrigin}/keys-broken` }));
    assert.equal(failed.callbackStatus, 201);
    assert.equal(failed.redirect, null);
    assert.match(failed.error ?? '', /unable to send the consumer data/);
    assert.equal(failed.key?.revoked, true);
    assert.equal(failed.key?.revokedBecause, 'callback_failed');
    const err = await refused(client(emu, failed.key!).get('system_status'));
    assert.equal(err.status, 401);
    assert.equal(err.data.code, 'woocommerce_rest_authentication_error');
    assert.equal(err.data.message, 'Consumer key is invalid.');

    const posts = received.length;
    const denied = await emu.approve(authorizeUrl(emu, { return_url: 'https://coinbridge.example/r?store=9' }), { deny: true });
    assert.deepEqual(denied, { callbackStatus: null, redirect: 'https://coinbridge.example/r?store=9&success=0&user_id=store-42', error: null, key: null });
    assert.equal(received.length, posts);
  });

  test("the page's Approve link does the same over HTTP", async () => {
    const page = (await send(authorizeUrl(emu))).json as string;
    const href = /href="([^"]+)">Approve/.exec(page)?.[1]?.replace(/&#38;/g, '&');
    assert.ok(href);
    const res = await fetch(href, { redirect: 'manual' });
    assert.equal(res.status, 302);
    assert.equal(res.headers.get('location'), 'https://coinbridge.example/woocommerce/return?success=1&user_id=store-42');
    assert.equal((await fetch(href, { redirect: 'manual' })).status, 401); // the nonce is spent
  });
});

describe('REST authentication (OAuth 1.0a over http)', () => {
  let emu: WooCommerceEmulator;
  let key: ApiKey;
  let api: Api;
  before(async () => {
    emu = await fresh();
    key = emu.createKey();
    api = client(emu, key);
    emu.createOrder({ total: '40' });
  });

  test('the library signs with HMAC-SHA256 in the query string, query parameters included, and is accepted', async () => {
    const res = await api.get('orders', { status: 'pending,on-hold', per_page: 5, search: 'a b+c/é' });
    assert.equal(res.status, 200);
    assert.equal(res.data.length, 1);
    const logged = emu.requests.at(-1)!;
    assert.match(logged.path, /oauth_signature_method=HMAC-SHA256/);
    assert.equal(logged.headers.authorization, undefined);
    const list = await api.get('orders', { status: ['pending', 'processing'] }); // status[0]=…&status[1]=…
    assert.equal(list.data.length, 1);
  });

  test('OAuth parameters may also come in an Authorization: OAuth header, and HMAC-SHA1 is accepted', async () => {
    const lib = api as unknown as LibInternals;
    const url = lib._getUrl('orders', { per_page: 3 });
    const header = lib._getOAuth().toHeader(lib._getOAuth().authorize({ url, method: 'GET' }));
    assert.equal((await send(url, { headers: { authorization: header.Authorization } })).status, 200);

    const OAuth = lib._getOAuth().constructor as new (o: object) => OAuthLike;
    const sha1 = new OAuth({
      consumer: { key: key.consumerKey, secret: key.consumerSecret }, signature_method: 'HMAC-SHA1',
      hash_function: (base: string, k: string) => crypto.createHmac('sha1', k).update(base).digest('base64'),
    });
    const signed = sha1.authorize({ url, method: 'GET' });
    assert.equal((await send(`${url}&${new URLSearchParams(signed)}`)).status, 200);
  });

  test('a spoiled signature or parameter, a replayed nonce, a missing parameter and an unknown key are 401s with WooCommerce codes', async () => {
    const bad = signedUrl(api, 'GET', 'orders', { per_page: 5 });
    const sig = bad.searchParams.get('oauth_signature')!;
    bad.searchParams.set('oauth_signature', `${sig.startsWith('A') ? 'B' : 'A'}${sig.slice(1)}`);
    let res = await send(bad);
    assert.equal(res.status, 401);
    assert.deepEqual(res.json, { code: 'woocommerce_rest_authentication_error', message: 'Invalid signature - provided signature does not match.', data: { status: 401 } });

    const tampered = signedUrl(api, 'GET', 'orders', { per_page: 5 });
    tampered.searchParams.set('per_page', '6');
    assert.equal((await send(tampered)).json.message, 'Invalid signature - provided signature does not match.');

    const replay = signedUrl(api, 'GET', 'orders');
    assert.equal((await send(replay)).status, 200);
    res = await send(replay);
    assert.equal(res.status, 401);
    assert.equal(res.json.message, 'Invalid nonce - nonce has already been used.');

    const missing = signedUrl(api, 'GET', 'orders');
    missing.searchParams.delete('oauth_nonce');
    res = await send(missing);
    assert.equal(res.status, 401);
    assert.deepEqual(res.json, { code: 'woocommerce_rest_authentication_missing_parameter', message: 'Missing OAuth parameter oauth_nonce', data: { status: 401 } });

    const method = signedUrl(api, 'GET', 'orders');
    method.searchParams.set('oauth_signature_method', 'PLAINTEXT');
    assert.equal((await send(method)).json.message, 'Invalid signature - signature method is invalid.');

    const stranger = await refused(client(emu, { consumerKey: `ck_${'0'.repeat(40)}`, consumerSecret: `cs_${'0'.repeat(40)}` }).get('orders'));
    assert.equal(stranger.data.message, 'Consumer key is invalid.');
  });

  test('a timestamp more than 15 minutes off is refused', async () => {
    emu.advanceTime(16 * 60_000);
    try {
      const err = await refused(api.get('orders'));
      assert.equal(err.status, 401);
      assert.equal(err.data.code, 'woocommerce_rest_authentication_error');
      assert.equal(err.data.message, 'Invalid timestamp.');
    } finally {
      emu.advanceTime(-16 * 60_000);
    }
    assert.equal((await api.get('orders')).status, 200);
  });

  test('over http, basic auth and consumer_key query parameters do not authenticate', async () => {
    const basic = Buffer.from(`${key.consumerKey}:${key.consumerSecret}`).toString('base64');
    let res = await send(`${emu.origin}/wp-json/wc/v3/orders`, { headers: { authorization: `Basic ${basic}` } });
    assert.equal(res.status, 401);
    assert.deepEqual(res.json, { code: 'woocommerce_rest_cannot_view', message: 'Sorry, you cannot list resources.', data: { status: 401 } });
    res = await send(`${emu.origin}/wp-json/wc/v3/orders?consumer_key=${key.consumerKey}&consumer_secret=${key.consumerSecret}`);
    assert.equal(res.json.code, 'woocommerce_rest_cannot_view');
    res = await send(`${emu.origin}/wp-json/wc/v3/orders/1`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: '{"status":"completed"}' });
    assert.equal(res.json.code, 'woocommerce_rest_cannot_edit');
  });

  test('a read key can read but not write; a revoked key is refused', async () => {
    const readKey = emu.createKey({ permissions: 'read' });
    const reader = client(emu, readKey);
    const [order] = (await reader.get('orders')).data as WooOrder[];
    const err = await refused(reader.put(`orders/${order!.id}`, { status: 'completed' }));
    assert.equal(err.status, 401);
    assert.deepEqual(err.data, { code: 'woocommerce_rest_authentication_error', message: 'The API key provided does not have write permissions.', data: { status: 401 } });
    assert.equal(emu.order(order!.id).status, 'pending');

    emu.revokeKey(readKey.consumerKey);
    assert.equal((await refused(reader.get('orders'))).data.message, 'Consumer key is invalid.');
  });

  test('failNext answers in front of WordPress (with Retry-After) and delayNext holds the call', async () => {
    emu.failNext(2, 503, { retryAfterS: 7 });
    const first = await refused(api.get('orders'));
    assert.equal(first.status, 503);
    assert.equal(first.headers['retry-after'], '7');
    assert.equal((await refused(api.get('orders'))).status, 503);
    assert.equal((await api.get('orders')).status, 200);

    emu.failNext(1, 429);
    const throttled = await refused(api.get('orders'));
    assert.equal(throttled.status, 429);
    assert.equal(throttled.headers['retry-after'], undefined);

    emu.delayNext(1, 150);
    const t0 = Date.now();
    await api.get('orders');
    assert.ok(Date.now() - t0 >= 140);
  });
});

describe('orders', () => {
  let emu: WooCommerceEmulator;
  let api: Api;
  before(async () => {
    emu = await fresh();
    api = client(emu, emu.createKey());
  });

  test('an order looks like REST v3 shows it', async () => {
    const created = emu.createOrder({ total: '40', currency: 'EUR', email: 'pat@example.com' });
    const { data } = await api.get(`orders/${created.id}`);
    assert.equal(data.total, '40.00');
    assert.equal(data.status, 'pending');
    assert.equal(data.number, String(created.id));
    assert.match(data.order_key, /^wc_order_[A-Za-z0-9]{13}$/);
    assert.equal(data.payment_method, 'coinbridge');
    assert.equal(data.billing.email, 'pat@example.com');
    assert.match(data.date_created, WC_DATE);
    assert.equal(data.date_paid, null);
    assert.equal(data.needs_payment, true);
    assert.equal((await refused(api.get('orders/99999'))).data.code, 'woocommerce_rest_shop_order_invalid_id');
    // WordPress encodes like PHP's json_encode: escaped slashes and \u escapes.
    const raw = emu.requests.length;
    const res = await fetch(signedUrl(api, 'GET', `orders/${created.id}`));
    const text = await res.text();
    assert.ok(emu.requests.length > raw);
    assert.match(text, /"payment_url":"http:\\\/\\\/127\.0\.0\.1/);
    assert.match(text, /"currency_symbol":"\\u20ac"/);
  });

  test('set_paid moves a pending order to processing with transaction_id and date_paid', async () => {
    const o = emu.createOrder({ total: '25.5' });
    const { data } = await api.put(`orders/${o.id}`, { set_paid: true, transaction_id: 'pay_123' });
    assert.equal(data.status, 'processing');
    assert.equal(data.transaction_id, 'pay_123');
    assert.match(data.date_paid, WC_DATE);
    const view = emu.order(o.id);
    assert.equal(view.paymentCompletions, 1);
    assert.equal(view.notes[0]?.note, 'Order status changed from Pending payment to Processing.');
  });

  test('set_paid changes nothing on a completed or on-hold order (only pending/failed need payment), but transaction_id is still written', async () => {
    const done = emu.createOrder({ total: '10', status: 'completed' });
    const before = emu.order(done.id).date_paid;
    const { data } = await api.put(`orders/${done.id}`, { set_paid: true, transaction_id: 'late_tx' });
    assert.equal(data.status, 'completed');
    assert.equal(data.date_paid, before);
    assert.equal(data.transaction_id, 'late_tx');
    assert.equal(emu.order(done.id).paymentCompletions, 0);

    const held = emu.createOrder({ total: '10', status: 'on-hold' });
    assert.equal((await api.put(`orders/${held.id}`, { set_paid: true })).data.status, 'on-hold');
  });

  test('a plain status write has no guard: completed → pending is accepted', async () => {
    const o = emu.createOrder({ total: '12', status: 'completed' });
    const { data } = await api.put(`orders/${o.id}`, { status: 'pending' });
    assert.equal(data.status, 'pending');
    const bad = await refused(api.put(`orders/${o.id}`, { status: 'paid' }));
    assert.equal(bad.status, 400);
    assert.equal(bad.data.code, 'rest_invalid_param');
  });

  test('notes: POST creates one, GET lists them newest first', async () => {
    const o = emu.createOrder({ total: '5' });
    const created = await api.post(`orders/${o.id}/notes`, { note: 'Coinbridge: payment detected', customer_note: false });
    assert.equal(created.status, 201);
    assert.equal(created.data.note, 'Coinbridge: payment detected');
    assert.equal(created.data.customer_note, false);
    assert.equal(typeof created.data.id, 'number');
    assert.match(created.data.date_created, WC_DATE);
    await api.post(`orders/${o.id}/notes`, { note: 'Thanks!', customer_note: true });
    const list = (await api.get(`orders/${o.id}/notes`)).data as Array<{ note: string }>;
    assert.deepEqual(list.map((n) => n.note), ['Thanks!', 'Coinbridge: payment detected']);
    assert.equal((await refused(api.post(`orders/${o.id}/notes`, {}))).data.code, 'rest_missing_callback_param');
  });

  test('list: status filter, modified_after (exclusive, whole seconds), pagination headers, per_page ≤ 100', async () => {
    const e = await fresh();
    const a = client(e, e.createKey());
    const first = e.createOrder({ total: '1' });
    e.advanceTime(5_000);
    e.createOrder({ total: '2', status: 'on-hold' });
    e.createOrder({ total: '3', status: 'completed' });

    const pendingOrHeld = await a.get('orders', { status: 'pending,on-hold' });
    assert.deepEqual((pendingOrHeld.data as WooOrder[]).map((o) => o.total).sort(), ['1.00', '2.00']);

    const since = await a.get('orders', { modified_after: first.date_modified });
    assert.deepEqual((since.data as WooOrder[]).map((o) => o.total).sort(), ['2.00', '3.00']);

    const page1 = await a.get('orders', { per_page: 2, page: 1 });
    assert.equal(page1.headers['x-wp-total'], '3');
    assert.equal(page1.headers['x-wp-totalpages'], '2');
    assert.equal(page1.data.length, 2);
    const page2 = await a.get('orders', { per_page: 2, page: 2 });
    assert.equal(page2.data.length, 1);
    assert.equal(page1.data.concat(page2.data).length, new Set(page1.data.concat(page2.data).map((o: WooOrder) => o.id)).size);

    const tooMany = await refused(a.get('orders', { per_page: 101 }));
    assert.equal(tooMany.status, 400);
    assert.equal(tooMany.data.code, 'rest_invalid_param');
    assert.equal((await refused(a.get('orders', { modified_after: 'yesterday' }))).data.code, 'rest_invalid_param');
  });
});

describe('webhooks', () => {
  let emu: WooCommerceEmulator;
  let api: Api;
  before(async () => {
    emu = await fresh();
    api = client(emu, emu.createKey());
  });

  async function hook(path: string, topic: string, secret = 'whsec_test'): Promise<number> {
    const res = await api.post('webhooks', { name: `Coinbridge ${topic}`, topic, delivery_url: `${receiverOrigin}${path}`, secret });
    assert.equal(res.status, 201);
    return res.data.id as number;
  }

  test('creating a webhook sends the unsigned activation ping; a failed ping is retried on the next save', async () => {
    const res = await api.post('webhooks', { name: 'Coinbridge', topic: 'order.updated', delivery_url: `${receiverOrigin}/ping-ok`, secret: 's3cret', status: 'paused' });
    assert.equal(res.status, 201);
    assert.equal(res.data.status, 'active'); // the REST controller creates webhooks active whatever `status` says
    assert.equal(res.data.secret, undefined); // never echoed back
    const [ping] = receivedAt('/ping-ok');
    assert.ok(ping, 'the ping arrives before the 201');
    assert.equal(ping.body, `webhook_id=${res.data.id}`);
    assert.equal(ping.headers['content-type'], 'application/x-www-form-urlencoded');
    assert.equal(ping.headers['x-wc-webhook-signature'], undefined);
    assert.match(String(ping.headers['user-agent']), /^WooCommerce\/[\d.]+ Hookshot \(WordPress\/[\d.]+\)$/);
    assert.equal(emu.pings.at(-1)?.ok, true);
    assert.equal(emu.webhooks.find((w) => w.id === res.data.id)?.pendingDelivery, false);

    statusFor.set('/ping-202', 202);
    const second = await api.post('webhooks', { topic: 'order.updated', delivery_url: `${receiverOrigin}/ping-202` });
    assert.equal(second.status, 201);
    assert.equal(emu.pings.at(-1)?.ok, false); // only an exact 200 counts
    assert.equal(emu.pings.at(-1)?.error, 'Error: Delivery URL returned response code: 202');
    statusFor.delete('/ping-202');
    await api.put(`webhooks/${second.data.id}`, { name: 'renamed' });
    assert.equal(receivedAt('/ping-202').length, 2);
    assert.equal(emu.webhooks.find((w) => w.id === second.data.id)?.pendingDelivery, false);

    for (const id of [res.data.id, second.data.id]) emu.deleteWebhook(id);
  });

  test('order.created is delivered after the call returns, signed over the exact bytes, with the order as it is at delivery time', async () => {
    const id = await hook('/created', 'order.created', 'topsecret/+=');
    const order = emu.createOrder({ total: '40', currency: 'EUR' });
    assert.equal(deliveredAt('/created').length, 0, 'nothing is sent synchronously');
    emu.updateOrder(order.id, { status: 'on-hold' }); // before the queue runs
    await emu.settle();
    const got = deliveredAt('/created');
    assert.equal(got.length, 1);
    const d = got[0]!;
    assert.equal(d.headers['x-wc-webhook-signature'], crypto.createHmac('sha256', 'topsecret/+=').update(d.body).digest('base64'));
    assert.equal(d.headers['x-wc-webhook-source'], `${emu.origin}/`);
    assert.equal(d.headers['x-wc-webhook-topic'], 'order.created');
    assert.equal(d.headers['x-wc-webhook-resource'], 'order');
    assert.equal(d.headers['x-wc-webhook-event'], 'created');
    assert.equal(d.headers['x-wc-webhook-id'], String(id));
    assert.match(String(d.headers['x-wc-webhook-delivery-id']), /^[0-9a-f]{32}$/);
    assert.equal(d.headers['content-type'], 'application/json');
    assert.match(d.body, /"currency_symbol":"\\u20ac"/); // PHP escapes: re-serialising would break the signature
    const payload = JSON.parse(d.body) as WooOrder;
    assert.equal(payload.id, order.id);
    assert.equal(payload.status, 'on-hold');
    assert.equal(emu.deliveries.at(-1)?.success, true);
    emu.deleteWebhook(id);
  });

  test('order.updated fires on a REST write but not on a note; updates queued together go out once', async () => {
    const id = await hook('/updated', 'order.updated');
    const o = emu.createOrder({ total: '9' });
    await emu.settle();
    await api.post(`orders/${o.id}/notes`, { note: 'hello' });
    await emu.settle();
    assert.equal(deliveredAt('/updated').length, 0);
    await api.put(`orders/${o.id}`, { set_paid: true, transaction_id: 'tx_9' });
    await emu.settle();
    assert.equal(deliveredAt('/updated').length, 1);
    assert.equal((JSON.parse(deliveredAt('/updated')[0]!.body) as WooOrder).status, 'processing');
    emu.updateOrder(o.id, { status: 'completed' });
    emu.updateOrder(o.id, { customerNote: 'x' });
    await emu.settle();
    assert.equal(deliveredAt('/updated').length, 2);
    emu.deleteWebhook(id);
  });

  test('7 consecutive failures disable a webhook; 6 failures then a success reset the count', async () => {
    const id = await hook('/flaky', 'order.updated');
    const w = emu.webhooks.find((x) => x.id === id)!;
    const o = emu.createOrder({ total: '3' });
    const bump = async () => { emu.updateOrder(o.id, { customerNote: String(Math.random()) }); await emu.settle(); };

    statusFor.set('/flaky', 500);
    for (let i = 1; i <= 6; i++) {
      await bump();
      assert.equal(w.failureCount, i);
      assert.equal(w.status, 'active');
    }
    statusFor.set('/flaky', 302); // 200–302 is success
    await bump();
    assert.equal(w.failureCount, 0);

    statusFor.set('/flaky', 404);
    for (let i = 1; i <= 6; i++) await bump();
    assert.equal(w.status, 'active');
    assert.equal(w.failureCount, 6);
    await bump(); // the 7th: failure_count > 5 is checked before incrementing
    assert.equal(w.status, 'disabled');
    const sent = deliveredAt('/flaky').length;
    await bump();
    assert.equal(deliveredAt('/flaky').length, sent, 'a disabled webhook gets nothing');
    assert.equal((await api.get(`webhooks/${id}`)).data.status, 'disabled');
    statusFor.delete('/flaky');
  });

  test('list, read and delete; DELETE needs force=true', async () => {
    const id = await hook('/misc', 'order.created');
    const list = await api.get('webhooks');
    assert.ok((list.data as Array<{ id: number }>).some((x) => x.id === id));
    assert.ok(Number(list.headers['x-wp-total']) >= 1);
    const one = await api.get(`webhooks/${id}`);
    assert.equal(one.data.topic, 'order.created');
    assert.equal(one.data.delivery_url, `${receiverOrigin}/misc`);
    const trash = await refused(api.delete(`webhooks/${id}`));
    assert.equal(trash.status, 501);
    assert.equal(trash.data.code, 'woocommerce_rest_trash_not_supported');
    assert.equal((await api.delete(`webhooks/${id}`, { force: true })).status, 200);
    assert.equal((await refused(api.get(`webhooks/${id}`))).data.code, 'woocommerce_rest_shop_webhook_invalid_id');
    const badTopic = await refused(api.post('webhooks', { topic: 'order.paid', delivery_url: `${receiverOrigin}/x` }));
    assert.equal(badTopic.data.code, 'woocommerce_rest_shop_webhook_invalid_topic');
  });
});
