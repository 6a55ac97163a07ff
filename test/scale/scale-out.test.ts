/**
 * Scale-out: three Coinbridge processes on one PostgreSQL database behind the test's own round
 * robin. SCALE_PAYMENTS payments (default 10,000) are checked out through the round robin, 50 at
 * a time: every SCALE_STORE_EVERY-th one (default 10th) is a WooCommerce order (emulator, with its
 * write-back), the others come from a direct store; both stores are on live Paymento accounts
 * (emulator). Each payment's signed "paid" IPN goes to one process and, at the same moment, its
 * duplicate to another; a tenth get a third copy later.
 *
 * Then: every payment paid by exactly one transition, one inbox row per notification, no job
 * given up, and every WooCommerce order written exactly once (one PUT to processing with the tx
 * hash, one note). A WooCommerce payment costs the machine about twice what a direct one does
 * (write-back calls, the store's webhooks and their jobs), which is why not all are: 10,000 of
 * them would not fit in the few minutes a CI run can give this file.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startPaymentoEmulator, type PaymentoEmulator } from '../emulators/paymento/server.ts';
import { startWooCommerceEmulator, type WooCommerceEmulator, type WooOrder } from '../emulators/woocommerce/server.ts';
import { connectWooStore, jobsGivenUp, openJobs, startCluster, wooWritesPerOrder, type Cluster } from '../support/cluster.ts';
import { api, paymentBody, waitFor } from '../support/harness.ts';

const PAYMENTS = Number(process.env.SCALE_PAYMENTS ?? 10_000);
const STORE_EVERY = Number(process.env.SCALE_STORE_EVERY ?? 10);
const IN_FLIGHT = 50;
const PROCESSES = 3;
const isWoo = (i: number) => i % STORE_EVERY === 0;
const WOO_PAYMENTS = Array.from({ length: PAYMENTS }, (_, i) => i).filter(isWoo).length;

/** What a real sender does with a 5xx or a refused connection: retry, a few times. Counted. */
async function withRetries<T extends { status: number }>(what: string, fn: () => Promise<T>, retried: { n: number }): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      const res = await fn();
      if (res.status < 500 || attempt >= 5) return res;
    } catch (err) {
      if (attempt >= 5) throw new Error(`${what}: ${(err as Error).message}`);
    }
    retried.n++;
    await new Promise((r) => setTimeout(r, 200 * attempt));
  }
}

async function metric(url: string, name: string, labels: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name}{${labels}}`));
  return line ? Number(line.split(' ').at(-1)) : 0;
}

interface Store { storeId: string; apiKey: string; connectionId: string; merchant: { apiKey: string; secret: string } }

describe(`scale-out: ${PAYMENTS} payments over ${PROCESSES} processes`, () => {
  let paymento: PaymentoEmulator;
  let woo: WooCommerceEmulator;
  let cluster: Cluster;
  let direct: Store;
  let shop: Store;

  before(async () => {
    paymento = await startPaymentoEmulator({ verifyShape: 'docs', ipnRetryDelaysMs: [] });
    woo = await startWooCommerceEmulator({ allowInsecureCallback: true });
    cluster = await startCluster({
      size: PROCESSES,
      env: {
        PAYMENTO_API_ORIGIN: paymento.origin, PAYMENTO_GATEWAY_ORIGIN: paymento.gatewayOrigin, LOG_LEVEL: 'warn',
        // The reconcilers would only re-ask about payments the callbacks settle anyway.
        RECONCILE_EVERY: '1 hour',
        // Under this load a job may wait in a process's queue for seconds; it must not be taken over meanwhile.
        JOB_LOCK_LIFETIME_MS: '60000',
        // Wake-ups bring new jobs at once; polling often would only add empty lock attempts.
        JOB_POLL_MS: '1000',
      },
    });
    const directMerchant = paymento.addMerchant();
    const created = await cluster.cli(['create-store', '--name', 'Direct shop', '--mode', 'live', '--api-key', directMerchant.apiKey, '--ipn-secret', directMerchant.secret]);
    direct = { storeId: created.storeId, apiKey: created.apiKey, connectionId: created.connectionId, merchant: directMerchant };
    const shopMerchant = paymento.addMerchant();
    shop = { ...await connectWooStore(cluster, woo, shopMerchant), merchant: shopMerchant };
  });

  after(async () => {
    try {
      await cluster?.close();
    } finally {
      await woo?.close();
      await paymento?.close();
    }
  });

  it('settles every payment once and writes every order once, with duplicates on different processes', { timeout: 600_000 }, async () => {
    const started = Date.now();
    const retried = { n: 0 };
    const sentTo = new Array<number>(PROCESSES).fill(0);
    const paid: Array<{ i: number; store: Store; token: string; order?: WooOrder }> = [];

    const postIpn = (k: number, store: Store, raw: string) => withRetries('IPN', async () => {
      sentTo[k]!++;
      const res = await fetch(`${cluster.at(k).url}/ipn/paymento/${store.connectionId}`, {
        method: 'POST', body: raw, headers: { 'content-type': 'application/json', 'x-hmac-sha256-signature': paymento.signBody(store.merchant.apiKey, raw) },
      });
      return { status: res.status, body: await res.json().catch(() => null) as { duplicate?: boolean } | null };
    }, retried);

    const checkout = async (i: number) => {
      if (!isWoo(i)) {
        const res = await withRetries('create', () => api(cluster.next(), 'POST', '/v1/payments', {
          key: direct.apiKey, headers: { 'idempotency-key': `scale-${i}` }, body: paymentBody(`SCALE-${i}`, { amount: `${10 + (i % 90)}.${String(i % 100).padStart(2, '0')}` }),
        }), retried);
        return { store: direct, res };
      }
      const order = woo.createOrder({ total: `${10 + (i % 90)}.${String(i % 100).padStart(2, '0')}`, email: `shopper${i}@example.com` });
      // What the plugin's process_payment sends.
      const res = await withRetries('create', () => api(cluster.next(), 'POST', '/v1/payments', {
        key: shop.apiKey, headers: { 'idempotency-key': order.order_key },
        body: { orderId: String(order.id), amount: order.total, currency: 'USD', customerEmail: order.billing.email,
          returnUrl: `${woo.origin}/checkout/order-received/${order.id}/?key=${order.order_key}`, metadata: { orderKey: order.order_key, orderNumber: order.number } },
      }), retried);
      return { store: shop, res, order };
    };

    const shopper = async (i: number) => {
      const { store, res, order } = await checkout(i);
      assert.equal(res.status, 201, JSON.stringify(res.body));
      const { rows } = await cluster.pool.query('SELECT gateway_payment_id FROM payments WHERE id = $1', [res.body.id]);
      const token = rows[0].gateway_payment_id as string;
      await paymento.setStatus(token, 7, { notify: false });
      const raw = paymento.ipnBody(token, 7);
      const answers = await Promise.all([i % PROCESSES, (i + 1) % PROCESSES].map((k) => postIpn(k, store, raw)));
      assert.deepEqual(answers.map((a) => a.status), [200, 200]);
      assert.equal(answers.filter((a) => a.body?.duplicate === false).length, 1, 'one of the two copies is stored, the other is a duplicate');
      paid.push({ i, store, token, ...(order ? { order } : {}) });
    };

    let nextIndex = 0;
    await Promise.all(Array.from({ length: IN_FLIGHT }, async () => {
      while (nextIndex < PAYMENTS) await shopper(nextIndex++);
    }));
    const sent = Date.now();

    const count = async (sql: string, params: unknown[]) => Number((await cluster.pool.query(sql, params)).rows[0].n);
    await waitFor('every payment paid and every job done', async () => {
      const settled = await count(`SELECT count(*) AS n FROM payments WHERE status = 'paid'`, []);
      return settled === PAYMENTS && (await openJobs(cluster.pool, ['payment.verify', 'store.sync', 'woocommerce.webhook'])) === 0;
    }, 600_000, 1000);
    const settled = Date.now();

    // Late duplicates, each to a third process: acknowledged, nothing changes.
    for (const p of paid) {
      if (p.i % 10 !== 0) continue;
      const again = await postIpn((p.i + 2) % PROCESSES, p.store, paymento.ipnBody(p.token, 7));
      assert.deepEqual([again.status, again.body?.duplicate], [200, true]);
    }

    // The database: one paid transition per payment, one inbox row per distinct notification.
    for (const [store, n] of [[direct, PAYMENTS - WOO_PAYMENTS], [shop, WOO_PAYMENTS]] as const) {
      const { storeId, connectionId } = store;
      assert.equal(await count(`SELECT count(*) AS n FROM payments WHERE store_id = $1 AND status = 'paid'`, [storeId]), n);
      assert.equal(await count(`SELECT count(*) AS n FROM payments WHERE store_id = $1`, [storeId]), n);
      assert.equal(await count(`SELECT count(*) AS n FROM payment_events WHERE store_id = $1 AND type = 'transition' AND to_status = 'paid'`, [storeId]), n);
      assert.equal(await count(`SELECT count(DISTINCT payment_id) AS n FROM payment_events WHERE store_id = $1 AND type = 'transition' AND to_status = 'paid'`, [storeId]), n);
      assert.equal(await count(`SELECT count(*) AS n FROM inbox WHERE connection_id = $1`, [connectionId]), n);
      assert.equal(await count(`SELECT count(DISTINCT dedupe_key) AS n FROM inbox WHERE connection_id = $1 AND processed_at IS NOT NULL`, [connectionId]), n);
    }
    const gaveUp = await jobsGivenUp(cluster.pool);
    assert.deepEqual(gaveUp.slice(0, 5), [], `${gaveUp.length} jobs gave up`);
    assert.equal(await count(`SELECT count(*) AS n FROM payment_events WHERE store_id = $1 AND type = 'store.write'`, [direct.storeId]), 0);
    assert.equal(await count(`SELECT count(*) AS n FROM payment_events WHERE store_id = $1 AND type = 'store.write' AND data ->> 'outcome' = 'written'`, [shop.storeId]), WOO_PAYMENTS);
    assert.equal(await count(`SELECT count(DISTINCT payment_id) AS n FROM payment_events WHERE store_id = $1 AND type = 'store.write'`, [shop.storeId]), WOO_PAYMENTS);

    // The store: exactly one paid write per order.
    const writes = wooWritesPerOrder(woo);
    const wrong: string[] = [];
    for (const { order } of paid) {
      if (!order) continue;
      const now = woo.order(order.id);
      const marked = now.notes.filter((n) => n.note.includes(':paid]')).length;
      const w = writes.get(order.id);
      if (now.status !== 'processing' || !now.date_paid || !now.transaction_id || marked !== 1 || w?.puts !== 1 || w.notes !== 1) {
        wrong.push(`order ${order.id}: ${now.status}, paid ${now.date_paid}, tx "${now.transaction_id}", ${marked} notes shown, writes ${JSON.stringify(w)}`);
      }
    }
    assert.deepEqual(wrong.slice(0, 10), [], `${wrong.length} orders not written exactly once`);
    assert.equal(writes.size, WOO_PAYMENTS, 'no other order was written');

    // Every process took callbacks (each counted exactly what was sent to it) and settled payments.
    const duplicates: number[] = [];
    for (const k of cluster.nodes.map((n) => n.index)) {
      assert.equal(await metric(cluster.at(k).url, 'coinbridge_callbacks_received_total', 'source="paymento"'), sentTo[k]);
      duplicates.push(await metric(cluster.at(k).url, 'coinbridge_callbacks_duplicated_total', 'source="paymento"'));
      assert.ok(await metric(cluster.at(k).url, 'coinbridge_payment_transitions_total', 'to="paid"') > 0, `process ${k} settled payments`);
    }
    assert.equal(duplicates.reduce((a, b) => a + b, 0), sentTo.reduce((a, b) => a + b, 0) - PAYMENTS);

    const verifies = paymento.requests.filter((r) => r.path === '/v1/payment/verify').length;
    console.log(`scale-out: ${PAYMENTS} payments (${WOO_PAYMENTS} WooCommerce); created and called back in ${((sent - started) / 1000).toFixed(1)} s, `
      + `all settled and written after ${((settled - started) / 1000).toFixed(1)} s; ${verifies} verify calls, ${retried.n} sender retries, IPNs per process ${sentTo.join('/')}`);
  });
});
