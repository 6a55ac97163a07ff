/**
 * The Crypto Checkout adapter against the Crypto Checkout emulator: the shared conformance suite,
 * then what is specific to Crypto Checkout (idempotent create, Stripe-style signed webhooks with
 * rotation, at-least-once delivery) and the emulator's own contract.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import type { ReportedStatus } from '../../src/core/gateway-facts.ts';
import { decimalToString } from '../../src/core/money.ts';
import { CryptoCheckoutAdapter, idempotencyKeyFor } from '../../src/gateways/crypto-checkout/adapter.ts';
import { MerchantHosts } from '../../src/gateways/http-client.ts';
import { parseSignatureHeader, signWebhook, verifyWebhookSignature } from '../../src/gateways/crypto-checkout/signature.ts';
import type { GatewayConnection } from '../../src/gateways/types.ts';
import {
  MAX_DELIVERY_ATTEMPTS, REAL_RETRY_DELAYS_MS, startCryptoCheckoutEmulator, type CryptoCheckoutEmulator, type SessionStatus,
} from '../emulators/crypto-checkout/server.ts';
import { startWebhookReceiver, type WebhookReceiver } from '../support/webhook-receiver.ts';
import { asReceived, money, paymentInput, runGatewayConformance, type ConformanceTarget, type Situation } from './conformance.ts';

/** Every documented session status (docs.mycryptoserver.com session lifecycle) and its canonical status. */
const DOCUMENTED: ReadonlyArray<readonly [string, ReportedStatus]> = [
  ['pending', 'pending'], ['detected', 'confirming'], ['paid', 'paid'], ['underpaid', 'underpaid'],
  ['overpaid', 'paid'], ['paid_late', 'paid'], ['expired', 'expired'], ['failed', 'rejected'],
];

const STATUS_FOR: Record<Situation, SessionStatus> = {
  pending: 'pending', confirming: 'detected', underpaid: 'underpaid', paid: 'paid', overpaid: 'overpaid',
  paid_late: 'paid_late', expired: 'expired', cancelled: 'expired', rejected: 'failed',
};

/** Deadline for the adapter in these tests: short, so the hanging-gateway tests stay fast. */
const TIMEOUT_MS = 1_500;

function connectionFor(emu: CryptoCheckoutEmulator, apiKey: string, secret: string, id = 'conn_cc_1'): GatewayConnection {
  return { id, storeId: 'store_1', gateway: 'crypto-checkout', mode: 'live', credentials: { apiKey, ipnSecret: secret, apiOrigin: emu.origin } };
}

/** Live instances are merchant-named hosts: calls go through the guarded dispatcher as in the product (loopback allowed here). */
const instanceHosts = new MerchantHosts({ allowPrivate: true });

/**
 * How long the emulator waits for a webhook receiver. A receiver told to hang must exceed it; one
 * told to answer must not, even on a CI machine busy with other test files (300 ms once was not).
 */
const WEBHOOK_TIMEOUT_MS = 1500;

function adapterFor(emu: CryptoCheckoutEmulator, opts: { timeoutMs?: number; now?: () => number } = {}): CryptoCheckoutAdapter {
  return new CryptoCheckoutAdapter((conn) => conn.credentials.apiOrigin ?? emu.origin, { timeoutMs: TIMEOUT_MS, viaFor: () => instanceHosts, ...opts });
}

async function cryptoCheckoutTarget(): Promise<ConformanceTarget> {
  const emu = await startCryptoCheckoutEmulator({ retryBaseMs: 1 });
  const merchant = emu.addMerchant();
  // A merchant that has rotated once: the retired secret plays the "old" half of a rotation.
  const oldSecret = merchant.webhookSecret;
  const currentSecret = emu.rotateSecret(merchant.apiKey);
  emu.finishRotation(merchant.apiKey);
  const connection = connectionFor(emu, merchant.apiKey, currentSecret);
  const signed = (id: string, situation: Situation, opts: { signedAt?: Date; secrets?: readonly string[] } = {}) => {
    const { rawBody, headers } = emu.webhook(id, STATUS_FOR[situation], opts);
    return { rawBody, headers };
  };
  return {
    adapter: adapterFor(emu),
    connection,
    badConnection: connectionFor(emu, 'ck_test_not-a-key-of-this-instance', 'whsec_another-secret', 'conn_cc_bad'),
    callbackUrl: `https://coinbridge.example/ipn/crypto-checkout/${connection.id}`,
    documentedStatuses: DOCUMENTED,
    driver: {
      async settle(id, situation) {
        await emu.setStatus(id, STATUS_FOR[situation], { notify: false });
      },
      async signedCallback(id, situation, opts = {}) {
        return signed(id, situation, opts.signedAt ? { signedAt: opts.signedAt } : {});
      },
      async rotatedCallback(id, situation, which) {
        return signed(id, situation, { secrets: which === 'both' ? [oldSecret, currentSecret] : [oldSecret] });
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

runGatewayConformance('Crypto Checkout adapter against its emulator', cryptoCheckoutTarget, {
  idempotentCreate: true,
  situations: ['pending', 'confirming', 'underpaid', 'paid', 'overpaid', 'paid_late', 'expired', 'rejected'],
  signatureToleranceSeconds: 300,
  rotation: true,
  failCreate: true,
});

// ---------------------------------------------------------------------------------------------


async function api(emu: CryptoCheckoutEmulator, method: string, path: string, opts: { apiKey?: string; body?: string; contentType?: string; idempotencyKey?: string } = {}) {
  const headers: Record<string, string> = {};
  if (opts.apiKey !== undefined) headers.authorization = `Bearer ${opts.apiKey}`;
  if (opts.body !== undefined) headers['content-type'] = opts.contentType ?? 'application/json';
  if (opts.idempotencyKey !== undefined) headers['idempotency-key'] = opts.idempotencyKey;
  const res = await fetch(`${emu.origin}${path}`, { method, headers, body: opts.body });
  const text = await res.text();
  let json: any;
  try { json = JSON.parse(text); } catch { json = undefined; }
  return { status: res.status, json, text };
}

const createBody = (value = '50.00', orderId = '001') => JSON.stringify({ amount: { value, currency: 'USD' }, metadata: { orderId }, successUrl: 'https://your-store.com/success' });

function headerT(signature: string): number {
  const parsed = parseSignatureHeader(signature);
  assert.ok(parsed.ok, signature);
  return Number(parsed.value.t);
}

describe('Crypto Checkout specifics', () => {
  let emu: CryptoCheckoutEmulator;
  let receiver: WebhookReceiver;
  let merchant: { apiKey: string; webhookSecret: string };
  let conn: GatewayConnection;
  let adapter: CryptoCheckoutAdapter;

  before(async () => {
    emu = await startCryptoCheckoutEmulator({ retryBaseMs: 1, webhookTimeoutMs: WEBHOOK_TIMEOUT_MS });
    receiver = await startWebhookReceiver('/ipn/crypto-checkout/conn_cc_1');
    merchant = emu.addMerchant();
    emu.registerWebhook(merchant.apiKey, receiver.url);
    conn = connectionFor(emu, merchant.apiKey, merchant.webhookSecret);
    adapter = adapterFor(emu);
  });
  after(async () => {
    await emu.close();
    await receiver.close();
  });

  const creates = () => emu.requests.filter((r) => r.method === 'POST' && r.path === '/api/v1/checkout_sessions');

  describe('capabilities and status map', () => {
    it('declares what Crypto Checkout can and cannot do', () => {
      assert.deepEqual(adapter.capabilities, { reportsAmounts: false, topUp: false, configuresCallbackUrl: false, idempotentCreate: true });
      assert.equal(adapter.name, 'crypto-checkout');
    });

    it('maps every documented status, ignores case and spaces, and nothing else', () => {
      for (const [code, reported] of DOCUMENTED) {
        assert.equal(adapter.mapStatus(code), reported, code);
        assert.equal(adapter.mapStatus(` ${code.toUpperCase()} `), reported, code.toUpperCase());
      }
      for (const other of ['created', 'confirming', 'cancelled', 'complete', 'paid-late', '', 0, 7]) assert.equal(adapter.mapStatus(other), 'unknown', String(other));
    });
  });

  describe('createPayment', () => {
    it('sends the documented request: Bearer key, JSON body, and an Idempotency-Key on every create', async () => {
      const before = creates().length;
      const input = paymentInput({ amount: money('50.00', 'USD') });
      const created = await adapter.createPayment(conn, input);
      await adapter.createPayment(conn, paymentInput());
      const sent = creates().slice(before);
      assert.equal(sent.length, 2);
      for (const r of sent) {
        assert.equal(r.headers.authorization, `Bearer ${merchant.apiKey}`);
        assert.match(String(r.headers['content-type']), /^application\/json/);
        assert.match(String(r.headers['idempotency-key']), /^coinbridge-[0-9a-f]{64}$/);
      }
      assert.deepEqual(sent[0]!.body, {
        amount: { value: '50.00', currency: 'USD' },
        metadata: { orderId: input.orderId, coinbridgePaymentId: input.paymentId },
        successUrl: input.returnUrl,
      });
      assert.equal(sent[0]!.headers['idempotency-key'], idempotencyKeyFor(input));
      assert.equal(created.checkoutUrl, `${emu.origin}/checkout/${created.gatewayPaymentId}`);
      assert.equal(emu.session(created.gatewayPaymentId).idempotencyKey, idempotencyKeyFor(input));
      assert.ok(emu.sessions().every((s) => s.idempotencyKey !== null), 'every session the adapter made carries an Idempotency-Key');
    });

    it('derives the Idempotency-Key from order + payment: the same for the same pair, different otherwise', () => {
      const base = { orderId: '#1001', paymentId: 'pay_1' };
      assert.equal(idempotencyKeyFor(base), idempotencyKeyFor({ ...base }));
      const variants = [{ orderId: '#1002', paymentId: 'pay_1' }, { orderId: '#1001', paymentId: 'pay_2' }, { orderId: '#1001p', paymentId: 'ay_1' }];
      const keys = new Set([base, ...variants].map(idempotencyKeyFor));
      assert.equal(keys.size, 4);
      // Any order id is a safe header value of fixed length.
      assert.match(idempotencyKeyFor({ orderId: 'ünïcødé\r\nX-Injected: 1', paymentId: 'p' }), /^coinbridge-[0-9a-f]{64}$/);
    });

    it('re-creating after a network timeout returns the session the lost response was for', { timeout: 10_000 }, async () => {
      const local = adapterFor(emu, { timeoutMs: 300 });
      const input = paymentInput();
      emu.failNext('create', 1, 'timeout');
      await assert.rejects(local.createPayment(conn, input), (err: { retryable?: boolean; code?: string }) => err.retryable === true && err.code === 'upstream_timeout');
      const made = emu.sessions().filter((s) => s.idempotencyKey === idempotencyKeyFor(input));
      assert.equal(made.length, 1, 'the hanging create did make a session');
      const again = await local.createPayment(conn, input);
      assert.equal(again.gatewayPaymentId, made[0]!.session.id);
      assert.equal(emu.sessions().filter((s) => s.idempotencyKey === idempotencyKeyFor(input)).length, 1, 'no second session');
    });

    it('the same payment with other parameters is refused for good (Idempotency-Key reused)', async () => {
      const input = paymentInput();
      await adapter.createPayment(conn, input);
      await assert.rejects(adapter.createPayment(conn, { ...input, amount: money('99.00', 'USD') }), (err: { retryable?: boolean; code?: string; message: string }) => {
        assert.equal(err.retryable, false);
        assert.equal(err.code, 'gateway_idempotency_conflict');
        assert.match(err.message, /Idempotency-Key/);
        return true;
      });
    });

    it('refuses a key that is not ck_test_/ck_live_ before anything reaches the instance', async () => {
      const before = emu.requests.length;
      for (const apiKey of ['sk_test_abc', 'ck_prod_abc', 'ck_test_', 'ck_test_has space', '', `ck_live_${'x'.repeat(201)}`]) {
        const bad = { ...conn, credentials: { ...conn.credentials, apiKey } };
        for (const call of [adapter.createPayment(bad, paymentInput()), adapter.getStatus(bad, 'cs_01HZABCDEF'), adapter.testConnection(bad), adapter.configureCallbacks(bad, 'https://x.example/ipn')]) {
          await assert.rejects(call, (err: { retryable?: boolean; code?: string; message: string }) => {
            assert.equal(err.retryable, false);
            assert.equal(err.code, 'gateway_credentials_rejected');
            assert.match(err.message, /ck_test_ or ck_live_/);
            if (apiKey.length > 8) assert.ok(!err.message.includes(apiKey), 'the key is not echoed');
            return true;
          });
        }
      }
      assert.equal(emu.requests.length, before, 'no request reached the emulator');
    });

    it('a 401 is a final credentials error that says to check the key, without the key', async () => {
      const wrong = { ...conn, credentials: { ...conn.credentials, apiKey: 'ck_live_revoked0000' } };
      await assert.rejects(adapter.createPayment(wrong, paymentInput()), (err: { retryable?: boolean; code?: string; message: string }) => {
        assert.equal(err.retryable, false);
        assert.equal(err.code, 'gateway_credentials_rejected');
        assert.match(err.message, /401.*check the connection's ck_test_\/ck_live_ key/);
        assert.ok(!err.message.includes('ck_live_revoked0000'));
        return true;
      });
    });

    it('refuses an answer without a cs_ id or with a non-http checkout URL as a bad response', async () => {
      const answers = [
        { id: 'sess_1', checkoutUrl: 'https://x.example/checkout/sess_1' },
        { id: 'cs_01HZOK', checkoutUrl: 'javascript:alert(1)' },
        { id: 'cs_01HZOK' },
        [],
      ];
      const server = http.createServer((_req, res) => { res.writeHead(201, { 'content-type': 'application/json' }).end(JSON.stringify(answers.shift())); });
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      try {
        const odd = new CryptoCheckoutAdapter(() => `http://127.0.0.1:${(server.address() as AddressInfo).port}`, { timeoutMs: TIMEOUT_MS });
        for (let i = 0; i < 4; i++) {
          await assert.rejects(odd.createPayment(conn, paymentInput()), (err: { code?: string }) => err.code === 'upstream_bad_response');
        }
      } finally {
        server.closeAllConnections();
        server.close();
      }
    });
  });

  describe('getStatus', () => {
    it('reads the session: order id, fiat, expected ETH (no received amount), txHash', async () => {
      const input = paymentInput({ amount: money('12.50', 'USD') });
      const { gatewayPaymentId: id } = await adapter.createPayment(conn, input);
      await emu.setStatus(id, 'paid', { notify: false, txHash: '0xabc123' });
      const before = emu.requests.length;
      const fact = await adapter.getStatus(conn, id);
      assert.equal(emu.requests.at(-1)?.path, `/api/v1/checkout_sessions/${id}`, 'the session is fetched from the API');
      assert.equal(emu.requests.length, before + 1);
      assert.equal(fact.reported, 'paid');
      assert.equal(fact.gatewayStatus, 'paid');
      assert.equal(fact.verified, true);
      assert.equal(fact.orderId, input.orderId);
      assert.deepEqual(fact.fiat, { amount: '12.50', currency: 'USD' });
      assert.ok(fact.crypto?.expected);
      assert.equal(decimalToString(fact.crypto.expected), '0.003125', '12.50 at the fixed fake rate of 4,000');
      assert.equal(fact.crypto.coin, 'ETH');
      assert.equal(fact.crypto.received, undefined, 'no received amount is invented');
      assert.equal(fact.txHash, '0xabc123');
      assert.equal(fact.amountJudgement, undefined, 'paid is "exact (or overpaid)": no judgement');
    });

    it("judges the amount by status: overpaid → paid with 'excess', underpaid → 'short'", async () => {
      for (const [status, reported, judgement] of [['overpaid', 'paid', 'excess'], ['underpaid', 'underpaid', 'short'], ['paid_late', 'paid', undefined], ['detected', 'confirming', undefined]] as const) {
        const { gatewayPaymentId: id } = await adapter.createPayment(conn, paymentInput());
        await emu.setStatus(id, status, { notify: false });
        const fact = await adapter.getStatus(conn, id);
        assert.equal(fact.reported, reported, status);
        assert.equal(fact.amountJudgement, judgement, status);
        assert.equal(fact.gatewayStatus, status);
      }
    });

    it("an unknown session, or another merchant's, is a final 'gateway_unknown_payment'", async () => {
      const other = emu.addMerchant();
      const { gatewayPaymentId: id } = await adapter.createPayment(conn, paymentInput());
      for (const [c, sid] of [[conn, 'cs_01HZNOSUCHSESSION0000000'], [connectionFor(emu, other.apiKey, other.webhookSecret), id]] as const) {
        await assert.rejects(adapter.getStatus(c, sid), (err: { code?: string; retryable?: boolean }) => err.code === 'gateway_unknown_payment' && err.retryable === false);
      }
      assert.equal(emu.requests.at(-1)?.path, `/api/v1/checkout_sessions/${id}`);
    });

    it('refuses ids that cannot be a session id without calling out', async () => {
      const before = emu.requests.length;
      for (const id of ['', 'cs_', 'no-such-payment-0000', 'cs_../../admin', 'cs_a/b', 'cs_a?x=1', `cs_${'a'.repeat(98)}`, 'CS_01HZ']) {
        await assert.rejects(adapter.getStatus(conn, id), (err: { code?: string; retryable?: boolean }) => err.code === 'gateway_unknown_payment' && err.retryable === false, id);
      }
      assert.equal(emu.requests.length, before);
    });
  });

  describe('connection', () => {
    it('testConnection and configureCallbacks make one cheap authenticated call and nothing else', async () => {
      const before = emu.requests.length;
      await adapter.testConnection(conn);
      await adapter.configureCallbacks(conn, 'https://coinbridge.example/ipn/crypto-checkout/conn_cc_1');
      const calls = emu.requests.slice(before);
      assert.deepEqual(calls.map((r) => `${r.method} ${r.path}`), ['GET /api/v1/checkout_sessions?limit=1', 'GET /api/v1/checkout_sessions?limit=1']);
      assert.ok(calls.every((r) => r.headers.authorization === `Bearer ${merchant.apiKey}`));
    });
  });

  describe('webhooks', () => {
    it('delivers a signed session event the adapter accepts: hint from data, dedupe key = event id', async () => {
      const input = paymentInput();
      const { gatewayPaymentId: id } = await adapter.createPayment(conn, input);
      const before = receiver.received.length;
      const event = await emu.setStatus(id, 'paid');
      const got = receiver.received.slice(before);
      assert.equal(got.length, 1);
      const delivery = got[0]!;
      assert.match(String(delivery.headers['x-webhook-signature']), /^t=\d+,v1=[0-9a-f]{64}$/);
      assert.equal(delivery.headers['x-webhook-timestamp'], String(headerT(String(delivery.headers['x-webhook-signature']))));
      const body = JSON.parse(delivery.raw.toString('utf8'));
      assert.deepEqual(Object.keys(body), ['id', 'type', 'livemode', 'createdAt', 'data']);
      assert.equal(body.type, 'session.paid');
      assert.match(body.id, /^evt_/);
      const verdict = adapter.parseCallback(conn, delivery.raw, delivery.headers);
      assert.ok(verdict.ok, verdict.ok ? '' : verdict.message);
      assert.deepEqual(verdict.hint, { gatewayPaymentId: id, dedupeKey: event.id, reported: 'paid', gatewayStatus: 'paid', orderId: input.orderId });
    });

    it('retries a 500 with the same bytes and a fresh t, stops at the first 2xx, and every attempt is accepted with one dedupe key', async () => {
      let clock = Date.UTC(2024, 10, 1, 12);
      const local = await startCryptoCheckoutEmulator({ retryBaseMs: 1, now: () => (clock += 7_000) });
      const localReceiver = await startWebhookReceiver('/ipn/crypto-checkout/conn_cc_1');
      try {
        const m = local.addMerchant();
        local.registerWebhook(m.apiKey, localReceiver.url);
        const c = connectionFor(local, m.apiKey, m.webhookSecret);
        const { gatewayPaymentId: id } = await adapterFor(local).createPayment(c, paymentInput());
        localReceiver.answers.push(500, 503); // two failures, then 200
        const event = await local.setStatus(id, 'detected');
        assert.deepEqual(local.deliveries.map((d) => [d.attempt, d.httpStatus]), [[1, 500], [2, 503], [3, 200]]);
        assert.equal(localReceiver.received.length, 3, 'no delivery after the 2xx');
        const ts = localReceiver.received.map((r) => headerT(String(r.headers['x-webhook-signature'])));
        assert.ok(ts[0]! < ts[1]! && ts[1]! < ts[2]!, `each attempt is signed afresh: ${ts.join(', ')}`);
        for (const [i, r] of localReceiver.received.entries()) {
          assert.ok(r.raw.equals(localReceiver.received[0]!.raw), `attempt ${i + 1} resends the same bytes`);
          const verdict = adapterFor(local, { now: () => ts[i]! * 1000 }).parseCallback(c, r.raw, r.headers);
          assert.ok(verdict.ok, verdict.ok ? '' : `attempt ${i + 1}: ${verdict.message}`);
          assert.equal(verdict.hint.dedupeKey, event.id);
          assert.equal(verdict.hint.reported, 'confirming');
        }
      } finally {
        await local.close();
        await localReceiver.close();
      }
    });

    it(`gives up after ${MAX_DELIVERY_ATTEMPTS} attempts; a receiver that does not answer in time counts as a failure`, async () => {
      const { gatewayPaymentId: id } = await adapter.createPayment(conn, paymentInput());
      receiver.answers.push(0, 500, 500, 500, 500, 500, 500);
      await emu.setStatus(id, 'expired');
      const attempts = emu.deliveries.filter((d) => d.sessionId === id);
      assert.deepEqual(attempts.map((d) => d.attempt), [1, 2, 3, 4, 5, 6]);
      assert.equal(attempts[0]!.httpStatus, undefined);
      assert.match(attempts[0]!.error ?? '', new RegExp(`no answer within ${WEBHOOK_TIMEOUT_MS} ms`));
      assert.deepEqual(attempts.slice(1).map((d) => d.httpStatus), [500, 500, 500, 500, 500]);
      receiver.answers.length = 0;
    });

    it('documents the real schedule: doubling from 1 h, about 31 h in all', () => {
      assert.equal(REAL_RETRY_DELAYS_MS.length, MAX_DELIVERY_ATTEMPTS - 1);
      assert.equal(REAL_RETRY_DELAYS_MS.reduce((a, b) => a + b, 0), 31 * 3_600_000);
    });

    it('a delivery during a secret rotation carries one v1 per secret and verifies with either secret alone', async () => {
      const m = emu.addMerchant();
      emu.registerWebhook(m.apiKey, receiver.url);
      const c = connectionFor(emu, m.apiKey, m.webhookSecret, 'conn_cc_rot');
      const { gatewayPaymentId: id } = await adapter.createPayment(c, paymentInput());
      const newSecret = emu.rotateSecret(m.apiKey);
      const before = receiver.received.length;
      await emu.setStatus(id, 'paid');
      const delivery = receiver.received[before]!;
      assert.match(String(delivery.headers['x-webhook-signature']), /^t=\d+,v1=[0-9a-f]{64},v1=[0-9a-f]{64}$/);
      for (const secret of [m.webhookSecret, newSecret]) {
        const verdict = adapter.parseCallback({ ...c, credentials: { ...c.credentials, ipnSecret: secret } }, delivery.raw, delivery.headers);
        assert.ok(verdict.ok, verdict.ok ? '' : verdict.message);
      }
      const other = adapter.parseCallback({ ...c, credentials: { ...c.credentials, ipnSecret: 'whsec_unrelated' } }, delivery.raw, delivery.headers);
      assert.ok(!other.ok && other.reason === 'bad_signature');
      emu.finishRotation(m.apiKey);
      const after = emu.webhook(id);
      assert.match(after.headers['X-Webhook-Signature']!, /^t=\d+,v1=[0-9a-f]{64}$/, 'after the rotation, one signature again');
      assert.ok(adapter.parseCallback({ ...c, credentials: { ...c.credentials, ipnSecret: newSecret } }, after.rawBody, asReceived(after.headers)).ok);
      assert.ok(!adapter.parseCallback(c, after.rawBody, asReceived(after.headers)).ok, 'the retired secret no longer verifies');
    });

    it('a redelivered event keeps its id (one dedupe key); a new transition gets a new one', async () => {
      const { gatewayPaymentId: id } = await adapter.createPayment(conn, paymentInput());
      await emu.setStatus(id, 'detected', { notify: false });
      const a = emu.webhook(id, 'detected');
      const b = emu.webhook(id, 'detected', { signedAt: new Date(Date.now() + 60_000) });
      assert.ok(a.rawBody.equals(b.rawBody));
      assert.notEqual(a.headers['X-Webhook-Signature'], b.headers['X-Webhook-Signature']);
      const va = adapter.parseCallback(conn, a.rawBody, asReceived(a.headers));
      const vb = adapter.parseCallback(conn, b.rawBody, asReceived(b.headers));
      assert.ok(va.ok && vb.ok);
      assert.equal(va.hint.dedupeKey, vb.hint.dedupeKey);
      assert.equal(va.hint.dedupeKey, a.event.id);
      await emu.setStatus(id, 'paid', { notify: false });
      const c = emu.webhook(id, 'paid');
      const vc = adapter.parseCallback(conn, c.rawBody, asReceived(c.headers));
      assert.ok(vc.ok);
      assert.notEqual(vc.hint.dedupeKey, va.hint.dedupeKey);
    });

    it("rejects an X-Webhook-Signature that is only t=, or garbage, as 'bad_signature' saying what is wrong", async () => {
      const { gatewayPaymentId: id } = await adapter.createPayment(conn, paymentInput());
      const { rawBody, headers } = emu.webhook(id, 'paid');
      const good = headers['X-Webhook-Signature']!;
      const t = headerT(good);
      const v1 = good.split('v1=')[1]!;
      const cases: [string, RegExp][] = [
        [`t=${t}`, /no v1=/],
        ['t=', /t= is not a whole number/],
        ['garbage', /not a list of key=value pairs/],
        [`v1=${v1}`, /no t=/],
        [`t=soon,v1=${v1}`, /t= is not a whole number/],
        [`t=${t},t=${t},v1=${v1}`, /more than one t=/],
        [`t=${t},v1=not-hex`, /64-digit hex/],
        [`t=${t},v0=${v1}`, /no v1=/],
        [`t=${t},v1=${v1.slice(0, -2)}`, /64-digit hex/],
        [`t=${t},v1=${'0'.repeat(64)}`, /no v1 signature .* matches/],
      ];
      for (const [value, message] of cases) {
        // No X-Webhook-Timestamp, so it cannot stand in for a missing t=.
        const verdict = adapter.parseCallback(conn, rawBody, { 'x-webhook-signature': value });
        assert.ok(!verdict.ok, value);
        assert.equal(verdict.reason, 'bad_signature', `${value}: ${verdict.message}`);
        assert.match(verdict.message, message, value);
      }
      for (const value of ['', '   ']) {
        const verdict = adapter.parseCallback(conn, rawBody, { 'x-webhook-signature': value });
        assert.ok(!verdict.ok && verdict.reason === 'missing_signature', JSON.stringify(value));
      }
    });

    it('uses X-Webhook-Timestamp only when t= is absent, as the official SDK does', async () => {
      const { gatewayPaymentId: id } = await adapter.createPayment(conn, paymentInput());
      const { rawBody, headers } = emu.webhook(id, 'paid');
      const t = headerT(headers['X-Webhook-Signature']!);
      const v1Only = headers['X-Webhook-Signature']!.replace(/^t=\d+,/, '');
      assert.ok(adapter.parseCallback(conn, rawBody, { 'x-webhook-signature': v1Only, 'x-webhook-timestamp': String(t) }).ok);
      const shifted = adapter.parseCallback(conn, rawBody, { 'x-webhook-signature': v1Only, 'x-webhook-timestamp': String(t + 1) });
      assert.ok(!shifted.ok && shifted.reason === 'bad_signature', 'the timestamp is part of what is signed');
      const ignored = adapter.parseCallback(conn, rawBody, { 'x-webhook-signature': headers['X-Webhook-Signature']!, 'x-webhook-timestamp': String(t + 1) });
      assert.ok(ignored.ok, 't= wins over X-Webhook-Timestamp');
    });

    it("a correctly signed body that is not a session event is 'malformed_body'", () => {
      const t = Math.floor(Date.now() / 1000);
      const session = { id: 'cs_01HZABC', status: 'paid', metadata: { orderId: '1' } };
      for (const raw of [
        'not json',
        '[]',
        'null',
        '{}',
        JSON.stringify(session),
        JSON.stringify({ id: 'evt_1', type: 'session.paid' }),
        JSON.stringify({ id: 'evt_1', type: 'session.paid', data: [] }),
        JSON.stringify({ id: 'evt_1', type: 'session.paid', data: { ...session, id: 'pay_1' } }),
        JSON.stringify({ id: 'evt_1', type: 'session.paid', data: { ...session, status: 7 } }),
        JSON.stringify({ id: 'evt_1', type: 'link.created', data: session }),
        JSON.stringify({ id: '', type: 'session.paid', data: session }),
        JSON.stringify({ type: 'session.paid', data: session }),
      ]) {
        const headers = { 'x-webhook-signature': emu.sign([merchant.webhookSecret], t, raw) };
        const verdict = adapter.parseCallback(conn, Buffer.from(raw), headers);
        assert.ok(!verdict.ok, raw);
        assert.equal(verdict.reason, 'malformed_body', `${raw}: ${verdict.message}`);
      }
    });

    it('an unknown status in a genuine event is accepted as a hint of "unknown" (the verify decides)', () => {
      const raw = JSON.stringify({ id: 'evt_x', type: 'session.refunded', data: { id: 'cs_01HZABC', status: 'refunded' } });
      const verdict = adapter.parseCallback(conn, Buffer.from(raw), { 'x-webhook-signature': emu.sign([merchant.webhookSecret], Math.floor(Date.now() / 1000), raw) });
      assert.ok(verdict.ok);
      assert.equal(verdict.hint.reported, 'unknown');
      assert.equal(verdict.hint.orderId, undefined);
    });
  });

  describe('signature.ts', () => {
    const secret = 'whsec_test_secret';
    const body = '{"id":"evt_1","type":"session.paid"}';
    const t = 1_730_462_400;
    const check = (header: string | undefined, nowSeconds: number, s = secret, raw: string | Buffer = body) =>
      verifyWebhookSignature({ rawBody: raw, header, secret: s, now: nowSeconds * 1000 });

    it('signWebhook signs exactly as the emulator does (independent implementations agree)', () => {
      assert.equal(signWebhook(secret, t, body), emu.sign([secret], t, body));
      assert.equal(signWebhook(secret, t, Buffer.from(body)), signWebhook(secret, t, body));
      assert.match(signWebhook(['whsec_a', 'whsec_b'], t, body), /^t=1730462400,v1=[0-9a-f]{64},v1=[0-9a-f]{64}$/);
    });

    it('accepts exactly ±300 s and refuses 301 s either way as stale', () => {
      const header = signWebhook(secret, t, body);
      for (const offset of [0, 300, -300, 299]) assert.deepEqual([check(header, t + offset).ok, check(header, t + offset).reason], [true, 'ok'], `offset ${offset}`);
      for (const offset of [301, -301, 86_400]) {
        const result = check(header, t + offset);
        assert.equal(result.reason, 'stale', `offset ${offset}`);
        assert.match(result.message, offset > 0 ? /old/ : /in the future/);
      }
    });

    it('checks the signature before the time: an old forgery is no_match, not stale', () => {
      const forged = signWebhook('whsec_attacker', t, body);
      assert.equal(check(forged, t + 10_000).reason, 'no_match');
      assert.equal(check(signWebhook(secret, t, body), t, secret, `${body} `).reason, 'no_match', 'one extra byte');
      assert.equal(check(signWebhook(secret, t, body), t, '').reason, 'no_match', 'no secret never verifies');
    });

    it('any one matching v1 is enough, in any position and hex case, with spaces around parts', () => {
      const good = signWebhook(secret, t, body).split(',')[1]!;
      const other = signWebhook('whsec_old', t, body).split(',')[1]!;
      for (const header of [`t=${t},${other},${good}`, `t=${t},${good},${other}`, `t=${t},${good.toUpperCase().replace('V1=', 'v1=')}`, ` t=${t} , ${good} `, `t=${t},v0=abc,${good}`]) {
        assert.equal(check(header, t).reason, 'ok', header);
      }
    });
  });

  describe('emulator contract', () => {
    it('answers 401 with a JSON error without a known Bearer key', async () => {
      for (const apiKey of [undefined, 'ck_test_unknown']) {
        const res = await api(emu, 'GET', '/api/v1/checkout_sessions?limit=1', apiKey === undefined ? {} : { apiKey });
        assert.equal(res.status, 401);
        assert.equal(res.json.error.code, 'unauthorized');
        assert.equal(typeof res.json.error.message, 'string');
      }
      const basic = await fetch(`${emu.origin}/api/v1/checkout_sessions?limit=1`, { headers: { authorization: `Basic ${merchant.apiKey}` } });
      assert.equal(basic.status, 401);
    });

    it('creates the documented session shape at the fixed fake rate, with a 5-minute expiry', async () => {
      const res = await api(emu, 'POST', '/api/v1/checkout_sessions', { apiKey: merchant.apiKey, body: createBody('50.00'), idempotencyKey: 'order-001-v1' });
      assert.equal(res.status, 201);
      const s = res.json;
      assert.deepEqual(Object.keys(s), ['id', 'object', 'status', 'checkoutUrl', 'address', 'amount', 'fiat', 'expiresAt', 'livemode', 'createdAt', 'metadata', 'txHash']);
      assert.match(s.id, /^cs_[0-9A-Z]{26}$/);
      assert.equal(s.object, 'checkout_session');
      assert.equal(s.status, 'pending');
      assert.equal(s.checkoutUrl, `${emu.origin}/checkout/${s.id}`);
      assert.match(s.address, /^0x[0-9a-f]{40}$/);
      assert.deepEqual(s.amount, { wei: '12500000000000000', eth: '0.0125' });
      assert.deepEqual(s.fiat, { amount: '50.00', currency: 'USD' });
      assert.equal(Date.parse(s.expiresAt) - Date.parse(s.createdAt), 5 * 60_000);
      assert.equal(s.livemode, false);
      assert.deepEqual(s.metadata, { orderId: '001' });
      assert.equal(s.txHash, null);
      const page = await fetch(s.checkoutUrl);
      assert.equal(page.status, 200);
      assert.match(await page.text(), /Send 0\.0125 ETH/);
      const got = await api(emu, 'GET', `/api/v1/checkout_sessions/${s.id}`, { apiKey: merchant.apiKey });
      assert.deepEqual(got.json, s);
    });

    it('Idempotency-Key: same key + same body → the same session; + another body → 422; none → a new session each time, recorded', async () => {
      const key = `k-${Date.now()}`;
      const a = await api(emu, 'POST', '/api/v1/checkout_sessions', { apiKey: merchant.apiKey, body: createBody('10.00', 'idem'), idempotencyKey: key });
      // Same parameters written in another key order are the same request.
      const reordered = JSON.stringify({ successUrl: 'https://your-store.com/success', metadata: { orderId: 'idem' }, amount: { currency: 'USD', value: '10.00' } });
      const b = await api(emu, 'POST', '/api/v1/checkout_sessions', { apiKey: merchant.apiKey, body: reordered, idempotencyKey: key });
      assert.equal(a.status, 201);
      assert.equal(b.status, 200);
      assert.equal(b.json.id, a.json.id);
      const c = await api(emu, 'POST', '/api/v1/checkout_sessions', { apiKey: merchant.apiKey, body: createBody('11.00', 'idem'), idempotencyKey: key });
      assert.equal(c.status, 422);
      assert.equal(c.json.error.code, 'idempotency_key_reused');
      // Keys are per merchant.
      const other = emu.addMerchant();
      const d = await api(emu, 'POST', '/api/v1/checkout_sessions', { apiKey: other.apiKey, body: createBody('11.00', 'idem'), idempotencyKey: key });
      assert.equal(d.status, 201);
      const e = await api(emu, 'POST', '/api/v1/checkout_sessions', { apiKey: merchant.apiKey, body: createBody('10.00', 'idem') });
      const f = await api(emu, 'POST', '/api/v1/checkout_sessions', { apiKey: merchant.apiKey, body: createBody('10.00', 'idem') });
      assert.equal(e.status, 201);
      assert.notEqual(e.json.id, f.json.id);
      assert.equal(emu.session(e.json.id).idempotencyKey, null);
    });

    it('validates the body with 400/415 messages', async () => {
      const cases: [string | undefined, string | undefined, number, RegExp][] = [
        ['{"amount":', undefined, 400, /not valid JSON/],
        ['[]', undefined, 400, /JSON object/],
        ['{}', undefined, 400, /amount is required/],
        ['{"amount":{"value":50,"currency":"USD"}}', undefined, 400, /decimal string/],
        ['{"amount":{"value":"0.00","currency":"USD"}}', undefined, 400, /positive/],
        ['{"amount":{"value":"5.00","currency":"US"}}', undefined, 400, /currency/],
        ['{"amount":{"value":"5.00","currency":"USD"},"metadata":{"orderId":1}}', undefined, 400, /metadata\.orderId/],
        ['{"amount":{"value":"5.00","currency":"USD"},"successUrl":"javascript:x"}', undefined, 400, /successUrl/],
        ['{"amount":{"value":"5.00","currency":"USD"},"success_url":"https://x"}', undefined, 400, /Unknown field "success_url"/],
        [createBody(), 'text/plain', 415, /application\/json/],
      ];
      for (const [body, contentType, status, message] of cases) {
        const res = await api(emu, 'POST', '/api/v1/checkout_sessions', { apiKey: merchant.apiKey, ...(body === undefined ? {} : { body }), ...(contentType ? { contentType } : {}) });
        assert.equal(res.status, status, body);
        assert.match(res.json.error.message, message, body);
      }
      const badKey = await api(emu, 'POST', '/api/v1/checkout_sessions', { apiKey: merchant.apiKey, body: createBody(), idempotencyKey: 'x'.repeat(256) });
      assert.equal(badKey.status, 400);
    });

    it("GET of an unknown session or another merchant's is 404; the list is the merchant's own", async () => {
      const other = emu.addMerchant();
      const mine = await api(emu, 'POST', '/api/v1/checkout_sessions', { apiKey: merchant.apiKey, body: createBody() });
      const res = await api(emu, 'GET', `/api/v1/checkout_sessions/${mine.json.id}`, { apiKey: other.apiKey });
      assert.equal(res.status, 404);
      assert.equal(res.json.error.code, 'not_found');
      assert.equal((await api(emu, 'GET', '/api/v1/checkout_sessions/cs_nope', { apiKey: merchant.apiKey })).status, 404);
      const list = await api(emu, 'GET', '/api/v1/checkout_sessions?limit=1', { apiKey: merchant.apiKey });
      assert.equal(list.json.object, 'list');
      assert.deepEqual(list.json.data.map((s: { id: string }) => s.id), [mine.json.id]);
      assert.equal(list.json.hasMore, true);
      assert.equal((await api(emu, 'GET', '/api/v1/checkout_sessions?limit=1', { apiKey: other.apiKey })).json.data.length, 0);
      assert.equal((await api(emu, 'GET', '/api/v1/checkout_sessions?limit=0', { apiKey: merchant.apiKey })).status, 400);
    });

    it('failNext makes the next create/status calls fail as asked, then recovers', async () => {
      const s = await api(emu, 'POST', '/api/v1/checkout_sessions', { apiKey: merchant.apiKey, body: createBody() });
      emu.failNext('status', 2, '500');
      assert.equal((await api(emu, 'GET', `/api/v1/checkout_sessions/${s.json.id}`, { apiKey: merchant.apiKey })).status, 500);
      assert.equal((await api(emu, 'GET', `/api/v1/checkout_sessions/${s.json.id}`, { apiKey: merchant.apiKey })).status, 500);
      assert.equal((await api(emu, 'GET', `/api/v1/checkout_sessions/${s.json.id}`, { apiKey: merchant.apiKey })).status, 200);
      emu.failNext('create', 1, '500');
      const before = emu.sessions().length;
      assert.equal((await api(emu, 'POST', '/api/v1/checkout_sessions', { apiKey: merchant.apiKey, body: createBody() })).status, 500);
      assert.equal(emu.sessions().length, before, 'a 500 on create makes no session');
    });

    it('closes at once while a status call hangs', async () => {
      const local = await startCryptoCheckoutEmulator();
      const m = local.addMerchant();
      local.failNext('status', 1, 'timeout');
      const hanging = fetch(`${local.origin}/api/v1/checkout_sessions/cs_01HZ`, { headers: { authorization: `Bearer ${m.apiKey}` } })
        .then(() => 'answered', () => 'dropped');
      while (!local.requests.some((r) => r.path === '/api/v1/checkout_sessions/cs_01HZ')) await new Promise((r) => setTimeout(r, 5));
      const started = Date.now();
      await local.close();
      assert.ok(Date.now() - started < 1_000, 'close() waited for the hanging socket');
      assert.equal(await hanging, 'dropped');
    });
  });
});
