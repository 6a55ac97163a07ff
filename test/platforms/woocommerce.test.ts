/**
 * WooCommerce end to end against the emulator: connect by wc-auth and the plugin's key claim,
 * checkout through the real PHP plugin code, payment, write-back; connect refusals; webhooks
 * and the reconciler that heals a disabled webhook.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import crypto from 'node:crypto';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { enqueueJob } from '../../src/jobs/queue.ts';
import { api, eventsOf, sandboxAction, sandboxToken, startTestApp, waitFor, waitForStatus, type TestApp } from '../support/harness.ts';
import { beginConnect, checkout, claim, connectStore, startWithWoo, type WithWoo } from '../support/woocommerce.ts';

const run = promisify(execFile);
const PROCESS_PAYMENT = path.resolve(import.meta.dirname, '../../plugins/woocommerce/tests/bin/process-payment.php');

describe('WooCommerce: connect, checkout through the plugin, order driven over REST', () => {
  let w: WithWoo;
  let storeId: string;
  let apiKey: string;

  before(async () => {
    w = await startWithWoo();
    ({ storeId, apiKey } = await connectStore(w));
  });
  after(async () => { await w?.close(); });

  const paymentOf = async (orderId: number) => (await w.t.app.db.pool.query('SELECT id, status FROM payments WHERE store_id = $1 AND order_id = $2', [storeId, String(orderId)])).rows[0];

  it('connect stored the keys sealed, created both webhooks with our secret, and the key can be claimed only once', async () => {
    const { rows } = await w.t.app.db.pool.query('SELECT consumer_key, status, webhook_health, pending_api_key FROM woocommerce_stores WHERE store_id = $1', [storeId]);
    assert.equal(rows[0].status, 'connected');
    assert.doesNotMatch(rows[0].consumer_key, /^ck_/, 'sealed, not in clear');
    assert.equal(rows[0].pending_api_key, null, 'the API key is gone once claimed');
    const ours = w.emu.webhooks.filter((h) => h.deliveryUrl === `${w.t.app.config.publicUrl}/woocommerce/webhooks/${storeId}`);
    assert.deepEqual(ours.map((h) => h.topic).sort(), ['order.created', 'order.updated']);
    assert.ok(ours.every((h) => h.status === 'active'));
    assert.ok(w.emu.pings.some((p) => p.ok), 'the activation ping got exactly 200');
    assert.match(apiKey, /^cb_live_/);
  });

  it('full journey: the plugin\'s process_payment (real PHP) → pay in the sandbox → order processing with transaction_id and a note', async () => {
    const order = w.emu.createOrder({ total: '49.90', email: 'shopper@example.com' });
    const { stdout } = await run('php', [PROCESS_PAYMENT, w.t.url, apiKey, JSON.stringify({
      id: order.id, order_key: order.order_key, total: order.total, currency: order.currency, email: 'shopper@example.com', number: order.number, store_url: w.emu.origin,
    })]);
    const out = JSON.parse(stdout);
    assert.equal(out.result, 'success', stdout);
    assert.match(out.redirect, /\/pay\/[A-Za-z0-9_-]+$/);
    assert.equal(out.request.headers['Idempotency-Key'], order.order_key);
    const payment = await paymentOf(order.id);
    assert.ok(payment, 'the plugin made the payment');
    await sandboxAction(w.t, await sandboxToken(w.t, payment.id), 'pay');
    await waitForStatus(w.t, payment.id, 'paid');
    const paid = await waitFor('the order to be processing', async () => {
      const o = w.emu.order(order.id);
      return o.status === 'processing' && o.notes.some((n) => n.note.includes('Crypto payment received')) ? o : undefined;
    });
    const { rows } = await w.t.app.db.pool.query('SELECT tx_hash FROM payments WHERE id = $1', [payment.id]);
    assert.equal(paid.transaction_id, rows[0].tx_hash);
    assert.ok(paid.date_paid);
    assert.ok(paid.notes.some((n) => n.note.includes(rows[0].tx_hash)), 'the note names the transaction');
  });

  it('a completed order never moves back', async () => {
    const { order, paymentId } = await checkout(w, apiKey, '15.00');
    w.emu.updateOrder(order.id, { status: 'completed' });
    await w.emu.settle();
    await sandboxAction(w.t, await sandboxToken(w.t, paymentId), 'expire');
    await waitForStatus(w.t, paymentId, 'expired');
    await waitFor('the write-back', async () => (await eventsOf(w.t, paymentId)).some((e) => e.type === 'store.write' && e.data.outcome !== 'error'));
    assert.equal(w.emu.order(order.id).status, 'completed');
    const write = (await eventsOf(w.t, paymentId)).find((e) => e.type === 'store.write')!;
    assert.match(write.data.reason, /not moved back/);
  });

  it('webhooks: bad signature, no signature or unknown store → 401; the activation ping → exactly 200', async () => {
    const url = `/woocommerce/webhooks/${storeId}`;
    const body = JSON.stringify({ id: 1 });
    const bad = await api(w.t, 'POST', url, { raw: body, headers: { 'content-type': 'application/json', 'x-wc-webhook-signature': crypto.createHmac('sha256', 'wrong').update(body).digest('base64') } });
    assert.equal(bad.status, 401);
    const unsigned = await api(w.t, 'POST', url, { raw: body, headers: { 'content-type': 'application/json' } });
    assert.equal(unsigned.status, 401);
    const unknownStore = await api(w.t, 'POST', `/woocommerce/webhooks/${crypto.randomUUID()}`, { raw: body, headers: { 'content-type': 'application/json', 'x-wc-webhook-signature': 'AAAA' } });
    assert.equal(unknownStore.status, 401);
    const ping = await fetch(`${w.t.url}${url}`, { method: 'POST', body: 'webhook_id=12', headers: { 'content-type': 'application/x-www-form-urlencoded' } });
    assert.equal(ping.status, 200);
  });

  it('a disabled webhook: the reconciler re-activates it, flags the store, and picks up the order it missed', async () => {
    const { order, paymentId } = await checkout(w, apiKey, '22.00');
    await w.emu.settle();
    const updated = w.emu.webhooks.find((h) => h.topic === 'order.updated' && h.deliveryUrl.endsWith(storeId))!;
    w.emu.disableWebhook(updated.id);
    w.emu.updateOrder(order.id, { status: 'cancelled' }); // the merchant cancels: nobody tells Coinbridge
    await w.emu.settle();
    assert.equal((await waitFor('the payment', async () => (await paymentOf(order.id)))).status, 'created', 'missed while the webhook was off');
    await enqueueJob(w.t.app.db.pool, { name: 'woocommerce.reconcile', data: {} });
    await waitForStatus(w.t, paymentId, 'cancelled');
    // The scheduled pass may also be running; either way the webhook ends up active again.
    await waitFor('the webhook to be active again', async () => w.emu.webhooks.find((h) => h.id === updated.id)?.status === 'active');
    const health = await waitFor('the store flagged', async () => {
      const res = await api(w.t, 'GET', '/v1/woocommerce/settings', { key: apiKey });
      return res.body.webhooks.repairedAt ? res.body.webhooks : undefined;
    });
    assert.match(health.note, /order\.updated webhook was disabled/);
    w.emu.deleteWebhook(updated.id);
    await enqueueJob(w.t.app.db.pool, { name: 'woocommerce.reconcile', data: {} });
    await waitFor('a new order.updated webhook', async () => w.emu.webhooks.some((h) => h.topic === 'order.updated' && h.deliveryUrl.endsWith(storeId) && h.id !== updated.id));
  });

  it('settings: the status map is edited with the store key, one field at a time, and validated', async () => {
    const bad = await api(w.t, 'PUT', '/v1/woocommerce/settings', { key: apiKey, body: { statusMap: { paid: 'shipped' } } });
    assert.equal(bad.status, 422);
    const good = await api(w.t, 'PUT', '/v1/woocommerce/settings', { key: apiKey, body: { customerNotes: true, statusMap: { paid: 'completed' } } });
    assert.equal(good.status, 200);
    assert.deepEqual([good.body.settings.statusMap.paid, good.body.settings.statusMap.underpaid, good.body.settings.customerNotes], ['completed', 'on-hold', true]);
    await api(w.t, 'PUT', '/v1/woocommerce/settings', { key: apiKey, body: { customerNotes: false, statusMap: { paid: 'processing' } } });
  });
});

describe('WooCommerce connect refusals', () => {
  let w: WithWoo;
  let strict: TestApp;
  before(async () => {
    w = await startWithWoo();
    strict = await startTestApp({ ALLOW_PRIVATE_URLS: 'false' });
  });
  after(async () => {
    try { await strict?.close(); } finally { await w?.close(); }
  });

  it('refuses http, private, loopback, link-local and metadata addresses in every spelling without the development flag', async () => {
    const claimHash = 'a'.repeat(64);
    for (const storeUrl of ['http://shop.example.com', 'https://127.0.0.1', 'https://10.0.0.8', 'https://169.254.169.254', 'https://[::1]', 'https://2130706433',
      'https://0x7f.0.0.1', 'https://0177.0.0.1', 'https://[::ffff:169.254.169.254]', 'https://localhost', w.emu.origin]) {
      const res = await fetch(`${strict.url}/woocommerce/connect?store_url=${encodeURIComponent(storeUrl)}&claim_hash=${claimHash}`, { redirect: 'manual' });
      assert.equal(res.status, 400, storeUrl);
      assert.equal((await res.json()).error.code, 'invalid_store_url', storeUrl);
    }
    const noHash = await fetch(`${strict.url}/woocommerce/connect?store_url=https://93.184.216.34`, { redirect: 'manual' });
    assert.equal(noHash.status, 400);
    const ok = await fetch(`${strict.url}/woocommerce/connect?store_url=https://93.184.216.34&claim_hash=${claimHash}&return_url=${encodeURIComponent('https://evil.example/steal')}`, { redirect: 'manual' });
    assert.equal(ok.status, 302);
    const authorize = new URL(ok.headers.get('location') ?? '');
    assert.equal(`${authorize.origin}${authorize.pathname}`, 'https://93.184.216.34/wc-auth/v1/authorize');
    assert.match(authorize.searchParams.get('return_url') ?? '', /^https:\/\/93\.184\.216\.34\/wp-admin\//, 'a return URL on another origin is ignored');
  });

  it('refuses an unknown or reused nonce; the API key is claimed once', async () => {
    const keys = { key_id: 1, user_id: 'x', consumer_key: `ck_${'1'.repeat(40)}`, consumer_secret: `cs_${'2'.repeat(40)}`, key_permissions: 'read_write' };
    const unknown = await api(w.t, 'POST', '/woocommerce/callback/not-a-nonce', { body: { ...keys, user_id: 'not-a-nonce' } });
    assert.equal(unknown.status, 404);
    const { claimSecret, res } = await beginConnect(w);
    const approval = await w.emu.approve(res.headers.get('location')!);
    assert.equal(approval.callbackStatus, 200);
    const nonce = new URL(new URL(res.headers.get('location')!).searchParams.get('callback_url')!).pathname.split('/').pop()!;
    const reused = await api(w.t, 'POST', `/woocommerce/callback/${nonce}`, { body: { ...keys, user_id: nonce } });
    assert.equal(reused.status, 404, 'a nonce works once');
    await waitFor('the connection', async () => (await claim(w, claimSecret)).status === 200);
    const again = await claim(w, claimSecret);
    assert.deepEqual([again.status, again.body.error.code], [410, 'already_claimed'], 'the API key is handed out once');
  });

  it('keys that do not work fail the connection, and the plugin is told why', async () => {
    const { claimSecret, res } = await beginConnect(w, w.emu.origin);
    const nonce = new URL(new URL(res.headers.get('location')!).searchParams.get('callback_url')!).pathname.split('/').pop()!;
    const posted = await api(w.t, 'POST', `/woocommerce/callback/${nonce}`, {
      body: { key_id: 99, user_id: nonce, consumer_key: `ck_${'3'.repeat(40)}`, consumer_secret: `cs_${'4'.repeat(40)}`, key_permissions: 'read_write' },
    });
    assert.equal(posted.status, 200, 'WooCommerce gets its 200; the check comes after');
    const answer = await waitFor('the failed connection', async () => {
      const r = await claim(w, claimSecret);
      return r.status === 202 ? undefined : r;
    });
    assert.equal(answer.status, 409);
    assert.equal(answer.body.error.code, 'connect_failed');
    assert.match(answer.body.error.message, /refused/);
    const readOnly = await api(w.t, 'POST', `/woocommerce/callback/${nonce}`, {
      body: { key_id: 99, user_id: nonce, consumer_key: `ck_${'3'.repeat(40)}`, consumer_secret: `cs_${'4'.repeat(40)}`, key_permissions: 'read' },
    });
    assert.equal(readOnly.status, 400);
  });
});
