/**
 * Merchant gateway choice in the support console, over real HTTP and a real database: connecting
 * gateways (sandbox, and live against the Paymento emulator), choosing the default and the
 * fallback, who may do it (support may not; another merchant's store is 404), the audit log
 * (who and what, never a key), and which gateway served each payment in search, the CSV export
 * and the payment page, including a payment the fallback served because the default refused.
 */
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { searchPayments } from '../../src/admin/queries/search.ts';
import type { Queryable } from '../../src/db/database.ts';
import { createStore, issueApiKey } from '../../src/db/stores-repo.ts';
import type { GatewayCredentials } from '../../src/gateways/types.ts';
import { staffClient, type StaffClient } from '../support/admin.ts';
import { api, createTestStore, freePort, paymentBody, type TestApp, type TestStore } from '../support/harness.ts';
import { startWithPaymento, type WithPaymento } from '../support/paymento.ts';

describe('support console: gateway connections and the default/fallback choice', () => {
  let p: WithPaymento;
  let t: TestApp;
  let storeA: string;
  let apiKeyA: string;
  let storeB: TestStore;
  let operator: StaffClient;
  let merchantA: StaffClient;
  let merchantB: StaffClient;
  let supportA: StaffClient;
  /** The connections made through the API, by name. */
  const conn: Record<string, string> = {};
  /** Every key and secret handed out in this file: none may reach an answer, the audit log or the logs. */
  const secrets: string[] = [];

  before(async () => {
    p = await startWithPaymento();
    t = p.t;
    const store = await createStore(t.app.db.pool, { name: 'Gateway shop A' });
    storeA = store.id;
    apiKeyA = await issueApiKey(t.app.db.pool, storeA);
    storeB = await createTestStore(t, { name: 'Gateway shop B' });
    [operator, merchantA, merchantB, supportA] = await Promise.all([
      staffClient(t, { role: 'operator' }),
      staffClient(t, { role: 'merchant', storeIds: [storeA] }),
      staffClient(t, { role: 'merchant', storeIds: [storeB.store.id] }),
      staffClient(t, { role: 'support', storeIds: [storeA] }),
    ]);
  });
  after(async () => { await p?.close(); });

  const path = (storeId: string) => `/v1/admin/stores/${storeId}/gateways`;

  /** The stored (sealed) credentials of every connection of the app, opened. */
  async function storedCredentials(): Promise<GatewayCredentials[]> {
    const { rows } = await t.app.db.pool.query('SELECT credentials FROM gateway_connections');
    return rows.map((r) => t.app.box.openJson<GatewayCredentials>(r.credentials));
  }

  async function assertNoSecretIn(what: string, text: string): Promise<void> {
    const all = [...secrets, ...(await storedCredentials()).flatMap((c) => [c.apiKey, c.ipnSecret])];
    for (const secret of all) assert.ok(!text.includes(secret), `${what} contains a credential (${secret.slice(0, 4)}…)`);
  }

  async function roles(storeId: string): Promise<Record<string, string>> {
    const res = await operator.request('GET', path(storeId));
    assert.equal(res.status, 200, JSON.stringify(res.body));
    return Object.fromEntries(res.body.connections.map((c: any) => [c.id, c.role]));
  }

  it('a merchant connects two sandbox gateways; the list shows them with their roles and never a credential', async () => {
    assert.deepEqual((await merchantA.request('GET', path(storeA))).body, { connections: [] });

    const first = await merchantA.request('POST', path(storeA), { gateway: 'paymento', mode: 'sandbox' });
    assert.equal(first.status, 201, JSON.stringify(first.body));
    assert.deepEqual([first.body.connection.gateway, first.body.connection.mode, first.body.connection.role], ['paymento', 'sandbox', 'default'],
      "the store's first connection is its default");
    conn.paymento = first.body.connection.id;

    const second = await merchantA.request('POST', path(storeA), { gateway: 'cryptonow', mode: 'sandbox', role: 'extra' });
    assert.equal(second.status, 201, JSON.stringify(second.body));
    assert.deepEqual([second.body.connection.gateway, second.body.connection.role], ['cryptonow', 'extra']);
    conn.cryptonow = second.body.connection.id;

    for (const who of [merchantA, supportA, operator]) {
      const list = await who.request('GET', path(storeA));
      assert.equal(list.status, 200, `${who.staff.role}: ${JSON.stringify(list.body)}`);
      assert.deepEqual(list.body.connections.map((c: any) => [c.id, c.gateway, c.mode, c.role]),
        [[conn.paymento, 'paymento', 'sandbox', 'default'], [conn.cryptonow, 'cryptonow', 'sandbox', 'extra']], 'default first');
      for (const c of list.body.connections) {
        assert.deepEqual(Object.keys(c).sort(), ['createdAt', 'gateway', 'id', 'mode', 'rejectedCallbacks', 'role']);
        assert.ok(!Number.isNaN(Date.parse(c.createdAt)));
      }
      await assertNoSecretIn('the connection list', JSON.stringify(list.body));
    }
    await assertNoSecretIn('the connect answers', JSON.stringify([first.body, second.body]));
  });

  it("support may look but not connect or choose (403); another merchant's store, or one that does not exist, is 404", async () => {
    const connect = await supportA.request('POST', path(storeA), { gateway: 'paymento', mode: 'sandbox' });
    assert.deepEqual([connect.status, connect.body.error?.code], [403, 'forbidden']);
    const choose = await supportA.request('PUT', path(storeA), { defaultId: conn.cryptonow, fallbackId: null });
    assert.deepEqual([choose.status, choose.body.error?.code], [403, 'forbidden']);

    for (const [who, storeId] of [[merchantB, storeA], [merchantA, storeB.store.id], [operator, crypto.randomUUID()], [operator, 'not-a-uuid']] as const) {
      for (const [method, body] of [['GET'], ['POST', { gateway: 'paymento', mode: 'sandbox' }], ['PUT', { defaultId: conn.paymento, fallbackId: null }]] as const) {
        const res = await who.request(method, path(storeId), body);
        assert.deepEqual([res.status, res.body.error?.code], [404, 'not_found'], `${who.staff.role} ${method} ${storeId}: ${JSON.stringify(res.body)}`);
      }
    }
    assert.deepEqual(await roles(storeA), { [conn.paymento!]: 'default', [conn.cryptonow!]: 'extra' }, 'nothing changed');
    assert.equal((await t.app.db.pool.query('SELECT count(*)::int AS n FROM gateway_connections WHERE store_id = $1', [storeA])).rows[0].n, 2);
  });

  it('the choice of default and fallback is validated, applied and audited without a secret', async () => {
    const ok = await merchantA.request('PUT', path(storeA), { defaultId: conn.cryptonow, fallbackId: conn.paymento, reason: 'trying CryptoNow first' });
    assert.equal(ok.status, 200, JSON.stringify(ok.body));
    assert.deepEqual(ok.body.connections.map((c: any) => [c.gateway, c.role]), [['cryptonow', 'default'], ['paymento', 'fallback']]);

    const same = await merchantA.request('PUT', path(storeA), { defaultId: conn.paymento, fallbackId: conn.paymento });
    assert.deepEqual([same.status, same.body.error?.code], [422, 'fallback_is_default']);
    const unknown = await merchantA.request('PUT', path(storeA), { defaultId: crypto.randomUUID(), fallbackId: null });
    assert.deepEqual([unknown.status, unknown.body.error?.code], [404, 'unknown_connection']);
    const othersConnection = await merchantA.request('PUT', path(storeA), { defaultId: conn.paymento, fallbackId: storeB.connection.id });
    assert.deepEqual([othersConnection.status, othersConnection.body.error?.code], [404, 'unknown_connection'], "another store's connection is not one of this store's");
    const malformed = await merchantA.request('PUT', path(storeA), { defaultId: 'paymento' });
    assert.deepEqual([malformed.status, malformed.body.error?.code], [422, 'invalid_gateway_choice']);
    assert.deepEqual(malformed.body.error.details.map((d: any) => d.field).sort(), ['defaultId', 'fallbackId']);
    assert.deepEqual(await roles(storeA), { [conn.cryptonow!]: 'default', [conn.paymento!]: 'fallback' }, 'refused choices change nothing');
    assert.deepEqual(await roles(storeB.store.id), { [storeB.connection.id]: 'default' }, 'store B untouched');

    const { entries } = (await operator.request('GET', `/v1/admin/audit?storeId=${storeA}`)).body;
    const connects = entries.filter((e: any) => e.action === 'store.gateway.connect');
    assert.equal(connects.length, 2, 'the two connections (refused requests never reached the store)');
    for (const e of connects) {
      assert.equal(e.email, merchantA.staff.email);
      assert.equal(e.role, 'merchant');
      assert.equal(e.details.mode, 'sandbox');
      assert.equal(e.details.outcome, 'ok');
      assert.ok([conn.paymento, conn.cryptonow].includes(e.details.connectionId));
    }
    assert.deepEqual(connects.map((e: any) => [e.details.gateway, e.details.role]).sort(), [['cryptonow', 'extra'], ['paymento', 'default']]);
    const chosen = entries.filter((e: any) => e.action === 'store.gateway.choose');
    assert.equal(chosen.length, 1, 'only the accepted choice');
    assert.equal(chosen[0].note, 'trying CryptoNow first');
    assert.deepEqual(chosen[0].details.from, { default: { id: conn.paymento, gateway: 'paymento', mode: 'sandbox' }, fallback: null });
    assert.deepEqual(chosen[0].details.to, { default: { id: conn.cryptonow, gateway: 'cryptonow', mode: 'sandbox' }, fallback: { id: conn.paymento, gateway: 'paymento', mode: 'sandbox' } });
    const { rows } = await t.app.db.pool.query('SELECT * FROM admin_audit');
    await assertNoSecretIn('the audit log', JSON.stringify(rows));
  });

  it('live: keys the gateway accepts are stored sealed; wrong keys or an unreachable instance get a clear answer, an audit entry without the keys, and save nothing', async () => {
    const merchant = p.emu.addMerchant();
    const wrong = { apiKey: `WRONG${crypto.randomBytes(8).toString('hex')}`, ipnSecret: `wrong-secret-${crypto.randomBytes(8).toString('hex')}` };
    secrets.push(merchant.apiKey, merchant.secret, wrong.apiKey, wrong.ipnSecret);
    const count = async () => (await t.app.db.pool.query('SELECT count(*)::int AS n FROM gateway_connections WHERE store_id = $1', [storeA])).rows[0].n as number;

    const live = await merchantA.request('POST', path(storeA), { gateway: 'paymento', mode: 'live', apiKey: merchant.apiKey, ipnSecret: merchant.secret, role: 'extra' });
    assert.equal(live.status, 201, JSON.stringify(live.body));
    assert.deepEqual([live.body.connection.gateway, live.body.connection.mode, live.body.connection.role], ['paymento', 'live', 'extra']);
    const { rows: [stored] } = await t.app.db.pool.query('SELECT credentials FROM gateway_connections WHERE id = $1', [live.body.connection.id]);
    assert.ok(!String(stored.credentials).includes(merchant.apiKey), 'sealed at rest');
    assert.deepEqual(t.app.box.openJson<GatewayCredentials>(stored.credentials), { apiKey: merchant.apiKey, ipnSecret: merchant.secret });
    assert.equal(await count(), 3);

    const refused = await merchantA.request('POST', path(storeA), { gateway: 'paymento', mode: 'live', ...wrong });
    assert.equal(refused.status, 422, JSON.stringify(refused.body));
    assert.equal(refused.body.error.code, 'gateway_connection_refused');
    assert.match(refused.body.error.message, /^Paymento refused the connection: .+\. Nothing was saved; check the API key and IPN secret and try again\.$/);
    assert.deepEqual(refused.body.error.details, { gateway: 'paymento', gatewayCode: 'gateway_credentials_rejected' }, "the gateway's raw answer stays out");

    const missing = await merchantA.request('POST', path(storeA), { gateway: 'cryptonow', mode: 'live' });
    assert.deepEqual([missing.status, missing.body.error.code], [422, 'invalid_gateway']);
    assert.deepEqual(missing.body.error.details.map((d: any) => d.field).sort(), ['apiKey', 'ipnSecret']);
    const noInstance = await merchantA.request('POST', path(storeA), { gateway: 'crypto-checkout', mode: 'live', ...wrong });
    assert.deepEqual([noInstance.status, noInstance.body.error.details.map((d: any) => d.field)], [422, ['instanceUrl']]);

    // Nothing listens there: the gateway cannot be asked, which is not the merchant's mistake.
    const closed = await freePort();
    const ckKey = `ck_live_${crypto.randomBytes(12).toString('hex')}`;
    secrets.push(ckKey);
    const unreachable = await merchantA.request('POST', path(storeA), { gateway: 'crypto-checkout', mode: 'live', instanceUrl: `http://127.0.0.1:${closed}`, apiKey: ckKey, ipnSecret: wrong.ipnSecret });
    assert.equal(unreachable.status, 502, JSON.stringify(unreachable.body));
    assert.equal(unreachable.body.error.code, 'gateway_unreachable');
    assert.match(unreachable.body.error.message, /^Crypto Checkout could not be reached to check the connection \(.+\)\. Nothing was saved; try again in a minute\.$/);
    assert.equal(await count(), 3, 'refused connections are not saved');

    await assertNoSecretIn('the refusals', JSON.stringify([refused.body, missing.body, noInstance.body, unreachable.body]));
    const { rows: audit } = await t.app.db.pool.query(`SELECT * FROM admin_audit WHERE action = 'store.gateway.connect' ORDER BY id`);
    const outcomes = audit.map((r) => [r.details.gateway, r.details.mode, r.details.outcome, r.details.code ?? null]);
    assert.deepEqual(outcomes.slice(-3), [['paymento', 'live', 'ok', null], ['paymento', 'live', 'error', 'gateway_connection_refused'], ['crypto-checkout', 'live', 'error', 'gateway_unreachable']],
      'each attempt past the body checks is audited, the failures with why');
    await assertNoSecretIn('the audit log', JSON.stringify(audit));
    await assertNoSecretIn('the logs', t.logs.join(''));
  });

  it('search, the CSV export and the payment page say which gateway served each payment; a fallback says from which gateway and why', async () => {
    // Default CryptoNow (USD only), fallback Paymento: a EUR order is refused by the default.
    assert.deepEqual(Object.values(await roles(storeA)).sort(), ['default', 'extra', 'fallback']);
    const usd = await api(t, 'POST', '/v1/payments', { key: apiKeyA, body: paymentBody('GW-USD-1') });
    assert.equal(usd.status, 201, JSON.stringify(usd.body));
    const eur = await api(t, 'POST', '/v1/payments', { key: apiKeyA, body: paymentBody('GW-EUR-1', { currency: 'EUR' }) });
    assert.equal(eur.status, 201, `the fallback takes the EUR order: ${JSON.stringify(eur.body)}`);

    const search = async (q: string) => {
      const res = await merchantA.request('GET', `/v1/admin/search?q=${encodeURIComponent(q)}`);
      assert.equal(res.status, 200, JSON.stringify(res.body));
      assert.equal(res.body.items.length, 1, q);
      return res.body.items[0];
    };
    assert.deepEqual([(await search('GW-USD-1')).gateway, (await search('GW-USD-1')).gatewayMode], ['cryptonow', 'sandbox']);
    assert.deepEqual([(await search('GW-EUR-1')).gateway, (await search('GW-EUR-1')).gatewayMode], ['paymento', 'sandbox']);
    const listed = (await merchantA.request('GET', `/v1/admin/search?storeId=${storeA}`)).body.items;
    assert.deepEqual(listed.map((i: any) => [i.orderId, i.gateway]), [['GW-EUR-1', 'paymento'], ['GW-USD-1', 'cryptonow']]);

    const direct = (await merchantA.request('GET', `/v1/admin/payments/${usd.body.id}`)).body;
    assert.deepEqual([direct.payment.gateway, direct.payment.mode, direct.payment.connectionId, direct.payment.fallback], ['cryptonow', 'sandbox', conn.cryptonow, null]);

    const res = await merchantA.request('GET', `/v1/admin/payments/${eur.body.id}`);
    assert.equal(res.status, 200, JSON.stringify(res.body));
    const { payment, timeline } = res.body;
    assert.deepEqual([payment.gateway, payment.mode, payment.connectionId], ['paymento', 'sandbox', conn.paymento], 'served by the fallback');
    assert.ok(payment.fallback, 'the page says a fallback was used');
    assert.equal(payment.fallback.fromGateway, 'cryptonow');
    assert.equal(payment.fallback.fromConnectionId, conn.cryptonow);
    assert.match(payment.fallback.reason, /USD/, 'in the default gateway\'s own words');
    assert.equal(payment.fallback.retryable, false, 'a refusal, not an outage');
    assert.ok(timeline.some((e: any) => e.type === 'gateway.fallback'), 'the fallback is in the timeline');

    const csv = await fetch(`${t.url}/v1/admin/export.csv?storeId=${storeA}`, { headers: { cookie: merchantA.cookie } });
    const lines = (await csv.text()).trim().split('\r\n').map((l) => l.split(','));
    assert.equal(lines[0]!.at(-1), 'gateway');
    const byOrder = Object.fromEntries(lines.slice(1).map((l) => [l[1], l.at(-1)]));
    assert.deepEqual(byOrder, { 'GW-USD-1': 'cryptonow', 'GW-EUR-1': 'paymento' });

    // Without the fallback, the same kind of order fails: the fallback is what served it.
    const off = await merchantA.request('PUT', path(storeA), { defaultId: conn.cryptonow, fallbackId: null });
    assert.equal(off.status, 200);
    const refused = await api(t, 'POST', '/v1/payments', { key: apiKeyA, body: paymentBody('GW-EUR-2', { currency: 'EUR' }) });
    assert.deepEqual([refused.status, refused.body.error?.code], [502, 'gateway_refused']);
  });

  it('the search still walks the payments index in order, finding each gateway by primary key', async () => {
    // Captures the statement searchPayments runs, to ask the planner about it.
    const statements: { sql: string; values: unknown[] }[] = [];
    const recorder = { query: (sql: string, values: unknown[]) => { statements.push({ sql, values }); return t.app.db.pool.query(sql, values); } } as unknown as Queryable;
    await searchPayments(recorder, 'all', { limit: 50 });
    await searchPayments(recorder, [storeA], { storeId: storeA, limit: 50 });
    const client = await t.app.db.pool.connect();
    try {
      await client.query('BEGIN');
      // Few rows here: without this the planner may read the whole (tiny) table instead.
      await client.query('SET LOCAL enable_seqscan = off');
      for (const [i, { sql, values }] of statements.entries()) {
        const { rows } = await client.query(`EXPLAIN (FORMAT JSON) ${sql}`, values);
        const plan = JSON.stringify(rows[0]['QUERY PLAN']);
        assert.match(plan, /"Index Name":"payments_(store_)?recent"/, `search ${i} walks a payments index newest first: ${plan}`);
        assert.match(plan, /"Relation Name":"gateway_connections"[^}]*"Index Name":"gateway_connections_pkey"|"Index Name":"gateway_connections_pkey"[^}]*"Relation Name":"gateway_connections"/, `the gateway by primary key: ${plan}`);
        assert.doesNotMatch(plan, /"Node Type":"Sort"/, `no sort: the index gives the order (${plan})`);
      }
    } finally {
      await client.query('ROLLBACK');
      client.release();
    }
  });
});
