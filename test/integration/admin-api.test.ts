/**
 * The support console's JSON API (issue 6) over real HTTP and a real database, beside the Shopify
 * emulator: search, filters, store scoping per role, actions and their audit entries, the
 * order ↔ payment timeline, the reconciliation CSV and the mismatch report.
 */
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { csvCell } from '../../src/admin/queries/export.ts';
import { createStore, insertConnection } from '../../src/db/stores-repo.ts';
import { staffClient } from '../support/admin.ts';
import { api, createTestStore, paymentBody, sandboxAction, sandboxToken, waitFor, waitForStatus, type TestApp, type TestStore } from '../support/harness.ts';
import { capturesOf, installShop, paymentForOrder, placeOrder, startWithShopify, type WithShopify } from '../support/shopify.ts';

/** RFC 4180: fields separated by commas, records by CRLF, quoted fields may hold , " CR LF ("" is a quote). */
function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = '';
  let quoted = false;
  let i = 0;
  while (i < text.length) {
    const c = text[i]!;
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') { field += '"'; i += 2; continue; }
      if (c === '"') { quoted = false; i++; continue; }
      field += c; i++; continue;
    }
    if (c === '"' && field === '') { quoted = true; i++; continue; }
    if (c === ',') { row.push(field); field = ''; i++; continue; }
    if (c === '\r' && text[i + 1] === '\n') { row.push(field); rows.push(row); row = []; field = ''; i += 2; continue; }
    assert.ok(c !== '"' && c !== '\n' && c !== '\r', `unquoted ${JSON.stringify(c)} at ${i}`);
    field += c; i++;
  }
  assert.equal(field, '', 'the last record ends with CRLF');
  assert.equal(row.length, 0);
  return rows;
}

/** What a cell should read once the formula guard is applied. */
const guarded = (v: string | null) => (v !== null && /^[=+\-@\t\r]/.test(v) ? `'${v}` : v ?? '');

interface SeedPayment {
  storeId: string; connectionId: string; status: string; amount?: string; currency?: string; orderId?: string; createdAt?: string;
  cryptoExpected?: string; cryptoReceived?: string; coin?: string; network?: string; txHash?: string; metadata?: Record<string, unknown>; email?: string;
}

/** A payment row as the service would leave it, written straight into the database. */
async function seedPayment(t: TestApp, p: SeedPayment): Promise<{ id: string; ref: string }> {
  const [whole, frac = ''] = (p.amount ?? '40.00').split('.');
  const minor = BigInt(whole!) * 100n + BigInt((frac + '00').slice(0, 2));
  const { rows } = await t.app.db.pool.query(
    `INSERT INTO payments (ref, store_id, connection_id, order_id, status, amount_minor, currency, return_url, customer_email, metadata, request_hash,
       crypto_expected, crypto_received, crypto_coin, network, tx_hash, gateway_payment_id, expires_at, created_at, updated_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7, 'https://shop.example/thanks', $8, $9, 'seed', $10, $11, $12, $13, $14, $15,
       coalesce($16::timestamptz, now()) + interval '30 minutes', coalesce($16::timestamptz, now()), coalesce($16::timestamptz, now()) + interval '5 minutes')
     RETURNING id, ref`,
    [crypto.randomBytes(11).toString('hex'), p.storeId, p.connectionId, p.orderId ?? `seed-${crypto.randomUUID()}`, p.status, minor.toString(), p.currency ?? 'USD',
      p.email ?? null, JSON.stringify(p.metadata ?? {}), p.cryptoExpected ?? null, p.cryptoReceived ?? null, p.coin ?? null, p.network ?? null, p.txHash ?? null,
      `gw-${crypto.randomUUID()}`, p.createdAt ?? null],
  );
  return rows[0];
}

async function seedEvent(t: TestApp, e: { paymentId: string; storeId: string; type: string; cause: string; data: Record<string, unknown> }): Promise<void> {
  await t.app.db.pool.query('INSERT INTO payment_events (payment_id, store_id, type, cause, data) VALUES ($1, $2, $3, $4, $5)',
    [e.paymentId, e.storeId, e.type, e.cause, JSON.stringify(e.data)]);
}

const capture = (amount: string) => ({ operation: 'orderCapture', request: { id: 'gid://shopify/Order/1', parentTransactionId: 'gid://shopify/OrderTransaction/1', amount, currency: 'USD' }, outcome: 'ok', response: { transactionId: 'gid://shopify/OrderTransaction/2' } });
const paidWrite = (amount: string) => ({ outcome: 'written', reason: 'captured the verified amount', writes: [capture(amount), { operation: 'metafieldsSet', request: { keys: ['payment_id'] }, outcome: 'ok' }, { operation: 'tagsAdd', request: { tags: ['coinbridge-paid'] }, outcome: 'ok' }] });

describe('support console API', () => {
  let s: WithShopify;
  let t: TestApp;
  const SHOP = 'console-a.myshopify.com';
  let storeA: string;
  let storeB: TestStore;
  type Client = Awaited<ReturnType<typeof staffClient>>;
  let operator: Client;
  let merchantA: Client;
  let merchantB: Client;
  let supportA: Client;
  let paid: { id: string; ref: string; orderGid: string; orderName: string; txHash: string; gatewayId: string };
  let bPayment: { id: string; ref: string };

  before(async () => {
    s = await startWithShopify();
    t = s.t;
    ({ storeId: storeA } = await installShop(s, SHOP, { settings: { latePaymentPolicy: 'review' } }));
    storeB = await createTestStore(t, { name: 'Store B' });
    [operator, merchantA, merchantB, supportA] = await Promise.all([
      staffClient(t, { role: 'operator' }),
      staffClient(t, { role: 'merchant', storeIds: [storeA] }),
      staffClient(t, { role: 'merchant', storeIds: [storeB.store.id] }),
      staffClient(t, { role: 'support', storeIds: [storeA] }),
    ]);

    const order = await placeOrder(s, SHOP, { total: '40.00', email: 'Buyer.One@Example.com' });
    const payment = await paymentForOrder(s, order.id, 'created');
    await sandboxAction(t, await sandboxToken(t, payment.id), 'pay');
    await waitForStatus(t, payment.id, 'paid');
    await waitFor('the paid write-back', async () => s.emu.order(order.id).tags.includes('coinbridge-paid'));
    await waitFor('the store.write event', async () => (await t.app.db.pool.query(
      `SELECT 1 FROM payment_events WHERE payment_id = $1 AND type = 'store.write' AND data ->> 'outcome' = 'written'`, [payment.id])).rows[0]);
    const { rows } = await t.app.db.pool.query('SELECT tx_hash, gateway_payment_id FROM payments WHERE id = $1', [payment.id]);
    assert.ok(rows[0].tx_hash, 'the paid payment has a tx hash');
    paid = { id: payment.id, ref: payment.ref, orderGid: order.id, orderName: order.name, txHash: rows[0].tx_hash, gatewayId: rows[0].gateway_payment_id };

    const created = await api(t, 'POST', '/v1/payments', { key: storeB.apiKey, body: paymentBody('B-1001', { customerEmail: 'b-customer@example.com' }) });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    bPayment = { id: created.body.id, ref: created.body.ref };
  });
  after(async () => { await s?.close(); });

  const search = async (c: Client, params: Record<string, string>) => {
    const res = await c.request('GET', `/v1/admin/search?${new URLSearchParams(params)}`);
    assert.equal(res.status, 200, JSON.stringify(res.body));
    return res.body as { items: any[]; nextBefore: string | null };
  };

  it('refuses the signed-out and CSRF-less requests', async () => {
    assert.equal((await api(t, 'GET', '/v1/admin/search')).status, 401);
    const noCsrf = await merchantA.request('POST', `/v1/admin/payments/${paid.id}/resync`, {}, { 'x-csrf-token': '' });
    assert.equal(noCsrf.status, 403);
    assert.equal(noCsrf.body.error.code, 'csrf_failed');
  });

  it('finds a payment by tx hash, ref, gateway payment id, order number or id, payment id and customer email', async () => {
    const numeric = paid.orderGid.split('/').pop()!;
    for (const q of [paid.txHash, paid.txHash.toUpperCase(), paid.ref, paid.gatewayId, paid.orderName, paid.orderName.replace('#', ''), numeric, paid.orderGid, paid.id,
      'buyer.one@example.com', 'BUYER.ONE@EXAMPLE.COM', 'buyer.o']) {
      const { items } = await search(merchantA, { q });
      assert.deepEqual(items.map((i) => i.paymentId), [paid.id], `q=${q}`);
    }
    const [item] = (await search(merchantA, { q: paid.txHash })).items;
    assert.equal(item.ref, paid.ref);
    assert.equal(item.storeId, storeA);
    assert.equal(item.storeName, SHOP);
    assert.equal(item.platform, 'shopify');
    assert.equal(item.orderId, paid.orderGid);
    assert.equal(item.orderName, paid.orderName);
    assert.equal(item.status, 'paid');
    assert.deepEqual([item.amount, item.currency], ['40.00', 'USD']);
    assert.equal(item.txHash, paid.txHash);
    assert.equal(item.customerEmail.toLowerCase(), 'buyer.one@example.com');
    assert.equal(item.hasFailedJobs, false);
    assert.ok(!Number.isNaN(Date.parse(item.createdAt)) && !Number.isNaN(Date.parse(item.updatedAt)));

    const { items: byOrder } = await search(operator, { q: 'B-1001' });
    assert.deepEqual(byOrder.map((i) => i.paymentId), [bPayment.id]);
    assert.deepEqual((await search(operator, { q: 'b-customer@example.com' })).items.map((i) => i.paymentId), [bPayment.id]);
    assert.deepEqual((await search(operator, { q: 'nothing-like-this' })).items, []);
  });

  it('filters by store, status, date range and failed jobs, newest first with keyset pages', async () => {
    const more = await api(t, 'POST', '/v1/payments', { key: storeB.apiKey, body: paymentBody('B-1002') });
    assert.equal(more.status, 201);
    const byStore = await search(operator, { storeId: storeB.store.id });
    assert.deepEqual(byStore.items.map((i) => i.paymentId), [more.body.id, bPayment.id], 'newest first');
    assert.ok((await search(operator, { status: 'paid' })).items.every((i) => i.status === 'paid'));
    assert.ok((await search(operator, { status: 'paid' })).items.some((i) => i.paymentId === paid.id));
    assert.deepEqual((await search(operator, { status: 'created', storeId: storeA, q: paid.ref })).items, []);
    const hourAgo = new Date(Date.now() - 3_600_000).toISOString();
    const inHour = new Date(Date.now() + 3_600_000).toISOString();
    assert.equal((await search(operator, { storeId: storeB.store.id, from: hourAgo, to: inHour })).items.length, 2);
    assert.deepEqual((await search(operator, { storeId: storeB.store.id, to: hourAgo })).items, []);
    assert.deepEqual((await search(operator, { storeId: storeB.store.id, from: inHour })).items, []);
    assert.equal((await operator.request('GET', '/v1/admin/search?from=yesterday')).status, 400);
    assert.equal((await operator.request('GET', '/v1/admin/search?status=bogus')).status, 400);

    const page1 = await search(operator, { storeId: storeB.store.id, limit: '1' });
    assert.equal(page1.items.length, 1);
    assert.ok(page1.nextBefore);
    const page2 = await search(operator, { storeId: storeB.store.id, limit: '1', before: page1.nextBefore! });
    assert.deepEqual(page2.items.map((i) => i.paymentId), [bPayment.id]);
    assert.equal(page2.nextBefore, null, 'the last page');
    assert.equal((await operator.request('GET', '/v1/admin/search?before=garbage')).status, 400);

    // A write-back that gave up: the failed-jobs filter and the health view both show it.
    await t.app.db.pool.query(
      `INSERT INTO agenda_jobs (name, data, next_run_at, priority, type, failed_at, fail_count, fail_reason, last_run_at)
       VALUES ('store.sync', $1, NULL, 0, 'normal', now(), 12, 'Shopify answered 503', now())`, [JSON.stringify({ paymentId: paid.id })]);
    for (const params of [{ failedJobs: 'true' }, { status: 'failed_jobs' }] as Record<string, string>[]) {
      const { items } = await search(merchantA, params);
      assert.deepEqual(items.map((i) => i.paymentId), [paid.id]);
      assert.equal(items[0].hasFailedJobs, true);
    }
    const health = await merchantA.request('GET', '/v1/admin/health');
    assert.equal(health.status, 200);
    assert.equal(health.body.attention, true);
    assert.equal(health.body.stores[0].failingJobs, 1);
    assert.ok(health.body.stores[0].reasons.some((r: string) => /job/.test(r)));
  });

  it('support may re-verify, re-sync and retry a failed job, but not resolve reviews or change settings', async () => {
    const reverify = await supportA.request('POST', `/v1/admin/payments/${paid.id}/reverify`, { reason: 'customer asked' });
    assert.equal(reverify.status, 200, JSON.stringify(reverify.body));
    assert.deepEqual(reverify.body, { status: 'paid', changed: false });

    const resync = await supportA.request('POST', `/v1/admin/payments/${paid.id}/resync`);
    assert.equal(resync.status, 200, JSON.stringify(resync.body));
    assert.deepEqual(resync.body, { queued: true });

    const detail = await supportA.request('GET', `/v1/admin/payments/${paid.id}`);
    const failed = detail.body.jobs.find((j: any) => j.failedAt);
    assert.ok(failed, 'the failed job is on the payment page');
    assert.equal(failed.failReason, 'Shopify answered 503');
    const writesBefore = (await t.app.db.pool.query(`SELECT count(*)::int AS n FROM payment_events WHERE payment_id = $1 AND type = 'store.write'`, [paid.id])).rows[0].n;
    const retry = await supportA.request('POST', `/v1/admin/jobs/${failed.id}/retry`, { reason: 'Shopify is back' });
    assert.equal(retry.status, 200, JSON.stringify(retry.body));
    await waitFor('the retried job to run and be done', async () => (await t.app.db.pool.query('SELECT 1 FROM agenda_jobs WHERE id = $1', [failed.id])).rows.length === 0)
      .catch(async (err) => { throw new Error(`${err.message}: ${JSON.stringify((await t.app.db.pool.query('SELECT * FROM agenda_jobs WHERE id = $1', [failed.id])).rows)}`); });
    const writesAfter = (await t.app.db.pool.query(`SELECT count(*)::int AS n FROM payment_events WHERE payment_id = $1 AND type = 'store.write'`, [paid.id])).rows[0].n;
    assert.ok(writesAfter > writesBefore, 'the write-back ran again');
    assert.deepEqual(capturesOf(s.emu, paid.orderGid).map(Number), [40], 'never captured twice');
    assert.equal((await supportA.request('POST', `/v1/admin/jobs/${failed.id}/retry`)).status, 404, 'a finished job is gone');
    await waitFor('no failing jobs left', async () => (await merchantA.request('GET', '/v1/admin/health')).body.stores[0].failingJobs === 0);

    const resolve = await supportA.request('POST', `/v1/admin/payments/${paid.id}/resolve`, { to: 'paid', note: 'looks fine to me' });
    assert.equal(resolve.status, 403);
    assert.equal(resolve.body.error.code, 'forbidden');
    const settings = await supportA.request('PUT', `/v1/admin/stores/${storeA}/settings`, { expiryMinutes: 45 });
    assert.equal(settings.status, 403);

    const { entries } = (await operator.request('GET', `/v1/admin/audit?paymentId=${paid.id}`)).body;
    const actions = entries.map((e: any) => e.action);
    for (const action of ['payment.reverify', 'payment.resync', 'job.retry']) assert.ok(actions.includes(action), action);
    const retried = entries.find((e: any) => e.action === 'job.retry');
    assert.equal(retried.email, supportA.staff.email);
    assert.equal(retried.role, 'support');
    assert.equal(retried.note, 'Shopify is back');
    assert.equal(retried.storeId, storeA);
  });

  it('a merchant changes only the settings sent, with an audit entry; bad values are refused', async () => {
    const ok = await merchantA.request('PUT', `/v1/admin/stores/${storeA}/settings`, { expiryMinutes: 45 });
    assert.equal(ok.status, 200, JSON.stringify(ok.body));
    assert.equal(ok.body.settings.expiryMinutes, 45);
    assert.equal(ok.body.settings.latePaymentPolicy, 'review', 'unsent settings keep their values');
    assert.equal((await merchantA.request('PUT', `/v1/admin/stores/${storeA}/settings`, { expiryMinutes: 1 })).status, 422);
    assert.equal((await merchantA.request('PUT', `/v1/admin/stores/${storeA}/settings`, { nope: true })).status, 422);
    const { entries } = (await merchantA.request('GET', `/v1/admin/audit?storeId=${storeA}`)).body;
    const change = entries.find((e: any) => e.action === 'store.settings');
    assert.deepEqual(change.details.changed, { expiryMinutes: { from: 30, to: 45 } });
  });

  it('merchant A never sees store B: search, payment page, actions, settings, export, health, audit', async () => {
    const operatorAction = await operator.request('POST', `/v1/admin/payments/${bPayment.id}/reverify`, { reason: 'operator check' });
    assert.equal(operatorAction.status, 200, JSON.stringify(operatorAction.body));

    assert.deepEqual((await search(merchantA, { q: bPayment.ref })).items, []);
    assert.deepEqual((await search(merchantA, { storeId: storeB.store.id })).items, []);
    assert.ok((await search(merchantA, {})).items.every((i) => i.storeId === storeA));
    assert.ok((await search(merchantB, {})).items.every((i) => i.storeId === storeB.store.id));
    assert.deepEqual((await search(merchantB, { q: paid.txHash })).items, []);

    for (const [method, path, body] of [
      ['GET', `/v1/admin/payments/${bPayment.id}`], ['POST', `/v1/admin/payments/${bPayment.id}/reverify`, {}],
      ['POST', `/v1/admin/payments/${bPayment.id}/resync`, {}], ['POST', `/v1/admin/payments/${bPayment.id}/resolve`, { to: 'paid', note: 'not mine' }],
      ['PUT', `/v1/admin/stores/${storeB.store.id}/settings`, { expiryMinutes: 60 }], ['GET', `/v1/admin/stores/${storeB.store.id}/settings`],
      ['GET', '/v1/admin/payments/not-a-uuid'],
    ] as const) {
      const res = await merchantA.request(method, path, body);
      assert.equal(res.status, 404, `${method} ${path}: ${JSON.stringify(res.body)}`);
    }
    assert.equal((await merchantB.request('GET', `/v1/admin/payments/${paid.id}`)).status, 404);

    const stores = (await merchantA.request('GET', '/v1/admin/stores')).body.stores;
    assert.deepEqual(stores, [{ id: storeA, name: SHOP, platform: 'shopify' }]);
    const csv = await fetch(`${t.url}/v1/admin/export.csv`, { headers: { cookie: merchantA.cookie } });
    const rows = parseCsv(await csv.text());
    assert.ok(rows.length > 1);
    assert.ok(rows.slice(1).every((r) => r[0] === SHOP), 'only store A in the export');
    assert.ok(!rows.some((r) => r.includes(bPayment.id)));
    const health = (await merchantA.request('GET', '/v1/admin/health')).body;
    assert.deepEqual(health.stores.map((x: any) => x.id), [storeA]);
    const audit = (await merchantA.request('GET', '/v1/admin/audit')).body.entries;
    assert.ok(audit.length > 0 && audit.every((e: any) => e.storeId === storeA));
    assert.deepEqual((await merchantA.request('GET', `/v1/admin/audit?paymentId=${bPayment.id}`)).body.entries, []);
    assert.ok((await operator.request('GET', `/v1/admin/audit?paymentId=${bPayment.id}`)).body.entries.length > 0, 'the entry exists');
    assert.deepEqual((await merchantA.request('GET', `/v1/admin/mismatches?storeId=${storeB.store.id}`)).body.items, []);
  });

  it('a merchant resolves a review to paid with a note: Shopify captures, the audit log has who, when and why', async () => {
    const order = await placeOrder(s, SHOP, { total: '25.00' });
    const payment = await paymentForOrder(s, order.id, 'created');
    await sandboxAction(t, await sandboxToken(t, payment.id), 'pay_late');
    await waitForStatus(t, payment.id, 'review');
    await waitFor('the review tag', async () => s.emu.order(order.id).tags.includes('coinbridge-review'));
    assert.deepEqual(capturesOf(s.emu, order.id), []);
    assert.ok((await search(merchantA, { status: 'review' })).items.some((i) => i.paymentId === payment.id));

    assert.equal((await merchantA.request('POST', `/v1/admin/payments/${payment.id}/resolve`, { to: 'paid', note: 'ok' })).status, 400, 'a note of 3+ characters');
    assert.equal((await merchantA.request('POST', `/v1/admin/payments/${payment.id}/resolve`, { to: 'overpaid', note: 'why not' })).status, 400);
    const startedAt = Date.now();
    const note = 'Shopper paid 4 minutes late; confirmed on chain';
    const res = await merchantA.request('POST', `/v1/admin/payments/${payment.id}/resolve`, { to: 'paid', note });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.deepEqual(res.body, { status: 'paid' });
    const again = await merchantA.request('POST', `/v1/admin/payments/${payment.id}/resolve`, { to: 'cancelled', note: 'changed my mind' });
    assert.equal(again.status, 409);

    await waitFor('Shopify to record the capture and the paid tag', async () => capturesOf(s.emu, order.id).length === 1 && s.emu.order(order.id).tags.includes('coinbridge-paid'));
    assert.deepEqual(capturesOf(s.emu, order.id).map(Number), [25]);

    const detail = (await merchantA.request('GET', `/v1/admin/payments/${payment.id}`)).body;
    const transition = detail.timeline.find((e: any) => e.type === 'transition' && e.fromStatus === 'review' && e.toStatus === 'paid');
    assert.ok(transition, 'the transition is in the timeline');
    assert.ok(transition.cause.includes(merchantA.staff.email) && transition.cause.includes(note), transition.cause);

    const { entries } = (await operator.request('GET', `/v1/admin/audit?paymentId=${payment.id}`)).body;
    const entry = entries.find((e: any) => e.action === 'payment.resolve');
    assert.ok(entry, JSON.stringify(entries));
    assert.equal(entry.email, merchantA.staff.email);
    assert.equal(entry.role, 'merchant');
    assert.equal(entry.note, note);
    assert.equal(entry.storeId, storeA);
    assert.deepEqual(entry.details.to, 'paid');
    const at = Date.parse(entry.at);
    assert.ok(at >= startedAt - 1000 && at <= Date.now() + 1000, `audit time ${entry.at}`);
  });

  it('the payment page has the order beside the payment and a chronological timeline with raw callbacks and store writes', async () => {
    const res = await merchantA.request('GET', `/v1/admin/payments/${paid.id}`);
    assert.equal(res.status, 200, JSON.stringify(res.body));
    const { payment, store, order, timeline } = res.body;
    assert.equal(payment.id, paid.id);
    assert.deepEqual([payment.status, payment.amount, payment.currency, payment.gateway, payment.mode], ['paid', '40.00', 'USD', 'paymento', 'sandbox']);
    assert.equal(payment.txHash, paid.txHash);
    assert.equal(payment.gatewayPaymentId, paid.gatewayId);
    assert.ok(payment.crypto?.coin && payment.crypto.expected && payment.crypto.received, JSON.stringify(payment.crypto));
    assert.equal(payment.payUrl, `${t.app.config.publicUrl}/pay/${paid.ref}`);
    assert.deepEqual(store, { id: storeA, name: SHOP, platform: 'shopify' });
    assert.equal(order.id, paid.orderGid);
    assert.equal(order.name, paid.orderName);
    assert.equal(order.adminUrl, `https://${SHOP}/admin/orders/${paid.orderGid.split('/').pop()}`);
    assert.match(order.statusThere, /written/);

    const times = timeline.map((e: any) => Date.parse(e.at));
    assert.deepEqual(times, [...times].sort((a, b) => a - b), 'chronological');
    const callbacks = timeline.filter((e: any) => e.kind === 'callback');
    assert.ok(callbacks.length >= 2, 'the IPNs');
    for (const c of callbacks) {
      const body = JSON.parse(c.rawBody);
      assert.equal(body.Token, paid.gatewayId);
      assert.equal(c.verdict, 'signature valid');
      assert.ok(c.outcome);
    }
    const writes = timeline.filter((e: any) => e.type === 'store.write');
    assert.ok(writes.some((w: any) => w.outcome === 'written' && w.data.writes.some((x: any) => x.operation === 'orderCapture')));
    const statuses = timeline.filter((e: any) => e.type === 'transition').map((e: any) => e.toStatus);
    assert.equal(statuses[0], 'created');
    assert.equal(statuses.at(-1), 'paid');
    const firstCallback = timeline.findIndex((e: any) => e.kind === 'callback');
    const paidAt = timeline.findIndex((e: any) => e.type === 'transition' && e.toStatus === 'paid');
    const writeAt = timeline.findIndex((e: any) => e.type === 'store.write' && e.data.writes?.some((x: any) => x.operation === 'orderCapture'));
    assert.ok(firstCallback >= 0 && firstCallback < paidAt && paidAt < writeAt, 'callback, then the transition to paid, then the capture');
  });

  it('exports a month as CSV that matches the database row for row', async () => {
    const store = await createStore(t.app.db.pool, { name: 'Café "Zed", Ltd' });
    const conn = await insertConnection(t.app.db.pool, t.app.box, { storeId: store.id, gateway: 'paymento', mode: 'sandbox', credentials: { apiKey: 'k', ipnSecret: 's' } });
    const statuses = ['paid', 'overpaid', 'expired', 'review', 'underpaid', 'created'];
    const tricky = ['=HYPERLINK("http://evil.example","x")', '+1-555', '-2', '@SUM(A1)', 'plain,comma', 'line\nbreak'];
    for (let i = 0; i < 24; i++) {
      await seedPayment(t, {
        storeId: store.id, connectionId: conn.id, status: statuses[i % statuses.length]!, amount: `${10 + i}.${String(i).padStart(2, '0')}`,
        orderId: i < tricky.length ? tricky[i]! : `M-${1000 + i}`, createdAt: `2025-03-${String(1 + i).padStart(2, '0')}T12:00:00.123456Z`,
        cryptoExpected: i % 2 ? `${i}.5` : undefined, cryptoReceived: i % 2 ? `${i}.25` : undefined, coin: i % 2 ? 'USDT' : undefined, network: i % 2 ? 'TRC20' : undefined,
        txHash: i % 3 ? `0x${crypto.randomBytes(32).toString('hex')}` : undefined, metadata: i === 7 ? { orderNumber: '#7 "seven"' } : {},
      });
    }
    // Outside the month (either side, to the microsecond), and another store's payment inside it.
    await seedPayment(t, { storeId: store.id, connectionId: conn.id, status: 'paid', createdAt: '2025-02-28T23:59:59.999999Z' });
    await seedPayment(t, { storeId: store.id, connectionId: conn.id, status: 'paid', createdAt: '2025-04-01T00:00:00Z' });
    await seedPayment(t, { storeId: storeB.store.id, connectionId: storeB.connection.id, status: 'paid', createdAt: '2025-03-10T00:00:00Z' });

    const res = await fetch(`${t.url}/v1/admin/export.csv?from=2025-03-01&to=2025-04-01&storeId=${store.id}`, { headers: { cookie: operator.cookie } });
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^text\/csv/);
    assert.match(res.headers.get('content-disposition') ?? '', /^attachment; filename="coinbridge-payments-2025-03-01-2025-04-01\.csv"$/);
    const rows = parseCsv(await res.text());
    assert.deepEqual(rows[0], ['store', 'order', 'order_name', 'payment_ref', 'payment_id', 'status', 'amount', 'currency', 'crypto_coin', 'network',
      'crypto_expected', 'crypto_received', 'tx_hash', 'created_at', 'updated_at', 'gateway']);

    const { rows: db } = await t.app.db.pool.query(
      `SELECT s.name, p.order_id, coalesce(p.metadata ->> 'shopifyOrder', p.metadata ->> 'orderNumber') AS order_name, p.ref, p.id::text, p.status,
              to_char(p.amount_minor / 100.0, 'FM999999990.00') AS amount, p.currency, p.crypto_coin, p.network, p.crypto_expected, p.crypto_received, p.tx_hash,
              to_char(p.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS created_at, to_char(p.updated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS updated_at,
              gc.gateway
       FROM payments p JOIN stores s ON s.id = p.store_id JOIN gateway_connections gc ON gc.id = p.connection_id
       WHERE p.store_id = $1 AND p.created_at >= '2025-03-01' AND p.created_at < '2025-04-01' ORDER BY p.created_at, p.id`, [store.id]);
    assert.equal(db.length, 24);
    assert.equal(rows.length - 1, db.length, 'one CSV row per payment');
    db.forEach((r, i) => assert.deepEqual(rows[i + 1], Object.values(r).map((v) => guarded(v as string | null)), `row ${i + 1}`));
    assert.equal(rows[1]![1], `'=HYPERLINK("http://evil.example","x")`, 'a formula is defused');
    assert.equal(rows[6]![1], 'line\nbreak', 'a line break survives quoting');
    assert.equal(rows[1]![0], 'Café "Zed", Ltd');
  });

  it('guards CSV cells against formula injection and quotes them per RFC 4180', () => {
    assert.equal(csvCell('=1+2'), "'=1+2");
    assert.equal(csvCell('+1'), "'+1");
    assert.equal(csvCell('-1'), "'-1");
    assert.equal(csvCell('@cmd'), "'@cmd");
    assert.equal(csvCell('\t=1'), "'\t=1");
    assert.equal(csvCell('=A1,B1'), `"'=A1,B1"`);
    assert.equal(csvCell('say "hi"'), '"say ""hi"""');
    assert.equal(csvCell('a\r\nb'), '"a\r\nb"');
    assert.equal(csvCell('0x12ab'), '0x12ab');
    assert.equal(csvCell(null), '');
  });

  it('the mismatch report finds each seeded kind and nothing for clean payments', async () => {
    const store = await createStore(t.app.db.pool, { name: 'Mismatch shop', platform: 'shopify' });
    const conn = await insertConnection(t.app.db.pool, t.app.box, { storeId: store.id, gateway: 'paymento', mode: 'sandbox', credentials: { apiKey: 'k', ipnSecret: 's' } });
    const base = { storeId: store.id, connectionId: conn.id, cryptoExpected: '40', cryptoReceived: '40' };
    const write = (p: { id: string }, cause: string, data: Record<string, unknown>) => seedEvent(t, { paymentId: p.id, storeId: store.id, type: 'store.write', cause, data });

    const neverWritten = await seedPayment(t, { ...base, status: 'paid' });
    const writeFailed = await seedPayment(t, { ...base, status: 'paid' });
    await write(writeFailed, 'sync paid to shopify', { outcome: 'error', code: 'shopify_refused_write', message: 'Shopify refused orderCapture', retryable: false });
    const storeOnly = await seedPayment(t, { ...base, status: 'expired' });
    await write(storeOnly, 'sync paid to shopify', paidWrite('40.00'));
    const capturedLess = await seedPayment(t, { ...base, status: 'paid' });
    await write(capturedLess, 'sync paid to shopify', paidWrite('30.00'));
    const cryptoShort = await seedPayment(t, { ...base, status: 'paid', cryptoExpected: '100', cryptoReceived: '90' });
    await write(cryptoShort, 'sync paid to shopify', paidWrite('40.00'));

    const clean = await seedPayment(t, { ...base, status: 'paid', cryptoExpected: '100', cryptoReceived: '99.8' });
    await write(clean, 'sync paid to shopify', paidWrite('40.00'));
    const rerun = await seedPayment(t, { ...base, status: 'overpaid', cryptoExpected: '100', cryptoReceived: '120' });
    await write(rerun, 'sync overpaid to shopify', paidWrite('25.00'));
    await write(rerun, 'sync overpaid to shopify', paidWrite('15.00'));
    const pending = await seedPayment(t, { ...base, status: 'paid' });
    await t.app.db.pool.query(`INSERT INTO agenda_jobs (name, data, next_run_at, priority, type) VALUES ('store.sync', $1, '2100-01-01', 0, 'normal')`, [JSON.stringify({ paymentId: pending.id })]);
    const open = await seedPayment(t, { ...base, status: 'created' });
    const review = await seedPayment(t, { ...base, status: 'review' });
    await write(review, 'sync review to shopify', { outcome: 'written', reason: 'tagged for review', writes: [{ operation: 'tagsAdd', request: { tags: ['coinbridge-review'] }, outcome: 'ok' }] });

    const res = await operator.request('GET', `/v1/admin/mismatches?storeId=${store.id}`);
    assert.equal(res.status, 200, JSON.stringify(res.body));
    const found = res.body.items.map((m: any) => `${m.kind}:${m.paymentId}`).sort();
    assert.deepEqual(found, [
      `gateway_paid_store_not:${neverWritten.id}`, `gateway_paid_store_not:${writeFailed.id}`, `store_paid_gateway_not:${storeOnly.id}`,
      `amount_differs:${capturedLess.id}`, `amount_differs:${cryptoShort.id}`,
    ].sort());
    for (const m of res.body.items) {
      assert.equal(m.storeId, store.id);
      assert.ok(m.ref && m.orderId && m.detail, JSON.stringify(m));
    }
    for (const p of [clean, rerun, pending, open, review]) assert.ok(!found.some((f: string) => f.endsWith(p.id)), `clean ${p.id}`);
    assert.match(res.body.items.find((m: any) => m.paymentId === capturedLess.id).detail, /30\.00 USD.*40\.00 USD/);
    assert.match(res.body.items.find((m: any) => m.paymentId === cryptoShort.id).detail, /90.*100/);

    // The real Shopify journeys above (paid; review resolved to paid) reconcile cleanly.
    const real = await operator.request('GET', `/v1/admin/mismatches?storeId=${storeA}`);
    assert.deepEqual(real.body.items.filter((m: any) => m.paymentId === paid.id), []);
    // Date range: the seeded payments are from today.
    assert.deepEqual((await operator.request('GET', `/v1/admin/mismatches?storeId=${store.id}&to=2020-01-01`)).body.items, []);
    // A merchant of another store sees none of them.
    assert.deepEqual((await merchantA.request('GET', `/v1/admin/mismatches?storeId=${store.id}`)).body.items, []);
  });
});
