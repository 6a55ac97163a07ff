/**
 * POST /v1/payments: one gateway payment per store order under concurrency, Idempotency-Key
 * semantics, and what happens when the gateway refuses or is down.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { PaymentoEmulator } from '../emulators/paymento/server.ts';
import { api, paymentBody, type TestApp, type TestStore } from '../support/harness.ts';
import { startWithPaymento, type WithPaymento } from '../support/paymento.ts';

describe('creating payments', () => {
  let setup: WithPaymento;
  let emu: PaymentoEmulator;
  let t: TestApp;
  let shop: TestStore;

  before(async () => {
    setup = await startWithPaymento({ emulator: { ipnRetryDelaysMs: [] }, env: { GATEWAY_TIMEOUT_MS: '1000' } });
    ({ emu, t } = setup);
    shop = await setup.liveStore();
  });
  after(() => setup?.close());

  const gatewayCreates = (orderId: string) => emu.requests.filter((r) => r.path === '/v1/payment/request' && (r.body as { orderId?: string }).orderId === orderId).length;
  const rows = async (orderId: string) => (await t.app.db.pool.query('SELECT id, status FROM payments WHERE order_id = $1', [orderId])).rows;

  it('50 concurrent identical requests for one order → one gateway payment, one answer', async () => {
    const results = await Promise.all(Array.from({ length: 50 }, () => api(t, 'POST', '/v1/payments', { key: shop.apiKey, body: paymentBody('CONC-1') })));
    assert.deepEqual([...new Set(results.map((r) => r.status))].sort(), [200, 201]);
    assert.equal(results.filter((r) => r.status === 201).length, 1, 'exactly one request created it');
    assert.equal(new Set(results.map((r) => r.body.id)).size, 1, 'everyone got the same payment');
    assert.ok(results.every((r) => r.body.status === 'created' && r.body.payUrl));
    assert.equal(gatewayCreates('CONC-1'), 1);
    assert.equal((await rows('CONC-1')).length, 1);
  });

  it('50 concurrent requests with the same Idempotency-Key → one payment', async () => {
    const results = await Promise.all(Array.from({ length: 50 }, () =>
      api(t, 'POST', '/v1/payments', { key: shop.apiKey, body: paymentBody('CONC-2'), headers: { 'idempotency-key': 'conc-2-key' } })));
    assert.equal(new Set(results.map((r) => r.body.id)).size, 1);
    assert.equal(gatewayCreates('CONC-2'), 1);
  });

  it('same key + same body → same payment; same key + different body → 422; same order, other amount → 409, same money → that payment', async () => {
    const first = await api(t, 'POST', '/v1/payments', { key: shop.apiKey, body: paymentBody('IDEM-1'), headers: { 'idempotency-key': 'k-idem-1' } });
    assert.equal(first.status, 201);
    const again = await api(t, 'POST', '/v1/payments', { key: shop.apiKey, body: paymentBody('IDEM-1'), headers: { 'idempotency-key': 'k-idem-1' } });
    assert.deepEqual([again.status, again.body.id], [200, first.body.id]);

    const newEmail = await api(t, 'POST', '/v1/payments', { key: shop.apiKey, body: paymentBody('IDEM-1', { customerEmail: 'changed@example.com' }), headers: { 'idempotency-key': 'k-idem-1' } });
    assert.deepEqual([newEmail.status, newEmail.body.id], [200, first.body.id], 'a retry with a changed email is the same payment');

    const otherBody = await api(t, 'POST', '/v1/payments', { key: shop.apiKey, body: paymentBody('IDEM-2'), headers: { 'idempotency-key': 'k-idem-1' } });
    assert.deepEqual([otherBody.status, otherBody.body.error.code], [422, 'idempotency_key_reused']);
    assert.equal((await rows('IDEM-2')).length, 0, 'nothing stored for the refused request');

    const otherAmount = await api(t, 'POST', '/v1/payments', { key: shop.apiKey, body: paymentBody('IDEM-1', { amount: '30.00' }) });
    assert.deepEqual([otherAmount.status, otherAmount.body.error.code], [409, 'order_already_has_payment']);
    assert.equal(otherAmount.body.error.details.paymentId, first.body.id);
    // A second path for the same order and money (a store's checkout call beside its reconciler)
    // gets the one payment, whatever incidental details it built differently.
    const otherDetails = await api(t, 'POST', '/v1/payments', { key: shop.apiKey, body: paymentBody('IDEM-1', { returnUrl: 'https://shop.example/other', customerEmail: 'x@example.com' }), headers: { 'idempotency-key': 'k-idem-other' } });
    assert.deepEqual([otherDetails.status, otherDetails.body.id], [200, first.body.id]);
    assert.equal(gatewayCreates('IDEM-1'), 1);
  });

  it('the same order id in two stores gives two payments; a store never sees the other store\'s payment', async () => {
    const other = await setup.liveStore({ name: 'Other store' });
    const a = await api(t, 'POST', '/v1/payments', { key: shop.apiKey, body: paymentBody('SHARED-1') });
    const b = await api(t, 'POST', '/v1/payments', { key: other.apiKey, body: paymentBody('SHARED-1') });
    assert.deepEqual([a.status, b.status], [201, 201]);
    assert.notEqual(a.body.id, b.body.id);
    assert.equal((await api(t, 'GET', `/v1/payments/${a.body.id}`, { key: other.apiKey })).status, 404);
  });

  it('gateway down → 503 with Retry-After and nothing half-made; the same request again creates it', async () => {
    emu.failCreate(1, '500');
    const down = await api(t, 'POST', '/v1/payments', { key: shop.apiKey, body: paymentBody('DOWN-1'), headers: { 'idempotency-key': 'down-1' } });
    assert.deepEqual([down.status, down.body.error.code], [503, 'gateway_unavailable']);
    assert.ok(down.headers.get('retry-after'));
    const retry = await api(t, 'POST', '/v1/payments', { key: shop.apiKey, body: paymentBody('DOWN-1'), headers: { 'idempotency-key': 'down-1' } });
    assert.equal(retry.body.status, 'created', JSON.stringify(retry.body));
    assert.equal((await rows('DOWN-1')).length, 1);
    assert.equal(gatewayCreates('DOWN-1'), 2);
  });

  it('gateway refuses → 502 gateway_refused, payment failed; a new attempt for the order is allowed', async () => {
    emu.failCreate(1, 'refuse');
    const refused = await api(t, 'POST', '/v1/payments', { key: shop.apiKey, body: paymentBody('REFUSE-1'), headers: { 'idempotency-key': 'refuse-1' } });
    assert.deepEqual([refused.status, refused.body.error.code], [502, 'gateway_refused']);
    assert.match(refused.body.error.message, /Merchant wallet is not configured/);
    const failedId = refused.body.error.details.paymentId;
    assert.deepEqual((await rows('REFUSE-1')).map((r) => r.status), ['failed']);
    // Replaying the same key shows the failed payment; a new key tries again.
    const replay = await api(t, 'POST', '/v1/payments', { key: shop.apiKey, body: paymentBody('REFUSE-1'), headers: { 'idempotency-key': 'refuse-1' } });
    assert.deepEqual([replay.status, replay.body.id, replay.body.status], [200, failedId, 'failed']);
    const fresh = await api(t, 'POST', '/v1/payments', { key: shop.apiKey, body: paymentBody('REFUSE-1'), headers: { 'idempotency-key': 'refuse-1b' } });
    assert.deepEqual([fresh.status, fresh.body.status], [201, 'created']);
    assert.notEqual(fresh.body.id, failedId);
  });
});
