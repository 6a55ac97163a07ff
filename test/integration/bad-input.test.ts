import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import { api, createTestStore, paymentBody, startTestApp, type ApiResponse, type TestApp, type TestStore } from '../support/harness.ts';

/**
 * Bad input to every endpoint of the payment core: a clear 4xx with a machine-readable
 * `error.code` and a human `error.message`, nothing stored, and never a 5xx.
 */

const TABLES = ['payments', 'payment_events', 'inbox', 'idempotency_keys', 'agenda_jobs'] as const;
const sign = (secret: string, raw: string | Buffer) => crypto.createHmac('sha256', secret).update(raw).digest('hex');
const JSON_TYPE = { 'content-type': 'application/json' };

/** What shape the error body should have: ours, the sandbox's Paymento envelope, or any. */
type Shape = 'coinbridge' | 'paymento' | 'any';

describe('bad input: a clear 4xx, nothing stored, never a 5xx', () => {
  let t: TestApp;
  let a: TestStore;
  let b: TestStore;
  let paymentA: { id: string; ref: string };
  let sandboxKey: string;
  let ipnPath: string;
  /** Every answer this file received, to check at the end that none was a 5xx. */
  const seen: { label: string; status: number }[] = [];
  let orderSeq = 0;
  const orderId = (prefix: string) => `${prefix}-${++orderSeq}`;

  before(async () => {
    t = await startTestApp();
    a = await createTestStore(t, { name: 'Store A' });
    b = await createTestStore(t, { name: 'Store B' });
    const created = await api(t, 'POST', '/v1/payments', { key: a.apiKey, body: paymentBody('A-1'), headers: { 'idempotency-key': 'a-1' } });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    paymentA = created.body;
    sandboxKey = a.connection.credentials.apiKey;
    ipnPath = `/ipn/paymento/${a.connection.id}`;
  });
  after(() => t?.close());

  async function counts(): Promise<Record<string, number>> {
    const { rows } = await t.app.db.pool.query(`SELECT ${TABLES.map((n) => `(SELECT count(*)::int FROM ${n}) AS ${n}`).join(', ')}`);
    return rows[0];
  }

  function checkShape(label: string, res: ApiResponse, code: string | RegExp | undefined, shape: Shape): void {
    if (shape === 'any') return;
    if (shape === 'paymento') {
      assert.equal(res.body?.success, false, `${label}: ${JSON.stringify(res.body)}`);
      assert.equal(typeof res.body.message, 'string', label);
      assert.ok(res.body.message.length > 5, label);
      return;
    }
    assert.match(res.headers.get('content-type') ?? '', /^application\/json/, `${label}: a JSON answer`);
    const error = res.body?.error;
    assert.ok(error && typeof error === 'object', `${label}: an error object in ${JSON.stringify(res.body)}`);
    assert.match(error.code, /^[a-z][a-z_]+$/, `${label}: a machine-readable code`);
    if (code instanceof RegExp) assert.match(error.code, code, label);
    else if (code !== undefined) assert.equal(error.code, code, `${label}: ${JSON.stringify(res.body)}`);
    assert.equal(typeof error.message, 'string', `${label}: a message`);
    assert.ok(error.message.length >= 15, `${label}: a message for people: "${error.message}"`);
    assert.doesNotMatch(error.message, /DatabaseError|\.ts:\d+|\bat \w+ \(|SELECT |INSERT |ECONN/, `${label}: no internals leak`);
  }

  /** Sends one bad request; checks the status, the error body, and that nothing was stored. */
  async function refused(label: string, send: () => Promise<ApiResponse>, status: number, code?: string | RegExp, shape: Shape = 'coinbridge'): Promise<ApiResponse> {
    const before = await counts();
    const res = await send();
    seen.push({ label, status: res.status });
    const afterCounts = await counts();
    assert.equal(res.status, status, `${label}: expected ${status}, got ${res.status} ${JSON.stringify(res.body).slice(0, 400)}`);
    checkShape(label, res, code, shape);
    assert.deepEqual(afterCounts, before, `${label}: nothing stored`);
    return res;
  }

  /** For odd-but-harmless input: any answer below 500, and nothing stored. */
  async function harmless<R extends { status: number; body: any }>(label: string, send: () => Promise<R>): Promise<R> {
    const before = await counts();
    const res = await send();
    seen.push({ label, status: res.status });
    assert.ok(res.status < 500, `${label}: answered ${res.status} ${JSON.stringify(res.body).slice(0, 400)}`);
    assert.deepEqual(await counts(), before, `${label}: nothing stored`);
    return res;
  }

  const createPayment = (body: unknown, opts: { key?: string; headers?: Record<string, string> } = {}) =>
    api(t, 'POST', '/v1/payments', { key: opts.key ?? a.apiKey, body, ...(opts.headers ? { headers: opts.headers } : {}) });
  const createRaw = (raw: string | Buffer, headers: Record<string, string> = JSON_TYPE) =>
    api(t, 'POST', '/v1/payments', { key: a.apiKey, raw, headers });
  const ipn = (path: string, raw: string | Buffer, headers: Record<string, string> = {}) =>
    api(t, 'POST', path, { raw, headers: { ...JSON_TYPE, ...headers } });

  interface RawResponse { status: number; body: any; text: string }
  /** Sends bytes as they are (for what fetch refuses to send) and reads the answer. */
  function rawRequest(bytes: string | Buffer): Promise<RawResponse> {
    const { hostname, port } = new URL(t.url);
    return new Promise((resolve, reject) => {
      const socket = net.connect(Number(port), hostname);
      const chunks: Buffer[] = [];
      const timer = setTimeout(() => { socket.destroy(); reject(new Error('raw request: no answer within 10 s')); }, 10_000);
      socket.on('data', (c: Buffer) => chunks.push(c));
      socket.on('error', () => { /* a reset after the answer is fine; 'close' follows */ });
      socket.on('close', () => {
        clearTimeout(timer);
        const text = Buffer.concat(chunks).toString('latin1');
        const m = /^HTTP\/1\.[01] (\d{3})/.exec(text);
        if (!m) return reject(new Error(`raw request: no HTTP answer (${JSON.stringify(text.slice(0, 200))})`));
        const bodyText = text.slice(text.indexOf('\r\n\r\n') + 4);
        let body: unknown = bodyText;
        try { body = JSON.parse(bodyText); } catch { /* not JSON */ }
        resolve({ status: Number(m[1]), body, text });
      });
      socket.write(bytes);
    });
  }
  const host = () => new URL(t.url).host;

  // ─── POST /v1/payments: the body ────────────────────────────────────────────────────────────

  it('POST /v1/payments: wrong or missing content type → 415 unsupported_media_type', async () => {
    const valid = (id: string) => JSON.stringify(paymentBody(id));
    const cases: [string, string | Buffer, Record<string, string>][] = [
      ['text/plain', valid(orderId('CT')), { 'content-type': 'text/plain' }],
      ['form-encoded', 'orderId=CT-F&amount=25.00&currency=USD&returnUrl=https%3A%2F%2Fshop.example%2F', { 'content-type': 'application/x-www-form-urlencoded' }],
      ['form-encoded carrying JSON', valid(orderId('CT')), { 'content-type': 'application/x-www-form-urlencoded' }],
      ['multipart', `--x\r\nContent-Disposition: form-data; name="orderId"\r\n\r\nCT-M\r\n--x--\r\n`, { 'content-type': 'multipart/form-data; boundary=x' }],
      ['xml', '<payment><orderId>CT-X</orderId></payment>', { 'content-type': 'application/xml' }],
      ['no content type, JSON bytes', Buffer.from(valid(orderId('CT'))), {}],
      ['content type garbage', valid(orderId('CT')), { 'content-type': 'garbage' }],
      ['json-ish vendor type', valid(orderId('CT')), { 'content-type': 'application/vnd.api+json' }],
    ];
    for (const [label, raw, headers] of cases) {
      const res = await refused(`415 ${label}`, () => createRaw(raw, headers), 415, 'unsupported_media_type');
      assert.match(res.body.error.message, /application\/json/, label);
    }
    await refused('415 no body at all', () => api(t, 'POST', '/v1/payments', { key: a.apiKey }), 415, 'unsupported_media_type');
    // charset parameters are fine: the same body with a charset goes through to validation.
    await refused('json with charset reaches validation', () => createRaw(JSON.stringify(paymentBody(orderId('CT'), { amount: '-1' })), { 'content-type': 'application/json; charset=utf-8' }), 400, 'invalid_amount');
  });

  it('POST /v1/payments: a body over 16 KiB → 413 payload_too_large (declared or streamed)', async () => {
    const limit = 16 * 1024;
    // Exactly at the limit: read and validated (a bad amount, so nothing would be stored anyway).
    const atLimit = JSON.stringify(paymentBody(orderId('BIG'), { amount: '-1' }));
    await refused('16 KiB exactly is read', () => createRaw(atLimit + ' '.repeat(limit - Buffer.byteLength(atLimit))), 400, 'invalid_amount');
    const valid = JSON.stringify(paymentBody(orderId('BIG')));
    const res = await refused('16 KiB + 1 byte', () => createRaw(valid + ' '.repeat(limit + 1 - Buffer.byteLength(valid))), 413, 'payload_too_large');
    assert.match(res.body.error.message, /16384 bytes/);
    await refused('1 MiB', () => createRaw(JSON.stringify(paymentBody(orderId('BIG'), { metadata: { pad: 'x'.repeat(1024 * 1024) } }))), 413, 'payload_too_large');

    // Chunked, no Content-Length: the limit still holds while streaming.
    const body = JSON.stringify(paymentBody(orderId('BIG'))) + ' '.repeat(20 * 1024);
    const chunked = `POST /v1/payments HTTP/1.1\r\nHost: ${host()}\r\nAuthorization: Bearer ${a.apiKey}\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n`
      + `${Buffer.byteLength(body).toString(16)}\r\n${body}\r\n0\r\n\r\n`;
    const streamed = await harmless('413 chunked', () => rawRequest(chunked));
    assert.equal(streamed.status, 413);
    assert.equal(streamed.body.error.code, 'payload_too_large');
    // Content-Length says more than the limit: refused before reading.
    const declared = `POST /v1/payments HTTP/1.1\r\nHost: ${host()}\r\nAuthorization: Bearer ${a.apiKey}\r\nContent-Type: application/json\r\nContent-Length: 999999999\r\nConnection: close\r\n\r\n{}`;
    const early = await harmless('413 declared', () => rawRequest(declared));
    assert.equal(early.status, 413);
    assert.equal(early.body.error.code, 'payload_too_large');
  });

  it('POST /v1/payments: invalid JSON, bad UTF-8 and non-object bodies → 400', async () => {
    const valid = JSON.stringify(paymentBody(orderId('JS')));
    const invalid: [string, string | Buffer][] = [
      ['not JSON', 'not json'],
      ['empty body', ''],
      ['truncated JSON', valid.slice(0, -1)],
      ['truncated mid-string', valid.slice(0, 20)],
      ['single quotes', `{'orderId':'X'}`],
      ['unquoted keys', '{orderId: "X"}'],
      ['trailing comma', valid.slice(0, -1) + ',}'],
      ['NaN literal', valid.replace('"25.00"', 'NaN')],
      ['Infinity literal', valid.replace('"25.00"', 'Infinity')],
      ['two objects', valid + valid],
      ['comment', '/* hi */' + valid],
      ['invalid UTF-8 byte in a string', Buffer.concat([Buffer.from(valid.slice(0, 12)), Buffer.from([0xff, 0xfe]), Buffer.from(valid.slice(12))])],
      ['overlong UTF-8 encoding of "/"', Buffer.concat([Buffer.from(valid.slice(0, 12)), Buffer.from([0xc0, 0xaf]), Buffer.from(valid.slice(12))])],
      ['lone continuation byte', Buffer.concat([Buffer.from(valid), Buffer.from([0x80])])],
      ['UTF-16 encoded', Buffer.from('\ufeff' + valid, 'utf16le')],
    ];
    for (const [label, raw] of invalid) await refused(`400 ${label}`, () => createRaw(raw), 400, 'invalid_json');
    for (const top of ['[]', `[${valid}]`, '"a string"', 'null', '123', 'true']) {
      await refused(`400 top-level ${top.slice(0, 20)}`, () => createRaw(top), 400, 'invalid_body');
    }
  });

  // ─── Authentication ─────────────────────────────────────────────────────────────────────────

  it('missing, wrong, revoked and malformed API keys → 401 on both payment endpoints', async () => {
    const revoked = await (async () => {
      const { issueApiKey } = await import('../../src/db/stores-repo.ts');
      const key = await issueApiKey(t.app.db.pool, a.store.id);
      await t.app.db.pool.query('UPDATE store_api_keys SET revoked_at = now() WHERE store_id = $1 AND revoked_at IS NULL AND prefix = $2', [a.store.id, key.slice(0, 14)]);
      return key;
    })();
    const cases: [string, Record<string, string>, string][] = [
      ['no Authorization', {}, 'missing_api_key'],
      ['empty Authorization', { authorization: '' }, 'missing_api_key'],
      ['Bearer with no key', { authorization: 'Bearer' }, 'missing_api_key'],
      ['Basic auth', { authorization: `Basic ${Buffer.from(`${a.apiKey}:`).toString('base64')}` }, 'missing_api_key'],
      ['key without scheme', { authorization: a.apiKey }, 'missing_api_key'],
      ['Token scheme', { authorization: `Token ${a.apiKey}` }, 'missing_api_key'],
      ['two words after Bearer', { authorization: `Bearer ${a.apiKey} extra` }, 'missing_api_key'],
      ['key in X-Api-Key instead', { 'x-api-key': a.apiKey }, 'missing_api_key'],
      ['wrong key', { authorization: 'Bearer wrong' }, 'invalid_api_key'],
      ['well-formed unknown key', { authorization: `Bearer cb_live_${crypto.randomBytes(24).toString('base64url')}` }, 'invalid_api_key'],
      ['key minus its last character', { authorization: `Bearer ${a.apiKey.slice(0, -1)}` }, 'invalid_api_key'],
      ['key in another case', { authorization: `Bearer ${a.apiKey.toUpperCase()}` }, 'invalid_api_key'],
      ['revoked key', { authorization: `Bearer ${revoked}` }, 'invalid_api_key'],
      ['SQL in the key', { authorization: "Bearer x'OR'1'='1" }, 'invalid_api_key'],
      ['10 KB key', { authorization: `Bearer ${'k'.repeat(10_000)}` }, 'invalid_api_key'],
      ['sandbox gateway key as store key', { authorization: `Bearer ${sandboxKey}` }, 'invalid_api_key'],
    ];
    for (const [label, headers, code] of cases) {
      // A valid body for a new order: if auth let this through, a payment would be stored.
      await refused(`401 POST ${label}`, () => api(t, 'POST', '/v1/payments', { body: paymentBody(orderId('AUTH')), headers }), 401, code);
      const res = await refused(`401 GET ${label}`, () => api(t, 'GET', `/v1/payments/${paymentA.id}`, { headers }), 401, code);
      assert.match(res.body.error.message, /Bearer|API key/i, label);
      assert.ok(!JSON.stringify(res.body).includes(paymentA.id), `${label}: the payment is not revealed`);
    }
  });

  // ─── Amount, currency, fields ───────────────────────────────────────────────────────────────

  it('bad amounts → 400 invalid_amount naming the amount field', async () => {
    const bad: unknown[] = [
      '-1', '-0.01', -5, '0', '0.00', 0, '-0', 'NaN', 'Infinity', '-Infinity', 'abc', '', ' ', '1e3', '1E3', '1e-2', '0x10', '1,000.00',
      '25.001', '25.0001', 0.001, '+5', '.5', '5.', '1 000', '١٢', '100000000', 100000000, '10000000.01', '99999999999999999999', '1'.repeat(400),
    ];
    for (const amount of bad) {
      const res = await refused(`invalid_amount ${JSON.stringify(amount).slice(0, 30)}`, () => createPayment(paymentBody(orderId('AMT'), { amount })), 400, 'invalid_amount');
      assert.deepEqual(res.body.error.details.map((d: { field: string }) => d.field), ['amount'], JSON.stringify(amount));
    }
    // Raw JSON numbers that print in exponent form are refused too (no float rounding).
    for (const literal of ['1e21', '-1e3', '5e-7']) {
      const raw = JSON.stringify(paymentBody(orderId('AMT'))).replace('"25.00"', literal);
      await refused(`invalid_amount raw ${literal}`, () => createRaw(raw), 400, 'invalid_amount');
    }
    // JPY has no minor unit.
    await refused('invalid_amount JPY 1.5', () => createPayment(paymentBody(orderId('AMT'), { amount: '1.5', currency: 'JPY' })), 400, 'invalid_amount');
    // A non-string, non-number amount fails the schema instead, still naming the field.
    for (const amount of [null, true, {}, ['25.00']]) {
      const res = await refused(`invalid_request amount ${JSON.stringify(amount)}`, () => createPayment(paymentBody(orderId('AMT'), { amount })), 400, 'invalid_request');
      assert.ok(res.body.error.details.some((d: { field: string }) => d.field === 'amount'), JSON.stringify(res.body));
    }
  });

  it('unsupported currencies → 400 unsupported_currency naming the currency field', async () => {
    for (const currency of ['XYZ', 'bitcoin', '', 'BTC', 'USDT', 'US', '$', 'U$D', '💰', 'usd; DROP TABLE payments']) {
      const res = await refused(`unsupported_currency "${currency}"`, () => createPayment(paymentBody(orderId('CUR'), { currency })), 400, 'unsupported_currency');
      assert.deepEqual(res.body.error.details.map((d: { field: string }) => d.field), ['currency']);
    }
    const numeric = await refused('currency as a number', () => createPayment(paymentBody(orderId('CUR'), { currency: 840 })), 400, 'invalid_request');
    assert.ok(numeric.body.error.details.some((d: { field: string }) => d.field === 'currency'));
  });

  it('missing, unknown and malformed fields → 400 invalid_request with details naming the field', async () => {
    const without = (field: string) => { const body: Record<string, unknown> = paymentBody(orderId('F')); delete body[field]; return body; };
    const manyKeys = Object.fromEntries(Array.from({ length: 21 }, (_, i) => [`k${i}`, i]));
    const cases: [string, unknown, string][] = [
      ['missing orderId', without('orderId'), 'orderId'],
      ['missing amount', without('amount'), 'amount'],
      ['missing currency', without('currency'), 'currency'],
      ['missing returnUrl', without('returnUrl'), 'returnUrl'],
      ['orderId too long', paymentBody('O'.repeat(129)), 'orderId'],
      ['orderId empty', paymentBody(''), 'orderId'],
      ['orderId blank', paymentBody('   '), 'orderId'],
      ['orderId with spaces', paymentBody('ORD 1'), 'orderId'],
      ['orderId with double quotes', paymentBody('ORD"1'), 'orderId'],
      ["orderId with single quotes", paymentBody("ORD'1"), 'orderId'],
      ['orderId SQL-ish', paymentBody("1'; DROP TABLE payments;--"), 'orderId'],
      ['orderId HTML', paymentBody('<script>alert(1)</script>'), 'orderId'],
      ['orderId newline', paymentBody('ORD\n1'), 'orderId'],
      ['orderId a number', paymentBody(orderId('F'), { orderId: 42 }), 'orderId'],
      ['orderId null', paymentBody(orderId('F'), { orderId: null }), 'orderId'],
      ['returnUrl not a URL', paymentBody(orderId('F'), { returnUrl: 'not a url' }), 'returnUrl'],
      ['returnUrl javascript:', paymentBody(orderId('F'), { returnUrl: 'javascript:alert(document.cookie)' }), 'returnUrl'],
      ['returnUrl JAVASCRIPT:', paymentBody(orderId('F'), { returnUrl: 'JAVASCRIPT://x.example/%0aalert(1)' }), 'returnUrl'],
      ['returnUrl data:', paymentBody(orderId('F'), { returnUrl: 'data:text/html,<script>alert(1)</script>' }), 'returnUrl'],
      ['returnUrl file:', paymentBody(orderId('F'), { returnUrl: 'file:///etc/passwd' }), 'returnUrl'],
      ['returnUrl ftp:', paymentBody(orderId('F'), { returnUrl: 'ftp://shop.example/' }), 'returnUrl'],
      ['returnUrl relative', paymentBody(orderId('F'), { returnUrl: '/thanks' }), 'returnUrl'],
      ['returnUrl protocol-relative', paymentBody(orderId('F'), { returnUrl: '//evil.example/' }), 'returnUrl'],
      ['returnUrl empty', paymentBody(orderId('F'), { returnUrl: '' }), 'returnUrl'],
      ['returnUrl too long', paymentBody(orderId('F'), { returnUrl: `https://shop.example/${'a'.repeat(2100)}` }), 'returnUrl'],
      ['customerEmail not an email', paymentBody(orderId('F'), { customerEmail: 'not-an-email' }), 'customerEmail'],
      ['customerEmail no domain', paymentBody(orderId('F'), { customerEmail: 'a@' }), 'customerEmail'],
      ['customerEmail no local part', paymentBody(orderId('F'), { customerEmail: '@shop.example' }), 'customerEmail'],
      ['customerEmail with space', paymentBody(orderId('F'), { customerEmail: 'a b@shop.example' }), 'customerEmail'],
      ['customerEmail header injection', paymentBody(orderId('F'), { customerEmail: 'a@shop.example\r\nBcc: all@evil.example' }), 'customerEmail'],
      ['customerEmail too long', paymentBody(orderId('F'), { customerEmail: `${'a'.repeat(250)}@shop.example` }), 'customerEmail'],
      ['customerEmail a number', paymentBody(orderId('F'), { customerEmail: 5 }), 'customerEmail'],
      ['metadata with 21 keys', paymentBody(orderId('F'), { metadata: manyKeys }), 'metadata'],
      ['metadata nested object', paymentBody(orderId('F'), { metadata: { a: { b: 1 } } }), 'metadata.a'],
      ['metadata array value', paymentBody(orderId('F'), { metadata: { a: [1, 2] } }), 'metadata.a'],
      ['metadata value too long', paymentBody(orderId('F'), { metadata: { a: 'x'.repeat(501) } }), 'metadata.a'],
      ['metadata key too long', paymentBody(orderId('F'), { metadata: { ['k'.repeat(65)]: 1 } }), 'metadata'],
      ['metadata an array', paymentBody(orderId('F'), { metadata: ['a'] }), 'metadata'],
      ['metadata a string', paymentBody(orderId('F'), { metadata: 'a=1' }), 'metadata'],
      ['language not a tag', paymentBody(orderId('F'), { language: 'english' }), 'language'],
      ['empty object', {}, 'orderId'],
    ];
    for (const [label, body, field] of cases) {
      const res = await refused(`invalid_request ${label}`, () => createPayment(body), 400, 'invalid_request');
      const details = res.body.error.details as { field: string; problem: string }[];
      assert.ok(Array.isArray(details) && details.length > 0, `${label}: details`);
      for (const d of details) assert.ok(typeof d.field === 'string' && typeof d.problem === 'string' && d.problem.length > 3, `${label}: ${JSON.stringify(d)}`);
      assert.ok(details.some((d) => d.field === field || (field === 'metadata' && d.field.startsWith('metadata'))), `${label}: details name ${field}: ${JSON.stringify(details)}`);
    }
    // Unknown fields, including attempts to set what only the server decides.
    for (const extra of ['foo', 'storeId', 'status', 'id', 'connectionId', '__proto__x']) {
      const res = await refused(`invalid_request unknown ${extra}`, () => createPayment(paymentBody(orderId('F'), { [extra]: 'x' })), 400, 'invalid_request');
      const details = res.body.error.details as { field: string; problem: string }[];
      assert.ok(details.some((d) => d.field === extra || d.problem.includes(`"${extra}"`)), `${extra} is named: ${JSON.stringify(details)}`);
    }
    // A top-level "__proto__" key must not slip past the unknown-field check either.
    await refused('invalid_request __proto__ key', () => createRaw(JSON.stringify(paymentBody(orderId('F'))).replace(/}$/, ',"__proto__":{"status":"paid"}}')), 400, 'invalid_request');
    // Several problems at once: all named.
    const many = await refused('invalid_request several at once', () => createPayment({ orderId: 'a b', amount: '1', currency: 'USD', returnUrl: 'javascript:x', customerEmail: 'nope' }), 400, 'invalid_request');
    assert.deepEqual(many.body.error.details.map((d: { field: string }) => d.field).sort(), ['customerEmail', 'orderId', 'returnUrl']);
  });

  it('bad Idempotency-Key → 400 invalid_idempotency_key, before anything is stored', async () => {
    const cases: [string, string][] = [
      ['256 characters', 'k'.repeat(256)],
      ['tab inside', 'a\tb'],
      ['space inside', 'a b'],
      ['latin-1 character', 'clé'],
    ];
    for (const [label, key] of cases) {
      // A valid body for a new order: a refused key must not let the payment through.
      const res = await refused(`idempotency ${label}`, () => createPayment(paymentBody(orderId('IDEM')), { headers: { 'idempotency-key': key } }), 400, 'invalid_idempotency_key');
      assert.match(res.body.error.message, /Idempotency-Key/);
    }
    // Bytes fetch will not send: raw control characters and non-ASCII UTF-8.
    for (const [label, keyBytes] of [['control char 0x01', Buffer.from([0x61, 0x01, 0x62])], ['DEL character', Buffer.from([0x61, 0x7f, 0x62])], ['UTF-8 bytes', Buffer.from('ключ', 'utf8')], ['escape sequence', Buffer.from('\x1b[31mred')]] as const) {
      const body = JSON.stringify(paymentBody(orderId('IDEM')));
      const req = Buffer.concat([
        Buffer.from(`POST /v1/payments HTTP/1.1\r\nHost: ${host()}\r\nAuthorization: Bearer ${a.apiKey}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\nIdempotency-Key: `),
        keyBytes, Buffer.from(`\r\n\r\n${body}`),
      ]);
      const res = await harmless(`idempotency raw ${label}`, () => rawRequest(req));
      assert.equal(res.status, 400, `${label}: ${res.text.slice(0, 300)}`);
    }
    // The same header twice is joined by Node into "k1, k2": not a valid key.
    const body = JSON.stringify(paymentBody(orderId('IDEM')));
    const twice = `POST /v1/payments HTTP/1.1\r\nHost: ${host()}\r\nAuthorization: Bearer ${a.apiKey}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nIdempotency-Key: k1\r\nIdempotency-Key: k2\r\nConnection: close\r\n\r\n${body}`;
    const res = await harmless('idempotency key sent twice', () => rawRequest(twice));
    assert.deepEqual([res.status, res.body.error?.code], [400, 'invalid_idempotency_key']);
  });

  // ─── GET /v1/payments/:id ───────────────────────────────────────────────────────────────────

  it('GET /v1/payments/:id → 404 for non-uuids, unknown ids and another store\'s payment', async () => {
    const ok = await api(t, 'GET', `/v1/payments/${paymentA.id}`, { key: a.apiKey });
    assert.equal(ok.status, 200, 'store A sees its own payment');
    const ids = [
      'abc', '1', 'undefined', 'null', "1' OR '1'='1", "1';DROP TABLE payments;--", paymentA.ref, `${paymentA.id}x`, paymentA.id.slice(0, -1),
      `{${paymentA.id}}`, paymentA.id.replace(/-/g, ''), '%00', '%E0%A4%A', '..%2F..%2Fetc%2Fpasswd', 'A'.repeat(5000), crypto.randomUUID(),
      '00000000-0000-0000-0000-000000000000',
    ];
    for (const id of ids) {
      const res = await refused(`404 GET /v1/payments/${id.slice(0, 40)}`, () => api(t, 'GET', `/v1/payments/${id.includes('%') ? id : encodeURIComponent(id)}`, { key: a.apiKey }), 404, 'payment_not_found');
      assert.ok(!JSON.stringify(res.body).includes('<script'), 'nothing reflected as markup');
    }
    // Store B's key never sees store A's payment, in any spelling of its id.
    for (const id of [paymentA.id, paymentA.id.toUpperCase()]) {
      const res = await refused(`404 store B reads A's payment ${id}`, () => api(t, 'GET', `/v1/payments/${id}`, { key: b.apiKey }), 404, 'payment_not_found');
      assert.ok(!JSON.stringify(res.body).includes(paymentA.ref), 'nothing of the payment is revealed');
      assert.ok(!JSON.stringify(res.body).includes('A-1'));
    }
    // Path traversal that the URL parser resolves lands on no route.
    await refused('404 /v1/payments/../../etc/passwd', () => api(t, 'GET', '/v1/payments/../../etc/passwd', { key: a.apiKey }), 404, 'not_found');
  });

  // ─── POST /ipn/:gateway/:connectionId ───────────────────────────────────────────────────────

  it('IPN: unknown connection or gateway → 404, before any signature is looked at', async () => {
    const raw = JSON.stringify({ Token: 'x', OrderStatus: 7 });
    const headers = { 'x-hmac-sha256-signature': sign(a.connection.credentials.ipnSecret, raw) };
    for (const id of [crypto.randomUUID(), '00000000-0000-0000-0000-000000000000', 'abc', a.store.id, paymentA.id, "1' OR '1'='1", '..%2F..%2Fetc%2Fpasswd', '%00', '%2e%2e%2f', 'x'.repeat(3000)]) {
      await refused(`404 IPN connection ${id.slice(0, 40)}`, () => ipn(`/ipn/paymento/${id.includes('%') ? id : encodeURIComponent(id)}`, raw, headers), 404, 'unknown_connection');
    }
    for (const gateway of ['bitpay', 'PAYMENTO', '__proto__', 'constructor', 'sandbox']) {
      await refused(`404 IPN gateway ${gateway}`, () => ipn(`/ipn/${gateway}/${a.connection.id}`, raw, headers), 404, 'unknown_gateway');
    }
    await refused('404 IPN path traversal', () => ipn('/ipn/paymento/../../etc/passwd', raw, headers), 404, 'not_found');
    await refused('404 IPN without connection', () => ipn('/ipn/paymento', raw, headers), 404, 'not_found');
  });

  it('IPN: unsigned or forged junk → 401 whatever the body or content type; oversized → 413', async () => {
    const junk: [string, string | Buffer, Record<string, string>][] = [
      ['text/plain', '{"Token":"x","OrderStatus":7}', { 'content-type': 'text/plain' }],
      ['form-encoded', 'Token=x&OrderStatus=7', { 'content-type': 'application/x-www-form-urlencoded' }],
      ['no content type', Buffer.from('{"Token":"x","OrderStatus":7}'), {}],
      ['invalid JSON', 'not json', {}],
      ['truncated JSON', '{"Token":"x","OrderSta', {}],
      ['invalid UTF-8', Buffer.from([0x7b, 0xff, 0xfe, 0x7d]), {}],
      ['array', '[]', {}],
      ['string', '"x"', {}],
      ['null', 'null', {}],
      ['empty', '', {}],
    ];
    for (const [label, raw, headers] of junk) {
      await refused(`401 IPN unsigned ${label}`, () => api(t, 'POST', ipnPath, { raw, headers }), 401, 'invalid_signature');
      await refused(`401 IPN forged ${label}`, () => api(t, 'POST', ipnPath, { raw, headers: { ...headers, 'x-hmac-sha256-signature': sign('guess', raw) } }), 401, 'invalid_signature');
    }
    const big = JSON.stringify({ Token: 'x', OrderStatus: 7, pad: 'x'.repeat(64 * 1024) });
    const res = await refused('413 IPN over 64 KiB', () => ipn(ipnPath, big, { 'x-hmac-sha256-signature': sign(a.connection.credentials.ipnSecret, big) }), 413, 'payload_too_large');
    assert.match(res.body.error.message, /65536 bytes/);
    await refused('413 IPN 1 MiB unsigned', () => ipn(ipnPath, 'x'.repeat(1024 * 1024)), 413, 'payload_too_large');
    const chunked = `POST ${ipnPath} HTTP/1.1\r\nHost: ${host()}\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n`
      + `${(70 * 1024).toString(16)}\r\n${'x'.repeat(70 * 1024)}\r\n0\r\n\r\n`;
    const streamed = await harmless('413 IPN chunked', () => rawRequest(chunked));
    assert.equal(streamed.status, 413);
  });

  it('IPN: a correctly signed but malformed body → 400 malformed_callback', async () => {
    const secret = a.connection.credentials.ipnSecret;
    const bodies: [string, string | Buffer][] = [
      ['not JSON', 'not json'], ['truncated JSON', '{"Token":"x","Order'], ['array', '[]'], ['string', '"x"'], ['null', 'null'], ['number', '7'],
      ['no Token', '{"OrderStatus":7}'], ['empty Token', '{"Token":"","OrderStatus":7}'], ['Token a number', '{"Token":5,"OrderStatus":7}'],
      ['Token too long', JSON.stringify({ Token: 't'.repeat(201), OrderStatus: 7 })], ['no OrderStatus', '{"Token":"x"}'],
      ['OrderStatus garbage', '{"Token":"x","OrderStatus":"paid!"}'], ['OrderStatus a float', '{"Token":"x","OrderStatus":7.5}'],
      ['OrderStatus an object', '{"Token":"x","OrderStatus":{"code":7}}'],
    ];
    for (const [label, raw] of bodies) {
      await refused(`400 IPN signed ${label}`, () => ipn(ipnPath, raw, { 'x-hmac-sha256-signature': sign(secret, raw) }), 400, 'malformed_callback');
    }
  });

  // ─── GET /pay/:ref ──────────────────────────────────────────────────────────────────────────

  it('GET /pay/<garbage> → the 404 page; traversal lands on no route', async () => {
    const ok = await fetch(`${t.url}/pay/${paymentA.ref}`, { redirect: 'manual' });
    assert.equal(ok.status, 200, 'the real link works');
    for (const ref of [
      'garbage', 'x'.repeat(22), paymentA.ref.slice(0, -1), `${paymentA.ref}x`, paymentA.ref.toLowerCase() === paymentA.ref ? paymentA.ref.toUpperCase() : paymentA.ref.toLowerCase(),
      paymentA.id, "1' OR '1'='1", '%00', `${paymentA.ref}%00`, '..%2F..%2Fetc%2Fpasswd', '%E0%A4%A', '%0d%0aLocation:%20https:%2F%2Fevil.example', 'y'.repeat(5000),
    ]) {
      // A page for people (HTML), not a JSON error: shoppers open these links.
      const res = await api(t, 'GET', `/pay/${ref}`);
      seen.push({ label: `404 /pay/${ref.slice(0, 40)}`, status: res.status });
      assert.equal(res.status, 404, `/pay/${ref.slice(0, 40)}`);
      assert.match(String(res.body), /This payment link is not valid/);
      assert.equal(res.headers.get('location'), null, 'no redirect anywhere');
    }
    await refused('404 /pay/../../etc/passwd', () => api(t, 'GET', '/pay/../../etc/passwd'), 404, 'not_found');
    await refused('404 /pay/', () => api(t, 'GET', '/pay/'), 404, 'not_found');
  });

  // ─── The sandbox gateway (speaks Paymento's envelope, { success, message, body }) ───────────

  it('sandbox API: missing or wrong Api-Key → 401; malformed bodies → 400; unknown routes → 404', async () => {
    const sandbox = (path: string, opts: { key?: string | undefined; body?: unknown; raw?: string | Buffer; method?: string } = {}) =>
      api(t, opts.method ?? 'POST', `/sandbox/paymento/v1${path}`, {
        headers: { ...(opts.key === undefined ? {} : { 'api-key': opts.key }), ...(opts.raw !== undefined ? JSON_TYPE : {}) },
        ...(opts.body !== undefined ? { body: opts.body } : {}), ...(opts.raw !== undefined ? { raw: opts.raw } : {}),
      });
    const request = { fiatAmount: '10.00', fiatCurrency: 'USD', orderId: 'SBX-1', returnUrl: 'https://shop.example/' };
    for (const [label, key] of [['no Api-Key', undefined], ['empty Api-Key', ''], ['wrong Api-Key', 'sbx_wrong'], ['store key as Api-Key', a.apiKey], ["SQL Api-Key", "' OR 1=1--"]] as const) {
      for (const path of ['/payment/request', '/payment/verify', '/payment/settings']) {
        await refused(`sandbox 401 ${label} POST ${path}`, () => sandbox(path, { key, body: request }), 401, undefined, 'paymento');
      }
      await refused(`sandbox 401 ${label} GET /ping/merchant`, () => sandbox('/ping/merchant', { key, method: 'GET' }), 401, undefined, 'paymento');
    }
    for (const [label, raw] of [['not JSON', 'nope'], ['truncated', '{"fiatAmount":"1'], ['array', '[]'], ['string', '"x"'], ['null', 'null'], ['empty', '']] as const) {
      for (const path of ['/payment/request', '/payment/verify', '/payment/settings']) {
        await refused(`sandbox 400 ${label} ${path}`, () => sandbox(path, { key: sandboxKey, raw }), 400, undefined, 'paymento');
      }
    }
    // Paymento answers a refused request with 200 and success: false.
    for (const [label, body] of [
      ['no fiatAmount', { fiatCurrency: 'USD' }], ['negative amount', { ...request, fiatAmount: '-1' }], ['exponent amount', { ...request, fiatAmount: '1e3' }],
      ['no currency', { fiatAmount: '1.00' }],
    ] as const) {
      await refused(`sandbox refuses ${label}`, () => sandbox('/payment/request', { key: sandboxKey, body }), 200, undefined, 'paymento');
    }
    // A value of the wrong JSON type fails model binding, as in Paymento's ASP.NET API: 400.
    await refused('sandbox refuses numeric amount', () => sandbox('/payment/request', { key: sandboxKey, body: { ...request, fiatAmount: 10 } }), 400, undefined, 'paymento');
    await refused('sandbox verify unknown token', () => sandbox('/payment/verify', { key: sandboxKey, body: { token: 'f'.repeat(40) } }), 400, undefined, 'paymento');
    await refused('sandbox verify token not a string', () => sandbox('/payment/verify', { key: sandboxKey, body: { token: { $ne: null } } }), 400, undefined, 'paymento');
    await refused('sandbox verify another account\'s token', async () => {
      const { rows } = await t.app.db.pool.query('SELECT gateway_payment_id FROM payments WHERE id = $1', [paymentA.id]);
      return sandbox('/payment/verify', { key: b.connection.credentials.apiKey, body: { token: rows[0].gateway_payment_id } });
    }, 400, undefined, 'paymento');
    await refused('sandbox settings javascript: IPN URL', () => sandbox('/payment/settings', { key: sandboxKey, body: { IPN_Url: 'javascript:alert(1)', IPN_Method: 1 } }), 200, undefined, 'paymento');
    await refused('sandbox unknown API route', () => sandbox('/nope', { key: sandboxKey }), 404, 'not_found');

    // The hosted page and its buttons.
    for (const token of ['garbage', 'f'.repeat(40), "' OR 1=1--"]) {
      await refused(`sandbox page ${token}`, () => api(t, 'GET', `/sandbox/paymento/gateway?token=${encodeURIComponent(token)}`), 404, undefined, 'any');
      await refused(`sandbox button ${token}`, () => api(t, 'POST', `/sandbox/paymento/gateway/${encodeURIComponent(token)}/pay`, { headers: { accept: 'application/json' } }), 404, undefined, 'paymento');
    }
    const { rows } = await t.app.db.pool.query('SELECT gateway_payment_id FROM payments WHERE id = $1', [paymentA.id]);
    for (const action of ['steal', '__proto__', 'constructor', 'toString', '%2e%2e%2fpay']) {
      await refused(`sandbox unknown action ${action}`, () => api(t, 'POST', `/sandbox/paymento/gateway/${rows[0].gateway_payment_id}/${action}`, { headers: { accept: 'application/json' } }), 404, undefined, 'any');
    }
  });

  // ─── Odd requests: repeated parameters, header tricks, unknown routes ───────────────────────

  it('repeated query parameters do not produce a 5xx', async () => {
    await harmless('repeated params on GET payment', () => api(t, 'GET', `/v1/payments/${paymentA.id}?id=x&id=y&expand=a&expand=b&__proto__=x&constructor=y`, { key: a.apiKey }));
    await harmless('repeated params on /pay', () => api(t, 'GET', `/pay/${paymentA.ref}?ref=a&ref=b`));
    await harmless('repeated token on sandbox page', () => api(t, 'GET', '/sandbox/paymento/gateway?token=a&token=b'));
    await harmless('repeated params on POST payment (bad body)', () => api(t, 'POST', '/v1/payments?orderId=a&orderId=b&amount=1&amount=2', { key: a.apiKey, raw: '{', headers: JSON_TYPE }));
    await harmless('repeated params on IPN (unsigned)', () => api(t, 'POST', `${ipnPath}?a=1&a=2`, { raw: '{}', headers: JSON_TYPE }));
    await harmless('query of 8000 parameters', () => api(t, 'GET', `/v1/payments/${paymentA.id}?${Array.from({ length: 8000 }, (_, i) => `p${i % 10}=${i}`).join('&')}`.slice(0, 14_000), { key: a.apiKey }));
  });

  it('header injection and smuggling attempts are refused without a 5xx and store nothing', async () => {
    const body = JSON.stringify(paymentBody(orderId('HDR')));
    const head = (extra: string, contentLength = `Content-Length: ${Buffer.byteLength(body)}\r\n`) =>
      `POST /v1/payments HTTP/1.1\r\nHost: ${host()}\r\nAuthorization: Bearer ${a.apiKey}\r\nContent-Type: application/json\r\n${contentLength}${extra}Connection: close\r\n\r\n${body}`;
    const attempts: [string, string | Buffer][] = [
      ['Content-Length and Transfer-Encoding together', head('Transfer-Encoding: chunked\r\n')],
      ['two different Content-Lengths', head(`Content-Length: ${Buffer.byteLength(body) + 5}\r\n`)],
      ['NUL in a header value', head('Idempotency-Key: a\x00b\r\n')],
      ['bare CR in a header value', head('Idempotency-Key: a\rX-Injected: 1\r\n')],
      ['bare LF in a header line', head('Idempotency-Key: a\nX-Injected: 1\r\n')],
      ['obsolete line folding', head('Idempotency-Key: a\r\n b\r\n')],
      ['header name with a space', head('Idempotency Key: x\r\n')],
      ['20 KB header', head(`X-Big: ${'b'.repeat(20_000)}\r\n`)],
      ['no Host header', `POST /v1/payments HTTP/1.1\r\nAuthorization: Bearer ${a.apiKey}\r\nContent-Type: application/json\r\nContent-Length: 1\r\nConnection: close\r\n\r\n{`],
      ['garbage request line', 'HELLO\r\n\r\n'],
    ];
    for (const [label, req] of attempts) {
      const res = await harmless(`raw ${label}`, () => rawRequest(req));
      assert.ok(res.status >= 400, `${label}: refused, got ${res.status}`);
    }
    // Duplicated auth or content type with a bad body: whatever wins, nothing is stored.
    const dupes: [string, string][] = [
      ['Authorization twice', `POST /v1/payments HTTP/1.1\r\nHost: ${host()}\r\nAuthorization: Bearer nope\r\nAuthorization: Bearer ${a.apiKey}\r\nContent-Type: application/json\r\nContent-Length: 1\r\nConnection: close\r\n\r\n{`],
      ['Content-Type twice', `POST /v1/payments HTTP/1.1\r\nHost: ${host()}\r\nAuthorization: Bearer ${a.apiKey}\r\nContent-Type: text/plain\r\nContent-Type: application/json\r\nContent-Length: 1\r\nConnection: close\r\n\r\n{`],
      ['absolute-form request target', `GET http://evil.example/v1/payments/${paymentA.id} HTTP/1.1\r\nHost: evil.example\r\nAuthorization: Bearer ${b.apiKey}\r\nConnection: close\r\n\r\n`],
    ];
    for (const [label, req] of dupes) {
      const res = await harmless(`raw ${label}`, () => rawRequest(req));
      assert.ok(res.status >= 400 && res.status < 500, `${label}: ${res.status}`);
    }
    // Forwarded headers do not move links elsewhere.
    const fetched = await harmless('forwarded host/proto', () => api(t, 'GET', `/v1/payments/${paymentA.id}`, {
      key: a.apiKey, headers: { 'x-forwarded-host': 'evil.example', 'x-forwarded-proto': 'javascript', 'x-forwarded-for': '1.2.3.4, <script>', forwarded: 'host=evil.example' },
    }));
    assert.equal(fetched.status, 200);
    assert.ok(fetched.body.payUrl.startsWith(`${t.app.config.publicUrl}/pay/`), fetched.body.payUrl);
  });

  it('unknown routes → 404 JSON not_found', async () => {
    for (const [method, path, key] of [
      ['GET', '/', undefined], ['GET', '/nope', undefined], ['GET', '/v1', a.apiKey], ['POST', '/v1/nope', a.apiKey], ['GET', `/v1/payments/${paymentA.id}/events`, a.apiKey],
      ['GET', '/ipn', undefined], ['GET', '/pay', undefined], ['GET', '/sandbox', undefined], ['GET', '/.env', undefined], ['GET', '/%00', undefined],
      ['GET', '/etc/passwd', undefined], ['POST', '/v2/payments', a.apiKey], ['GET', '/administrator', undefined],
    ] as const) {
      const res = await refused(`404 ${method} ${path}`, () => api(t, method, path, key ? { key } : {}), 404, 'not_found');
      assert.ok(res.body.error.message.includes(method), res.body.error.message);
    }
  });

  // ─── Found by these tests ───────────────────────────────────────────────────────────────────

  // Regression: NUL and lone surrogates once reached PostgreSQL and answered 500.
  it('strings the database cannot store (NUL, lone surrogates) → 400 invalid_request, not 500', async () => {
    const cases: [string, string, string][] = [
      ['NUL in a metadata value', JSON.stringify(paymentBody(orderId('NUL'), { metadata: { note: 'a\u0000b' } })), 'metadata'],
      ['NUL in a metadata key', JSON.stringify(paymentBody(orderId('NUL'), { metadata: { 'a\u0000': 'b' } })), 'metadata'],
      ['lone surrogate in a metadata value', JSON.stringify(paymentBody(orderId('NUL'), { metadata: { note: 'QQ' } })).replace('QQ', '\\ud800'), 'metadata'],
      ['NUL in returnUrl', JSON.stringify(paymentBody(orderId('NUL'), { returnUrl: 'https://shop.example/a\u0000b' })), 'returnUrl'],
    ];
    const failures: string[] = [];
    for (const [label, raw, field] of cases) {
      const before = await counts();
      const res = await createRaw(raw);
      seen.push({ label: `NUL ${label}`, status: res.status });
      assert.deepEqual(await counts(), before, `${label}: nothing stored`);
      const named = res.body?.error?.details?.some((d: { field: string }) => d.field.startsWith(field));
      if (res.status !== 400 || res.body?.error?.code !== 'invalid_request' || !named) failures.push(`${label}: ${res.status} ${res.body?.error?.code}`);
    }
    assert.deepEqual(failures, []);
  });

  // Regression: a signed IPN with a NUL in its Token once answered 500, so the gateway would redeliver it forever.
  it('a signed IPN whose Token the database cannot store → 400 malformed_callback, not 500', async () => {
    const raw = JSON.stringify({ Token: 'tok\u0000en', PaymentId: 1, OrderStatus: 7 });
    await refused('IPN signed NUL Token', () => ipn(ipnPath, raw, { 'x-hmac-sha256-signature': sign(a.connection.credentials.ipnSecret, raw) }), 400, 'malformed_callback');
  });

  // Regression: the sandbox once answered 500 to ill-typed input, stored an array as its IPN URL and hid a 413.
  it('the sandbox gateway refuses ill-typed input with a 4xx, not a 500', async () => {
    const key = { 'api-key': sandboxKey };
    const request = { fiatAmount: '10.00', fiatCurrency: 'USD', orderId: 'SBX-2', returnUrl: 'https://shop.example/' };
    const failures: string[] = [];
    const probe = async (label: string, send: () => Promise<ApiResponse>) => {
      const before = await counts();
      const res = await send();
      seen.push({ label: `sandbox ${label}`, status: res.status });
      assert.deepEqual(await counts(), before, `${label}: nothing stored`);
      if (res.status >= 500) failures.push(`${label}: ${res.status}`);
      return res;
    };
    await probe('settings IPN_Method "abc"', () => api(t, 'POST', '/sandbox/paymento/v1/payment/settings', { headers: key, body: { IPN_Url: 'https://shop.example/ipn', IPN_Method: 'abc' } }));
    await probe('settings IPN_Method 1.5', () => api(t, 'POST', '/sandbox/paymento/v1/payment/settings', { headers: key, body: { IPN_Url: 'https://shop.example/ipn', IPN_Method: 1.5 } }));
    await probe('verify NUL token', () => api(t, 'POST', '/sandbox/paymento/v1/payment/verify', { headers: key, body: { token: '\u0000' } }));
    await probe('request NUL orderId', () => api(t, 'POST', '/sandbox/paymento/v1/payment/request', { headers: key, body: { ...request, orderId: 'a\u0000' } }));
    await probe('button NUL token', () => api(t, 'POST', '/sandbox/paymento/gateway/%00/pay', { headers: { accept: 'application/json' } }));
    // An IPN_Url that is not a string passes the /^https?:\/\// test by coercion and is stored.
    const keyB = b.connection.credentials.apiKey;
    const ipnUrlOf = async () => (await t.app.db.pool.query('SELECT ipn_url FROM sandbox_accounts WHERE api_key = $1', [keyB])).rows[0].ipn_url as string;
    const ipnUrlBefore = await ipnUrlOf();
    const arrayUrl = await probe('settings IPN_Url as an array', () => api(t, 'POST', '/sandbox/paymento/v1/payment/settings', { headers: { 'api-key': keyB }, body: { IPN_Url: ['https://shop.example/ipn'], IPN_Method: 1 } }));
    if (arrayUrl.body?.success !== false || (await ipnUrlOf()) !== ipnUrlBefore) {
      failures.push(`settings IPN_Url as an array: ${arrayUrl.status} ${JSON.stringify(arrayUrl.body)}, ipn_url now ${JSON.stringify(await ipnUrlOf())}`);
    }
    const big = await probe('request over 32 KiB', () => api(t, 'POST', '/sandbox/paymento/v1/payment/request', { headers: { ...key, ...JSON_TYPE }, raw: JSON.stringify({ ...request, pad: 'x'.repeat(33 * 1024) }) }));
    if (big.status !== 413) failures.push(`request over 32 KiB: ${big.status} ${JSON.stringify(big.body)} (expected 413)`);
    const made = await probe('request additionalData {}', () => api(t, 'POST', '/sandbox/paymento/v1/payment/request', { headers: key, body: { ...request, additionalData: {} } }));
    if (made.body?.success === true) {
      await probe('verify after additionalData {}', () => api(t, 'POST', '/sandbox/paymento/v1/payment/verify', { headers: key, body: { token: made.body.body } }));
    }
    assert.deepEqual(failures, []);
  });

  // Regression: the router's plain-text 405 / 501 once bypassed the JSON error envelope.
  it('a wrong or unknown method on a known path → 405 with the JSON error envelope', async () => {
    const failures: string[] = [];
    for (const [method, path] of [
      ['DELETE', `/v1/payments/${paymentA.id}`], ['PUT', '/v1/payments'], ['PATCH', `/v1/payments/${paymentA.id}`], ['GET', ipnPath],
      ['PUT', ipnPath], ['DELETE', `/pay/${paymentA.ref}`], ['PROPFIND', `/v1/payments/${paymentA.id}`],
    ] as const) {
      const before = await counts();
      const res = await api(t, method, path, { key: a.apiKey });
      seen.push({ label: `${method} ${path}`, status: res.status });
      assert.deepEqual(await counts(), before, `${method} ${path}: nothing stored`);
      const envelope = typeof res.body?.error?.code === 'string' && typeof res.body?.error?.message === 'string';
      if (res.status !== 405 || !envelope) failures.push(`${method} ${path}: ${res.status} ${JSON.stringify(res.body)}`);
    }
    assert.deepEqual(failures, []);
  });

  // Every answer above was a 4xx (or success): none may be a 5xx.
  it('no answer in this file was a 5xx', () => {
    assert.ok(seen.length > 300, `only ${seen.length} requests were made`);
    const fiveXx = seen.filter((s) => s.status >= 500).map((s) => `${s.status} ${s.label}`);
    assert.deepEqual(fiveXx, []);
  });
});
