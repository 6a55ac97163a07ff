/**
 * Every gateway end to end through a running Coinbridge, on that gateway's sandbox: a shopper
 * pays, the signed callbacks arrive over HTTP, the payment is verified and settled once; then a
 * duplicate, an out-of-order (older) and a forged callback change nothing. The same checks for
 * each gateway: what differs is only how each one names and signs things.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { findSandboxAccount, findSandboxPayment, type SandboxPayment } from '../../src/gateways/sandbox/sandbox-store.ts';
import { sandboxSkin } from '../../src/gateways/sandbox/skins.ts';
import { GATEWAY_NAMES, type GatewayName } from '../../src/gateways/types.ts';
import { api, createTestStore, eventsOf, paymentBody, sandboxAction, startTestApp, waitForStatus, type TestApp, type TestStore } from '../support/harness.ts';

/** A state each gateway reports before "paid" (Paymento/Crypto Checkout: transaction seen; CryptoNow: payment created). */
const EARLIER: Record<GatewayName, number> = { paymento: 3, 'crypto-checkout': 3, cryptonow: 1 };

describe('every gateway end to end on its sandbox', () => {
  let t: TestApp;
  before(async () => { t = await startTestApp(); });
  after(() => t?.close());

  for (const gateway of GATEWAY_NAMES) {
    describe(gateway, () => {
      let shop: TestStore;
      before(async () => { shop = await createTestStore(t, { gateway, name: `E2E ${gateway}` }); });

      const send = async (cb: { body: string; headers: Record<string, string> }) =>
        fetch(`${t.url}/ipn/${gateway}/${shop.connection.id}`, { method: 'POST', headers: cb.headers, body: cb.body });
      const callbackFor = async (payment: SandboxPayment) => {
        const account = (await findSandboxAccount(t.app.db.pool, payment.apiKey, gateway))!;
        const cb = sandboxSkin(gateway).callback(payment, account, new Date());
        assert.ok(cb, `the ${gateway} sandbox sends a callback in status ${payment.status}`);
        return cb;
      };
      const counts = async (paymentId: string) => {
        const events = await eventsOf(t, paymentId);
        const inbox = (await t.app.db.pool.query('SELECT count(*)::int AS n FROM inbox WHERE payment_id = $1', [paymentId])).rows[0].n as number;
        return { transitions: events.filter((e) => e.type === 'transition').length, inbox };
      };

      it('paid once; a duplicate, an older and a forged callback change nothing', async () => {
        const res = await api(t, 'POST', '/v1/payments', { key: shop.apiKey, body: paymentBody(`E2E-${gateway}-1`) });
        assert.equal(res.status, 201, JSON.stringify(res.body));
        const token = (await t.app.db.pool.query('SELECT gateway_payment_id FROM payments WHERE id = $1', [res.body.id])).rows[0].gateway_payment_id;
        await sandboxAction(t, token, 'pay', gateway);
        await waitForStatus(t, res.body.id, 'paid');
        const settled = (await eventsOf(t, res.body.id)).filter((e) => e.to_status === 'paid');
        assert.equal(settled.length, 1);
        const before = await counts(res.body.id);

        const paid = (await findSandboxPayment(t.app.db.pool, token))!;
        const duplicate = await send(await callbackFor(paid));
        assert.equal(duplicate.status, 200);
        assert.equal((await duplicate.json()).duplicate, true, 'the same notification again is recognised');

        const older = await send(await callbackFor({ ...paid, status: EARLIER[gateway] }));
        assert.equal(older.status, 200, 'an older state is acknowledged, so the gateway stops resending it');
        // Let its verify job run: it must find the gateway still saying paid and change nothing.
        await new Promise((r) => setTimeout(r, 1500));

        // A forged callback: the body claims more than was signed (one byte added at the end).
        const forgedCb = await callbackFor(paid);
        const forged = await send({ ...forgedCb, body: `${forgedCb.body} ` });
        assert.equal(forged.status, 401);

        const after = await counts(res.body.id);
        assert.equal(after.transitions, before.transitions, 'no transition after paid');
        assert.ok(after.inbox <= before.inbox + 1, 'only the genuinely new (older-state) callback is stored');
        const checkout = await api(t, 'GET', `/v1/checkout/${res.body.ref}`);
        assert.equal(checkout.body.status, 'paid');
      });

      it('expires when the shopper lets the window close', async () => {
        const res = await api(t, 'POST', '/v1/payments', { key: shop.apiKey, body: paymentBody(`E2E-${gateway}-2`) });
        const token = (await t.app.db.pool.query('SELECT gateway_payment_id FROM payments WHERE id = $1', [res.body.id])).rows[0].gateway_payment_id;
        await sandboxAction(t, token, 'expire', gateway);
        await waitForStatus(t, res.body.id, 'expired');
      });
    });
  }
});
