/**
 * The gateway's verify API down for a long while (compressed: the Paymento emulator fails a
 * fixed number of verify calls — hanging past the deadline, 500, then 503 with Retry-After —
 * enough for several retry rounds of every payment). Paid callbacks arrive meanwhile, and one
 * payment's callback never comes (the reconciler, run every 2 s, must ask for it). While verify
 * fails nothing moves; once it answers, every payment is paid exactly once, each after a
 * successful verify.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { jobsGivenUp } from '../support/cluster.ts';
import { api, eventsOf, paymentBody, waitFor } from '../support/harness.ts';
import { startWithPaymento, type WithPaymento } from '../support/paymento.ts';

const WITH_CALLBACK = 4;
const PAYMENTS = WITH_CALLBACK + 1;
/** Failed verify calls the outage lasts: about seven attempts of every payment's job. */
const FAILURES = { timeout: PAYMENTS, '500': PAYMENTS, '503-retry-after': 5 * PAYMENTS };
const TOTAL_FAILURES = FAILURES.timeout + FAILURES['500'] + FAILURES['503-retry-after'];

describe('gateway verify down for a sustained period', () => {
  let p: WithPaymento;

  before(async () => {
    p = await startWithPaymento({ env: { RECONCILE_EVERY: '2 seconds', GATEWAY_TIMEOUT_MS: '1000' } });
  });
  after(async () => { await p?.close(); });

  const verifyCalls = () => p.emu.requests.filter((r) => r.path === '/v1/payment/verify').length;

  it('changes nothing while verify fails, then settles every payment once, each after a successful verify', async () => {
    const { apiKey } = await p.liveStore();
    const payments: Array<{ id: string; token: string }> = [];
    for (let i = 0; i < PAYMENTS; i++) {
      const created = await api(p.t, 'POST', '/v1/payments', { key: apiKey, body: paymentBody(`VERIFY-DOWN-${i}`) });
      assert.equal(created.status, 201, JSON.stringify(created.body));
      const { rows } = await p.t.app.db.pool.query('SELECT gateway_payment_id FROM payments WHERE id = $1', [created.body.id]);
      payments.push({ id: created.body.id, token: rows[0].gateway_payment_id });
    }
    const before = verifyCalls();
    for (const [mode, count] of Object.entries(FAILURES)) p.emu.failVerify(count, mode as keyof typeof FAILURES);
    for (const payment of payments) await p.emu.setStatus(payment.token, 7, { notify: false });
    // The reconciler asks about open payments unverified for 2 minutes; this one was made "3 minutes ago".
    const lost = payments.at(-1)!;
    await p.t.app.db.pool.query(`UPDATE payments SET created_at = now() - interval '3 minutes' WHERE id = $1`, [lost.id]);
    for (const payment of payments.slice(0, WITH_CALLBACK)) {
      assert.equal((await p.emu.sendIpn(payment.token)).httpStatus, 200, 'the callback is stored even though verify is down');
    }

    // Meanwhile: every verify fails, and nothing moves.
    const ids = payments.map((x) => x.id);
    const deadline = Date.now() + 60_000;
    while (verifyCalls() - before < TOTAL_FAILURES) {
      assert.ok(Date.now() < deadline, `only ${verifyCalls() - before} of ${TOTAL_FAILURES} failing verify calls were made`);
      const { rows } = await p.t.app.db.pool.query(`SELECT status, count(*)::int AS n FROM payments WHERE id = ANY($1) GROUP BY status`, [ids]);
      assert.deepEqual(rows, [{ status: 'created', n: PAYMENTS }], 'no payment moves while the gateway cannot confirm it');
      await new Promise((r) => setTimeout(r, 100));
    }

    await waitFor('every payment paid once verify answers', async () => {
      const { rows } = await p.t.app.db.pool.query(`SELECT count(*) AS n FROM payments WHERE id = ANY($1) AND status = 'paid'`, [ids]);
      return Number(rows[0].n) === PAYMENTS;
    }, 60_000, 100);

    let failedVerifies = 0;
    for (const payment of payments) {
      const events = await eventsOf(p.t, payment.id);
      const paid = events.filter((e) => e.type === 'transition' && e.to_status === 'paid');
      assert.equal(paid.length, 1, 'paid exactly once');
      const verifies = events.filter((e) => e.type === 'gateway.verify');
      // Every failed call is on record; the one success is the last verify, right before the transition.
      assert.deepEqual(verifies.map((e) => e.data.outcome), [...verifies.slice(0, -1).map(() => 'error'), 'ok']);
      assert.equal(events.indexOf(verifies.at(-1)!) + 1, events.indexOf(paid[0]!), 'the transition follows the successful verify');
      // (The lost payment joins when the reconciler first asks, up to a pass later.)
      const rounds = payment === lost ? 1 : 3;
      assert.ok(verifies.length - 1 >= rounds, `at least ${rounds} failed rounds before the success, got ${verifies.length - 1}`);
      failedVerifies += verifies.length - 1;
    }
    assert.equal(failedVerifies, TOTAL_FAILURES, 'every failed verify call is recorded against a payment');
    assert.equal(verifyCalls() - before, TOTAL_FAILURES + PAYMENTS, 'then one successful verify per payment, none more');
    const lostEvents = await eventsOf(p.t, lost.id);
    assert.ok(lostEvents.every((e) => e.type !== 'callback.received'), 'the lost payment had no callback');
    assert.match(lostEvents.find((e) => e.type === 'gateway.verify')!.cause, /reconciler/);
    assert.deepEqual(await jobsGivenUp(p.t.app.db.pool), [], 'no job gave up');
  });
});
