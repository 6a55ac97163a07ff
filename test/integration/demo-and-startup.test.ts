/**
 * What a new user meets: the demo store seeded on first start and clickable end to end; and the
 * start-up rules (migrations safe with several processes at once, readiness).
 */
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { migrate, migrationsApplied } from '../../src/db/migrate.ts';
import { createLogger } from '../../src/observability/log.ts';
import { freshDatabaseUrl, usingServer } from '../support/database.ts';
import { api, startTestApp, waitFor, type TestApp } from '../support/harness.ts';

describe('the demo store', () => {
  let t: TestApp;
  before(async () => { t = await startTestApp({ SEED_DEMO: 'true' }); });
  after(() => t?.close());

  it('is seeded once with every gateway\'s sandbox (Paymento default, Crypto Checkout fallback) and an API key file', async () => {
    const key = (await fs.readFile(path.join(t.env.DATA_DIR!, 'demo-store-api-key.txt'), 'utf8')).trim();
    assert.match(key, /^cb_live_/);
    const { rows } = await t.app.db.pool.query(
      'SELECT s.name, c.gateway, c.mode, c.is_default, c.is_fallback FROM stores s JOIN gateway_connections c ON c.store_id = s.id ORDER BY c.gateway');
    assert.deepEqual(rows, [
      { name: 'Coinbridge demo store', gateway: 'crypto-checkout', mode: 'sandbox', is_default: false, is_fallback: true },
      { name: 'Coinbridge demo store', gateway: 'cryptonow', mode: 'sandbox', is_default: false, is_fallback: false },
      { name: 'Coinbridge demo store', gateway: 'paymento', mode: 'sandbox', is_default: true, is_fallback: false },
    ]);
    const created = await api(t, 'POST', '/v1/payments', { key, body: { orderId: 'DEMO-API-1', amount: '5.00', currency: 'EUR', returnUrl: 'https://shop.example/' } });
    assert.equal(created.status, 201);
  });

  it('can be clicked through: shop → pay with crypto → sandbox page → pay → order shows paid', async () => {
    const shop = await fetch(`${t.url}/demo/`);
    assert.match(await shop.text(), /Pay with crypto/);
    const checkout = await fetch(`${t.url}/demo/checkout`, { method: 'POST', redirect: 'manual' });
    assert.equal(checkout.status, 302);
    const payLink = checkout.headers.get('location')!;
    assert.match(payLink, /\/pay\/[A-Za-z0-9]{22}$/);
    const payPage = await fetch(payLink.replace(t.app.config.publicUrl, t.url), { redirect: 'manual' });
    assert.equal(payPage.status, 200);
    assert.match(await payPage.text(), /<coinbridge-checkout ref="[A-Za-z0-9]{22}" data-standalone>/);
    const gatewayUrl = (await api(t, 'GET', `/v1/checkout/${new URL(payLink).pathname.split('/').pop()}`)).body.gatewayUrl;
    const token = new URL(gatewayUrl).searchParams.get('token')!;
    const press = await fetch(`${t.url}/sandbox/paymento/gateway/${token}/pay`, { method: 'POST', redirect: 'manual' });
    assert.equal(press.status, 302, 'the HTML form posts back to the pay page');
    const { rows } = await t.app.db.pool.query('SELECT order_id, return_url FROM payments WHERE gateway_payment_id = $1', [token]);
    const orderPage = rows[0].return_url as string;
    await waitFor('the demo order to show paid', async () => /status: <span class="status">paid</.test(await (await fetch(orderPage)).text()));
    const html = await (await fetch(orderPage)).text();
    assert.match(html, /callback.received/);
    assert.match(html, /created → paid|confirming → paid/);
  });
});

describe('start-up', () => {
  it('migrations are safe when several processes start at once', async () => {
    const db = await freshDatabaseUrl();
    if (!usingServer()) {
      // The embedded database belongs to one process; the parallel case needs a server.
      const t = await startTestApp();
      assert.equal(await migrationsApplied(t.app.db.pool), true);
      await t.close();
      return;
    }
    const pools = Array.from({ length: 4 }, () => new pg.Pool({ connectionString: db.url, max: 2 }));
    // Dropping the database at the end terminates any connection still closing; that is not what
    // this test is about, and an unheard 'error' from it would fail whichever test runs next.
    for (const p of pools) p.on('error', () => undefined);
    const log = createLogger('silent');
    try {
      const applied = await Promise.all(pools.map((p) => migrate(p, log)));
      assert.equal(applied.filter((a) => a.length > 0).length, 1, 'exactly one process applied the migrations');
      assert.equal(await migrationsApplied(pools[0]!), true);
    } finally {
      await Promise.all(pools.map((p) => p.end()));
      await db.drop();
    }
  });

  it('readyz is 503 when a migration is missing', async () => {
    const t = await startTestApp();
    try {
      await t.app.db.pool.query("DELETE FROM schema_migrations WHERE version = '001_core'");
      const res = await api(t, 'GET', '/readyz');
      assert.deepEqual([res.status, res.body.status], [503, 'not_ready']);
    } finally {
      await t.close();
    }
  });
});
