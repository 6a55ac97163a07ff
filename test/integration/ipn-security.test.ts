import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { api, createTestStore, eventsOf, paymentBody, paymentStatus, sandboxToken, startTestApp, waitFor, waitForStatus, type TestApp, type TestStore } from '../support/harness.ts';

const sign = (secret: string, raw: string | Buffer) => crypto.createHmac('sha256', secret).update(raw).digest('hex');

describe('gateway callbacks (IPN): signatures, dedupe, concurrency', () => {
  let t: TestApp;
  let shop: TestStore;
  let paymentId: string;
  let token: string;
  let ipnPath: string;

  before(async () => {
    t = await startTestApp();
    shop = await createTestStore(t);
    const created = await api(t, 'POST', '/v1/payments', { key: shop.apiKey, body: paymentBody('SEC-1') });
    paymentId = created.body.id;
    token = await sandboxToken(t, paymentId);
    ipnPath = `/ipn/paymento/${shop.connection.id}`;
  });
  after(() => t?.close());

  // The sandbox says Paid, so a callback that got through would settle the payment.
  async function markPaidAtGateway(): Promise<void> {
    await t.app.db.pool.query("UPDATE sandbox_payments SET status = 7, received_crypto = expected_crypto WHERE token = $1", [token]);
  }
  const body = (status = 7) => JSON.stringify({ Token: token, PaymentId: 1, OrderId: 'SEC-1', OrderStatus: status, AdditionalData: [] });
  const post = (raw: string | Buffer, signature?: string, contentType = 'application/json') =>
    api(t, 'POST', ipnPath, { raw, headers: { 'content-type': contentType, ...(signature === undefined ? {} : { 'x-hmac-sha256-signature': signature }) } });

  async function inboxCount(): Promise<number> {
    const { rows } = await t.app.db.pool.query('SELECT count(*)::int AS n FROM inbox');
    return rows[0].n;
  }
  async function rejectedCount(): Promise<number> {
    const { rows } = await t.app.db.pool.query('SELECT rejected_callbacks::int AS n FROM gateway_connections WHERE id = $1', [shop.connection.id]);
    return rows[0].n;
  }

  it('refuses forged, missing, truncated and re-serialised signatures with 401 and changes nothing', async () => {
    await markPaidAtGateway();
    const secret = shop.connection.credentials.ipnSecret;
    const raw = body();
    const eventsBefore = (await eventsOf(t, paymentId)).length;
    const rejectedBefore = await rejectedCount();
    const cases: [string, string | Buffer, string | undefined][] = [
      ['forged with another secret', raw, sign('not-the-secret', raw)],
      ['missing header', raw, undefined],
      ['empty header', raw, ''],
      ['signature of a truncated body', raw, sign(secret, raw.slice(0, -1))],
      ['body truncated after signing', raw.slice(0, -1), sign(secret, raw)],
      ['body re-serialised after signing', JSON.stringify(JSON.parse(raw), null, 2), sign(secret, raw)],
      ['signature truncated', raw, sign(secret, raw).slice(0, 63)],
      ['not hex', raw, 'z'.repeat(64)],
      ['base64 instead of hex', raw, crypto.createHmac('sha256', secret).update(raw).digest('base64')],
    ];
    for (const [label, sent, signature] of cases) {
      const res = await post(sent, signature);
      assert.equal(res.status, 401, label);
      assert.equal(res.body.error.code, 'invalid_signature', label);
      assert.match(res.body.error.message, /X-HMAC-SHA256-SIGNATURE|x-hmac-sha256-signature/i, label);
    }
    assert.equal(await inboxCount(), 0, 'nothing stored in the inbox');
    assert.equal((await eventsOf(t, paymentId)).length, eventsBefore, 'no event recorded');
    assert.equal(await rejectedCount(), rejectedBefore + cases.length, 'rejected attempts are counted');
    await new Promise((r) => setTimeout(r, 500));
    assert.equal(await paymentStatus(t, paymentId), 'created');
    assert.ok(t.logs.some((l) => l.includes('signature check failed')), 'a log line per refusal');
  });

  it('refuses callbacks for an unknown connection or gateway with 404', async () => {
    const raw = body();
    const unknownConn = await api(t, 'POST', `/ipn/paymento/${crypto.randomUUID()}`, { raw, headers: { 'content-type': 'application/json', 'x-hmac-sha256-signature': sign('x', raw) } });
    assert.deepEqual([unknownConn.status, unknownConn.body.error.code], [404, 'unknown_connection']);
    const notUuid = await api(t, 'POST', '/ipn/paymento/../../etc', { raw });
    assert.equal(notUuid.status, 404);
    const unknownGateway = await api(t, 'POST', `/ipn/bitpay/${shop.connection.id}`, { raw });
    assert.deepEqual([unknownGateway.status, unknownGateway.body.error.code], [404, 'unknown_gateway']);
    assert.equal(await inboxCount(), 0);
  });

  it('accepts the signature in either hex case', async () => {
    const secret = shop.connection.credentials.ipnSecret;
    const lower = JSON.stringify({ Token: token, PaymentId: 1, OrderId: 'SEC-1', OrderStatus: 0, AdditionalData: [] });
    assert.equal((await post(lower, sign(secret, lower))).status, 200);
    const upper = JSON.stringify({ Token: token, PaymentId: 1, OrderId: 'SEC-1', OrderStatus: 3, AdditionalData: [] });
    assert.equal((await post(upper, sign(secret, upper).toUpperCase())).status, 200);
  });

  it('a signed but malformed body is refused with 400', async () => {
    const secret = shop.connection.credentials.ipnSecret;
    for (const raw of ['not json', '{"OrderStatus":7}', '[]', '{"Token":"x"}']) {
      const res = await post(raw, sign(secret, raw));
      assert.deepEqual([res.status, res.body.error.code], [400, 'malformed_callback'], raw);
    }
  });

  it('refuses oversized callbacks with 413', async () => {
    const raw = JSON.stringify({ Token: token, OrderStatus: 7, pad: 'x'.repeat(70 * 1024) });
    const res = await post(raw, sign(shop.connection.credentials.ipnSecret, raw));
    assert.equal(res.status, 413);
  });

  it('the same valid IPN 50 times at once: 50 acknowledgements, one inbox row, one transition', async () => {
    const raw = body(7);
    const signature = sign(shop.connection.credentials.ipnSecret, raw);
    const before = await inboxCount();
    const results = await Promise.all(Array.from({ length: 50 }, () => post(raw, signature)));
    assert.deepEqual(results.map((r) => r.status), Array(50).fill(200));
    assert.equal(results.filter((r) => r.body.duplicate === false).length, 1, 'exactly one was new');
    assert.equal(await inboxCount(), before + 1);
    await waitForStatus(t, paymentId, 'paid');
    await new Promise((r) => setTimeout(r, 800));
    const transitionsToPaid = (await eventsOf(t, paymentId)).filter((e) => e.type === 'transition' && e.to_status === 'paid');
    assert.equal(transitionsToPaid.length, 1);
    const metrics = await (await fetch(`${t.url}/metrics`)).text();
    assert.match(metrics, /coinbridge_callbacks_duplicated_total\{source="paymento"\} 49/);
  });

  it('after paid, a late Pending is recorded and ignored', async () => {
    const secret = shop.connection.credentials.ipnSecret;
    await t.app.db.pool.query('UPDATE sandbox_payments SET status = 1 WHERE token = $1', [token]);
    const raw = JSON.stringify({ Token: token, PaymentId: 1, OrderId: 'SEC-1', OrderStatus: 1, AdditionalData: [{ key: 'late', value: 'yes' }] });
    const res = await post(raw, sign(secret, raw));
    assert.equal(res.status, 200);
    assert.equal(res.body.duplicate, false, 'a new notification, stored');
    const outcome = await waitFor('the late callback to be processed', async () => {
      const { rows } = await t.app.db.pool.query(`SELECT outcome FROM inbox WHERE position('"late"'::bytea in raw_body) > 0 AND processed_at IS NOT NULL`);
      return rows[0]?.outcome as string | undefined;
    });
    assert.match(outcome, /^ignored: payment is paid/);
    assert.equal(await paymentStatus(t, paymentId), 'paid');
  });
});
