/**
 * The Paymento adapter against the Paymento emulator: the shared conformance suite in both verify
 * shapes Paymento has published (swagger: integer status, no amounts; docs.paymento.io: status
 * names, settlement amounts, Verify approves Paid), then what is specific to Paymento.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { ReportedStatus } from '../../src/core/gateway-facts.ts';
import { decimalToString, parseDecimal } from '../../src/core/money.ts';
import { PaymentoAdapter } from '../../src/gateways/paymento/adapter.ts';
import type { GatewayConnection } from '../../src/gateways/types.ts';
import { startPaymentoEmulator, type PaymentoEmulator, type VerifyShape } from '../emulators/paymento/server.ts';
import { startWebhookReceiver, type WebhookReceiver } from '../support/webhook-receiver.ts';
import { asReceived, paymentInput, runGatewayConformance, type ConformanceTarget, type Situation } from './conformance.ts';

/** Paymento's documented codes (reference/platforms.md); 6 is in the swagger enum only. */
const DOCUMENTED: ReadonlyArray<readonly [number, ReportedStatus]> = [
  [0, 'created'], [1, 'pending'], [2, 'underpaid'], [3, 'confirming'], [4, 'expired'],
  [5, 'cancelled'], [6, 'unknown'], [7, 'paid'], [8, 'paid'], [9, 'rejected'],
];

/** Paymento has no "overpaid" code: an overpayment is Paid with more received. */
const STATUS_FOR: Record<Situation, number> = {
  pending: 1, confirming: 3, underpaid: 2, paid: 7, overpaid: 7, paid_late: 7, expired: 4, cancelled: 5, rejected: 9,
};

function scaled(amount: string, num: bigint, den: bigint): string {
  const d = parseDecimal(amount);
  assert.ok(d, `emulator amount ${amount}`);
  return decimalToString({ units: (d.units * num) / den, scale: d.scale });
}

function connectionFor(apiKey: string, secret: string, id = 'conn_paymento_1'): GatewayConnection {
  return { id, storeId: 'store_1', gateway: 'paymento', mode: 'sandbox', credentials: { apiKey, ipnSecret: secret } };
}

function adapterFor(emu: PaymentoEmulator): PaymentoAdapter {
  return new PaymentoAdapter(() => ({ api: emu.origin, gateway: emu.gatewayOrigin }));
}

async function paymentoTarget(verifyShape: VerifyShape): Promise<ConformanceTarget> {
  const emu = await startPaymentoEmulator({ verifyShape, ipnRetryDelaysMs: [10, 20] });
  const merchant = emu.addMerchant();
  const connection = connectionFor(merchant.apiKey, merchant.secret);
  return {
    adapter: adapterFor(emu),
    connection,
    badConnection: connectionFor('WRONG-API-KEY-0000', 'another-secret', 'conn_paymento_bad'),
    callbackUrl: `https://coinbridge.example/ipn/paymento/${connection.id}`,
    documentedStatuses: DOCUMENTED,
    driver: {
      async settle(token, situation) {
        const expected = emu.payment(token).expectedCrypto;
        const receivedCrypto = situation === 'underpaid' ? scaled(expected, 1n, 2n)
          : situation === 'overpaid' ? scaled(expected, 11n, 10n)
          : situation === 'paid' || situation === 'confirming' ? expected
          : '0';
        await emu.setStatus(token, STATUS_FOR[situation], { receivedCrypto, notify: false });
      },
      async signedCallback(token, situation) {
        const raw = emu.ipnBody(token, STATUS_FOR[situation]);
        return {
          rawBody: Buffer.from(raw, 'utf8'),
          headers: { 'Content-Type': 'application/json', 'X-HMAC-SHA256-SIGNATURE': emu.signBody(merchant.apiKey, raw) },
        };
      },
      async failStatus(count, mode) {
        emu.failVerify(count, mode);
      },
    },
    close: () => emu.close(),
  };
}

runGatewayConformance('Paymento adapter against the Paymento emulator (docs.paymento.io verify shape)', () => paymentoTarget('docs'), { hexSignatures: true });
runGatewayConformance('Paymento adapter against the Paymento emulator (swagger verify shape)', () => paymentoTarget('swagger'), { hexSignatures: true });

// ---------------------------------------------------------------------------------------------


async function api(emu: PaymentoEmulator, method: string, path: string, opts: { apiKey?: string; headerName?: string; body?: string; contentType?: string } = {}) {
  const headers: Record<string, string> = {};
  if (opts.apiKey !== undefined) headers[opts.headerName ?? 'Api-Key'] = opts.apiKey;
  if (opts.body !== undefined) headers['content-type'] = opts.contentType ?? 'application/json';
  const res = await fetch(`${emu.origin}${path}`, { method, headers, body: opts.body });
  const text = await res.text();
  return { status: res.status, headers: res.headers, json: JSON.parse(text) as { success: boolean; message: string | null; body: any } };
}

describe('Paymento specifics', () => {
  let emu: PaymentoEmulator;
  let docsEmu: PaymentoEmulator;
  let receiver: WebhookReceiver;
  let merchant: { apiKey: string; secret: string };
  let conn: GatewayConnection;
  let adapter: PaymentoAdapter;

  before(async () => {
    emu = await startPaymentoEmulator({ ipnRetryDelaysMs: [10, 20, 30] });
    docsEmu = await startPaymentoEmulator({ verifyShape: 'docs' });
    receiver = await startWebhookReceiver('/ipn/paymento/conn_paymento_1');
    merchant = emu.addMerchant();
    conn = connectionFor(merchant.apiKey, merchant.secret);
    adapter = adapterFor(emu);
  });
  after(async () => {
    await emu.close();
    await docsEmu.close();
    await receiver.close();
  });

  describe('status codes', () => {
    it('maps codes 0–9 exactly', () => {
      for (const [code, reported] of DOCUMENTED) assert.equal(adapter.mapStatus(code), reported, `code ${code}`);
    });

    it('maps numeric strings and the docs’ status names', () => {
      for (const [code, reported] of DOCUMENTED) assert.equal(adapter.mapStatus(String(code)), reported, `"${code}"`);
      const names: Record<string, ReportedStatus> = {
        Initialize: 'created', Pending: 'pending', PartialPaid: 'underpaid', WaitingToConfirm: 'confirming', Timeout: 'expired',
        UserCanceled: 'cancelled', Paid: 'paid', Approve: 'paid', Reject: 'rejected',
      };
      for (const [name, reported] of Object.entries(names)) {
        assert.equal(adapter.mapStatus(name), reported, name);
        assert.equal(adapter.mapStatus(name.toLowerCase()), reported, name.toLowerCase());
      }
      assert.equal(adapter.mapStatus(' 7 '), 'paid');
      assert.equal(adapter.mapStatus('10'), 'unknown');
    });
  });

  describe('requests the adapter sends', () => {
    it('creates payments with the swagger PaymentRequest field names and types', async () => {
      const input = paymentInput({ customerEmail: 'shopper@example.com', language: 'en' });
      const { gatewayPaymentId, checkoutUrl } = await adapter.createPayment(conn, input);
      const sent = emu.requests.filter((r) => r.method === 'POST' && r.path === '/v1/payment/request').at(-1);
      assert.ok(sent, 'no POST /v1/payment/request reached the emulator');
      assert.equal(sent.headers['api-key'], merchant.apiKey);
      assert.match(String(sent.headers['content-type']), /^application\/json/);
      const body = sent.body as Record<string, unknown>;
      const swaggerFields = ['fiatAmount', 'fiatCurrency', 'returnUrl', 'orderId', 'riskSpeed', 'language', 'emailAddress', 'cryptoAmounts', 'additionalData'];
      for (const key of Object.keys(body)) assert.ok(swaggerFields.includes(key), `field ${key} is not in the swagger PaymentRequest`);
      assert.equal(body.fiatAmount, '12.50');
      assert.equal(body.fiatCurrency, 'USD');
      assert.equal(body.returnUrl, input.returnUrl);
      assert.equal(body.orderId, input.orderId);
      assert.equal(body.riskSpeed, 1, "confirmationSpeed 'secure' waits for blocks: riskSpeed 1");
      assert.equal(body.emailAddress, 'shopper@example.com');
      assert.equal(body.language, 'en');
      assert.deepEqual(body.additionalData, [{ key: 'CoinbridgePaymentId', value: input.paymentId }]);
      assert.equal(checkoutUrl, `${emu.gatewayOrigin}/gateway?token=${gatewayPaymentId}`);
      const page = await fetch(checkoutUrl);
      assert.equal(page.status, 200);
      assert.match(await page.text(), /12\.50 USD/);
    });

    it("sends riskSpeed 0 for 'fast'", async () => {
      await adapter.createPayment(conn, paymentInput({ confirmationSpeed: 'fast' }));
      const sent = emu.requests.filter((r) => r.path === '/v1/payment/request').at(-1);
      assert.equal((sent?.body as Record<string, unknown>).riskSpeed, 0);
    });

    it('configureCallbacks stores the IPN URL (GET settings returns it, POST method)', async () => {
      await adapter.configureCallbacks(conn, receiver.url);
      const res = await api(emu, 'GET', '/v1/payment/settings', { apiKey: merchant.apiKey });
      assert.equal(res.json.success, true);
      assert.deepEqual(res.json.body, { ipN_URL: receiver.url, ipN_Method: 1 });
      assert.equal(await adapter.getCallbackUrl(conn), receiver.url);
    });
  });

  describe('verify shapes', () => {
    it('docs shape: amounts are reported, and verifying Paid approves it', async () => {
      const m = docsEmu.addMerchant();
      const docsConn = connectionFor(m.apiKey, m.secret);
      const docsAdapter = adapterFor(docsEmu);
      const { gatewayPaymentId: token } = await docsAdapter.createPayment(docsConn, paymentInput());
      const expected = docsEmu.payment(token).expectedCrypto;
      assert.equal(expected, '0.00015625', '12.50 at the fixed fake rate of 80,000');
      await docsEmu.setStatus(token, 7, { notify: false });
      const fact = await docsAdapter.getStatus(docsConn, token);
      assert.equal(fact.reported, 'paid');
      assert.equal(fact.gatewayStatus, '8');
      assert.ok(fact.crypto?.received && fact.crypto.expected, 'docs shape must yield amounts');
      assert.equal(decimalToString(fact.crypto.expected), expected);
      assert.equal(decimalToString(fact.crypto.received), expected);
      assert.equal(fact.fiat?.amount, '12.50');
      assert.equal(docsEmu.payment(token).status, 8, 'Verify moves Paid (7) to Approve (8)');
      const raw = await api(docsEmu, 'POST', '/v1/payment/verify', { apiKey: m.apiKey, body: JSON.stringify({ token }) });
      assert.equal(raw.json.success, true);
      assert.equal(raw.json.body.orderStatus, 'Approve');
      assert.deepEqual(raw.json.body.additionalData.at(-1), { key: 'OrderId', value: docsEmu.payment(token).orderId });
    });

    it('docs shape: not-yet-approved orders answer success:false with the body', async () => {
      const m = docsEmu.addMerchant();
      const token = (await adapterFor(docsEmu).createPayment(connectionFor(m.apiKey, m.secret), paymentInput())).gatewayPaymentId;
      await docsEmu.setStatus(token, 3, { notify: false });
      const raw = await api(docsEmu, 'POST', '/v1/payment/verify', { apiKey: m.apiKey, body: JSON.stringify({ token }) });
      assert.equal(raw.json.success, false);
      assert.equal(raw.json.body.orderStatus, 'WaitingToConfirm');
      assert.ok(raw.json.body.settlement.pendingTxHash);
    });

    it('swagger shape: integer status, no amounts', async () => {
      const { gatewayPaymentId: token } = await adapter.createPayment(conn, paymentInput());
      await emu.setStatus(token, 2, { receivedCrypto: '0.0001', notify: false });
      const raw = await api(emu, 'POST', '/v1/payment/verify', { apiKey: merchant.apiKey, body: JSON.stringify({ token }) });
      assert.equal(raw.json.success, true);
      assert.equal(raw.json.body.orderStatus, 2);
      assert.equal(raw.json.body.settlement, undefined);
      const fact = await adapter.getStatus(conn, token);
      assert.equal(fact.reported, 'underpaid');
      assert.equal(fact.crypto?.received, undefined, 'amounts must not be invented');
    });

    it("an unknown token, or another merchant's token, is 'Payment not found' (HTTP 400) and a final error", async () => {
      const other = emu.addMerchant();
      const { gatewayPaymentId: token } = await adapter.createPayment(conn, paymentInput());
      for (const [key, tok] of [[merchant.apiKey, 'no-such-token'], [other.apiKey, token]] as const) {
        const raw = await api(emu, 'POST', '/v1/payment/verify', { apiKey: key, body: JSON.stringify({ token: tok }) });
        assert.equal(raw.status, 400);
        assert.deepEqual(raw.json, { success: false, message: 'Payment not found', body: null });
      }
      await assert.rejects(adapter.getStatus(connectionFor(other.apiKey, other.secret), token), (err: { retryable?: boolean }) => err.retryable === false);
    });

    it('503 with Retry-After becomes a retryable error carrying the delay', async () => {
      const { gatewayPaymentId: token } = await adapter.createPayment(conn, paymentInput());
      emu.failVerify(1, '503-retry-after');
      await assert.rejects(adapter.getStatus(conn, token), (err: { retryable?: boolean; retryAfterMs?: number }) => {
        assert.equal(err.retryable, true);
        assert.equal(err.retryAfterMs, 1000);
        return true;
      });
    });
  });

  describe('IPN delivery', () => {
    it('POSTs an uppercase-hex signed IPN that the adapter accepts byte for byte', async () => {
      await adapter.configureCallbacks(conn, receiver.url);
      const input = paymentInput();
      const { gatewayPaymentId: token } = await adapter.createPayment(conn, input);
      const before = receiver.received.length;
      await emu.setStatus(token, 7);
      const got = receiver.received.slice(before);
      assert.equal(got.length, 1);
      const ipn = got[0]!;
      assert.equal(ipn.method, 'POST');
      assert.match(String(ipn.headers['x-hmac-sha256-signature']), /^[0-9A-F]{64}$/);
      assert.deepEqual(Object.keys(JSON.parse(ipn.raw.toString('utf8'))), ['Token', 'PaymentId', 'OrderId', 'OrderStatus', 'AdditionalData']);
      const verdict = adapter.parseCallback(conn, ipn.raw, ipn.headers);
      assert.ok(verdict.ok, verdict.ok ? '' : verdict.message);
      assert.equal(verdict.hint.gatewayPaymentId, token);
      assert.equal(verdict.hint.reported, 'paid');
      assert.equal(verdict.hint.orderId, input.orderId);
    });

    it('retries non-200 answers, then stops at the first 200', async () => {
      await adapter.configureCallbacks(conn, receiver.url);
      const { gatewayPaymentId: token } = await adapter.createPayment(conn, paymentInput());
      receiver.answers.push(500, 503);
      await emu.setStatus(token, 3);
      const attempts = emu.deliveries.filter((d) => d.token === token);
      assert.deepEqual(attempts.map((d) => [d.attempt, d.httpStatus]), [[1, 500], [2, 503], [3, 200]]);
      assert.ok(attempts.every((d) => d.body === attempts[0]!.body), 'a retry resends the same bytes');
    });

    it('gives up after the configured retries', async () => {
      await adapter.configureCallbacks(conn, receiver.url);
      const { gatewayPaymentId: token } = await adapter.createPayment(conn, paymentInput());
      receiver.answers.push(500, 500, 500, 500, 500);
      await emu.setStatus(token, 4);
      assert.equal(emu.deliveries.filter((d) => d.token === token).length, 4, 'first try + 3 retries');
      receiver.answers.length = 0;
    });

    it('uses PUT when IPN_Method is 2 (swagger spelling accepted)', async () => {
      const m = emu.addMerchant();
      const res = await api(emu, 'POST', '/v1/payment/settings', { apiKey: m.apiKey, body: JSON.stringify({ ipN_URL: receiver.url, ipN_Method: 2 }) });
      assert.deepEqual(res.json, { success: true, message: null, body: { ipN_URL: receiver.url, ipN_Method: 2 } });
      const { gatewayPaymentId: token } = await adapter.createPayment(connectionFor(m.apiKey, m.secret), paymentInput());
      const before = receiver.received.length;
      await emu.setStatus(token, 5);
      assert.equal(receiver.received[before]?.method, 'PUT');
    });

    it('sendIpn delivers unsigned and forged callbacks once, which the adapter rejects', async () => {
      await adapter.configureCallbacks(conn, receiver.url);
      const { gatewayPaymentId: token } = await adapter.createPayment(conn, paymentInput());
      const before = receiver.received.length;
      assert.equal((await emu.sendIpn(token, { status: 7, signature: null })).httpStatus, 200);
      assert.equal((await emu.sendIpn(token, { status: 7, signature: 'AB'.repeat(32) })).httpStatus, 200);
      const [unsigned, forged] = receiver.received.slice(before);
      assert.ok(unsigned && forged);
      assert.equal(unsigned.headers['x-hmac-sha256-signature'], undefined);
      const v1 = adapter.parseCallback(conn, unsigned.raw, unsigned.headers);
      const v2 = adapter.parseCallback(conn, forged.raw, forged.headers);
      assert.ok(!v1.ok && v1.reason === 'missing_signature');
      assert.ok(!v2.ok && v2.reason === 'bad_signature');
    });

    it("a correctly signed body that is not an IPN is 'malformed_body'", () => {
      for (const raw of ['not json', '{"OrderStatus":7}', '{"Token":"abc"}']) {
        const headers = asReceived({ 'X-HMAC-SHA256-SIGNATURE': emu.signBody(merchant.apiKey, raw) });
        const verdict = adapter.parseCallback(conn, Buffer.from(raw), headers);
        assert.ok(!verdict.ok && verdict.reason === 'malformed_body', raw);
      }
    });
  });

  describe('emulator contract', () => {
    it('answers 401 in the envelope without a known Api-Key; the header name is case-insensitive', async () => {
      const missing = await api(emu, 'GET', '/v1/ping/merchant');
      assert.equal(missing.status, 401);
      assert.deepEqual(Object.keys(missing.json), ['success', 'message', 'body']);
      assert.equal(missing.json.success, false);
      assert.equal((await api(emu, 'GET', '/v1/ping/merchant', { apiKey: 'nope' })).status, 401);
      const lower = await api(emu, 'GET', '/v1/ping/merchant', { apiKey: merchant.apiKey, headerName: 'api-key' });
      assert.equal(lower.status, 200);
      assert.equal(lower.json.body.isActive, true);
    });

    it('accepts the swagger JSON content types and refuses invalid JSON', async () => {
      const body = JSON.stringify({ fiatAmount: '5.00', fiatCurrency: 'EUR', orderId: 'ct-1', riskSpeed: 0 });
      for (const contentType of ['application/json', 'text/json', 'application/json-patch+json']) {
        const res = await api(emu, 'POST', '/v1/payment/request', { apiKey: merchant.apiKey, body, contentType });
        assert.equal(res.json.success, true, contentType);
        assert.match(res.json.body, /^[0-9a-f]{32}$/);
      }
      const bad = await api(emu, 'POST', '/v1/payment/request', { apiKey: merchant.apiKey, body: '{"fiatAmount":' });
      assert.equal(bad.status, 400);
      assert.equal(bad.json.success, false);
      const missing = await api(emu, 'POST', '/v1/payment/request', { apiKey: merchant.apiKey, body: '{"orderId":"x"}' });
      assert.equal(missing.json.success, false);
      assert.ok(missing.json.message);
      const numeric = await api(emu, 'POST', '/v1/payment/request', { apiKey: merchant.apiKey, body: '{"fiatAmount":5,"fiatCurrency":"USD"}' });
      assert.equal(numeric.status, 400, 'fiatAmount is a string in the swagger');
    });

    it('serves the read-only endpoints in the envelope', async () => {
      for (const [method, path] of [['GET', '/v1/payment/coins'], ['GET', '/v1/coins'], ['GET', '/v1/currencies'], ['GET', '/v1/languages'], ['GET', '/v1/info'], ['GET', '/v1/ping']] as const) {
        const res = await api(emu, method, path, { apiKey: merchant.apiKey });
        assert.equal(res.status, 200, path);
        assert.equal(res.json.success, true, path);
      }
      const price = await api(emu, 'POST', '/v1/coins/price', { apiKey: merchant.apiKey, body: JSON.stringify({ coinNames: ['BTC'], currency: 'USD' }) });
      assert.equal(price.json.body[0].shortcut, 'BTC');
      assert.deepEqual(await adapter.listCoins(conn), [
        { name: 'Bitcoin', shortcut: 'BTC' }, { name: 'Ethereum', shortcut: 'ETH' }, { name: 'Tether (TRC20)', shortcut: 'USDT' }, { name: 'Litecoin', shortcut: 'LTC' },
      ]);
    });

    it('closes promptly while a verify call hangs', async () => {
      const local = await startPaymentoEmulator();
      const m = local.addMerchant();
      local.failVerify(1, 'timeout');
      const hanging = fetch(`${local.origin}/v1/payment/verify`, {
        method: 'POST', headers: { 'Api-Key': m.apiKey, 'content-type': 'application/json' }, body: '{"token":"x"}',
      }).then(() => 'answered', () => 'dropped');
      while (!local.requests.some((r) => r.path === '/v1/payment/verify')) await new Promise((r) => setTimeout(r, 5));
      const started = Date.now();
      await local.close();
      assert.ok(Date.now() - started < 1_000, 'close() waited for the hanging socket');
      assert.equal(await hanging, 'dropped');
    });
  });
});
