/**
 * The merchant's default gateway and its fallback: when the default refuses or fails to create a
 * payment, the fallback makes it, the shopper gets a working pay page, and the event log says why.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { chooseGateways, connectGateway } from '../../src/core/connections.ts';
import { listConnections } from '../../src/db/stores-repo.ts';
import type { PaymentoEmulator } from '../emulators/paymento/server.ts';
import { api, eventsOf, paymentBody, sandboxAction, waitForStatus, type TestApp, type TestStore } from '../support/harness.ts';
import { startWithPaymento, type WithPaymento } from '../support/paymento.ts';

describe('default gateway and fallback', () => {
  let setup: WithPaymento;
  let emu: PaymentoEmulator;
  let t: TestApp;
  let shop: TestStore;
  let fallbackId: string;

  before(async () => {
    setup = await startWithPaymento({ emulator: { ipnRetryDelaysMs: [] }, env: { GATEWAY_TIMEOUT_MS: '1000' } });
    ({ emu, t } = setup);
    shop = await setup.liveStore();
    const { db, box, gateways, config } = t.app;
    const fallback = await connectGateway({ db, box, gateways, publicUrl: config.publicUrl }, { storeId: shop.store.id, gateway: 'crypto-checkout', mode: 'sandbox', role: 'fallback' });
    fallbackId = fallback.id;
  });
  after(() => setup?.close());

  const connectionOf = async (paymentId: string) =>
    (await t.app.db.pool.query('SELECT gc.id, gc.gateway FROM payments p JOIN gateway_connections gc ON gc.id = p.connection_id WHERE p.id = $1', [paymentId])).rows[0];

  it('a store has one default and one fallback; connecting another as "extra" changes neither', async () => {
    const { db, box, gateways, config } = t.app;
    await connectGateway({ db, box, gateways, publicUrl: config.publicUrl }, { storeId: shop.store.id, gateway: 'cryptonow', mode: 'sandbox', role: 'extra' });
    const roles = (await listConnections(db.pool, shop.store.id)).map((c) => [c.gateway, c.role]);
    assert.deepEqual(roles.slice(0, 2), [['paymento', 'default'], ['crypto-checkout', 'fallback']]);
    assert.deepEqual(roles.slice(2), [['cryptonow', 'extra']]);
  });

  it('default answers 503 on create → the payment is made at the fallback, the shopper can pay there, and the log says why', async () => {
    emu.failCreate(1, '503');
    const res = await api(t, 'POST', '/v1/payments', { key: shop.apiKey, body: paymentBody('FB-503') });
    assert.equal(res.status, 201, JSON.stringify(res.body));
    assert.equal(res.body.status, 'created');
    const served = await connectionOf(res.body.id);
    assert.deepEqual([served.id, served.gateway], [fallbackId, 'crypto-checkout']);

    const events = await eventsOf(t, res.body.id);
    const creates = events.filter((e) => e.type === 'gateway.create').map((e) => [e.data.gateway, e.data.outcome]);
    assert.deepEqual(creates, [['paymento', 'error'], ['crypto-checkout', 'ok']]);
    const fallback = events.find((e) => e.type === 'gateway.fallback');
    assert.ok(fallback, 'a gateway.fallback event');
    assert.match(fallback.cause, /default gateway paymento failed .*503.*fallback crypto-checkout/);
    assert.deepEqual([fallback.data.from.gateway, fallback.data.to.gateway, fallback.data.retryable], ['paymento', 'crypto-checkout', true]);

    // The shopper sees a pay page, not an error, and paying at the fallback settles the order.
    const page = await fetch(res.body.payUrl);
    assert.equal(page.status, 200);
    const checkout = await api(t, 'GET', `/v1/checkout/${res.body.ref}`);
    assert.equal(checkout.status, 200);
    const token = (await t.app.db.pool.query('SELECT gateway_payment_id FROM payments WHERE id = $1', [res.body.id])).rows[0].gateway_payment_id;
    assert.match(token, /^cs_/);
    await sandboxAction(t, token, 'pay', 'crypto-checkout');
    await waitForStatus(t, res.body.id, 'paid');
  });

  it('default refuses for good (success:false) → fallback makes it; the default is not asked twice', async () => {
    emu.failCreate(1, 'refuse');
    const before = emu.requests.filter((r) => r.path === '/v1/payment/request').length;
    const res = await api(t, 'POST', '/v1/payments', { key: shop.apiKey, body: paymentBody('FB-REFUSE') });
    assert.equal(res.status, 201);
    assert.equal((await connectionOf(res.body.id)).gateway, 'crypto-checkout');
    assert.equal(emu.requests.filter((r) => r.path === '/v1/payment/request').length - before, 1);
    const fallback = (await eventsOf(t, res.body.id)).find((e) => e.type === 'gateway.fallback');
    assert.match(fallback!.cause, /default gateway paymento refused .*Merchant wallet is not configured/);
    assert.equal(fallback!.data.retryable, false);
  });

  it('a healthy default serves the payment itself: no fallback event', async () => {
    const res = await api(t, 'POST', '/v1/payments', { key: shop.apiKey, body: paymentBody('FB-HEALTHY') });
    assert.equal(res.status, 201);
    assert.equal((await connectionOf(res.body.id)).gateway, 'paymento');
    assert.equal((await eventsOf(t, res.body.id)).some((e) => e.type === 'gateway.fallback'), false);
  });

  it('both fail, one of them transiently → 503 to retry, the payment is not failed, and a retry succeeds', async () => {
    // The fallback is a CryptoNow sandbox that refuses EUR (USD only) for good; the default is down.
    const { db } = t.app;
    const cryptonow = (await listConnections(db.pool, shop.store.id)).find((c) => c.gateway === 'cryptonow')!;
    const paymento = (await listConnections(db.pool, shop.store.id)).find((c) => c.role === 'default')!;
    await chooseGateways(db.pool, shop.store.id, { defaultId: paymento.id, fallbackId: cryptonow.id });
    try {
      emu.failCreate(1, '503');
      const first = await api(t, 'POST', '/v1/payments', { key: shop.apiKey, body: paymentBody('FB-BOTH', { currency: 'EUR' }) });
      assert.equal(first.status, 503, JSON.stringify(first.body));
      assert.equal(first.body.error.code, 'gateway_unavailable');
      const row = (await db.pool.query("SELECT status FROM payments WHERE order_id = 'FB-BOTH'")).rows[0];
      assert.equal(row.status, 'initiating', 'a transient failure must not fail the payment for good');

      const retry = await api(t, 'POST', '/v1/payments', { key: shop.apiKey, body: paymentBody('FB-BOTH', { currency: 'EUR' }) });
      assert.ok(retry.status === 200 || retry.status === 201, JSON.stringify(retry.body));
      assert.equal(retry.body.status, 'created');
      assert.equal((await connectionOf(retry.body.id)).gateway, 'paymento');
    } finally {
      await chooseGateways(db.pool, shop.store.id, { defaultId: paymento.id, fallbackId });
    }
  });

  it('without a fallback, a down default is a 503 the caller retries (nothing else is tried)', async () => {
    const { db } = t.app;
    const paymento = (await listConnections(db.pool, shop.store.id)).find((c) => c.role === 'default')!;
    await chooseGateways(db.pool, shop.store.id, { defaultId: paymento.id, fallbackId: null });
    try {
      emu.failCreate(1, '503');
      const res = await api(t, 'POST', '/v1/payments', { key: shop.apiKey, body: paymentBody('FB-NONE') });
      assert.equal(res.status, 503);
      const events = await eventsOf(t, (await db.pool.query("SELECT id FROM payments WHERE order_id = 'FB-NONE'")).rows[0].id);
      assert.deepEqual(events.filter((e) => e.type === 'gateway.create').map((e) => e.data.gateway), ['paymento']);
    } finally {
      await chooseGateways(db.pool, shop.store.id, { defaultId: paymento.id, fallbackId });
    }
  });

  it('the merchant cannot make one connection both default and fallback, nor pick another store\'s', async () => {
    const { db } = t.app;
    await assert.rejects(chooseGateways(db.pool, shop.store.id, { defaultId: fallbackId, fallbackId }), /different connection/);
    const other = await setup.liveStore({ name: 'Other' });
    await assert.rejects(chooseGateways(db.pool, shop.store.id, { defaultId: other.connection.id, fallbackId: null }), /does not exist for this store/);
    const roles = (await listConnections(db.pool, shop.store.id)).filter((c) => c.role !== 'extra').map((c) => c.id);
    assert.equal(roles.length, 2, 'a refused choice changes nothing');
  });
});
