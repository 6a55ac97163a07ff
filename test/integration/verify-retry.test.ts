/**
 * The gateway's verify API failing (5xx, hanging): the verify job retries with backoff until the
 * gateway answers, and the payment ends right. A lost callback is healed by the reconciler.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { PaymentoEmulator } from '../emulators/paymento/server.ts';
import { startWithPaymento, type WithPaymento } from '../support/paymento.ts';
import { api, eventsOf, paymentBody, waitFor, waitForStatus, type TestApp, type TestStore } from '../support/harness.ts';

describe('verify failures are retried until the gateway answers', () => {
  let setup: WithPaymento;
  let emu: PaymentoEmulator;
  let t: TestApp;
  let shop: TestStore;
  let seq = 0;

  before(async () => {
    setup = await startWithPaymento({ emulator: { ipnRetryDelaysMs: [] }, env: { GATEWAY_TIMEOUT_MS: '800', RECONCILE_EVERY: '1 second' } });
    ({ emu, t } = setup);
    shop = await setup.liveStore();
  });
  after(() => setup?.close());

  async function newPayment(): Promise<{ id: string; token: string }> {
    const res = await api(t, 'POST', '/v1/payments', { key: shop.apiKey, body: paymentBody(`R-${++seq}`) });
    const { rows } = await t.app.db.pool.query('SELECT gateway_payment_id FROM payments WHERE id = $1', [res.body.id]);
    return { id: res.body.id, token: rows[0].gateway_payment_id };
  }
  const verifyCalls = (token: string) => emu.requests.filter((r) => r.path === '/v1/payment/verify' && (r.body as { token?: string })?.token === token).length;

  it('verify answering 500 three times → retried, then paid', async () => {
    const p = await newPayment();
    emu.failVerify(3, '500');
    await emu.setStatus(p.token, 7);
    await waitForStatus(t, p.id, 'paid', 30_000);
    assert.ok(verifyCalls(p.token) >= 4, `verify called ${verifyCalls(p.token)} times`);
    const failures = (await eventsOf(t, p.id)).filter((e) => e.type === 'gateway.verify' && e.data.outcome === 'error');
    assert.ok(failures.length >= 3, 'each failed verify is in the event log');
    assert.match(failures[0]!.data.message, /answered 500/);
  });

  it('verify hanging past the deadline twice → retried, then paid', async () => {
    const p = await newPayment();
    emu.failVerify(2, 'timeout');
    await emu.setStatus(p.token, 7);
    await waitForStatus(t, p.id, 'paid', 30_000);
    const failures = (await eventsOf(t, p.id)).filter((e) => e.type === 'gateway.verify' && e.data.outcome === 'error');
    assert.ok(failures.length >= 2);
    assert.equal(failures[0]!.data.code, 'upstream_timeout');
  });

  it('a lost callback is healed by the reconciler', async () => {
    const p = await newPayment();
    await t.app.db.pool.query("UPDATE payments SET created_at = now() - interval '10 minutes' WHERE id = $1", [p.id]);
    await emu.setStatus(p.token, 7, { notify: false }); // paid at the gateway, callback never sent
    await waitForStatus(t, p.id, 'paid', 20_000);
    const paid = (await eventsOf(t, p.id)).find((e) => e.to_status === 'paid')!;
    assert.equal(paid.data.trigger, 'reconciler');
  });

  it('a job the gateway refuses for good ends in a visible failed state, payment unchanged', async () => {
    const p = await newPayment();
    await t.app.db.pool.query("UPDATE payments SET gateway_payment_id = 'NOT-A-PAYMENTO-TOKEN', created_at = now() - interval '10 minutes' WHERE id = $1", [p.id]);
    const job = await waitFor('the verify job to fail for good', async () => {
      const { rows } = await t.app.db.pool.query(
        "SELECT fail_count, fail_reason, failed_at, next_run_at FROM agenda_jobs WHERE name = 'payment.verify' AND data->>'paymentId' = $1 AND failed_at IS NOT NULL", [p.id]);
      return rows[0];
    }, 20_000);
    assert.match(job.fail_reason, /does not know this payment/);
    assert.equal(job.fail_count, 1, 'a final refusal is not retried');
    assert.equal(job.next_run_at, null, 'and never runs again by itself');
    const { rows } = await t.app.db.pool.query('SELECT status FROM payments WHERE id = $1', [p.id]);
    assert.equal(rows[0].status, 'created');
  });

  it('an expired store window with no payment at the gateway → expired by the expiry check', async () => {
    const p = await newPayment();
    await t.app.db.pool.query("UPDATE payments SET expires_at = now() - interval '1 minute' WHERE id = $1", [p.id]);
    await t.app.db.pool.query("UPDATE agenda_jobs SET next_run_at = now() WHERE name = 'payment.expiry-check' AND data->>'paymentId' = $1", [p.id]);
    await waitForStatus(t, p.id, 'expired', 20_000);
  });
});
