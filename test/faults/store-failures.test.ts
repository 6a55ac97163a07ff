/**
 * The store's API failing under a write-back (WooCommerce emulator, live Paymento emulator):
 * 429 with Retry-After, 500, and a PUT that outlives Coinbridge's deadline but is applied by the
 * store anyway. Each time the write is retried until it lands, and lands once: one move to
 * processing, one payment note, the order paid once.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { connectGateway } from '../../src/core/connections.ts';
import { startPaymentoEmulator, type PaymentoEmulator } from '../emulators/paymento/server.ts';
import { eventsOf, waitFor, waitForStatus } from '../support/harness.ts';
import { beginConnect, checkout, claim, startWithWoo, type WithWoo } from '../support/woocommerce.ts';

/** Coinbridge's deadline for one store call; the "slow" store answers after three times that. */
const TIMEOUT_MS = 1_000;

describe('store API failures during write-back', () => {
  let paymento: PaymentoEmulator;
  let w: WithWoo;
  let apiKey: string;
  let storeId: string;

  before(async () => {
    paymento = await startPaymentoEmulator({ verifyShape: 'docs' });
    w = await startWithWoo({ PAYMENTO_API_ORIGIN: paymento.origin, PAYMENTO_GATEWAY_ORIGIN: paymento.gatewayOrigin, GATEWAY_TIMEOUT_MS: String(TIMEOUT_MS), RECONCILE_EVERY: '1 hour' });
    const { claimSecret, res } = await beginConnect(w);
    assert.equal(res.status, 302);
    assert.equal((await w.emu.approve(res.headers.get('location')!)).callbackStatus, 200);
    const claimed = await waitFor('the key claim', async () => {
      const r = await claim(w, claimSecret);
      return r.status === 202 ? undefined : r;
    });
    assert.equal(claimed.status, 200, JSON.stringify(claimed.body));
    ({ apiKey, storeId } = claimed.body);
    const merchant = paymento.addMerchant();
    const { db, box, gateways, config } = w.t.app;
    await connectGateway({ db, box, gateways, publicUrl: config.publicUrl, allowPrivateUrls: true },
      { storeId, gateway: 'paymento', mode: 'live', credentials: { apiKey: merchant.apiKey, ipnSecret: merchant.secret } });
  });

  after(async () => {
    try {
      await w?.close();
    } finally {
      await paymento?.close();
    }
  });

  /**
   * An order checked out and paid at the gateway, with `inject` armed just before the paid IPN:
   * everything else the store was doing (the order.created webhook and its job) is over by then,
   * so the faults hit the write-back's own calls, in order: GET order, PUT order, GET notes, POST note.
   */
  async function payWith(inject: () => void) {
    const { order, paymentId } = await checkout(w, apiKey, '31.50');
    await w.emu.settle();
    await waitFor('the order.created webhook handled', async () => {
      const { rows } = await w.t.app.db.pool.query('SELECT count(*) AS n FROM woocommerce_webhook_inbox WHERE store_id = $1 AND processed_at IS NULL', [storeId]);
      return Number(rows[0].n) === 0;
    });
    const before = w.emu.requests.length;
    inject();
    const { rows } = await w.t.app.db.pool.query('SELECT gateway_payment_id, ref FROM payments WHERE id = $1', [paymentId]);
    await paymento.setStatus(rows[0].gateway_payment_id, 7);
    await waitForStatus(w.t, paymentId, 'paid');
    const writes = await waitFor('the write-back to land', async () => {
      const events = (await eventsOf(w.t, paymentId)).filter((e) => e.type === 'store.write');
      return events.some((e) => e.data.outcome === 'written') ? events : undefined;
    }, 30_000);
    await w.emu.settle();
    const calls = w.emu.requests.slice(before).filter((r) => r.path.startsWith(`/wp-json/wc/v3/orders/${order.id}`))
      .map((r) => `${r.method} ${r.path.split('?')[0]!.replace(`/wp-json/wc/v3/orders/${order.id}`, 'order')}`);
    return { order: w.emu.order(order.id), ref: rows[0].ref as string, writes, calls };
  }

  /** Paid once: moved to processing once (WooCommerce's own note says so), one Coinbridge note. */
  function assertWrittenOnce(o: Awaited<ReturnType<typeof payWith>>) {
    assert.equal(o.order.status, 'processing');
    assert.ok(o.order.date_paid);
    assert.ok(o.order.transaction_id);
    assert.equal(o.order.notes.filter((n) => n.note === 'Order status changed from Pending payment to Processing.').length, 1);
    assert.equal(o.order.notes.filter((n) => n.note.includes(`[coinbridge:${o.ref}:paid]`)).length, 1);
    assert.ok(o.order.paymentCompletions <= 1);
    assert.equal(o.writes.filter((e) => e.data.outcome === 'written').length, 1, 'one write-back finished');
  }

  it('429 with Retry-After: retried after the wait, written once', async () => {
    const o = await payWith(() => w.emu.failNext(2, 429, { retryAfterS: 1 }));
    assertWrittenOnce(o);
    assert.deepEqual(o.writes.map((e) => e.data.outcome), ['error', 'error', 'written']);
    assert.ok(o.writes.slice(0, 2).every((e) => /answered 429/.test(e.data.message) && e.data.retryable === true));
    assert.deepEqual(o.calls.filter((c) => c.startsWith('PUT') || c.startsWith('POST')), ['PUT order', 'POST order/notes']);
  });

  it('500: retried with backoff, written once', async () => {
    const o = await payWith(() => w.emu.failNext(2, 500));
    assertWrittenOnce(o);
    assert.deepEqual(o.writes.map((e) => e.data.outcome), ['error', 'error', 'written']);
    assert.ok(o.writes.slice(0, 2).every((e) => /answered 500/.test(e.data.message)));
    assert.deepEqual(o.calls.filter((c) => c.startsWith('PUT') || c.startsWith('POST')), ['PUT order', 'POST order/notes']);
  });

  it('a PUT that times out but is applied by the store anyway: retried, and the order still moves and is noted once', async () => {
    // GET order answers at once; the PUT after it waits 3 × the deadline, then is applied.
    const o = await payWith(() => {
      w.emu.delayNext(1, 1);
      w.emu.delayNext(1, 3 * TIMEOUT_MS);
    });
    assertWrittenOnce(o);
    assert.deepEqual(o.writes.map((e) => e.data.outcome), ['error', 'written']);
    assert.match(o.writes[0]!.data.message, /could not be reached \(PUT orders\/\d+\)/);
    // The retry may PUT the same paid state again if it reads the order before the slow PUT
    // lands; WooCommerce applies a repeat as no change (the single status note above says so).
    const puts = o.calls.filter((c) => c === 'PUT order').length;
    assert.ok(puts === 1 || puts === 2, `${puts} PUTs`);
    assert.equal(o.calls.filter((c) => c === 'POST order/notes').length, 1);
  });
});
