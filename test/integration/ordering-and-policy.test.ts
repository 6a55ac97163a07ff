/**
 * Callbacks out of order, late payments, top-ups and gateway answers that do not add up — against
 * the Paymento emulator (a live-mode connection), which delivers signed IPNs as Paymento does.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { MerchantSettings } from '../../src/core/settings.ts';
import type { PaymentoEmulator } from '../emulators/paymento/server.ts';
import { startWithPaymento, type WithPaymento } from '../support/paymento.ts';
import { api, createTestStore, eventsOf, paymentBody, paymentStatus, startTestApp, waitFor, waitForStatus, type TestApp, type TestStore } from '../support/harness.ts';

describe('order of events and store policy (Paymento emulator, docs verify shape)', () => {
  let setup: WithPaymento;
  let emu: PaymentoEmulator;
  let t: TestApp;
  let seq = 0;

  before(async () => {
    setup = await startWithPaymento({ emulator: { ipnRetryDelaysMs: [100, 300, 1000] } });
    ({ emu, t } = setup);
  });
  after(() => setup?.close());

  const liveStore = (settings: Partial<MerchantSettings> = {}): Promise<TestStore> => setup.liveStore({ settings });

  async function newPayment(shop: TestStore): Promise<{ id: string; token: string }> {
    const res = await api(t, 'POST', '/v1/payments', { key: shop.apiKey, body: paymentBody(`P-${++seq}`) });
    assert.equal(res.status, 201, JSON.stringify(res.body));
    const { rows } = await t.app.db.pool.query('SELECT gateway_payment_id FROM payments WHERE id = $1', [res.body.id]);
    return { id: res.body.id, token: rows[0].gateway_payment_id };
  }

  const expireNow = (id: string) => t.app.db.pool.query("UPDATE payments SET expires_at = now() - interval '1 minute' WHERE id = $1", [id]);

  it('connecting a live Paymento account sets its IPN URL to this connection', async () => {
    const shop = await liveStore();
    const settings = emu.requests.filter((r) => r.path === '/v1/payment/settings' && r.method === 'POST').at(-1)!;
    assert.equal((settings.body as { IPN_Url: string }).IPN_Url, `${t.app.config.publicUrl}/ipn/paymento/${shop.connection.id}`);
  });

  it('Paid, then a late Pending → stays paid (the late one is recorded and ignored)', async () => {
    const shop = await liveStore();
    const p = await newPayment(shop);
    await emu.setStatus(p.token, 7);
    await waitForStatus(t, p.id, 'paid');
    await emu.setStatus(p.token, 1);
    await waitFor('the late Pending to be processed', async () => {
      const { rows } = await t.app.db.pool.query("SELECT outcome FROM inbox WHERE payment_id = $1 AND dedupe_key LIKE '%:1' AND processed_at IS NOT NULL", [p.id]);
      return rows[0]?.outcome;
    });
    assert.equal(await paymentStatus(t, p.id), 'paid');
    const transitions = (await eventsOf(t, p.id)).filter((e) => e.type === 'transition').map((e) => e.to_status);
    assert.deepEqual(transitions, ['created', 'paid']);
  });

  it('Timeout, then a confirmed payment → paid_late when the store accepts late payments', async () => {
    const shop = await liveStore({ latePaymentPolicy: 'paid_late', latePaymentWindowMinutes: 60 });
    const p = await newPayment(shop);
    await expireNow(p.id);
    await emu.setStatus(p.token, 4);
    await waitForStatus(t, p.id, 'expired');
    await emu.setStatus(p.token, 7);
    await waitForStatus(t, p.id, 'paid_late');
  });

  it('Timeout, then a confirmed payment → review when the store reviews late payments', async () => {
    const shop = await liveStore({ latePaymentPolicy: 'review' });
    const p = await newPayment(shop);
    await expireNow(p.id);
    await emu.setStatus(p.token, 4);
    await waitForStatus(t, p.id, 'expired');
    await emu.setStatus(p.token, 7);
    await waitForStatus(t, p.id, 'review');
    const why = (await eventsOf(t, p.id)).find((e) => e.to_status === 'review')!;
    assert.match(why.cause, /policy sends late payments to review/);
  });

  it('a payment far outside the late window → review even when late payments are accepted', async () => {
    const shop = await liveStore({ latePaymentPolicy: 'paid_late', latePaymentWindowMinutes: 0 });
    const p = await newPayment(shop);
    await t.app.db.pool.query("UPDATE payments SET expires_at = now() - interval '2 hours' WHERE id = $1", [p.id]);
    await emu.setStatus(p.token, 4);
    await waitForStatus(t, p.id, 'expired');
    await emu.setStatus(p.token, 7);
    await waitForStatus(t, p.id, 'review');
  });

  it('PartialPaid, then a top-up → underpaid, then paid', async () => {
    const shop = await liveStore();
    const p = await newPayment(shop);
    const expected = emu.payment(p.token).expectedCrypto;
    const half = (Number(expected) / 2).toFixed(8);
    await emu.setStatus(p.token, 2, { receivedCrypto: half });
    await waitForStatus(t, p.id, 'underpaid');
    await emu.setStatus(p.token, 7, { receivedCrypto: expected });
    await waitForStatus(t, p.id, 'paid');
  });

  it('Paid with less than asked (beyond tolerance) → underpaid, never paid', async () => {
    const shop = await liveStore({ underpaymentToleranceBp: 50 });
    const p = await newPayment(shop);
    const expected = emu.payment(p.token).expectedCrypto;
    await emu.setStatus(p.token, 7, { receivedCrypto: (Number(expected) * 0.98).toFixed(8) });
    await waitForStatus(t, p.id, 'underpaid');
  });

  it('Verify reporting another amount → review, never paid', async () => {
    const shop = await liveStore();
    const p = await newPayment(shop);
    emu.misreport(p.token, { fiatAmount: '2.50' });
    await emu.setStatus(p.token, 7);
    await waitForStatus(t, p.id, 'review');
    const why = (await eventsOf(t, p.id)).find((e) => e.to_status === 'review')!;
    assert.match(why.cause, /requested amount 2\.50.*expects 25\.00/);
  });

  it('Verify reporting another order id → review, never paid', async () => {
    const shop = await liveStore();
    const p = await newPayment(shop);
    emu.misreport(p.token, { orderId: 'someone-elses-order' });
    await emu.setStatus(p.token, 7);
    await waitForStatus(t, p.id, 'review');
  });

  it('the undocumented status 6 is logged and changes nothing', async () => {
    const shop = await liveStore();
    const p = await newPayment(shop);
    await emu.setStatus(p.token, 6);
    await waitFor('status 6 processed', async () => {
      const { rows } = await t.app.db.pool.query("SELECT outcome FROM inbox WHERE payment_id = $1 AND processed_at IS NOT NULL", [p.id]);
      return rows[0]?.outcome;
    });
    assert.equal(await paymentStatus(t, p.id), 'created');
    const verify = (await eventsOf(t, p.id)).find((e) => e.type === 'gateway.verify')!;
    assert.match(verify.data.reason, /unknown gateway status 6/);
    assert.ok(t.logs.some((l) => l.includes('unknown status') && l.includes('"gatewayStatus":"6"')), 'logged');
  });
});

describe('currency mismatch reported by the gateway (sandbox, which reports the fiat currency)', () => {
  let t: TestApp;
  before(async () => { t = await startTestApp(); });
  after(() => t?.close());

  it('→ review, never paid', async () => {
    const shop = await createTestStore(t);
    const res = await api(t, 'POST', '/v1/payments', { key: shop.apiKey, body: paymentBody('CUR-1') });
    const { rows } = await t.app.db.pool.query('SELECT gateway_payment_id FROM payments WHERE id = $1', [res.body.id]);
    await t.app.db.pool.query("UPDATE sandbox_payments SET fiat_currency = 'EUR' WHERE token = $1", [rows[0].gateway_payment_id]);
    const pay = await fetch(`${t.url}/sandbox/paymento/gateway/${rows[0].gateway_payment_id}/pay`, { method: 'POST', headers: { accept: 'application/json' } });
    assert.equal(pay.status, 200);
    await waitForStatus(t, res.body.id, 'review');
    const why = (await eventsOf(t, res.body.id)).find((e) => e.to_status === 'review')!;
    assert.match(why.cause, /currency EUR/);
  });
});
