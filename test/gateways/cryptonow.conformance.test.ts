/**
 * The CryptoNow adapter against the CryptoNow emulator: the shared conformance suite, then what is
 * specific to CryptoNow (signed requests, commission mode, USD only, unique order_id, late
 * payment, webhooks and their retries), the emulator's own contract, and the pinned signature
 * construction — which is an assumption (src/gateways/cryptonow/README.md, "Signature assumption").
 */
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import type { ReportedStatus } from '../../src/core/gateway-facts.ts';
import { decimalToString } from '../../src/core/money.ts';
import { CryptoNowAdapter } from '../../src/gateways/cryptonow/adapter.ts';
import { cryptoNowSandboxSkin } from '../../src/gateways/cryptonow/sandbox-skin.ts';
import { cryptoNowSignature, signRequest, signWebhook, verifyCryptoNowSignature, verifyRequest } from '../../src/gateways/cryptonow/signature.ts';
import type { SandboxAccount, SandboxPayment } from '../../src/gateways/sandbox/sandbox-store.ts';
import type { GatewayConnection } from '../../src/gateways/types.ts';
import { startCryptoNowEmulator, type CryptoNowEmulator, type EmulatedMerchant } from '../emulators/cryptonow/server.ts';
import { startWebhookReceiver, type WebhookReceiver } from '../support/webhook-receiver.ts';
import { asReceived, money, paymentInput, runGatewayConformance, type ConformanceTarget, type Situation } from './conformance.ts';

/** The guide's events and the assumed View Session status words, with what they must mean. */
const DOCUMENTED: ReadonlyArray<readonly [string, ReportedStatus]> = [
  ['payment.created', 'pending'], ['payment.success', 'paid'], ['session.active', 'pending'], ['session.closed', 'expired'],
  ['vending.scan_pending', 'unknown'], ['vending.scan_resolved', 'unknown'],
  ['created', 'pending'], ['active', 'pending'], ['paid', 'paid'], ['success', 'paid'], ['closed', 'expired'],
];

const EVENT_FOR: Partial<Record<Situation, string>> = { pending: 'payment.created', paid: 'payment.success', expired: 'session.closed' };

function connectionFor(publicKey: string, privateKey: string, id = 'conn_cryptonow_1'): GatewayConnection {
  return { id, storeId: 'store_1', gateway: 'cryptonow', mode: 'live', credentials: { apiKey: publicKey, ipnSecret: privateKey } };
}

function adapterFor(emu: CryptoNowEmulator): CryptoNowAdapter {
  // A short deadline keeps the "hanging gateway" checks fast; the suite only asks for one.
  return new CryptoNowAdapter(() => emu.origin, { timeoutMs: 1_000 });
}

function eventFor(situation: Situation): string {
  const event = EVENT_FOR[situation];
  if (!event) throw new Error(`CryptoNow cannot express ${situation}`);
  return event;
}

async function cryptoNowTarget(): Promise<ConformanceTarget> {
  const emu = await startCryptoNowEmulator({ retryDelayScale: 0.001 });
  const m = emu.addMerchant();
  const connection = connectionFor(m.publicKey, m.privateKey);
  return {
    adapter: adapterFor(emu),
    connection,
    badConnection: connectionFor('pub_wrong_0000', 'priv_another_private_key', 'conn_cryptonow_bad'),
    callbackUrl: `https://coinbridge.example/ipn/cryptonow/${connection.id}`,
    documentedStatuses: DOCUMENTED,
    driver: {
      async settle(sessionKey, situation) {
        if (situation === 'pending') return; // a fresh session is active, waiting for the wallet
        if (situation === 'paid') return emu.pay(sessionKey, { notify: false });
        if (situation === 'expired') return emu.close(sessionKey, { notify: false });
        throw new Error(`CryptoNow cannot express ${situation}`);
      },
      async signedCallback(sessionKey, situation) {
        return emu.signedWebhook(sessionKey, eventFor(situation));
      },
      async failStatus(count, mode) {
        emu.failNext('status', count, mode);
      },
      async failCreate(count, mode) {
        emu.failNext('create', count, mode);
      },
    },
    close: () => emu.close(),
  };
}

runGatewayConformance('CryptoNow adapter against its emulator', cryptoNowTarget, { situations: ['pending', 'paid', 'expired'], failCreate: true, hexSignatures: true });

// ---------------------------------------------------------------------------------------------


/** Independent of the adapter and the emulator: what the assumed construction gives. */
function expectedSignature(privateKey: string, payload: string): string {
  return crypto.createHmac('sha256', privateKey).update(payload, 'utf8').digest('hex');
}

async function rawCall(emu: CryptoNowEmulator, method: string, path: string, opts: { publicKey?: string; privateKey?: string; signature?: string; body?: string } = {}) {
  const headers: Record<string, string> = {};
  if (opts.publicKey !== undefined) headers['X-Public-Key'] = opts.publicKey;
  if (opts.signature !== undefined) headers['X-Signature'] = opts.signature;
  else if (opts.privateKey !== undefined) headers['X-Signature'] = expectedSignature(opts.privateKey, opts.body ?? path);
  if (opts.body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(`${emu.origin}${path}`, { method, headers, body: opts.body });
  const text = await res.text();
  return { status: res.status, json: JSON.parse(text) as Record<string, any> };
}

async function rejectsWith(promise: Promise<unknown>, code: string, what: string): Promise<Error> {
  let caught: unknown;
  await assert.rejects(promise, (err: unknown) => { caught = err; return true; }, what);
  const e = caught as Error & { code?: string; retryable?: boolean };
  assert.equal(e.code, code, `${what}: ${e.message}`);
  assert.equal(e.retryable, false, `${what} must be final`);
  return e;
}

describe('CryptoNow specifics', () => {
  let emu: CryptoNowEmulator;
  let receiver: WebhookReceiver;
  let merchant: EmulatedMerchant;
  let conn: GatewayConnection;
  let adapter: CryptoNowAdapter;

  before(async () => {
    emu = await startCryptoNowEmulator({ retryDelayScale: 0.001 });
    receiver = await startWebhookReceiver('/ipn/cryptonow/conn_cryptonow_1');
    merchant = emu.addMerchant({ commission: 'customer', feePercent: 1 });
    conn = connectionFor(merchant.publicKey, merchant.privateKey);
    adapter = adapterFor(emu);
  });
  after(async () => {
    await emu.close();
    await receiver.close();
  });

  describe('signature construction (an assumption: replacing it must change these on purpose)', () => {
    const key = 'sk_pinned_test_key_do_not_use';
    const body = '{"order_id":"order-1001","amount":"12.50","currency":"USD","return_url":"https://shop.example/return","success_url":"https://shop.example/return"}';
    const bodyHex = '58edb73d4d7a247b3c6a12e6e50c595ad45865fe15480220e129f4e63553f4b6';
    const path = '/api/v1/sessions/AbCdEf0123456789';
    const pathHex = 'e974383ea8874705e22dde1306d6508e7ad9ae587687ea3c8ae88c1d13fbd7c1';

    it('X-Signature is lowercase hex HMAC-SHA256 of the exact body bytes, keyed with the private key', () => {
      assert.equal(cryptoNowSignature(key, body), bodyHex);
      assert.equal(cryptoNowSignature(key, Buffer.from(body)), bodyHex);
      assert.deepEqual(signRequest(key, { method: 'POST', pathAndQuery: '/api/v1/payments', body }, 0), { 'X-Signature': bodyHex });
      assert.deepEqual(signWebhook(key, body, 0), { 'X-Signature': bodyHex });
    });

    it('a request without a body signs its path and query', () => {
      assert.equal(cryptoNowSignature(key, path), pathHex);
      assert.deepEqual(signRequest(key, { method: 'GET', pathAndQuery: path, body: undefined }, 0), { 'X-Signature': pathHex });
      assert.deepEqual(signRequest(key, { method: 'GET', pathAndQuery: path, body: Buffer.alloc(0) }, 0), { 'X-Signature': pathHex });
      assert.ok(verifyRequest(key, { method: 'GET', pathAndQuery: path, body: Buffer.alloc(0) }, { 'x-signature': pathHex }, 0));
      assert.ok(!verifyRequest(key, { method: 'GET', pathAndQuery: `${path}?x=1`, body: undefined }, { 'x-signature': pathHex }, 0), 'the query is signed too');
    });

    it('verification ignores hex case, and refuses other bytes, other keys and other shapes', () => {
      assert.ok(verifyCryptoNowSignature(key, body, bodyHex));
      assert.ok(verifyCryptoNowSignature(key, body, bodyHex.toUpperCase()));
      assert.ok(!verifyCryptoNowSignature(key, body + ' ', bodyHex));
      assert.ok(!verifyCryptoNowSignature(`${key}x`, body, bodyHex));
      assert.ok(!verifyCryptoNowSignature(key, body, bodyHex.slice(0, -1) + (bodyHex.endsWith('6') ? '7' : '6')));
      assert.ok(!verifyCryptoNowSignature(key, body, bodyHex.slice(0, 62)));
      assert.ok(!verifyCryptoNowSignature(key, body, `sha256=${bodyHex}`));
      assert.ok(!verifyCryptoNowSignature(key, body, ''));
    });
  });

  describe('requests the adapter sends', () => {
    it('creates a website-scenario payment: exact body, signed, session_key → id, url → checkout', async () => {
      const input = paymentInput();
      const before = emu.requests.length;
      const created = await adapter.createPayment(conn, input);
      const sent = emu.requests.slice(before);
      assert.equal(sent.length, 1);
      const req = sent[0]!;
      assert.equal(req.method, 'POST');
      assert.equal(req.path, '/api/v1/payments');
      assert.deepEqual(req.body, { order_id: input.orderId, amount: '12.50', currency: 'USD', return_url: input.returnUrl, success_url: input.returnUrl });
      assert.ok(!('qr_id' in (req.body as object)), 'the website scenario never sends qr_id');
      assert.match(String(req.headers['content-type']), /^application\/json/);
      assert.equal(req.headers['x-public-key'], merchant.publicKey);
      assert.equal(req.headers['x-signature'], expectedSignature(merchant.privateKey, req.rawBody));
      assert.equal(req.auth, 'ok');
      const session = emu.sessionByOrder(merchant.publicKey, input.orderId);
      assert.ok(session);
      assert.equal(created.gatewayPaymentId, session.sessionKey);
      assert.equal(created.checkoutUrl, `${emu.origin}/pay/${session.sessionKey}`);
    });

    it('every request carries X-Public-Key and an X-Signature the emulator accepted', async () => {
      const before = emu.requests.length;
      const { gatewayPaymentId } = await adapter.createPayment(conn, paymentInput());
      await adapter.getStatus(conn, gatewayPaymentId);
      await adapter.testConnection(conn);
      await adapter.configureCallbacks(conn, 'https://coinbridge.example/ipn/cryptonow/conn_cryptonow_1');
      const sent = emu.requests.slice(before);
      assert.deepEqual(sent.map((r) => `${r.method} ${r.path.replace(gatewayPaymentId, '{key}')}`), [
        'POST /api/v1/payments', 'GET /api/v1/sessions/{key}',
        'GET /api/v1/sessions/coinbridge-connection-test', 'GET /api/v1/sessions/coinbridge-connection-test',
      ]);
      for (const r of sent) {
        assert.equal(r.headers['x-public-key'], merchant.publicKey, r.path);
        assert.equal(r.headers['x-signature'], expectedSignature(merchant.privateKey, r.rawBody || r.path), r.path);
        assert.equal(r.auth, 'ok', r.path);
      }
    });

    it('a request signed with another private key is refused (401 → final credentials error), without echoing keys', async () => {
      const wrongKey = connectionFor(merchant.publicKey, 'priv_not_this_merchants_key');
      const { gatewayPaymentId } = await adapter.createPayment(conn, paymentInput());
      const before = emu.requests.length;
      const errors = [
        await rejectsWith(adapter.createPayment(wrongKey, paymentInput()), 'gateway_credentials_rejected', 'create with a wrong private key'),
        await rejectsWith(adapter.getStatus(wrongKey, gatewayPaymentId), 'gateway_credentials_rejected', 'status with a wrong private key'),
        await rejectsWith(adapter.testConnection(wrongKey), 'gateway_credentials_rejected', 'testConnection with a wrong private key'),
        await rejectsWith(adapter.configureCallbacks(wrongKey, 'https://coinbridge.example/ipn/cryptonow/x'), 'gateway_credentials_rejected', 'configureCallbacks with a wrong private key'),
      ];
      assert.deepEqual(emu.requests.slice(before).map((r) => [r.auth, r.answered]), Array(4).fill(['bad_signature', 401]));
      for (const e of errors) {
        assert.match(e.message, /private key/);
        assert.ok(!e.message.includes('priv_not_this_merchants_key') && !e.message.includes(merchant.privateKey), 'no key material in errors');
      }
      await rejectsWith(adapter.testConnection(connectionFor('pub_unknown', merchant.privateKey)), 'gateway_credentials_rejected', 'unknown public key');
    });

    it('refuses a non-USD order before calling CryptoNow, with a final error that says USD only', async () => {
      const before = emu.requests.length;
      const e = await rejectsWith(adapter.createPayment(conn, paymentInput({ amount: money('12.50', 'EUR') })), 'gateway_refused', 'EUR order');
      assert.match(e.message, /USD/);
      assert.match(e.message, /EUR/);
      assert.equal(emu.requests.length, before, 'no request may reach CryptoNow');
    });

    it('a duplicate order_id (a store retrying the same order) is a final error, not a retry', async () => {
      const input = paymentInput();
      await adapter.createPayment(conn, input);
      const e = await rejectsWith(adapter.createPayment(conn, paymentInput({ orderId: input.orderId })), 'gateway_duplicate_order', 'second payment for the same order');
      assert.match(e.message, /order_id/);
      assert.equal(emu.requests.at(-1)?.answered, 409);
    });

    it('getStatus refuses ids that cannot be a session key without calling out', async () => {
      const before = emu.requests.length;
      for (const id of ['', 'short', '../../api/v1/payments', 'a/b/c/d/e/f', 'key with spaces', 'x'.repeat(129), 'abc?def=12345']) {
        await rejectsWith(adapter.getStatus(conn, id), 'gateway_unknown_payment', JSON.stringify(id));
      }
      assert.equal(emu.requests.length, before);
    });

    it("another merchant's session is unknown (404 → final)", async () => {
      const other = emu.addMerchant();
      const { gatewayPaymentId } = await adapter.createPayment(conn, paymentInput());
      await rejectsWith(adapter.getStatus(connectionFor(other.publicKey, other.privateKey), gatewayPaymentId), 'gateway_unknown_payment', "other merchant's session");
    });

    it('configureCallbacks proves the keys but registers nothing (the webhook URL is set in the dashboard)', async () => {
      const m = emu.addMerchant({ webhookUrl: null });
      await adapter.configureCallbacks(connectionFor(m.publicKey, m.privateKey), receiver.url);
      const { gatewayPaymentId } = await adapter.createPayment(connectionFor(m.publicKey, m.privateKey), paymentInput());
      await emu.idle();
      assert.deepEqual(emu.deliveries.filter((d) => d.subject === gatewayPaymentId), [], 'no payment.created: the merchant has no webhook URL');
      await emu.pay(gatewayPaymentId);
      assert.deepEqual(emu.deliveries.filter((d) => d.subject === gatewayPaymentId).map((d) => [d.event, d.url]), [['payment.success', null]],
        'no webhook URL was set through the API');
      assert.deepEqual(adapter.capabilities, { reportsAmounts: false, topUp: false, configuresCallbackUrl: false, idempotentCreate: false });
    });
  });

  describe('View Session facts', () => {
    it('customer mode: crypto.expected is amount + fee (the total_amount the shopper sees), in USDC on Solana', async () => {
      const input = paymentInput();
      const { gatewayPaymentId, checkoutUrl } = await adapter.createPayment(conn, input);
      const fact = await adapter.getStatus(conn, gatewayPaymentId);
      assert.equal(fact.reported, 'pending');
      assert.equal(fact.gatewayStatus, 'active');
      assert.ok(fact.crypto?.expected);
      assert.equal(decimalToString(fact.crypto.expected), '12.625000', '12.50 + 1 % fee');
      assert.equal(decimalToString(fact.crypto.expected), emu.session(gatewayPaymentId).totalAmount);
      assert.equal(fact.crypto.coin, 'USDC');
      assert.equal(fact.crypto.received, undefined, 'CryptoNow documents no received amount: none may be invented');
      assert.equal(fact.network, 'solana');
      assert.deepEqual(fact.fiat, { amount: '12.50', currency: 'USD' });
      assert.equal(fact.orderId, input.orderId);
      assert.equal(fact.txHash, undefined);
      const page = await (await fetch(checkoutUrl)).text();
      assert.match(page, /Send 12\.625000 USDC/, 'the shopper is asked for total_amount');
    });

    it('merchant mode: crypto.expected is the amount itself (the fee is deducted)', async () => {
      const m = emu.addMerchant({ commission: 'merchant', feePercent: 1 });
      const c = connectionFor(m.publicKey, m.privateKey);
      const { gatewayPaymentId, checkoutUrl } = await adapter.createPayment(c, paymentInput());
      const fact = await adapter.getStatus(c, gatewayPaymentId);
      assert.ok(fact.crypto?.expected);
      assert.equal(decimalToString(fact.crypto.expected), '12.500000');
      assert.equal(emu.session(gatewayPaymentId).feeAmount, '0.125000');
      assert.match(await (await fetch(checkoutUrl)).text(), /Send 12\.500000 USDC/);
    });

    it('paid: txid is reported as the transaction hash', async () => {
      const { gatewayPaymentId } = await adapter.createPayment(conn, paymentInput());
      await emu.pay(gatewayPaymentId, { notify: false });
      const fact = await adapter.getStatus(conn, gatewayPaymentId);
      assert.equal(fact.reported, 'paid');
      assert.equal(fact.gatewayStatus, 'paid');
      assert.equal(fact.txHash, emu.session(gatewayPaymentId).txid);
      assert.match(fact.txHash ?? '', /^[1-9A-HJ-NP-Za-km-z]{80,90}$/);
    });

    it('a late payment (success after the session closed) is reported paid', async () => {
      const { gatewayPaymentId } = await adapter.createPayment(conn, paymentInput());
      await emu.close(gatewayPaymentId, { notify: false });
      assert.equal((await adapter.getStatus(conn, gatewayPaymentId)).reported, 'expired');
      await emu.payLate(gatewayPaymentId, { notify: false });
      const fact = await adapter.getStatus(conn, gatewayPaymentId);
      assert.equal(fact.reported, 'paid');
      assert.ok(fact.txHash);
    });

    it('reads answers wrapped as { data } too', async () => {
      const wrappedEmu = await startCryptoNowEmulator({ responseShape: 'wrapped' });
      try {
        const m = wrappedEmu.addMerchant({ commission: 'merchant' });
        const c = connectionFor(m.publicKey, m.privateKey);
        const a = adapterFor(wrappedEmu);
        const input = paymentInput();
        const { gatewayPaymentId } = await a.createPayment(c, input);
        assert.equal(gatewayPaymentId, wrappedEmu.sessionByOrder(m.publicKey, input.orderId)?.sessionKey);
        await wrappedEmu.pay(gatewayPaymentId, { notify: false });
        const fact = await a.getStatus(c, gatewayPaymentId);
        assert.equal(fact.reported, 'paid');
        assert.equal(fact.orderId, input.orderId);
      } finally {
        await wrappedEmu.close();
      }
    });
  });

  describe('webhooks', () => {
    it('payment.created, payment.success and session.closed from the emulator are accepted and mapped', async () => {
      const m = emu.addMerchant({ webhookUrl: receiver.url });
      const c = connectionFor(m.publicKey, m.privateKey);
      const input = paymentInput();
      const before = receiver.received.length;
      const { gatewayPaymentId: paid } = await adapter.createPayment(c, input);
      await emu.idle(); // payment.created is sent as the payment is created
      await emu.pay(paid);
      const { gatewayPaymentId: closed } = await adapter.createPayment(c, paymentInput());
      await emu.idle();
      await emu.close(closed);
      const got = receiver.received.slice(before);
      const verdicts = got.map((r) => {
        assert.equal(r.method, 'POST');
        assert.match(String(r.headers['x-signature']), /^[0-9a-f]{64}$/);
        return adapter.parseCallback(c, r.raw, r.headers);
      });
      const hints = verdicts.map((v) => {
        assert.ok(v.ok, v.ok ? '' : v.message);
        return v.hint;
      });
      assert.deepEqual(hints.map((h) => [h.gatewayStatus, h.reported, h.gatewayPaymentId, h.dedupeKey]), [
        ['payment.created', 'pending', paid, `payment.created:${paid}`],
        ['payment.success', 'paid', paid, `payment.success:${paid}`],
        ['payment.created', 'pending', closed, `payment.created:${closed}`],
        ['session.closed', 'expired', closed, `session.closed:${closed}`],
      ]);
      assert.equal(hints[1]!.orderId, input.orderId);
      const success = JSON.parse(got[1]!.raw.toString('utf8'));
      assert.equal(success.data.txid, emu.session(paid).txid);
      assert.equal(success.data.payer_wallet, emu.session(paid).payerWallet);
    });

    it('vending events and events we do not know are acknowledged as unknown, filed under the id they carry', () => {
      const scan = emu.signedEvent(merchant.publicKey, 'vending.scan_pending', { qr_id: 'qr_machine_7', scan_id: 'scan_123' });
      const resolved = emu.signedEvent(merchant.publicKey, 'vending.scan_resolved', { qr_id: 'qr_machine_7', scan_id: 'scan_123', status: 'approved' });
      const future = emu.signedEvent(merchant.publicKey, 'payment.refunded', { session_key: 'sessionKey_0001', order_id: 'order-9' });
      const hints = [scan, resolved, future].map((e) => {
        const v = adapter.parseCallback(conn, e.rawBody, asReceived(e.headers));
        assert.ok(v.ok, v.ok ? '' : v.message);
        return v.hint;
      });
      assert.deepEqual(hints.map((h) => [h.reported, h.gatewayPaymentId, h.dedupeKey, h.gatewayStatus]), [
        ['unknown', 'scan_123', 'vending.scan_pending:scan_123', 'vending.scan_pending'],
        ['unknown', 'scan_123', 'vending.scan_resolved:scan_123', 'vending.scan_resolved'],
        ['unknown', 'sessionKey_0001', 'payment.refunded:sessionKey_0001', 'payment.refunded'],
      ]);
      assert.equal(hints[2]!.orderId, 'order-9');
      // Session status words are not events: a body calling itself "paid" is not payment.success.
      const word = emu.signedEvent(merchant.publicKey, 'paid', { session_key: 'sessionKey_0001' });
      const v = adapter.parseCallback(conn, word.rawBody, asReceived(word.headers));
      assert.ok(v.ok && v.hint.reported === 'unknown');
    });

    it('retries a webhook answered 500 until it gets 200, with identical bytes and signature', async () => {
      const m = emu.addMerchant({ webhookUrl: receiver.url });
      const c = connectionFor(m.publicKey, m.privateKey);
      const { gatewayPaymentId } = await adapter.createPayment(c, paymentInput());
      await emu.idle();
      const before = receiver.received.length;
      receiver.answers.push(500, 500);
      await emu.pay(gatewayPaymentId);
      const attempts = emu.deliveries.filter((d) => d.subject === gatewayPaymentId && d.event === 'payment.success');
      assert.deepEqual(attempts.map((d) => [d.attempt, d.httpStatus]), [[1, 500], [2, 500], [3, 200]]);
      const got = receiver.received.slice(before);
      assert.equal(got.length, 3);
      for (const r of got) {
        assert.ok(r.raw.equals(got[0]!.raw), 'a retry resends the same bytes');
        assert.equal(r.headers['x-signature'], got[0]!.headers['x-signature']);
      }
      const v = adapter.parseCallback(c, got[2]!.raw, got[2]!.headers);
      assert.ok(v.ok && v.hint.reported === 'paid');
    });

    it('gives up after the retry schedule (first try + 3 retries)', async () => {
      const m = emu.addMerchant({ webhookUrl: receiver.url });
      const { gatewayPaymentId } = await adapter.createPayment(connectionFor(m.publicKey, m.privateKey), paymentInput());
      await emu.idle();
      receiver.answers.push(503, 503, 503, 503, 503);
      await emu.close(gatewayPaymentId);
      assert.equal(emu.deliveries.filter((d) => d.subject === gatewayPaymentId && d.event === 'session.closed').length, 4);
      receiver.answers.length = 0;
    });

    it('refuses missing and forged signatures, and says which construction it checked', async () => {
      const { gatewayPaymentId } = await adapter.createPayment(conn, paymentInput());
      const good = emu.signedWebhook(gatewayPaymentId, 'payment.success');
      const missing = adapter.parseCallback(conn, good.rawBody, {});
      assert.ok(!missing.ok && missing.reason === 'missing_signature');
      const forged = adapter.parseCallback(conn, good.rawBody, { 'x-signature': 'ab'.repeat(32) });
      assert.ok(!forged.ok && forged.reason === 'bad_signature');
      assert.match(forged.message, /HMAC-SHA256/);
      assert.match(forged.message, /private key/);
      assert.ok(!forged.message.includes(merchant.privateKey));
      const twice = adapter.parseCallback(conn, good.rawBody, { 'x-signature': [good.headers['X-Signature']!, 'ab'.repeat(32)] });
      assert.ok(twice.ok, 'the first of repeated headers is the one checked');
    });

    it("correctly signed bodies that are not usable webhooks are 'malformed_body'", () => {
      const bodies = [
        'not json', '[]', '{"data":{"session_key":"sessionKey_0001"}}', '{"event":7,"data":{}}',
        '{"event":"payment.success","data":{"order_id":"o-1"}}', // a payment event must name its session
        '{"event":"payment.success","data":{"session_key":"bad key"}}',
        '{"event":"vending.scan_pending","data":{}}',
        '{"event":"Payment.Success","data":{"payment_id":"p-1"}}', // event names are read case-insensitively: still needs its session
      ];
      for (const raw of bodies) {
        const v = adapter.parseCallback(conn, Buffer.from(raw), { 'x-signature': emu.sign(merchant.publicKey, raw) });
        assert.ok(!v.ok && v.reason === 'malformed_body', raw);
      }
    });

    it('reads a flat body (fields next to event) as well', () => {
      const raw = JSON.stringify({ event: 'payment.success', session_key: 'sessionKey_0002', order_id: 'o-2', status: 'paid' });
      const v = adapter.parseCallback(conn, Buffer.from(raw), { 'x-signature': emu.sign(merchant.publicKey, raw) });
      assert.ok(v.ok);
      assert.deepEqual([v.hint.gatewayPaymentId, v.hint.reported, v.hint.orderId], ['sessionKey_0002', 'paid', 'o-2']);
    });
  });

  describe('mapStatus', () => {
    it('maps event names and session words, in any case, and nothing else', () => {
      for (const [code, reported] of DOCUMENTED) {
        assert.equal(adapter.mapStatus(code), reported, code);
        assert.equal(adapter.mapStatus(` ${code.toUpperCase()} `), reported, code.toUpperCase());
      }
      for (const code of ['expired', 'timeout', 'payment.failed', 'toString', '__proto__', 'constructor', 7, 0]) {
        assert.equal(adapter.mapStatus(code), 'unknown', String(code));
      }
    });
  });

  describe('emulator contract', () => {
    const body = (o: Record<string, unknown> = {}) => JSON.stringify({ order_id: `ec-${crypto.randomUUID()}`, amount: '5.00', currency: 'USD', return_url: 'https://shop.example/r', success_url: 'https://shop.example/s', ...o });

    it('401 without a known X-Public-Key, without X-Signature, or with a wrong one', async () => {
      const b = body();
      assert.equal((await rawCall(emu, 'POST', '/api/v1/payments', { body: b })).status, 401);
      assert.equal((await rawCall(emu, 'POST', '/api/v1/payments', { publicKey: 'pub_nobody', privateKey: merchant.privateKey, body: b })).status, 401);
      assert.equal((await rawCall(emu, 'POST', '/api/v1/payments', { publicKey: merchant.publicKey, body: b })).status, 401);
      const wrong = await rawCall(emu, 'POST', '/api/v1/payments', { publicKey: merchant.publicKey, privateKey: 'priv_other', body: b });
      assert.equal(wrong.status, 401);
      assert.equal(typeof wrong.json.error, 'string');
      const signedOtherBytes = await rawCall(emu, 'POST', '/api/v1/payments', { publicKey: merchant.publicKey, signature: expectedSignature(merchant.privateKey, `${b} `), body: b });
      assert.equal(signedOtherBytes.status, 401);
      const ok = await rawCall(emu, 'POST', '/api/v1/payments', { publicKey: merchant.publicKey, signature: expectedSignature(merchant.privateKey, b).toUpperCase(), body: b });
      assert.equal(ok.status, 200, 'hex case does not matter');
      assert.deepEqual(Object.keys(ok.json).slice(0, 3), ['payment_id', 'session_key', 'url']);
    });

    it('400 for validation errors, non-USD and qr_id with website URLs; 409 for a duplicate order_id', async () => {
      const call = (b: string) => rawCall(emu, 'POST', '/api/v1/payments', { publicKey: merchant.publicKey, privateKey: merchant.privateKey, body: b });
      for (const [b, pattern] of [
        ['{"amount":', /JSON/],
        [body({ order_id: '' }), /order_id/],
        [body({ amount: '-1' }), /amount/],
        [body({ amount: '1.005' }), /amount/],
        [body({ amount: '0.00' }), /amount/],
        [body({ currency: 'EUR' }), /USD/],
        [body({ currency: undefined }), /USD/],
        [body({ qr_id: 'qr_1' }), /qr_id/],
        [body({ return_url: 'javascript:alert(1)' }), /return_url/],
      ] as const) {
        const res = await call(b);
        assert.equal(res.status, 400, b);
        assert.match(res.json.error, pattern, b);
      }
      const once = body();
      assert.equal((await call(once)).status, 200);
      const dup = await call(once);
      assert.equal(dup.status, 409);
      assert.match(dup.json.error, /order_id/);
      const vending = await call(JSON.stringify({ order_id: 'v-1', amount: '1.00', currency: 'USD', qr_id: 'qr_1' }));
      assert.equal(vending.status, 400, 'no vending QR codes in the emulator');
    });

    it('View Session answers the session, and 404 for an unknown key (after authentication)', async () => {
      const created = await rawCall(emu, 'POST', '/api/v1/payments', { publicKey: merchant.publicKey, privateKey: merchant.privateKey, body: body() });
      const key = created.json.session_key as string;
      const path = `/api/v1/sessions/${key}`;
      const res = await rawCall(emu, 'GET', path, { publicKey: merchant.publicKey, privateKey: merchant.privateKey });
      assert.equal(res.status, 200);
      assert.equal(res.json.session_key, key);
      assert.equal(res.json.status, 'active');
      assert.equal(res.json.total_amount, '5.050000');
      assert.equal((await rawCall(emu, 'GET', '/api/v1/sessions/nope-nope-nope', { publicKey: merchant.publicKey, privateKey: merchant.privateKey })).status, 404);
      assert.equal((await rawCall(emu, 'GET', '/api/v1/sessions/nope-nope-nope', { publicKey: merchant.publicKey, privateKey: 'priv_other' })).status, 401);
    });

    it('closes a session by itself when the payment window ends, and says so', async () => {
      const local = await startCryptoNowEmulator({ paymentWindowMs: 30 });
      const local2 = await startWebhookReceiver('/ipn/cryptonow/conn_cryptonow_1');
      try {
        const m = local.addMerchant({ webhookUrl: local2.url });
        const c = connectionFor(m.publicKey, m.privateKey);
        const a = adapterFor(local);
        const { gatewayPaymentId } = await a.createPayment(c, paymentInput());
        while (local.session(gatewayPaymentId).status === 'active') await new Promise((r) => setTimeout(r, 5));
        await local.idle();
        assert.equal((await a.getStatus(c, gatewayPaymentId)).reported, 'expired');
        assert.deepEqual(local.deliveries.map((d) => d.event), ['payment.created', 'session.closed']);
      } finally {
        await local.close();
        await local2.close();
      }
    });

    it('closes promptly while a call hangs', async () => {
      const local = await startCryptoNowEmulator();
      const m = local.addMerchant();
      local.failNext('status', 1, 'timeout');
      const path = '/api/v1/sessions/some-session-key';
      const hanging = fetch(`${local.origin}${path}`, { headers: { 'X-Public-Key': m.publicKey, 'X-Signature': expectedSignature(m.privateKey, path) } })
        .then(() => 'answered', () => 'dropped');
      while (!local.requests.some((r) => r.path === path)) await new Promise((r) => setTimeout(r, 5));
      const started = Date.now();
      await local.close();
      assert.ok(Date.now() - started < 1_000, 'close() waited for the hanging socket');
      assert.equal(await hanging, 'dropped');
    });
  });
});

// ---------------------------------------------------------------------------------------------

describe('CryptoNow sandbox skin (pure parts; the engine runs it end to end)', () => {
  const account: SandboxAccount = { apiKey: 'pk_test', secret: 'sk_test_secret', gateway: 'cryptonow', ipnUrl: 'http://127.0.0.1/ipn/cryptonow/x', ipnMethod: 1, extra: { commissionMode: 'customer', feePercent: 1 } };
  const payment = (status: number): SandboxPayment => ({
    token: 'a'.repeat(40), paymentId: '17', apiKey: 'pk_test', gateway: 'cryptonow', orderId: 'order-1', fiatAmount: '12.50', fiatCurrency: 'USD',
    returnUrl: null, additionalData: [], status, coin: 'USDC', expectedCrypto: '12.625000', receivedCrypto: '0', txHash: null,
    expiresAt: new Date(0), createdAt: new Date(0), idempotencyKey: null, expiredOnce: false, extra: { total_amount: '12.625000' },
  });
  const sandboxConn = connectionFor('pk_test', 'sk_test_secret');
  const adapter = new CryptoNowAdapter(() => 'http://127.0.0.1:9');

  it('names statuses as CryptoNow sessions and offers only what a wallet can do', () => {
    assert.deepEqual([0, 1, 2, 3, 4, 5, 7, 8, 9].map((s) => cryptoNowSandboxSkin.statusName(payment(s))),
      ['active', 'active', 'active', 'active', 'closed', 'closed', 'paid', 'paid', 'active']);
    assert.deepEqual(cryptoNowSandboxSkin.actions, ['pay', 'pay_late', 'expire']);
    const a = cryptoNowSandboxSkin.newAccount();
    assert.match(a.apiKey, /^pk_/);
    assert.match(a.secret, /^sk_/);
    assert.deepEqual(a.extra, { commissionMode: 'customer', feePercent: 1 });
  });

  it('sends the events the adapter understands, signed with the account secret, the same bytes each time', () => {
    const expected: Record<number, [string, ReportedStatus] | undefined> = {
      0: undefined, 1: ['payment.created', 'pending'], 2: undefined, 3: undefined, 4: ['session.closed', 'expired'],
      5: ['session.closed', 'expired'], 7: ['payment.success', 'paid'], 8: ['payment.success', 'paid'], 9: undefined,
    };
    for (const [status, want] of Object.entries(expected)) {
      const cb = cryptoNowSandboxSkin.callback(payment(Number(status)), account, new Date());
      if (!want) {
        assert.equal(cb, undefined, `status ${status}`);
        continue;
      }
      assert.ok(cb);
      assert.equal(cb.method, 'POST');
      const again = cryptoNowSandboxSkin.callback(payment(Number(status)), account, new Date(Date.now() + 60_000));
      assert.equal(again?.body, cb.body, 'a redelivery is the same event');
      const v = adapter.parseCallback(sandboxConn, Buffer.from(cb.body), asReceived(cb.headers));
      assert.ok(v.ok, v.ok ? '' : v.message);
      assert.deepEqual([v.hint.gatewayStatus, v.hint.reported, v.hint.gatewayPaymentId, v.hint.orderId], [...want, 'a'.repeat(40), 'order-1']);
      if (want[0] === 'payment.success') assert.match(JSON.parse(cb.body).data.txid, /^[1-9A-HJ-NP-Za-km-z]{80,90}$/);
    }
  });
});
