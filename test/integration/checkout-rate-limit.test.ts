/**
 * Rate limits on the public endpoints (RATE_LIMIT_PER_MINUTE per client IP and route group), and
 * none where a refusal would lose an event (callbacks) or on the authenticated API.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { loadConfig } from '../../src/config.ts';
import { ConfigError } from '../../src/errors.ts';
import { RateLimiter } from '../../src/http/rate-limit.ts';
import { api, startTestApp, type TestApp } from '../support/harness.ts';

const UNKNOWN_REF = 'Z'.repeat(22);

describe('rate limits (RATE_LIMIT_PER_MINUTE=5)', () => {
  let t: TestApp;
  before(async () => {
    t = await startTestApp({ RATE_LIMIT_PER_MINUTE: '5' });
  });
  after(() => t?.close());

  it('the 6th request to the checkout JSON in a minute → 429 with Retry-After and the error envelope', async () => {
    for (let i = 1; i <= 5; i++) {
      const res = await api(t, 'GET', `/v1/checkout/${UNKNOWN_REF}`);
      assert.equal(res.status, 404, `request ${i} is served`);
    }
    const limited = await api(t, 'GET', `/v1/checkout/${UNKNOWN_REF}`);
    assert.equal(limited.status, 429);
    assert.equal(limited.body.error.code, 'rate_limited');
    assert.match(limited.body.error.message, /wait \d+ s/);
    const retryAfter = Number(limited.headers.get('retry-after'));
    assert.ok(Number.isInteger(retryAfter) && retryAfter >= 1 && retryAfter <= 60, String(retryAfter));
    assert.equal(limited.headers.get('access-control-allow-origin'), '*', 'the widget can read why');
    // The stream shares the group's bucket.
    assert.equal((await api(t, 'GET', `/v1/checkout/${UNKNOWN_REF}/events`)).status, 429);
  });

  it('each public group has its own bucket: pay page, widget, Shopify extension, WooCommerce connect and claim', async () => {
    const groups: [string, string, string?][] = [
      ['GET', `/pay/${UNKNOWN_REF}`], ['GET', '/widget.js'], ['GET', '/widget/nothing-here.js'], ['GET', '/shopify/extension/payment'],
      ['GET', '/woocommerce/connect?store_url=https://shop.example.com'], ['POST', '/woocommerce/claim'],
    ];
    // /widget.js and /widget/… are one group, as are connect and claim: 5 requests across each pair.
    const seen: Record<string, number[]> = {};
    for (const [method, path] of groups) {
      seen[path] = [];
      for (let i = 0; i < 3; i++) seen[path].push((await api(t, method, path, { body: method === 'POST' ? {} : undefined })).status);
    }
    const flat = (paths: string[]) => paths.flatMap((p) => seen[p]!);
    assert.ok(!seen[`/pay/${UNKNOWN_REF}`]!.includes(429), `pay: ${seen[`/pay/${UNKNOWN_REF}`]}`);
    assert.ok(!seen['/shopify/extension/payment']!.includes(429));
    assert.deepEqual(flat(['/widget.js', '/widget/nothing-here.js']).map((s) => s === 429), [false, false, false, false, false, true]);
    assert.deepEqual(flat(['/woocommerce/connect?store_url=https://shop.example.com', '/woocommerce/claim']).map((s) => s === 429), [false, false, false, false, false, true]);
    const pay = await api(t, 'GET', `/pay/${UNKNOWN_REF}`);
    assert.equal(pay.status, 404, '4th pay request');
    await api(t, 'GET', `/pay/${UNKNOWN_REF}`);
    const payLimited = await api(t, 'GET', `/pay/${UNKNOWN_REF}`);
    assert.equal(payLimited.status, 429);
    assert.ok(payLimited.headers.get('retry-after'));
    // Paths are matched as the router matches them: case does not get around the limit.
    assert.equal((await api(t, 'GET', `/PAY/${UNKNOWN_REF}`)).status, 429);
  });

  it('never limits callbacks, webhooks, the authenticated API or health checks', async () => {
    const routes: [string, string][] = [
      ['POST', '/ipn/paymento/00000000-0000-4000-8000-000000000000'], ['POST', '/shopify/webhooks'], ['POST', '/woocommerce/webhooks/00000000-0000-4000-8000-000000000000'],
      ['GET', '/v1/payments/00000000-0000-4000-8000-000000000000'], ['POST', '/v1/payments'], ['GET', '/healthz'],
    ];
    for (const [method, path] of routes) {
      for (let i = 0; i < 12; i++) {
        const res = await api(t, method, path, { raw: method === 'POST' ? '{}' : undefined, headers: method === 'POST' ? { 'content-type': 'application/json' } : {} });
        assert.notEqual(res.status, 429, `${method} ${path} #${i + 1}`);
      }
    }
  });
});

describe('RateLimiter (token bucket)', () => {
  it('allows a burst of the per-minute rate, then one more per refill interval, per key', () => {
    let now = 1_000_000;
    const limiter = new RateLimiter(6, () => now); // one token every 10 s
    for (let i = 0; i < 6; i++) assert.equal(limiter.take('a'), 0);
    assert.equal(limiter.take('a'), 10, 'wait 10 s for the next token');
    assert.equal(limiter.take('b'), 0, 'another key has its own bucket');
    now += 4_000;
    assert.equal(limiter.take('a'), 6);
    now += 6_000;
    assert.equal(limiter.take('a'), 0);
    assert.equal(limiter.take('a'), 10);
    now += 3_600_000;
    for (let i = 0; i < 6; i++) assert.equal(limiter.take('a'), 0, 'refills to the burst, not beyond');
    assert.ok(limiter.take('a') > 0);
  });
});

describe('RATE_LIMIT_PER_MINUTE', () => {
  it('defaults to 600 and must be a whole number of at least 1', () => {
    assert.equal(loadConfig({}).rateLimitPerMinute, 600);
    assert.equal(loadConfig({ RATE_LIMIT_PER_MINUTE: '5' }).rateLimitPerMinute, 5);
    for (const bad of ['0', '-1', '2.5', 'lots']) {
      assert.throws(() => loadConfig({ RATE_LIMIT_PER_MINUTE: bad }), (err: unknown) =>
        err instanceof ConfigError && err.problems.some((p) => p.startsWith('RATE_LIMIT_PER_MINUTE:')), bad);
    }
  });
});
