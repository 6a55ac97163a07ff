/**
 * Installing Coinbridge into a Shopify shop by authorization-code OAuth, against the Shopify
 * emulator, through the official library and the SHOPIFY_ADMIN_ORIGIN seam.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { TEST_ENCRYPTION_KEY, startTestApp, type TestApp } from '../support/harness.ts';
import { signShopifyQuery, startShopifyEmulator, type ShopifyEmulator } from '../emulators/shopify/server.ts';
import { SecretBox } from '../../src/crypto/secret-box.ts';

const BROWSER = { 'user-agent': 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0 Safari/537.36' };

function cookieHeader(res: Response): string {
  return res.headers.getSetCookie().map((c) => c.split(';')[0]).join('; ');
}

describe('Shopify install (OAuth authorization code)', () => {
  let emu: ShopifyEmulator;
  let t: TestApp;
  let app: { clientId: string; secret: string };
  let seq = 0;

  before(async () => {
    emu = await startShopifyEmulator();
    app = emu.addApp({ scopes: 'read_orders,write_orders' });
    t = await startTestApp({ SHOPIFY_ADMIN_ORIGIN: emu.origin, SHOPIFY_API_KEY: app.clientId, SHOPIFY_API_SECRET: app.secret });
  });
  after(async () => {
    // Also when `before` failed half-way: an emulator left open would keep this file running.
    try {
      await t?.close();
    } finally {
      await emu?.close();
    }
  });

  /** /shopify/install → the shop's authorize page (the emulator approves) → back to our callback URL. */
  async function startInstall(shop: string, query = ''): Promise<{ cookies: string; callbackUrl: URL }> {
    emu.addShop(shop);
    const begin = await fetch(`${t.url}/shopify/install?shop=${shop}${query}`, { headers: BROWSER, redirect: 'manual' });
    assert.equal(begin.status, 302, await begin.text());
    const authorize = new URL(begin.headers.get('location')!);
    assert.equal(authorize.host, shop);
    assert.equal(authorize.pathname, '/admin/oauth/authorize');
    const approved = await fetch(`${emu.origin}${authorize.pathname}${authorize.search}&shop=${shop}`, { redirect: 'manual' });
    assert.equal(approved.status, 302);
    const callbackUrl = new URL(approved.headers.get('location')!);
    assert.equal(`${callbackUrl.origin}${callbackUrl.pathname}`, `${t.app.config.publicUrl}/shopify/callback`);
    return { cookies: cookieHeader(begin), callbackUrl };
  }
  const callback = (url: URL, cookies: string) => fetch(`${t.url}${url.pathname}${url.search}`, { headers: { ...BROWSER, cookie: cookies }, redirect: 'manual' });
  const shopRow = async (shop: string) => (await t.app.db.pool.query('SELECT * FROM shopify_shops WHERE shop_domain = $1', [shop])).rows[0];

  it('installs: the code is exchanged for an offline token, stored encrypted, and the merchant lands in the admin', async () => {
    const shop = `install-${++seq}.myshopify.com`;
    const { cookies, callbackUrl } = await startInstall(shop);
    const done = await callback(callbackUrl, cookies);
    assert.equal(done.status, 302, await done.text());
    assert.equal(done.headers.get('location'), `https://${shop}/admin/apps/${app.clientId}`);
    const row = await shopRow(shop);
    assert.ok(row.installed_at);
    assert.doesNotMatch(row.access_token, /^shpat_/, 'the token is not stored in clear');
    const token = new SecretBox([Buffer.from(TEST_ENCRYPTION_KEY, 'base64')]).open(row.access_token);
    assert.ok(emu.tokens.some((tk) => tk.accessToken === token && tk.shop === shop), 'the stored token is the one Shopify issued');
  });

  it('refuses a callback without the state cookie', async () => {
    const shop = `install-${++seq}.myshopify.com`;
    const { callbackUrl } = await startInstall(shop);
    const res = await callback(callbackUrl, '');
    assert.equal(res.status, 400);
    assert.equal((await res.json()).error.code, 'missing_oauth_cookie');
    assert.equal((await shopRow(shop)).installed_at, null);
  });

  it('refuses a callback whose state does not match the cookie', async () => {
    const shop = `install-${++seq}.myshopify.com`;
    const { cookies, callbackUrl } = await startInstall(shop);
    const params = Object.fromEntries(callbackUrl.searchParams);
    params.state = 'not-the-state';
    delete params.hmac;
    const forged = new URL(callbackUrl);
    forged.search = new URLSearchParams({ ...params, hmac: signShopifyQuery(app.secret, params) }).toString();
    const res = await callback(forged, cookies);
    assert.deepEqual([res.status, (await res.json()).error.code], [400, 'invalid_oauth_callback']);
  });

  it('refuses a callback with a bad HMAC', async () => {
    const shop = `install-${++seq}.myshopify.com`;
    const { cookies, callbackUrl } = await startInstall(shop);
    callbackUrl.searchParams.set('hmac', '0'.repeat(64));
    const res = await callback(callbackUrl, cookies);
    assert.deepEqual([res.status, (await res.json()).error.code], [400, 'invalid_oauth_callback']);
  });

  it('refuses a callback with a stale timestamp, even correctly signed', async () => {
    const shop = `install-${++seq}.myshopify.com`;
    const { cookies, callbackUrl } = await startInstall(shop);
    const params = Object.fromEntries(callbackUrl.searchParams);
    delete params.hmac;
    params.timestamp = String(Math.floor(Date.now() / 1000) - 600);
    const stale = new URL(callbackUrl);
    stale.search = new URLSearchParams({ ...params, hmac: signShopifyQuery(app.secret, params) }).toString();
    const res = await callback(stale, cookies);
    assert.deepEqual([res.status, (await res.json()).error.code], [400, 'invalid_oauth_callback']);
  });

  it('refuses an invalid shop domain and an unknown client id', async () => {
    for (const shop of ['evil.example.com', 'shop.myshopify.com.evil.io', '', '../x']) {
      const res = await fetch(`${t.url}/shopify/install?shop=${encodeURIComponent(shop)}`, { headers: BROWSER, redirect: 'manual' });
      assert.deepEqual([res.status, (await res.json()).error.code], [400, 'invalid_shop'], shop);
    }
    const res = await fetch(`${t.url}/shopify/install?shop=fine.myshopify.com&client_id=nope`, { headers: BROWSER, redirect: 'manual' });
    assert.deepEqual([res.status, (await res.json()).error.code], [404, 'unknown_app']);
  });

  it('an install started for another app does not re-point an installed shop', async () => {
    const shop = `install-${++seq}.myshopify.com`;
    const { cookies, callbackUrl } = await startInstall(shop);
    assert.equal((await callback(callbackUrl, cookies)).status, 302);
    const other = emu.addApp();
    const { saveShopifyApp } = await import('../../src/platforms/shopify/apps.ts');
    await saveShopifyApp(t.app.db.pool, t.app.box, { clientId: other.clientId, secret: other.secret });
    const hijack = await fetch(`${t.url}/shopify/install?shop=${shop}&client_id=${other.clientId}`, { headers: BROWSER, redirect: 'manual' });
    assert.equal(hijack.status, 302, 'an install may start');
    const { rows } = await t.app.db.pool.query('SELECT a.client_id FROM shopify_shops s JOIN shopify_apps a ON a.id = s.app_id WHERE s.shop_domain = $1', [shop]);
    assert.equal(rows[0].client_id, app.clientId, 'but the shop stays with its app until that install completes');
  });

  it('installs through a second app registration chosen by client_id, verified with that app\'s secret', async () => {
    const second = emu.addApp({ scopes: 'read_orders' });
    const { saveShopifyApp } = await import('../../src/platforms/shopify/apps.ts');
    await saveShopifyApp(t.app.db.pool, t.app.box, { clientId: second.clientId, secret: second.secret, scopes: ['read_orders'] });
    const shop = `install-${++seq}.myshopify.com`;
    const { cookies, callbackUrl } = await startInstall(shop, `&client_id=${second.clientId}`);
    assert.equal(callbackUrl.searchParams.get('hmac'), signShopifyQuery(second.secret, Object.fromEntries([...callbackUrl.searchParams].filter(([k]) => k !== 'hmac'))));
    const done = await callback(callbackUrl, cookies);
    assert.equal(done.headers.get('location'), `https://${shop}/admin/apps/${second.clientId}`);
  });
});
