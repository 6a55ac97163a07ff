import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import http from 'node:http';
import net from 'node:net';
import { after, before, beforeEach, describe, it } from 'node:test';
import { createStore, insertConnection, issueApiKey } from '../../src/db/stores-repo.ts';
import { CoinbridgeError } from '../../src/errors.ts';
import { callJson } from '../../src/gateways/http-client.ts';
import { WooClient } from '../../src/platforms/woocommerce/client.ts';
import { listenOnLoopback } from '../emulators/loopback.ts';
import { api, paymentBody, waitFor } from '../support/harness.ts';
import { leakedSecrets, recordWrites, startWorld, type World, type Write } from './endpoints.ts';

/**
 * Merchant-supplied URLs never make Coinbridge reach its own network, with ALLOW_PRIVATE_URLS=false
 * (the production setting; the app must still start in NODE_ENV=test). Every loopback spelling
 * names the port of one "canary" listener on this machine (IPv4 and IPv6), which counts every
 * connection made to it: the count must stay 0.
 *
 * Where URLs come in: WooCommerce connect (store_url), a Crypto Checkout instance URL (support
 * console and Shopify settings), Shopify shop domains, a payment's returnUrl and a store's logoUrl
 * (stored, never fetched), the sandbox's IPN URL, and redirects answered by a merchant's server.
 */

interface Canary { port: number; connections: number; close(): Promise<void> }

/** A TCP listener on [::] (dual stack): any connection attempt counts, TLS or not. */
async function startCanary(): Promise<Canary> {
  const server = net.createServer((socket) => { canary.connections++; socket.destroy(); });
  await new Promise<void>((resolve) => server.listen({ port: 0, host: '::', ipv6Only: false }, resolve));
  const canary: Canary = {
    port: (server.address() as net.AddressInfo).port, connections: 0,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
  return canary;
}

/** Internal addresses in every spelling a URL parser or resolver may turn into one. */
function internalUrls(port: number): string[] {
  return [
    `https://127.0.0.1:${port}`, `https://127.1:${port}`, `https://2130706433:${port}`, `https://0177.0.0.1:${port}`, `https://0x7f.0.0.1:${port}`,
    `https://0x7f000001:${port}`, `https://127.0.0.1.:${port}`, `https://\u2460\u2461\u2466.0.0.1:${port}`, `https://127\u30020\u30020\u30021:${port}`,
    `https://0.0.0.0:${port}`, `https://[::]:${port}`, `https://[::1]:${port}`, `https://[::ffff:127.0.0.1]:${port}`, `https://[::ffff:7f00:1]:${port}`,
    `https://[0:0:0:0:0:ffff:127.0.0.1]:${port}`, `https://localhost:${port}`, `https://LOCALHOST:${port}`, `https://localhost.:${port}`,
    `https://shop.localhost:${port}`, `https://localhost.localdomain:${port}`,
    'https://169.254.169.254', 'https://169.254.169.254/latest/meta-data/', 'https://[fd00:ec2::254]', 'https://[::ffff:169.254.169.254]', 'https://[::ffff:a9fe:a9fe]',
    'https://metadata.google.internal', 'https://10.0.0.1', 'https://192.168.1.1', 'https://172.16.0.1', 'https://100.64.0.1', 'https://[fe80::1]', 'https://[fc00::1]',
    'https://[64:ff9b::7f00:1]', 'https://[2002:7f00:1::]', 'https://224.0.0.1',
    `http://127.0.0.1:${port}`, 'http://93.184.216.34', `https://user:pass@127.0.0.1:${port}`,
  ];
}

describe('SSRF: merchant URLs never reach internal addresses (ALLOW_PRIVATE_URLS=false)', { timeout: 120_000 }, () => {
  let w: World;
  let canary: Canary;
  let writes: Awaited<ReturnType<typeof recordWrites>>;
  const claimHash = crypto.createHash('sha256').update('claim').digest('hex');

  before(async () => {
    canary = await startCanary();
    w = await startWorld({ shopify: true, env: { ALLOW_PRIVATE_URLS: 'false' } });
    writes = await recordWrites(w.t);
  });
  after(async () => {
    await w?.close();
    await canary?.close();
  });
  // Each test counts its own connections.
  beforeEach(() => { if (canary) canary.connections = 0; });

  const describeWrites = (list: Write[]) => list.map((x) => `${x.op} ${x.table}${x.detail ? ` (${x.detail})` : ''}`).join(', ');

  it('runs in NODE_ENV=test with private URLs refused', () => {
    assert.equal(w.t.env.NODE_ENV, 'test');
    assert.equal(w.t.app.config.allowPrivateUrls, false);
  });

  it('WooCommerce connect refuses every internal store_url, stores nothing, connects nowhere', async () => {
    const problems: string[] = [];
    for (const url of internalUrls(canary.port)) {
      const res = await api(w.t, 'GET', `/woocommerce/connect?store_url=${encodeURIComponent(url)}&claim_hash=${claimHash}`);
      if (res.status !== 400 || res.body?.error?.code !== 'invalid_store_url') problems.push(`${url}: ${res.status} ${JSON.stringify(res.body).slice(0, 200)}`);
      const written = await writes.since();
      if (written.length) problems.push(`${url}: wrote ${describeWrites(written)}`);
    }
    // A public address passes (so the refusals above are about the addresses).
    const control = await api(w.t, 'GET', `/woocommerce/connect?store_url=${encodeURIComponent('https://93.184.216.34/shop')}&claim_hash=${claimHash}`);
    assert.equal(control.status, 302, JSON.stringify(control.body));
    assert.deepEqual((await writes.since()).map((x) => `${x.op} ${x.table}`), ['INSERT woocommerce_connects']);
    assert.deepEqual(problems, []);
    assert.equal(canary.connections, 0);
  });

  it('a Crypto Checkout instance URL that is internal is refused, from the console and from Shopify settings', async () => {
    const problems: string[] = [];
    const body = (instanceUrl: string) => ({ gateway: 'crypto-checkout', mode: 'live', apiKey: `ck_live_${crypto.randomBytes(12).toString('hex')}`, ipnSecret: `whsec_${crypto.randomBytes(12).toString('hex')}`, instanceUrl, role: 'extra' });
    for (const url of internalUrls(canary.port)) {
      const console = await w.operator.request('POST', `/v1/admin/stores/${w.paymento.storeId}/gateways`, body(url));
      if (console.status !== 400 || console.body?.error?.code !== 'instance_url_refused') problems.push(`console ${url}: ${console.status} ${JSON.stringify(console.body).slice(0, 200)}`);
      // The console audits each connect attempt, refused ones included (an append-only record of what staff did).
      const consoleWrites = (await writes.since()).filter((x) => !(x.table === 'admin_audit' && x.op === 'INSERT'));
      if (consoleWrites.length) problems.push(`console ${url}: wrote ${describeWrites(consoleWrites)}`);
      const token = w.shopify!.emu.sessionToken(w.shopify!.app.clientId, w.shopify!.shop);
      const shopify = await api(w.t, 'POST', '/shopify/app/api/gateway', { headers: { authorization: `Bearer ${token}` }, body: body(url) });
      if (shopify.status !== 400 || shopify.body?.error?.code !== 'instance_url_refused') problems.push(`shopify ${url}: ${shopify.status} ${JSON.stringify(shopify.body).slice(0, 200)}`);
      const shopifyWrites = await writes.since();
      if (shopifyWrites.length) problems.push(`shopify ${url}: wrote ${describeWrites(shopifyWrites)}`);
    }
    assert.deepEqual(problems, []);
    assert.equal(canary.connections, 0);
  });

  it('a shop "domain" that is not a Shopify shop domain is refused wherever a shop is named', async () => {
    const problems: string[] = [];
    const shops = [
      '127.0.0.1', 'localhost', `localhost:${canary.port}`, '169.254.169.254', '[::1]', 'evil.example', 'corpus.myshopify.com.evil.example',
      'corpus.myshopify.com@127.0.0.1', `corpus.myshopify.com:${canary.port}`, 'evil.example#.myshopify.com', 'evil.example/.myshopify.com',
      '169.254.169.254/.myshopify.com', 'corpus.myshopify.com/../@127.0.0.1', 'corpus.myshopify.com\\@127.0.0.1', 'corpus.myshopify.com%2F%2E%2E%2F@127.0.0.1',
      'corpus.myshopify.com?x=@127.0.0.1', '.myshopify.com', '-corpus.myshopify.com', `corpus.myshopify.com\r\nHost: 127.0.0.1`,
    ];
    for (const shop of shops) {
      for (const path of ['/shopify/install', '/shopify/callback', '/shopify/app']) {
        const res = await api(w.t, 'GET', `${path}?shop=${encodeURIComponent(shop)}&timestamp=${Math.floor(Date.now() / 1000)}`);
        if (res.status !== 400 || res.body?.error?.code !== 'invalid_shop') problems.push(`${path} ${JSON.stringify(shop)}: ${res.status} ${JSON.stringify(res.body).slice(0, 160)}`);
        const written = await writes.since();
        if (written.length) problems.push(`${path} ${JSON.stringify(shop)}: wrote ${describeWrites(written)}`);
      }
    }
    assert.equal((await api(w.t, 'GET', `/shopify/app?shop=${w.shopify!.shop}`)).status, 200, 'a real shop domain passes');
    assert.deepEqual(problems, []);
    assert.equal(canary.connections, 0);
  });

  // From here on, jobs run (callbacks, verification): the tests above checked every write, these do not.
  it('the sandbox never calls an IPN URL other than this Coinbridge\'s own', async () => {
    await w.t.app.jobs!.start();
    const settings = await api(w.t, 'POST', '/sandbox/paymento/v1/payment/settings', {
      headers: { 'api-key': w.paymento.gatewayApiKey }, body: { IPN_Url: `http://127.0.0.1:${canary.port}/ipn/paymento/${w.paymento.connectionId}`, IPN_Method: 1 },
    });
    assert.equal(settings.status, 200, JSON.stringify(settings.body));
    const pressed = await fetch(`${w.t.url}/sandbox/paymento/gateway/${w.paymento.payment.gatewayPaymentId}/pay`, { method: 'POST', headers: { accept: 'application/json' } });
    assert.equal(pressed.status, 200);
    // The delivery job refuses the address for good (a final error), after trying nothing.
    await waitFor('the sandbox delivery to be refused', async () => {
      const { rows } = await w.t.app.db.pool.query(`SELECT fail_reason FROM agenda_jobs WHERE name = 'sandbox.deliver-ipn' AND failed_at IS NOT NULL`);
      return rows.some((r) => /only this Coinbridge's \/ipn\/ URLs/.test(r.fail_reason));
    });
    assert.equal(canary.connections, 0);
    await writes.since();
  });

  it('returnUrl and logoUrl pointing inside are stored as given and never fetched, through a whole payment', async () => {
    const returnUrl = `http://127.0.0.1:${canary.port}/thanks`;
    const logoUrl = `https://127.0.0.1:${canary.port}/logo.png`;
    const settings = await w.operator.request('PUT', `/v1/admin/stores/${w.cryptoCheckout.storeId}/settings`, { logoUrl });
    assert.equal(settings.status, 200, JSON.stringify(settings.body));
    const created = await api(w.t, 'POST', '/v1/payments', { key: w.cryptoCheckout.apiKey, body: paymentBody('SSRF-RETURN', { returnUrl }) });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const view = await api(w.t, 'GET', `/v1/checkout/${created.body.ref}`);
    assert.equal(view.body.returnUrl, returnUrl);
    assert.equal(view.body.store.logoUrl, logoUrl);
    assert.equal((await fetch(`${w.t.url}/pay/${created.body.ref}`)).status, 200);
    const { rows } = await w.t.app.db.pool.query('SELECT gateway_payment_id FROM payments WHERE id = $1', [created.body.id]);
    const pressed = await fetch(`${w.t.url}/sandbox/crypto-checkout/gateway/${rows[0].gateway_payment_id}/pay`, { method: 'POST', headers: { accept: 'application/json' } });
    assert.equal(pressed.status, 200);
    await waitFor('the payment to be paid', async () => (await api(w.t, 'GET', `/v1/payments/${created.body.id}`, { key: w.cryptoCheckout.apiKey })).body.status === 'paid', 20_000);
    assert.equal(canary.connections, 0);
    await writes.since();
  });

  it('a stored instance whose name now resolves to loopback (DNS rebinding) is not connected to', async () => {
    // The URL passed the check when it was saved; since then its name points inside. The rows are
    // written directly: no API can save such a URL today, which is what the save-time check is for.
    const store = await createStore(w.t.app.db.pool, { name: 'Rebinding' });
    await insertConnection(w.t.app.db.pool, w.t.app.box, {
      storeId: store.id, gateway: 'crypto-checkout', mode: 'live',
      credentials: { apiKey: `ck_live_${crypto.randomBytes(12).toString('hex')}`, ipnSecret: `whsec_${crypto.randomBytes(12).toString('hex')}`, apiOrigin: `https://localhost:${canary.port}` },
    });
    const key = await issueApiKey(w.t.app.db.pool, store.id);
    const res = await api(w.t, 'POST', '/v1/payments', { key, body: paymentBody('SSRF-REBIND') });
    assert.ok(res.status === 502 || res.status === 503, `the gateway call failed: ${res.status} ${JSON.stringify(res.body)}`);
    assert.equal(canary.connections, 0, 'Coinbridge connected to a loopback address named by a merchant\'s instance URL');
    await writes.since();
  });

  describe('clients: redirects are never followed, names are judged at connect time', () => {
    let redirector: { origin: string; requests: number; close(): Promise<void> };
    const targets = () => [`http://127.0.0.1:${canary.port}/`, 'http://169.254.169.254/latest/meta-data/', `http://[::1]:${canary.port}/`];
    let next = 0;

    before(async () => {
      // A "merchant" server answering every request with a redirect inward.
      const server = http.createServer((req, res) => {
        redirector.requests++;
        const codes = [301, 302, 303, 307, 308];
        res.writeHead(codes[next % codes.length]!, { location: targets()[next++ % targets().length]! });
        res.end();
        req.resume();
      });
      const { origin, destroySockets } = await listenOnLoopback(server);
      redirector = { origin, requests: 0, close: () => new Promise((r) => { destroySockets(); server.close(() => r()); }) };
    });
    after(() => redirector?.close());

    it('the WooCommerce client refuses a redirect instead of following it', async () => {
      // allowPrivate only so the client may reach the local "merchant"; the redirect is the test.
      const client = new WooClient({ storeUrl: redirector.origin, consumerKey: `ck_${'a'.repeat(40)}`, consumerSecret: `cs_${'b'.repeat(40)}` }, { allowPrivate: true, timeoutMs: 5000 });
      for (let i = 0; i < 5; i++) {
        const err = await client.get('system_status').then(() => undefined, (e: unknown) => e);
        assert.ok(err instanceof CoinbridgeError && err.code === 'woocommerce_redirect', `attempt ${i}: ${String(err)}`);
      }
      assert.equal(redirector.requests, 5, 'each call reached the merchant server');
      assert.equal(canary.connections, 0);
    });

    it('the gateway client (Crypto Checkout instances, every gateway API) refuses a redirect instead of following it', async () => {
      for (let i = 0; i < 5; i++) {
        const err = await callJson({ method: 'POST', url: `${redirector.origin}/api/v1/checkout_sessions`, body: { a: 1 }, upstream: 'Crypto Checkout', timeoutMs: 5000 }).then(() => undefined, (e: unknown) => e);
        assert.ok(err instanceof CoinbridgeError, `attempt ${i}: ${String(err)}`);
      }
      assert.equal(redirector.requests, 10, 'each call reached the merchant server');
      assert.equal(canary.connections, 0);
    });

    it('the WooCommerce client refuses names that resolve to loopback when it connects', async () => {
      for (const host of ['localhost', 'LOCALHOST']) {
        const client = new WooClient({ storeUrl: `http://${host}:${canary.port}`, consumerKey: `ck_${'a'.repeat(40)}`, consumerSecret: `cs_${'b'.repeat(40)}` }, { allowPrivate: false, timeoutMs: 5000 });
        const err = await client.get('system_status').then(() => undefined, (e: unknown) => e);
        assert.ok(err instanceof CoinbridgeError && /EADDRNOTPUBLIC|private address/.test(err.message), `${host}: ${String(err)}`);
      }
      assert.equal(canary.connections, 0);
    });
  });

  it('the logs carry no planted secret', () => {
    assert.match(w.t.logs.join(''), /job attempt failed/, 'the refused deliveries were logged');
    assert.deepEqual(leakedSecrets(w.logText(), w.planted()), []);
  });
});
