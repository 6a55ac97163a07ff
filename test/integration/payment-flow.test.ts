import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  api, createTestStore, eventsOf, paymentBody, paymentStatus, sandboxAction, sandboxToken, startTestApp, waitFor, waitForStatus, type TestApp, type TestStore,
} from '../support/harness.ts';

describe('a whole payment through the sandbox gateway', () => {
  let t: TestApp;
  let shop: TestStore;
  before(async () => {
    t = await startTestApp();
    shop = await createTestStore(t);
  });
  after(() => t?.close());

  it('create → shopper pays in the sandbox → IPN → verify → paid, with every step in the event log', async () => {
    const created = await api(t, 'POST', '/v1/payments', { key: shop.apiKey, body: paymentBody('ORD-1'), headers: { 'idempotency-key': 'ord-1' } });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    assert.equal(created.body.status, 'created');
    assert.match(created.body.payUrl, /\/pay\/[A-Za-z0-9]{22}$/);
    assert.equal(created.body.amount, '25.00');

    // The pay link is the hosted pay page, which leads on to the gateway's hosted page.
    const pay = await fetch(created.body.payUrl.replace(t.app.config.publicUrl, t.url), { redirect: 'manual' });
    assert.equal(pay.status, 200);
    const initial = JSON.parse(/<script type="application\/json" id="coinbridge-initial">([\s\S]*?)<\/script>/.exec(await pay.text())![1]!);
    const gatewayPage: string = initial.gatewayUrl;
    assert.match(gatewayPage, /\/sandbox\/paymento\/gateway\?token=[0-9a-f]{40}$/);
    const html = await (await fetch(gatewayPage)).text();
    assert.match(html, /25\.00 USD/);
    assert.match(html, /Pay in full/);

    const token = await sandboxToken(t, created.body.id);
    await sandboxAction(t, token, 'pay');
    await waitForStatus(t, created.body.id, 'paid');

    const events = await eventsOf(t, created.body.id);
    const types = events.map((e) => e.type);
    assert.deepEqual(types.slice(0, 3), ['payment.requested', 'gateway.create', 'transition']);
    assert.ok(types.includes('callback.received'), types.join());
    assert.ok(types.includes('gateway.verify'), types.join());
    const paid = events.find((e) => e.type === 'transition' && e.to_status === 'paid')!;
    assert.ok(paid, 'a transition to paid is logged');
    assert.match(paid.cause, /confirmed by the gateway/);
    assert.match(paid.data.trigger, /callback #\d+/);
    // The verify that decided it saw the amounts.
    const verify = events.filter((e) => e.type === 'gateway.verify').at(-1)!;
    assert.equal(verify.data.cryptoReceived, '25.000000');

    const fetched = await api(t, 'GET', `/v1/payments/${created.body.id}`, { key: shop.apiKey });
    assert.equal(fetched.status, 200);
    assert.equal(fetched.body.status, 'paid');
    assert.equal(fetched.body.crypto.received, '25.000000');
    assert.match(fetched.body.crypto.txHash, /^0x[0-9a-f]{64}$/);
  });

  it('underpaid, then topped up → paid', async () => {
    const created = await api(t, 'POST', '/v1/payments', { key: shop.apiKey, body: paymentBody('ORD-2') });
    const token = await sandboxToken(t, created.body.id);
    await sandboxAction(t, token, 'underpay');
    await waitForStatus(t, created.body.id, 'underpaid');
    await sandboxAction(t, token, 'pay');
    await waitForStatus(t, created.body.id, 'paid');
  });

  it('overpaid → overpaid', async () => {
    const created = await api(t, 'POST', '/v1/payments', { key: shop.apiKey, body: paymentBody('ORD-3') });
    await sandboxAction(t, await sandboxToken(t, created.body.id), 'overpay');
    await waitForStatus(t, created.body.id, 'overpaid');
  });

  it('cancelled by the shopper → cancelled; expired → expired, then a late payment → paid_late', async () => {
    const a = await api(t, 'POST', '/v1/payments', { key: shop.apiKey, body: paymentBody('ORD-4') });
    await sandboxAction(t, await sandboxToken(t, a.body.id), 'cancel');
    await waitForStatus(t, a.body.id, 'cancelled');

    const b = await api(t, 'POST', '/v1/payments', { key: shop.apiKey, body: paymentBody('ORD-5') });
    const token = await sandboxToken(t, b.body.id);
    await sandboxAction(t, token, 'expire');
    await waitForStatus(t, b.body.id, 'expired');
    await sandboxAction(t, token, 'pay');
    await waitForStatus(t, b.body.id, 'paid_late');
  });

  it('the sandbox redelivers an IPN the receiver refused, until it is accepted', async () => {
    const created = await api(t, 'POST', '/v1/payments', { key: shop.apiKey, body: paymentBody('ORD-6') });
    const token = await sandboxToken(t, created.body.id);
    const good = `${t.app.config.publicUrl}/ipn/paymento/${shop.connection.id}`;
    // Point the sandbox at a callback URL of ours that answers 404, as a misconfigured receiver would.
    await t.app.db.pool.query('UPDATE sandbox_accounts SET ipn_url = $2 WHERE api_key = $1', [shop.connection.credentials.apiKey, `${t.app.config.publicUrl}/ipn/paymento/${crypto.randomUUID()}`]);
    await sandboxAction(t, token, 'cancel');
    await waitFor('a failed delivery attempt', async () => {
      const { rows } = await t.app.db.pool.query("SELECT fail_count FROM agenda_jobs WHERE name = 'sandbox.deliver-ipn' AND data->>'token' = $1 AND fail_count >= 1", [token]);
      return rows[0];
    });
    assert.equal(await paymentStatus(t, created.body.id), 'created');
    await t.app.db.pool.query('UPDATE sandbox_accounts SET ipn_url = $2 WHERE api_key = $1', [shop.connection.credentials.apiKey, good]);
    await waitForStatus(t, created.body.id, 'cancelled', 20_000);
  });

  it('reports payments by status and callback counters on /metrics', async () => {
    const res = await fetch(`${t.url}/metrics`);
    assert.equal(res.status, 200);
    const text = await res.text();
    assert.match(text, /coinbridge_payments\{status="paid"\} [1-9]/);
    assert.match(text, /coinbridge_callbacks_received_total\{source="paymento"\} [1-9]/);
    assert.match(text, /coinbridge_callbacks_rejected_total/);
    assert.match(text, /coinbridge_callbacks_duplicated_total/);
  });

  it('is healthy and ready', async () => {
    assert.equal((await fetch(`${t.url}/healthz`)).status, 200);
    const ready = await api(t, 'GET', '/readyz');
    assert.deepEqual([ready.status, ready.body.status], [200, 'ready']);
  });
});
