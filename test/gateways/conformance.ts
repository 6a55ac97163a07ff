/**
 * The one conformance suite every gateway adapter passes (src/gateways/types.ts promises it).
 * A gateway's test file supplies a ConformanceTarget — the adapter, credentials, and a driver that
 * moves payments around at the gateway (usually an emulator) — and calls runGatewayConformance.
 *
 * Each check is written so a wrong adapter fails it: statuses are compared exactly, signatures are
 * checked against tampered bytes, failures must be classified retryable or final.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { ReportedStatus } from '../../src/core/gateway-facts.ts';
import { compareRatio, parseAmount, parseCurrency, type Money } from '../../src/core/money.ts';
import type { CallbackRejection, CallbackVerdict, CreatePaymentInput, GatewayAdapter, GatewayConnection } from '../../src/gateways/types.ts';

export type Situation = 'pending' | 'confirming' | 'underpaid' | 'paid' | 'overpaid' | 'paid_late' | 'expired' | 'cancelled' | 'rejected';

export interface ConformanceTarget {
  adapter: GatewayAdapter;
  /** Valid credentials for the target. */
  connection: GatewayConnection;
  /** Same gateway, wrong API key (and a different callback secret). */
  badConnection: GatewayConnection;
  /** A URL the gateway can be told to deliver callbacks to. */
  callbackUrl: string;
  /** Every status code the gateway documents, with the canonical status it must map to. */
  documentedStatuses: ReadonlyArray<readonly [code: string | number, reported: ReportedStatus]>;
  driver: {
    /** Moves the payment at the gateway to a canonical situation, WITHOUT sending a callback. */
    settle(gatewayPaymentId: string, situation: Situation): Promise<void>;
    /**
     * A callback body + headers exactly as the gateway would sign it, for the given situation.
     * `signedAt` (gateways with signatureTimestamps) backdates or postdates the signature.
     */
    signedCallback(gatewayPaymentId: string, situation: Situation, opts?: { signedAt?: Date }): Promise<{ rawBody: Buffer; headers: Record<string, string> }>;
    /**
     * Gateways that rotate callback secrets: a callback signed during a rotation. 'both' carries
     * signatures from the old secret and from the connection's current one; 'old-only' only the old.
     */
    rotatedCallback?(gatewayPaymentId: string, situation: Situation, which: 'both' | 'old-only'): Promise<{ rawBody: Buffer; headers: Record<string, string> }>;
    /** Next `count` status calls fail with 5xx / time out. */
    failStatus(count: number, mode: '500' | 'timeout'): Promise<void>;
    /** Next `count` create calls fail with 5xx / time out. */
    failCreate?(count: number, mode: '500' | 'timeout'): Promise<void>;
  };
  close(): Promise<void>;
}

export const SITUATIONS: readonly Situation[] = ['pending', 'confirming', 'underpaid', 'paid', 'overpaid', 'expired', 'cancelled', 'rejected'];

/** What a gateway can do at all, known before its target is set up (tests are registered from it). */
export interface ConformanceTraits {
  /** The situations this gateway can express (default: SITUATIONS). */
  situations?: readonly Situation[];
  /** Callback signatures carry a timestamp, refused beyond this many seconds of skew. */
  signatureToleranceSeconds?: number;
  /** Several signatures may be sent during a secret rotation (the driver implements rotatedCallback). */
  rotation?: boolean;
  /** The driver can make create calls fail (failCreate). */
  failCreate?: boolean;
  /** The gateway dedupes creation on Coinbridge's idempotency key (must match adapter.capabilities). */
  idempotentCreate?: boolean;
  /** Callback signatures are plain hex (either case must verify). */
  hexSignatures?: boolean;
}

/** What getStatus (and a callback hint) must report for each situation. Overpaid is still paid. */
export const EXPECTED_REPORT: Readonly<Record<Situation, ReportedStatus>> = {
  pending: 'pending', confirming: 'confirming', underpaid: 'underpaid', paid: 'paid',
  overpaid: 'paid', paid_late: 'paid', expired: 'expired', cancelled: 'cancelled', rejected: 'rejected',
};

const REPORTED: ReadonlySet<string> = new Set<ReportedStatus>(['created', 'pending', 'confirming', 'underpaid', 'paid', 'expired', 'cancelled', 'rejected', 'unknown']);

/** Transport headers that never carry a signature; everything else the driver sends is treated as one. */
const TRANSPORT_HEADERS = new Set(['content-type', 'content-length', 'user-agent', 'host', 'accept', 'connection', 'date', 'accept-encoding']);

/** The adapter's own deadline is 10 s; allow scheduling slack but not a second deadline. */
const ADAPTER_TIMEOUT_MS = 10_000;

export function money(amount: string, currency: string): Money {
  const code = parseCurrency(currency);
  assert.ok(code.ok, `test currency ${currency}`);
  const parsed = parseAmount(amount, code.value);
  assert.ok(parsed.ok, `test amount ${amount}`);
  return parsed.value;
}

let sequence = 0;
export function paymentInput(overrides: Partial<CreatePaymentInput> = {}): CreatePaymentInput {
  sequence += 1;
  const nonce = `${Date.now().toString(36)}-${sequence}`;
  return {
    paymentId: `pay_conf_${nonce}`,
    orderId: `order-${nonce}`,
    amount: money('12.50', 'USD'),
    returnUrl: 'https://shop.example/checkout/return',
    confirmationSpeed: 'secure',
    ...overrides,
  };
}

/** Node's HTTP server hands handlers lowercased header names; adapters receive them that way. */
export function asReceived(headers: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(headers).map(([k, v]) => [k.toLowerCase(), v]));
}

function signatureHeaderNames(headers: Record<string, string>): string[] {
  return Object.keys(headers).filter((k) => !TRANSPORT_HEADERS.has(k));
}

/** Changes the last hex digit (or character) so the value keeps its shape but not its meaning. */
function flipLast(value: string): string {
  const last = value.at(-1) ?? '';
  const replacement = /[0-9a-fA-F]/.test(last) ? (last.toLowerCase() === '0' ? '1' : '0') : last === 'A' ? 'B' : 'A';
  return value.slice(0, -1) + replacement;
}

function assertRejected(verdict: CallbackVerdict, reason: CallbackRejection, what: string): void {
  assert.equal(verdict.ok, false, `${what} must be rejected`);
  if (!verdict.ok) assert.equal(verdict.reason, reason, `${what}: ${verdict.message}`);
}

function assertAccepted(verdict: CallbackVerdict, what: string): asserts verdict is Extract<CallbackVerdict, { ok: true }> {
  assert.ok(verdict.ok, `${what} must be accepted${verdict.ok ? '' : `, got ${verdict.reason}: ${verdict.message}`}`);
}

async function assertRetryableRejection(promise: Promise<unknown>, what: string): Promise<void> {
  await assert.rejects(promise, (err: unknown) => {
    assert.equal((err as { retryable?: unknown }).retryable, true, `${what}: expected a retryable error, got ${String(err)}`);
    return true;
  });
}

async function assertFinalRejection(promise: Promise<unknown>, what: string): Promise<void> {
  await assert.rejects(promise, (err: unknown) => {
    assert.ok(err instanceof Error, `${what}: expected an Error`);
    assert.notEqual((err as { retryable?: unknown }).retryable, true, `${what}: must not be retryable (retrying cannot help), got ${String(err)}`);
    return true;
  });
}

export function runGatewayConformance(label: string, setup: () => Promise<ConformanceTarget>, traits: ConformanceTraits = {}): void {
  const situations = traits.situations ?? SITUATIONS;
  describe(label, () => {
    let target: ConformanceTarget | undefined;
    const t = (): ConformanceTarget => {
      assert.ok(target, 'conformance target was not set up');
      return target;
    };
    const create = async (overrides: Partial<CreatePaymentInput> = {}) => {
      const input = paymentInput(overrides);
      const created = await t().adapter.createPayment(t().connection, input);
      return { input, created, id: created.gatewayPaymentId };
    };

    before(async () => { target = await setup(); });
    after(async () => { await target?.close(); });

    describe('createPayment', () => {
      it('returns a gateway payment id and an http(s) checkout URL', async () => {
        const { created } = await create();
        assert.equal(typeof created.gatewayPaymentId, 'string');
        assert.ok(created.gatewayPaymentId.length > 0, 'gatewayPaymentId is empty');
        const url = new URL(created.checkoutUrl);
        assert.match(url.protocol, /^https?:$/);
      });

      it('gives two payments two different ids', async () => {
        const a = await create();
        const b = await create();
        assert.notEqual(a.id, b.id);
      });

      it('declares its creation semantics truthfully', () => {
        assert.equal(t().adapter.capabilities.idempotentCreate, traits.idempotentCreate === true,
          'traits.idempotentCreate must match adapter.capabilities.idempotentCreate (the payment core relies on it)');
      });

      if (traits.idempotentCreate) {
        it('re-creating with the same input gives the same payment (the gateway dedupes creation)', async () => {
          const input = paymentInput();
          const a = await t().adapter.createPayment(t().connection, input);
          const b = await t().adapter.createPayment(t().connection, { ...input });
          assert.equal(b.gatewayPaymentId, a.gatewayPaymentId);
          const other = await t().adapter.createPayment(t().connection, paymentInput());
          assert.notEqual(other.gatewayPaymentId, a.gatewayPaymentId, 'another order must get another payment');
        });
      }

      if (traits.failCreate) {
        for (const mode of ['500', 'timeout'] as const) {
          it(`turns a ${mode === '500' ? '5xx' : 'hanging gateway'} on create into a retryable error, and recovers`, { timeout: 30_000 }, async () => {
            const driver = t().driver;
            assert.ok(driver.failCreate, 'traits.failCreate needs driver.failCreate');
            await driver.failCreate(1, mode);
            const input = paymentInput();
            await assertRetryableRejection(t().adapter.createPayment(t().connection, input), `createPayment during a ${mode}`);
            const created = await t().adapter.createPayment(t().connection, input);
            assert.ok(created.gatewayPaymentId.length > 0);
          });
        }
      }

      it('refuses bad credentials with a final (non-retryable) error', async () => {
        await assertFinalRejection(t().adapter.createPayment(t().badConnection, paymentInput()), 'createPayment with a wrong API key');
      });
    });

    describe('getStatus', () => {
      it("reports a fresh payment as 'created' or 'pending', verified, with our order id", async () => {
        const { input, id } = await create();
        const fact = await t().adapter.getStatus(t().connection, id);
        assert.ok(fact.reported === 'created' || fact.reported === 'pending', `fresh payment reported ${fact.reported}`);
        assert.equal(fact.verified, true);
        assert.equal(fact.orderId, input.orderId);
      });

      for (const situation of situations) {
        const expected = EXPECTED_REPORT[situation];
        it(`settled ${situation} → reports '${expected}'`, async () => {
          const { input, id } = await create();
          await t().driver.settle(id, situation);
          const fact = await t().adapter.getStatus(t().connection, id);
          assert.equal(fact.reported, expected, `gateway status ${fact.gatewayStatus}`);
          assert.equal(fact.verified, true);
          assert.equal(fact.orderId, input.orderId);
          // The kept gateway code must map back to the same canonical status.
          assert.equal(t().adapter.mapStatus(fact.gatewayStatus), fact.reported, `mapStatus(${fact.gatewayStatus})`);

          // Amounts: only when this gateway (or this API shape) reports them at all.
          const received = fact.crypto?.received;
          const owed = fact.crypto?.expected;
          if (t().adapter.capabilities.reportsAmounts && received !== undefined) {
            assert.ok(owed, 'a received amount without the expected amount cannot be judged');
            const cmp = compareRatio(received, owed, 1n, 1n);
            if (situation === 'paid') assert.ok(cmp >= 0, 'paid must report received ≥ expected');
            if (situation === 'overpaid') assert.equal(cmp, 1, 'overpaid must report received > expected');
            if (situation === 'underpaid') assert.equal(cmp, -1, 'underpaid must report received < expected');
          }

          if (expected === 'paid') {
            // Reading the truth twice must not change it (Paymento's Verify approves 7 → 8 on the way).
            const again = await t().adapter.getStatus(t().connection, id);
            assert.equal(again.reported, 'paid', `second read reported ${again.reported} (${again.gatewayStatus})`);
          }
        });
      }

      it('rejects an id the gateway never issued with a final error', async () => {
        await assertFinalRejection(t().adapter.getStatus(t().connection, 'no-such-payment-0000'), 'getStatus of an unknown id');
      });

      it('turns a 5xx into a retryable error, and recovers on the next call', async () => {
        const { id } = await create();
        await t().driver.failStatus(1, '500');
        await assertRetryableRejection(t().adapter.getStatus(t().connection, id), 'getStatus during a 5xx');
        const fact = await t().adapter.getStatus(t().connection, id);
        assert.equal(fact.verified, true);
      });

      it('gives up on a hanging gateway within its own deadline, retryably', { timeout: 30_000 }, async () => {
        const { id } = await create();
        await t().driver.failStatus(1, 'timeout');
        const started = Date.now();
        await assertRetryableRejection(t().adapter.getStatus(t().connection, id), 'getStatus against a hanging gateway');
        const elapsed = Date.now() - started;
        assert.ok(elapsed < ADAPTER_TIMEOUT_MS + 2_000, `took ${elapsed} ms: the adapter has no deadline of its own`);
        const fact = await t().adapter.getStatus(t().connection, id);
        assert.equal(fact.verified, true);
      });
    });

    describe('parseCallback', () => {
      /** A fresh payment settled to `situation`, plus the gateway's signed callback for it. */
      const signed = async (situation: Situation = 'paid') => {
        const { input, id } = await create();
        await t().driver.settle(id, situation);
        const cb = await t().driver.signedCallback(id, situation);
        const headers = asReceived(cb.headers);
        const sigNames = signatureHeaderNames(headers);
        assert.ok(sigNames.length > 0, 'the signed callback carries no signature header');
        return { input, id, rawBody: cb.rawBody, headers, sigNames };
      };
      const parse = (conn: GatewayConnection, rawBody: Buffer, headers: Record<string, string>) => t().adapter.parseCallback(conn, rawBody, headers);

      it('accepts a correctly signed callback and names the payment and status', async () => {
        const { input, id, rawBody, headers } = await signed('paid');
        const verdict = parse(t().connection, rawBody, headers);
        assertAccepted(verdict, 'a correctly signed callback');
        assert.equal(verdict.hint.gatewayPaymentId, id);
        assert.equal(verdict.hint.reported, 'paid');
        assert.equal(typeof verdict.hint.dedupeKey, 'string');
        assert.ok(verdict.hint.dedupeKey.length > 0);
        if (verdict.hint.orderId !== undefined) assert.equal(verdict.hint.orderId, input.orderId);
      });

      it('maps every situation in a callback the same way getStatus does', async () => {
        const { id } = await create();
        for (const situation of situations) {
          const cb = await t().driver.signedCallback(id, situation);
          const verdict = parse(t().connection, cb.rawBody, asReceived(cb.headers));
          assertAccepted(verdict, `signed ${situation} callback`);
          assert.equal(verdict.hint.reported, EXPECTED_REPORT[situation], `${situation} callback`);
          assert.equal(verdict.hint.gatewayPaymentId, id);
        }
      });

      it('gives the same notification the same dedupe key, and another status another key', async () => {
        const { id, rawBody, headers } = await signed('paid');
        const first = parse(t().connection, rawBody, headers);
        const second = parse(t().connection, Buffer.from(rawBody), { ...headers });
        assertAccepted(first, 'first delivery');
        assertAccepted(second, 'second delivery');
        assert.equal(first.hint.dedupeKey, second.hint.dedupeKey);

        const otherSituation = situations.find((x) => EXPECTED_REPORT[x] !== 'paid');
        assert.ok(otherSituation, 'the gateway expresses no situation besides paid');
        const other = await t().driver.signedCallback(id, otherSituation);
        const third = parse(t().connection, other.rawBody, asReceived(other.headers));
        assertAccepted(third, `${otherSituation} callback`);
        assert.notEqual(third.hint.dedupeKey, first.hint.dedupeKey);
      });

      it("rejects a callback without its signature as 'missing_signature'", async () => {
        const { rawBody, headers, sigNames } = await signed();
        const stripped = Object.fromEntries(Object.entries(headers).filter(([k]) => !sigNames.includes(k)));
        assertRejected(parse(t().connection, rawBody, stripped), 'missing_signature', 'callback without signature');
      });

      it("rejects a forged signature as 'bad_signature'", async () => {
        const { rawBody, headers, sigNames } = await signed();
        const forged = { ...headers };
        for (const name of sigNames) forged[name] = flipLast(forged[name]!);
        assertRejected(parse(t().connection, rawBody, forged), 'bad_signature', 'forged signature');
      });

      it("rejects a body truncated by one byte as 'bad_signature'", async () => {
        const { rawBody, headers } = await signed();
        assertRejected(parse(t().connection, rawBody.subarray(0, rawBody.length - 1), headers), 'bad_signature', 'truncated body');
      });

      it("rejects the same JSON re-serialised with other whitespace as 'bad_signature' (raw bytes are signed)", async () => {
        const { rawBody, headers } = await signed();
        const reserialised = Buffer.from(JSON.stringify(JSON.parse(rawBody.toString('utf8')), null, 2));
        assert.ok(!reserialised.equals(rawBody), 'test precondition: re-serialising must change the bytes');
        assertRejected(parse(t().connection, reserialised, headers), 'bad_signature', 're-serialised body');
      });

      it("rejects a signature made with another secret as 'bad_signature'", async () => {
        assert.notEqual(t().badConnection.credentials.ipnSecret, t().connection.credentials.ipnSecret, 'badConnection must have another secret');
        const { rawBody, headers } = await signed();
        // Verifying with the other connection's secret is the same check as a body signed with another secret.
        assertRejected(parse(t().badConnection, rawBody, headers), 'bad_signature', 'signature from another secret');
      });

      if (traits.signatureToleranceSeconds !== undefined) {
        const tolerance = traits.signatureToleranceSeconds;
        const at = (offsetSeconds: number) => new Date(Date.now() + offsetSeconds * 1000);
        it(`rejects a signature older than ${tolerance} s as 'stale_signature' (a replay)`, async () => {
          const { id } = await create();
          const cb = await t().driver.signedCallback(id, 'paid', { signedAt: at(-(tolerance + 60)) });
          assertRejected(parse(t().connection, cb.rawBody, asReceived(cb.headers)), 'stale_signature', 'old signature');
        });
        it(`rejects a signature dated more than ${tolerance} s ahead as 'stale_signature'`, async () => {
          const { id } = await create();
          const cb = await t().driver.signedCallback(id, 'paid', { signedAt: at(tolerance + 60) });
          assertRejected(parse(t().connection, cb.rawBody, asReceived(cb.headers)), 'stale_signature', 'future signature');
        });
        it('accepts a signature inside the tolerance either way (clock skew)', async () => {
          const { id } = await create();
          for (const offset of [-(tolerance - 30), tolerance - 30]) {
            const cb = await t().driver.signedCallback(id, 'paid', { signedAt: at(offset) });
            assertAccepted(parse(t().connection, cb.rawBody, asReceived(cb.headers)), `signature ${offset} s off`);
          }
        });
        it("a stale timestamp does not rescue a forged signature: 'bad_signature' is checked first", async () => {
          const { id } = await create();
          const cb = await t().driver.signedCallback(id, 'paid', { signedAt: at(-(tolerance + 60)) });
          assertRejected(parse(t().badConnection, cb.rawBody, asReceived(cb.headers)), 'bad_signature', 'stale and forged');
        });
      }

      if (traits.rotation) {
        it('accepts a callback during a secret rotation when one of its signatures is from the current secret', async () => {
          const { id } = await create();
          const driver = t().driver;
          assert.ok(driver.rotatedCallback, 'traits.rotation needs driver.rotatedCallback');
          const both = await driver.rotatedCallback(id, 'paid', 'both');
          assertAccepted(parse(t().connection, both.rawBody, asReceived(both.headers)), 'old + current signatures');
          const oldOnly = await driver.rotatedCallback(id, 'paid', 'old-only');
          assertRejected(parse(t().connection, oldOnly.rawBody, asReceived(oldOnly.headers)), 'bad_signature', 'only the retired secret');
        });
      }

      if (traits.hexSignatures) {
        it('accepts hex signatures in upper- and lower-case', async () => {
          const { rawBody, headers, sigNames } = await signed();
          assert.ok(sigNames.every((n) => /^[0-9a-fA-F]+$/.test(headers[n]!)), 'traits.hexSignatures, but the signature header is not plain hex');
          for (const transform of [(s: string) => s.toUpperCase(), (s: string) => s.toLowerCase()]) {
            const variant = { ...headers };
            for (const name of sigNames) variant[name] = transform(variant[name]!);
            assertAccepted(parse(t().connection, rawBody, variant), `signature ${transform('aB')}-cased`);
          }
        });
      }
    });

    describe('connection', () => {
      it('testConnection resolves for valid credentials', async () => {
        await t().adapter.testConnection(t().connection);
      });

      it('testConnection rejects a wrong API key with a final error', async () => {
        await assertFinalRejection(t().adapter.testConnection(t().badConnection), 'testConnection with a wrong API key');
      });

      it('configureCallbacks resolves for valid credentials', async () => {
        await t().adapter.configureCallbacks(t().connection, t().callbackUrl);
      });
    });

    describe('mapStatus', () => {
      it('maps every documented gateway status code', () => {
        assert.ok(t().documentedStatuses.length > 0, 'the target documents no status codes');
        for (const [code, reported] of t().documentedStatuses) {
          assert.equal(t().adapter.mapStatus(code), reported, `mapStatus(${JSON.stringify(code)})`);
        }
      });

      it("maps anything else to 'unknown' and only ever answers canonical statuses", () => {
        for (const code of ['definitely-not-a-status', '', 987_654, -1]) {
          assert.equal(t().adapter.mapStatus(code), 'unknown', `mapStatus(${JSON.stringify(code)})`);
        }
        for (const [code] of t().documentedStatuses) assert.ok(REPORTED.has(t().adapter.mapStatus(code)));
      });
    });
  });
}
