/**
 * A worker process SIGKILLed while its store write-backs are in flight against a slow store:
 * every store call is held 1.5 s by the WooCommerce emulator, and the worker dies the moment
 * every order's PUT has reached the store (so the store applies those PUTs, but the worker never
 * hears back nor writes the notes). After the worker restarts, every job must complete, and each
 * order must have been written exactly once: one PUT, one note.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startPaymentoEmulator, type PaymentoEmulator } from '../emulators/paymento/server.ts';
import { startWooCommerceEmulator, type WooCommerceEmulator, type WooOrder } from '../emulators/woocommerce/server.ts';
import { connectWooStore, jobsGivenUp, openJobs, startCluster, wooWritesPerOrder, type Cluster } from '../support/cluster.ts';
import { api, waitFor } from '../support/harness.ts';

const ORDERS = 8;
const WEB = 0;
const WORKER = 1;

describe('a worker killed mid write-back', () => {
  let paymento: PaymentoEmulator;
  let woo: WooCommerceEmulator;
  let cluster: Cluster;
  let merchant: { apiKey: string; secret: string };
  let store: { storeId: string; apiKey: string; connectionId: string };

  before(async () => {
    paymento = await startPaymentoEmulator({ verifyShape: 'docs', ipnRetryDelaysMs: [] });
    woo = await startWooCommerceEmulator({ allowInsecureCallback: true });
    // One process takes the HTTP traffic and runs no jobs; the other runs every job.
    cluster = await startCluster({
      size: 2,
      env: { PAYMENTO_API_ORIGIN: paymento.origin, PAYMENTO_GATEWAY_ORIGIN: paymento.gatewayOrigin, RECONCILE_EVERY: '1 hour' },
      nodeEnv: (k) => ({ COINBRIDGE_ROLE: k === WEB ? 'web' : 'worker' }),
    });
    merchant = paymento.addMerchant();
    store = await connectWooStore(cluster, woo, merchant);
  });

  after(async () => {
    try {
      await cluster?.close();
    } finally {
      await woo?.close();
      await paymento?.close();
    }
  });

  const rows = async (sql: string, params: unknown[] = []) => (await cluster.pool.query(sql, params)).rows;

  it('after a restart every job completes and every order is written once', async () => {
    const orders: Array<{ order: WooOrder; paymentId: string }> = [];
    for (let i = 0; i < ORDERS; i++) {
      const order = woo.createOrder({ total: `${20 + i}.00`, email: `kill${i}@example.com` });
      const created = await api(cluster.at(WEB), 'POST', '/v1/payments', {
        key: store.apiKey, headers: { 'idempotency-key': order.order_key },
        body: { orderId: String(order.id), amount: order.total, currency: 'USD', returnUrl: `${woo.origin}/checkout/order-received/${order.id}/`, customerEmail: order.billing.email },
      });
      assert.equal(created.status, 201, JSON.stringify(created.body));
      orders.push({ order, paymentId: created.body.id });
    }
    // Let the order.created webhooks play out first, so the store calls from here on are the write-backs.
    await woo.settle();
    await waitFor('the order.created webhooks handled', async () => {
      const [r] = await rows(`SELECT count(*) FILTER (WHERE processed_at IS NOT NULL) AS done, count(*) AS n FROM woocommerce_webhook_inbox WHERE store_id = $1`, [store.storeId]);
      return Number(r.n) === ORDERS && Number(r.done) === ORDERS;
    }, 30_000);

    woo.delayNext(500, 1_500);
    for (const { paymentId } of orders) {
      const [{ gateway_payment_id: token }] = await rows('SELECT gateway_payment_id FROM payments WHERE id = $1', [paymentId]);
      await paymento.setStatus(token, 7, { notify: false });
      const raw = paymento.ipnBody(token, 7);
      const res = await fetch(`${cluster.at(WEB).url}/ipn/paymento/${store.connectionId}`, {
        method: 'POST', body: raw, headers: { 'content-type': 'application/json', 'x-hmac-sha256-signature': paymento.signBody(merchant.apiKey, raw) },
      });
      assert.equal(res.status, 200);
    }

    const orderIds = new Set(orders.map((o) => o.order.id));
    await waitFor('every order\'s PUT to reach the store', async () => {
      const writes = wooWritesPerOrder(woo);
      return [...orderIds].every((id) => writes.get(id)?.puts === 1);
    }, 30_000, 10);
    await cluster.kill(WORKER, 'SIGKILL');
    // It died in the middle of every write-back: none of them finished.
    const [written] = await rows(`SELECT count(*) AS n FROM payment_events WHERE store_id = $1 AND type = 'store.write'`, [store.storeId]);
    assert.equal(Number(written.n), 0, 'no write-back had finished when the worker died');

    await cluster.restart(WORKER);
    // Polled until every write-back is done or a job has given up for good (then at once).
    const dead = await waitFor('every write-back to finish after the restart', async () => {
      const gaveUp = await jobsGivenUp(cluster.pool);
      if (gaveUp.length > 0) return gaveUp;
      const [r] = await rows(`SELECT count(DISTINCT payment_id) AS n FROM payment_events WHERE store_id = $1 AND type = 'store.write' AND data ->> 'outcome' = 'written'`, [store.storeId]);
      return Number(r.n) === ORDERS && (await openJobs(cluster.pool, ['payment.verify', 'store.sync'])) === 0 ? [] : undefined;
    }, 90_000, 250);
    assert.deepEqual(dead, [], 'no job gave up');
    const [paid] = await rows(`SELECT count(*) AS n FROM payment_events WHERE store_id = $1 AND type = 'transition' AND to_status = 'paid'`, [store.storeId]);
    assert.equal(Number(paid.n), ORDERS, 'one paid transition per payment');
    const writes = wooWritesPerOrder(woo);
    for (const { order, paymentId } of orders) {
      const now = woo.order(order.id);
      const [{ ref }] = await rows('SELECT ref FROM payments WHERE id = $1', [paymentId]);
      assert.equal(now.status, 'processing', `order ${order.id}`);
      assert.ok(now.date_paid, `order ${order.id} is paid`);
      assert.deepEqual(writes.get(order.id), { puts: 1, notes: 1 }, `order ${order.id}: one PUT, one note`);
      assert.equal(now.notes.filter((n) => n.note.includes(`[coinbridge:${ref}:paid]`)).length, 1, `order ${order.id} shows one payment note`);
    }
  });
});
