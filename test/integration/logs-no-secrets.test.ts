import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import {
  api, createTestStore, paymentBody, sandboxAction, sandboxToken, startTestApp, TEST_ENCRYPTION_KEY, waitFor, waitForStatus, type TestApp, type TestStore,
} from '../support/harness.ts';

const hmacHex = (secret: string, raw: string | Buffer) => crypto.createHmac('sha256', secret).update(raw).digest('hex');

/**
 * Secrets never reach a log line: run a whole payment, forged callbacks and bad requests with
 * the most talkative log level, then search every captured line for every secret that was
 * in play (whole, in its other encodings, and in part).
 */
describe('logs carry no secrets', () => {
  let t: TestApp;
  let shop: TestStore;
  /** Every X-HMAC-SHA256-SIGNATURE value sent to the app, by us or by the sandbox. */
  const signaturesSent: string[] = [];
  /** Other credentials we sent in requests (wrong keys are often near-copies of real ones). */
  const attemptedKeys: string[] = [];

  before(async () => {
    t = await startTestApp({ LOG_LEVEL: 'trace' });
    shop = await createTestStore(t);
  });
  after(() => t?.close());

  it('runs a payment, forged callbacks and bad requests, and logs about them', async () => {
    const ipnPath = `/ipn/paymento/${shop.connection.id}`;
    const { apiKey: gatewayKey, ipnSecret } = shop.connection.credentials;

    // A whole payment through the sandbox: create, pay, signed IPNs, verify, paid.
    const created = await api(t, 'POST', '/v1/payments', { key: shop.apiKey, body: paymentBody('LOG-1'), headers: { 'idempotency-key': 'log-1' } });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const replay = await api(t, 'POST', '/v1/payments', { key: shop.apiKey, body: paymentBody('LOG-1'), headers: { 'idempotency-key': 'log-1' } });
    assert.equal(replay.status, 200);
    const token = await sandboxToken(t, created.body.id);
    await sandboxAction(t, token, 'pay');
    await waitForStatus(t, created.body.id, 'paid');
    assert.equal((await api(t, 'GET', `/v1/payments/${created.body.id}`, { key: shop.apiKey })).status, 200);

    // Forged callbacks: right body, wrong signatures of every kind.
    const raw = JSON.stringify({ Token: token, PaymentId: 1, OrderId: 'LOG-1', OrderStatus: 7, AdditionalData: [] });
    const forged = [
      hmacHex('not-the-secret', raw), hmacHex('not-the-secret', raw).toUpperCase(), hmacHex(ipnSecret, raw + ' '),
      crypto.randomBytes(32).toString('hex'), crypto.randomBytes(32).toString('base64'), `sig-${crypto.randomBytes(16).toString('hex')}`,
    ];
    for (const signature of forged) {
      signaturesSent.push(signature);
      const res = await api(t, 'POST', ipnPath, { raw, headers: { 'content-type': 'application/json', 'x-hmac-sha256-signature': signature } });
      assert.equal(res.status, 401);
    }
    // A forged callback for an unknown connection, and a valid one replayed (a duplicate).
    const unknown = hmacHex('x', raw);
    signaturesSent.push(unknown);
    assert.equal((await api(t, 'POST', `/ipn/paymento/${crypto.randomUUID()}`, { raw, headers: { 'content-type': 'application/json', 'x-hmac-sha256-signature': unknown } })).status, 404);
    const valid = hmacHex(ipnSecret, raw);
    signaturesSent.push(valid);
    assert.equal((await api(t, 'POST', ipnPath, { raw, headers: { 'content-type': 'application/json', 'x-hmac-sha256-signature': valid } })).status, 200);
    // A valid signature over a body for no known payment: stored and logged as unmatched.
    const stray = JSON.stringify({ Token: 'f'.repeat(40), PaymentId: 2, OrderId: 'NOPE', OrderStatus: 7, AdditionalData: [] });
    const straySignature = hmacHex(ipnSecret, stray);
    signaturesSent.push(straySignature);
    assert.equal((await api(t, 'POST', ipnPath, { raw: stray, headers: { 'content-type': 'application/json', 'x-hmac-sha256-signature': straySignature } })).status, 200);
    // A signed but malformed body.
    const malformed = '{"OrderStatus":7}';
    signaturesSent.push(hmacHex(ipnSecret, malformed));
    assert.equal((await api(t, 'POST', ipnPath, { raw: malformed, headers: { 'content-type': 'application/json', 'x-hmac-sha256-signature': hmacHex(ipnSecret, malformed) } })).status, 400);

    // Bad requests carrying credentials in odd places.
    const nearKey = `${shop.apiKey.slice(0, -1)}${shop.apiKey.endsWith('A') ? 'B' : 'A'}`;
    attemptedKeys.push(nearKey);
    for (const authorization of [`Bearer ${nearKey}`, `Basic ${Buffer.from(`${shop.apiKey}:x`).toString('base64')}`, shop.apiKey, `Bearer ${gatewayKey}`]) {
      const res = await api(t, 'POST', '/v1/payments', { body: paymentBody('LOG-2'), headers: { authorization } });
      assert.equal(res.status, 401);
    }
    assert.equal((await api(t, 'POST', '/v1/payments', { key: shop.apiKey, raw: '{"orderId":', headers: { 'content-type': 'application/json' } })).status, 400);
    assert.equal((await api(t, 'POST', '/v1/payments', { key: shop.apiKey, body: paymentBody('LOG-3', { metadata: { apiKey: shop.apiKey, password: ipnSecret } }) })).status, 201);
    assert.equal((await api(t, 'POST', '/sandbox/paymento/v1/payment/verify', { headers: { 'api-key': `${gatewayKey}x` }, body: { token } })).status, 401);
    attemptedKeys.push(`${gatewayKey}x`);
    assert.equal((await api(t, 'POST', '/sandbox/paymento/v1/payment/verify', { headers: { 'api-key': gatewayKey }, body: { token: 'nope' } })).status, 400);
    // Input the database could not store (a NUL) is refused before it gets there.
    const nul = await api(t, 'POST', '/v1/payments', { key: shop.apiKey, body: paymentBody('LOG-4', { metadata: { note: 'a\u0000b' } }) });
    assert.equal(nul.status, 400);

    // The signatures the sandbox itself sent: uppercase hex HMAC of each stored raw body.
    await waitFor('callbacks to be processed', async () => {
      const { rows } = await t.app.db.pool.query('SELECT count(*)::int AS n FROM inbox WHERE processed_at IS NULL');
      return rows[0].n === 0;
    });
    const { rows } = await t.app.db.pool.query('SELECT raw_body FROM inbox');
    for (const r of rows) signaturesSent.push(hmacHex(ipnSecret, r.raw_body).toUpperCase());

    // The app did log about all this (so the search below is not vacuous).
    const text = t.logs.join('');
    assert.match(text, /signature check failed/);
    assert.match(text, /payment settled/);
    assert.match(text, /callback for an unknown payment/);
  });

  it('no captured log line contains any secret, whole or in part', () => {
    assert.ok(t.logs.length > 10, `only ${t.logs.length} log lines`);
    const lines = t.logs.join('').split('\n').filter(Boolean);
    for (const line of lines) assert.doesNotThrow(() => JSON.parse(line), `a JSON log line: ${line.slice(0, 200)}`);

    const keyBytes = Buffer.from(TEST_ENCRYPTION_KEY, 'base64');
    const secrets: [string, string][] = [
      ['store API key', shop.apiKey],
      ['store API key (after its public prefix)', shop.apiKey.slice(14)],
      ['gateway API key', shop.connection.credentials.apiKey],
      ['gateway API key (after "sbx_")', shop.connection.credentials.apiKey.slice(4)],
      ['IPN secret', shop.connection.credentials.ipnSecret],
      ['IPN secret, first half', shop.connection.credentials.ipnSecret.slice(0, 32)],
      ['IPN secret, second half', shop.connection.credentials.ipnSecret.slice(-32)],
      ['ENCRYPTION_KEY', t.env.ENCRYPTION_KEY!],
      ['ENCRYPTION_KEY as hex', keyBytes.toString('hex')],
      ['ENCRYPTION_KEY as base64url', keyBytes.toString('base64url')],
      ...attemptedKeys.map((k, i): [string, string] => [`attempted key #${i + 1}`, k]),
      ...signaturesSent.flatMap((s, i): [string, string][] => [[`signature #${i + 1}`, s], [`signature #${i + 1} (other case)`, s === s.toUpperCase() ? s.toLowerCase() : s.toUpperCase()]]),
    ];
    assert.ok(signaturesSent.length >= 10, 'the sandbox and we sent signatures');
    const leaks: string[] = [];
    for (const [what, secret] of secrets) {
      assert.ok(secret.length >= 16, `${what} is long enough to search for`);
      const hits = lines.filter((l) => l.includes(secret));
      if (hits.length > 0) leaks.push(`${what} in ${hits.length} line(s), e.g. ${hits[0]!.slice(0, 300)}`);
    }
    assert.deepEqual(leaks, []);
  });

  // Regression: the 500 handler once logged the raw database error, whose `where` field quotes request values.
  it('a database error does not copy request values (under redacted keys) into the log', async () => {
    const value = `s3cr3t-${crypto.randomBytes(12).toString('hex')}`;
    const before = t.logs.length;
    const res = await api(t, 'POST', '/v1/payments', { key: shop.apiKey, body: paymentBody('LOG-5', { metadata: { secret: `${value}\u0000`, apiKey: `${value}\u0000` } }) });
    assert.ok(res.status >= 400);
    const leaked = t.logs.slice(before).filter((l) => l.includes(value));
    assert.deepEqual(leaked.map((l) => `…${l.slice(Math.max(0, l.indexOf(value) - 150), l.indexOf(value) + 80)}…`), []);
  });

  it('the sealed credentials in the database do not contain the plaintext either', async () => {
    const { rows } = await t.app.db.pool.query('SELECT credentials FROM gateway_connections WHERE id = $1', [shop.connection.id]);
    const sealed: string = rows[0].credentials;
    assert.match(sealed, /^v1\./);
    assert.ok(!sealed.includes(shop.connection.credentials.ipnSecret));
    assert.ok(!sealed.includes(shop.connection.credentials.apiKey));
    const { rows: keys } = await t.app.db.pool.query('SELECT key_hash FROM store_api_keys');
    assert.ok(keys.every((k) => k.key_hash !== shop.apiKey && !String(k.key_hash).includes(shop.apiKey.slice(14))), 'only hashes of store keys are kept');
  });
});
