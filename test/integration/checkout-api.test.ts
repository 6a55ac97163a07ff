/**
 * The shopper's side over plain HTTP: the checkout JSON (only what the shopper needs), the hosted
 * pay page (strict CSP, embedded initial state, friendly 404), the widget's static files, and the
 * per-store branding that reaches them.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import { after, before, describe, it } from 'node:test';
import Koa from 'koa';
import { CHECKOUT_VIEW_KEYS, missingFiat } from '../../src/checkout/view.ts';
import { widgetRoutes } from '../../src/checkout/widget-files.ts';
import type { CurrencyCode } from '../../src/core/money.ts';
import { contrastWithWhite, MerchantSettingsSchema } from '../../src/core/settings.ts';
import { freshDatabaseUrl } from '../support/database.ts';
import {
  api, createTestStore, paymentBody, sandboxAction, sandboxToken, startTestApp, TEST_ENCRYPTION_KEY, waitForStatus, type TestApp, type TestStore,
} from '../support/harness.ts';
import { runCli } from '../support/process.ts';

const CSP = (nonce: string, frameAncestors: string) =>
  `default-src 'none'; script-src 'nonce-${nonce}' 'strict-dynamic'; style-src 'self' 'nonce-${nonce}'; img-src 'self' data: https:; `
  + `connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors ${frameAncestors}`;

/** Refs that must never find anything (the path segment is sent encoded, so each reaches the route). */
function badRefs(real: { ref: string; id: string }): string[] {
  return [
    'A'.repeat(22), '../', '../../etc/passwd', "x' OR '1'='1", `${real.ref}' --`, 'x'.repeat(200), real.id, real.ref.slice(0, -1), `${real.ref}x`,
    real.ref.toLowerCase() === real.ref ? real.ref.toUpperCase() : real.ref.toLowerCase(), `${real.ref}\u0000`, '%', ' ',
  ];
}

describe('checkout JSON and pay page', () => {
  let t: TestApp;
  let shop: TestStore;
  let branded: TestStore;
  before(async () => {
    t = await startTestApp();
    shop = await createTestStore(t, { name: 'Plain shop' });
    branded = await createTestStore(t, {
      name: 'Brand </script><script>alert(1)</script> & "Co"',
      settings: { brandColor: '#7c2d12', logoUrl: 'https://cdn.example.com/logo.png', locale: 'fr', frameAncestors: ['https://shop.example.com', 'https://www.shop.example.com:8443'], supportEmail: 'help@shop.example' },
    });
  });
  after(() => t?.close());

  async function newPayment(s: TestStore, orderId: string) {
    const created = await api(t, 'POST', '/v1/payments', {
      key: s.apiKey, body: paymentBody(orderId, { customerEmail: 'private.shopper@example.com', metadata: { note: 'internal-meta-value' } }),
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    return created.body as { id: string; ref: string; status: string };
  }

  it('exposes exactly the allowed keys, and nothing internal anywhere in the body', async () => {
    const p = await newPayment(shop, 'KEYS-1');
    const res = await fetch(`${t.url}/v1/checkout/${p.ref}`);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('cache-control'), 'no-store');
    assert.equal(res.headers.get('access-control-allow-origin'), '*');
    const text = await res.text();
    const body = JSON.parse(text);
    assert.deepEqual(Object.keys(body).sort(), [...CHECKOUT_VIEW_KEYS].sort());
    assert.deepEqual(Object.keys(body.store).sort(), ['brandColor', 'locale', 'logoUrl', 'name']);
    assert.deepEqual(Object.keys(body.support), ['email']);
    const { rows } = await t.app.db.pool.query('SELECT id, store_id, connection_id, gateway_payment_id, request_hash FROM payments WHERE ref = $1', [p.ref]);
    const row = rows[0];
    for (const secret of [row.id, row.store_id, row.connection_id, row.request_hash, 'private.shopper@example.com', 'internal-meta-value', shop.apiKey, shop.connection.credentials.apiKey, shop.connection.credentials.ipnSecret]) {
      assert.ok(!text.includes(secret), `the body does not contain ${secret}`);
    }
    // The gateway's own payment id appears only inside its hosted page URL (where the shopper goes anyway), never as a field.
    assert.ok(!Object.values(body).includes(row.gateway_payment_id));
    assert.equal(body.ref, p.ref);
    assert.equal(body.status, 'created');
    assert.ok(Number.isInteger(body.version) && body.version > 0, String(body.version));
    assert.deepEqual(body.store, { name: 'Plain shop', brandColor: '#1d4ed8', logoUrl: null, locale: 'en' });
    assert.equal(body.amount, '25.00');
    assert.equal(body.currency, 'USD');
    assert.equal(body.crypto, null);
    assert.match(body.gatewayUrl, /\/sandbox\/paymento\/gateway\?token=[0-9a-f]{40}$/);
    assert.equal(body.frameable, false);
    assert.equal(body.returnUrl, 'https://shop.example/thanks');
    assert.equal(body.missing, null);
    assert.equal(body.canTopUp, false);
    assert.deepEqual(body.support, { email: null });
    assert.ok(Date.parse(body.expiresAt) > Date.parse(body.serverTime), 'expires in the future');
  });

  it('answers 404 payment_not_found for unknown and malformed refs, on the JSON and the event stream', async () => {
    const p = await newPayment(shop, 'NF-1');
    const real = { ref: p.ref, id: p.id };
    for (const ref of badRefs(real)) {
      for (const suffix of ['', '/events']) {
        const res = await api(t, 'GET', `/v1/checkout/${encodeURIComponent(ref)}${suffix}`);
        assert.equal(res.status, 404, `${JSON.stringify(ref)}${suffix} → ${res.status}`);
        assert.equal(res.body.error?.code, 'payment_not_found', `${JSON.stringify(ref)}${suffix}: ${JSON.stringify(res.body)}`);
      }
    }
    assert.equal((await api(t, 'GET', `/v1/checkout/${p.ref}`)).status, 200, 'the real ref still works');
  });

  it('underpaid: says how much fiat is missing and that the gateway page takes the rest', async () => {
    const p = await newPayment(shop, 'UNDER-1');
    await sandboxAction(t, await sandboxToken(t, p.id), 'underpay');
    await waitForStatus(t, p.id, 'underpaid');
    const { body } = await api(t, 'GET', `/v1/checkout/${p.ref}`);
    assert.equal(body.status, 'underpaid');
    assert.deepEqual(body.missing, { amount: '12.50', currency: 'USD' });
    assert.equal(body.canTopUp, true);
    assert.equal(body.crypto.coin, 'USDT');
    assert.ok(body.crypto.expected && body.crypto.received, JSON.stringify(body.crypto));
    // received is half of expected, exactly
    const [e, r] = [Number(body.crypto.expected), Number(body.crypto.received)];
    assert.equal(r * 2, e);
    // Past its expiry an underpaid payment can no longer be topped up.
    await t.app.db.pool.query(`UPDATE payments SET expires_at = now() - interval '1 minute' WHERE id = $1`, [p.id]);
    const late = await api(t, 'GET', `/v1/checkout/${p.ref}`);
    assert.equal(late.body.status, 'underpaid');
    assert.equal(late.body.canTopUp, false);
    assert.deepEqual(late.body.missing, { amount: '12.50', currency: 'USD' });
  });

  it('missing fiat is exact and rounds up to the minor unit', () => {
    const usd = (minor: bigint) => ({ minor, currency: 'USD' as CurrencyCode });
    assert.deepEqual(missingFiat(usd(1000n), '3', '1'), usd(667n), '10.00 × 2/3 = 6.666… → 6.67');
    assert.deepEqual(missingFiat(usd(2500n), '25.100000', '12.55'), usd(1250n));
    assert.deepEqual(missingFiat(usd(2500n), '0.00000003', '0.00000001'), usd(1667n));
    assert.deepEqual(missingFiat(usd(100n), '1', '0.999999999'), usd(1n), 'a sliver still asks for one cent');
    assert.deepEqual(missingFiat({ minor: 1000n, currency: 'JPY' as CurrencyCode }, '3', '2'), { minor: 334n, currency: 'JPY' });
    assert.equal(missingFiat(usd(1000n), '3', '3'), undefined);
    assert.equal(missingFiat(usd(1000n), '3', '4'), undefined);
    assert.equal(missingFiat(usd(1000n), null, '1'), undefined);
    assert.equal(missingFiat(usd(1000n), '0', '0'), undefined);
    assert.deepEqual(missingFiat(usd(1000n), '2', null), usd(1000n), 'nothing received: all of it');
  });

  it('pay page: strict CSP whose nonce matches the page, store framing, initial JSON embedded and escaped', async () => {
    const p = await newPayment(branded, 'PAGE-1');
    const res = await fetch(`${t.url}/pay/${p.ref}`, { redirect: 'manual' });
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^text\/html/);
    const html = await res.text();
    const nonce = /<script src="\/widget\.js" nonce="([^"]+)" async><\/script>/.exec(html)?.[1];
    assert.ok(nonce, 'the widget loader is included with a nonce');
    assert.match(nonce, /^[A-Za-z0-9+/=]{16,}$/);
    assert.equal(res.headers.get('content-security-policy'), CSP(nonce, 'https://shop.example.com https://www.shop.example.com:8443'));
    assert.equal(res.headers.get('x-content-type-options'), 'nosniff');
    assert.equal(res.headers.get('referrer-policy'), 'no-referrer');
    assert.equal(res.headers.get('cache-control'), 'no-store');
    assert.ok(html.includes(`<meta name="csp-nonce" content="${nonce}">`));
    assert.ok(html.includes(`<coinbridge-checkout ref="${p.ref}" data-standalone></coinbridge-checkout>`));
    assert.match(html, /<html lang="fr">/);
    assert.match(html, /<main>[\s\S]*<coinbridge-checkout[\s\S]*<\/main>/);
    // Every script on the page carries the nonce, except the inert JSON block.
    const scripts = [...html.matchAll(/<script\b([^>]*)>/g)].map((m) => m[1]!);
    assert.equal(scripts.length, 2, scripts.join(' | '));
    for (const attrs of scripts) assert.ok(attrs.includes(`nonce="${nonce}"`) || attrs.includes('type="application/json"'), attrs);
    // The store name cannot break out of the title or the JSON block.
    assert.ok(!html.includes('<script>alert(1)'), 'no injected script');
    assert.match(html, /<title>Brand &#60;\/script&#62;&#60;script&#62;alert\(1\)&#60;\/script&#62; &#38; &#34;Co&#34; · Paiement<\/title>/);
    const block = /<script type="application\/json" id="coinbridge-initial">([\s\S]*?)<\/script>/.exec(html)?.[1];
    assert.ok(block, 'initial JSON present');
    assert.ok(!block.includes('<') && block.includes('\\u003c/script\\u003e'), 'the JSON block escapes < and >');
    const initial = JSON.parse(block);
    const fresh = (await api(t, 'GET', `/v1/checkout/${p.ref}`)).body;
    assert.deepEqual({ ...initial, serverTime: 'x' }, { ...fresh, serverTime: 'x' });
    assert.deepEqual(initial.store, { name: 'Brand </script><script>alert(1)</script> & "Co"', brandColor: '#7c2d12', logoUrl: 'https://cdn.example.com/logo.png', locale: 'fr' });
    assert.deepEqual(initial.support, { email: 'help@shop.example' });
    const noscript = /<noscript>([\s\S]*?)<\/noscript>/.exec(html)?.[1] ?? '';
    assert.ok(noscript.includes(`href="${initial.gatewayUrl.replaceAll('&', '&#38;')}"`), noscript);
    // A store that lists no origins may not be framed at all; each response has its own nonce.
    const plain = await newPayment(shop, 'PAGE-2');
    const other = await fetch(`${t.url}/pay/${plain.ref}`);
    const otherNonce = /<meta name="csp-nonce" content="([^"]+)">/.exec(await other.text())?.[1];
    assert.ok(otherNonce && otherNonce !== nonce);
    assert.equal(other.headers.get('content-security-policy'), CSP(otherNonce, "'none'"));
  });

  it('pay page: unknown or malformed refs get a friendly HTML 404 under the same CSP', async () => {
    const p = await newPayment(shop, 'PAGE-404');
    for (const ref of badRefs({ ref: p.ref, id: p.id })) {
      const res = await fetch(`${t.url}/pay/${encodeURIComponent(ref)}`, { redirect: 'manual' });
      assert.equal(res.status, 404, JSON.stringify(ref));
      assert.match(res.headers.get('content-type') ?? '', /^text\/html/, JSON.stringify(ref));
      const html = await res.text();
      assert.match(html, /This payment link is not valid/);
      assert.ok(!html.includes('<script'), 'no scripts on the 404 page');
      const nonce = /<style nonce="([^"]+)">/.exec(html)?.[1];
      assert.ok(nonce);
      assert.equal(res.headers.get('content-security-policy'), CSP(nonce, "'none'"));
      assert.equal(res.headers.get('x-content-type-options'), 'nosniff');
      assert.equal(res.headers.get('location'), null);
    }
  });

  it('widget files on the app: path tricks never reach the file system', async () => {
    const tricks = ['/widget/..%2F..%2Fpackage.json', '/widget/%2e%2e%2fpackage.json', '/widget/..%5C..%5Cpackage.json', '/widget/loader.js%00', '/widget/LOADER.JS',
      '/widget/loader.json', '/widget/.loader.js', '/widget/loader.js.map', '/widget/nope-not-here.js', '/widget/', '/widget.js/..%2F..%2Fpackage.json'];
    for (const p of tricks) {
      const res = await rawGet(t.url, p);
      assert.equal(res.status, 404, `${p} → ${res.status}`);
      assert.ok(!res.body.toString().includes('"dependencies"'), `${p} leaked a file`);
    }
    for (const p of ['/widget/../package.json', '/widget/../../etc/passwd', '/widget/%2E%2E/package.json']) {
      const res = await rawGet(t.url, p); // sent as-is, not normalised by a URL parser
      assert.equal(res.status, 404, `${p} → ${res.status}`);
      assert.ok(!res.body.toString().includes('"dependencies"') && !res.body.toString().includes('root:'), `${p} leaked a file`);
    }
  });
});

/** GET with the path sent exactly as written (fetch would normalise `..`). */
function rawGet(origin: string, pathname: string, headers: Record<string, string> = {}): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: Buffer }> {
  const { hostname, port } = new URL(origin);
  return new Promise((resolve, reject) => {
    const req = http.request({ host: hostname, port, path: pathname, method: 'GET', headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

describe('widget static files', () => {
  let dir: string;
  let server: http.Server;
  let origin: string;
  const loader = `/* loader */\n${'customElements.define("coinbridge-checkout", class extends HTMLElement {});\n'.repeat(40)}`;
  before(async () => {
    const root = await fs.mkdtemp(path.join(os.tmpdir(), 'cbt-widget-'));
    dir = path.join(root, 'src');
    await fs.mkdir(dir);
    await fs.writeFile(path.join(dir, 'loader.js'), loader);
    await fs.writeFile(path.join(dir, 'checkout.css'), ':host{display:block}\n');
    await fs.writeFile(path.join(dir, 'notes.txt'), 'not served');
    await fs.writeFile(path.join(dir, 'Upper.js'), 'not served either');
    await fs.writeFile(path.join(root, 'outside.js'), 'outside the widget directory');
    await fs.mkdir(path.join(dir, 'sub.js'));
    const app = new Koa();
    const router = widgetRoutes({ dir });
    app.use(router.routes());
    server = http.createServer(app.callback());
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(async () => {
    await new Promise<void>((resolve) => { server?.close(() => resolve()); server?.closeAllConnections(); });
    if (dir) await fs.rm(path.dirname(dir), { recursive: true, force: true });
  });

  it('serves the loader and its files with the right type, caching, CORS and CORP headers', async () => {
    const res = await rawGet(origin, '/widget.js');
    assert.equal(res.status, 200);
    assert.equal(res.body.toString(), loader);
    assert.equal(res.headers['content-type'], 'text/javascript; charset=utf-8');
    assert.equal(res.headers['cache-control'], 'public, max-age=300');
    assert.equal(res.headers['access-control-allow-origin'], '*');
    assert.equal(res.headers['cross-origin-resource-policy'], 'cross-origin');
    assert.equal(res.headers['x-content-type-options'], 'nosniff');
    assert.equal(res.headers['content-encoding'], undefined, 'no gzip unless asked');
    assert.match(res.headers['vary'] ?? '', /Accept-Encoding/i);
    const etag = res.headers['etag'];
    assert.match(etag ?? '', /^"[A-Za-z0-9_-]+"$/);
    const again = await rawGet(origin, '/widget.js', { 'if-none-match': etag! });
    assert.equal(again.status, 304);
    assert.equal(again.body.length, 0);
    const same = await rawGet(origin, '/widget/loader.js');
    assert.equal(same.body.toString(), loader);
    const css = await rawGet(origin, '/widget/checkout.css');
    assert.equal(css.status, 200);
    assert.equal(css.headers['content-type'], 'text/css; charset=utf-8');
  });

  it('gzips when the client accepts it', async () => {
    const res = await rawGet(origin, '/widget.js', { 'accept-encoding': 'gzip, deflate, br' });
    assert.equal(res.status, 200);
    assert.equal(res.headers['content-encoding'], 'gzip');
    assert.ok(res.body.length < Buffer.byteLength(loader), `${res.body.length} bytes gzipped`);
    assert.equal(zlib.gunzipSync(res.body).toString(), loader);
    const plainTag = (await rawGet(origin, '/widget.js')).headers['etag'];
    assert.notEqual(res.headers['etag'], plainTag, 'the gzip variant has its own ETag');
    const refused = await rawGet(origin, '/widget.js', { 'accept-encoding': 'gzip;q=0, identity' });
    assert.equal(refused.headers['content-encoding'], undefined);
    assert.equal(refused.body.toString(), loader);
  });

  it('serves only listed names that match the whitelist: everything else is 404', async () => {
    for (const p of ['/widget/notes.txt', '/widget/Upper.js', '/widget/sub.js', '/widget/outside.js', '/widget/..%2Foutside.js', '/widget/../outside.js',
      '/widget/%2E%2E%2Foutside.js', '/widget/..%5Coutside.js', '/widget/loader.js%00.txt', '/widget/missing.js', '/widget//etc/passwd']) {
      const res = await rawGet(origin, p);
      assert.equal(res.status, 404, `${p} → ${res.status}`);
      assert.ok(!res.body.toString().includes('outside the widget') && !res.body.toString().includes('not served'), `${p} leaked`);
    }
  });

  it('a file that appears or changes later is served as it is now', async () => {
    assert.equal((await rawGet(origin, '/widget/late.js')).status, 404);
    await fs.writeFile(path.join(dir, 'late.js'), 'export const late = 1;\n');
    const first = await rawGet(origin, '/widget/late.js');
    assert.equal(first.status, 200);
    assert.equal(first.body.toString(), 'export const late = 1;\n');
    await fs.writeFile(path.join(dir, 'late.js'), 'export const late = 22;\n');
    const changed = await rawGet(origin, '/widget/late.js');
    assert.equal(changed.body.toString(), 'export const late = 22;\n');
    assert.notEqual(changed.headers['etag'], first.headers['etag']);
    await fs.rm(path.join(dir, 'late.js'));
    assert.equal((await rawGet(origin, '/widget/late.js')).status, 404);
  });
});

describe('branding settings', () => {
  it('refuse a brand colour white text is hard to read on, saying why', () => {
    const low = MerchantSettingsSchema.partial().safeParse({ brandColor: '#ffcc00' });
    assert.equal(low.success, false);
    const message = low.error!.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ');
    assert.match(message, /^brandColor: #ffcc00 is too light: white text on it has a contrast of 1\.51:1, and WCAG AA needs at least 4\.5:1/);
    // Right at the edge: #767676 is the lightest grey that passes, #777777 fails.
    assert.ok(contrastWithWhite('#767676') >= 4.5 && contrastWithWhite('#777777') < 4.5);
    assert.equal(MerchantSettingsSchema.partial().safeParse({ brandColor: '#767676' }).success, true);
    assert.equal(MerchantSettingsSchema.partial().safeParse({ brandColor: '#777777' }).success, false);
    for (const bad of [{ brandColor: 'blue' }, { brandColor: '#12345' }, { logoUrl: 'http://cdn.example.com/l.png' }, { logoUrl: 'javascript:alert(1)' },
      { locale: 'it' }, { frameAncestors: ['http://shop.example.com'] }, { frameAncestors: ['https://shop.example.com/path'] },
      { frameAncestors: ["https://shop.example.com; script-src *"] }, { frameAncestors: ['*'] }, { frameAncestors: Array.from({ length: 11 }, (_, i) => `https://s${i}.example.com`) },
      { frameAncestors: ['http://localhost.evil.example'] }, { frameAncestors: ['https://shop.example.com:70000'] }, { supportEmail: 'not an email' }]) {
      assert.equal(MerchantSettingsSchema.partial().safeParse(bad).success, false, JSON.stringify(bad));
    }
    // http only for loopback (development, browser tests): only the shopper's own machine serves it.
    const good = { frameAncestors: ['https://shop.example.com', 'https://www.shop.example.com:8443', 'http://localhost:3000', 'http://127.0.0.1:8080', 'http://[::1]:9000'] };
    assert.deepEqual(MerchantSettingsSchema.partial().parse(good).frameAncestors, good.frameAncestors);
    const defaults = MerchantSettingsSchema.parse({});
    assert.deepEqual([defaults.brandColor, defaults.logoUrl, defaults.locale, defaults.frameAncestors, defaults.supportEmail], ['#1d4ed8', null, 'en', [], null]);
  });

  it('the CLI refuses a low-contrast colour with the reason, and keeps a good one', async () => {
    const dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'cbt-cli-brand-'));
    const db = await freshDatabaseUrl();
    try {
      const env = { DATA_DIR: dataDir, ENCRYPTION_KEY: TEST_ENCRYPTION_KEY, PUBLIC_URL: 'https://pay.example.com', NODE_ENV: 'test', DATABASE_URL: db.url ?? '' };
      const store = await runCli(['create-store', '--name', 'Brand shop', '--settings', '{"expiryMinutes":45}'], env);
      await assert.rejects(runCli(['set-settings', '--store', store.storeId, '--settings', '{"brandColor":"#ffcc00"}'], env),
        /brandColor: #ffcc00 is too light: white text on it has a contrast of 1\.51:1, and WCAG AA needs at least 4\.5:1/);
      const ok = await runCli(['set-settings', '--store', store.storeId, '--settings', '{"brandColor":"#7c2d12","locale":"pt","frameAncestors":["https://shop.example.com"]}'], env);
      assert.deepEqual([ok.settings.brandColor, ok.settings.locale, ok.settings.frameAncestors, ok.settings.expiryMinutes], ['#7c2d12', 'pt', ['https://shop.example.com'], 45]);
    } finally {
      await db.drop();
      await fs.rm(dataDir, { recursive: true, force: true });
    }
  });
});
