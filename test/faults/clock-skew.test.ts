/**
 * A clock 10 minutes off on the sender's side: Crypto Checkout webhooks (emulator, live
 * connection) signed with a timestamp 10 minutes in the past or the future carry a genuine
 * signature but fall outside the 5-minute tolerance. They are refused (401) and leave nothing
 * behind; the same event re-sent with a correct timestamp is taken once.
 *
 * Shopify session tokens off by more than the 10 s tolerance (2 minutes early or late, so 10
 * minutes a fortiori) are refused in test/platforms/shopify-embedded.test.ts ("refuses session
 * tokens that are forged, expired, early…" and "allows 10 seconds of clock skew on exp, not more").
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startCryptoCheckoutEmulator, type CryptoCheckoutEmulator } from '../emulators/crypto-checkout/server.ts';
import { api, createTestStore, eventsOf, paymentBody, startTestApp, waitForStatus, type TestApp, type TestStore } from '../support/harness.ts';

const TEN_MINUTES_MS = 10 * 60_000;

describe('signature timestamps from a clock 10 minutes off', () => {
  let t: TestApp;
  let cc: CryptoCheckoutEmulator;
  let store: TestStore;

  before(async () => {
    cc = await startCryptoCheckoutEmulator({ retryBaseMs: 1 });
    t = await startTestApp();
    const merchant = cc.addMerchant();
    store = await createTestStore(t, { gateway: 'crypto-checkout', live: { apiKey: merchant.apiKey, ipnSecret: merchant.webhookSecret, apiOrigin: cc.origin } });
  });
  after(async () => {
    try {
      await t?.close();
    } finally {
      await cc?.close();
    }
  });

  const deliver = (signed: { rawBody: Buffer; headers: Record<string, string> }) =>
    api(t, 'POST', `/ipn/crypto-checkout/${store.connection.id}`, { raw: signed.rawBody, headers: signed.headers });
  const count = async (sql: string, params: unknown[]) => Number((await t.app.db.pool.query(sql, params)).rows[0].n);

  it('refuses the paid webhook signed 10 minutes in the past or the future, then takes it once when signed now', async () => {
    const created = await api(t, 'POST', '/v1/payments', { key: store.apiKey, body: paymentBody('SKEW-1') });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const paymentId = created.body.id as string;
    const { rows } = await t.app.db.pool.query('SELECT gateway_payment_id FROM payments WHERE id = $1', [paymentId]);
    const sessionId = rows[0].gateway_payment_id as string;
    const paidEvent = await cc.setStatus(sessionId, 'paid', { notify: false });

    for (const offset of [-TEN_MINUTES_MS, TEN_MINUTES_MS]) {
      const signed = cc.webhook(sessionId, 'paid', { signedAt: new Date(Date.now() + offset) });
      assert.equal(signed.event.id, paidEvent.id, 'the genuine event, only its signing time is off');
      const res = await deliver(signed);
      assert.equal(res.status, 401, `signed ${offset / 60_000} minutes off`);
      assert.equal(res.body.error.code, 'invalid_signature');
    }
    assert.equal(await count('SELECT count(*) AS n FROM inbox WHERE connection_id = $1', [store.connection.id]), 0, 'nothing stored');
    assert.deepEqual((await eventsOf(t, paymentId)).filter((e) => e.type.startsWith('callback') || e.type === 'gateway.verify'), [], 'no callback on the payment\'s record');
    assert.equal(await count('SELECT rejected_callbacks AS n FROM gateway_connections WHERE id = $1', [store.connection.id]), 2);
    const metrics = await (await fetch(`${t.url}/metrics`)).text();
    assert.match(metrics, /coinbridge_callbacks_rejected_total\{source="crypto-checkout",reason="stale_signature"\} 2\n/);
    assert.equal((await api(t, 'GET', `/v1/payments/${paymentId}`, { key: store.apiKey })).body.status, 'created');

    const onTime = await deliver(cc.webhook(sessionId, 'paid'));
    assert.deepEqual([onTime.status, onTime.body], [200, { received: true, duplicate: false }]);
    await waitForStatus(t, paymentId, 'paid');
    const again = await deliver(cc.webhook(sessionId, 'paid', { signedAt: new Date(Date.now() + 1_000) }));
    assert.deepEqual([again.status, again.body], [200, { received: true, duplicate: true }], 'a redelivery of the same event is a duplicate');

    assert.equal(await count('SELECT count(*) AS n FROM inbox WHERE connection_id = $1', [store.connection.id]), 1);
    const events = await eventsOf(t, paymentId);
    assert.equal(events.filter((e) => e.type === 'callback.received').length, 1);
    assert.equal(events.filter((e) => e.type === 'transition' && e.to_status === 'paid').length, 1);
  });
});
