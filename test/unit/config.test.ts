import assert from 'node:assert/strict';
import path from 'node:path';
import { describe, it } from 'node:test';
import { loadConfig } from '../../src/config.ts';
import { ConfigError } from '../../src/errors.ts';

/** Runs loadConfig and returns the ConfigError it throws (failing the test if it does not). */
function problemsOf(env: Record<string, string | undefined>): ConfigError {
  try {
    loadConfig(env);
  } catch (err) {
    assert.ok(err instanceof ConfigError, `expected a ConfigError, got ${String(err)}`);
    assert.equal(err.code, 'invalid_config');
    return err;
  }
  assert.fail(`loadConfig accepted ${JSON.stringify(env)}`);
}

/** A production environment that is valid on its own, to add one problem at a time. */
const PRODUCTION = { NODE_ENV: 'production', ENCRYPTION_KEY: Buffer.alloc(32, 1).toString('base64'), PUBLIC_URL: 'https://pay.example.com' };

describe('loadConfig', () => {
  it('has sensible defaults for an empty environment (development)', () => {
    const c = loadConfig({});
    assert.equal(c.env, 'development');
    assert.equal(c.port, 3000);
    assert.equal(c.host, '0.0.0.0');
    assert.equal(c.publicUrl, 'http://localhost:3000');
    assert.equal(c.databaseUrl, undefined, 'no DATABASE_URL: the embedded database');
    assert.equal(c.databasePoolSize, 10);
    assert.equal(c.dataDir, path.resolve('./data'));
    assert.equal(c.encryptionKey, undefined);
    assert.deepEqual(c.shopify, { apiKey: undefined, apiSecret: undefined, adminOrigin: undefined });
    assert.deepEqual(c.paymento, { apiOrigin: 'https://api.paymento.io', gatewayOrigin: 'https://app.paymento.io' });
    assert.equal(c.gatewayTimeoutMs, 10_000);
    assert.equal(c.allowPrivateUrls, false);
    assert.equal(c.logLevel, 'info');
    assert.equal(c.role, 'all');
    assert.equal(c.seedDemo, true, 'the demo store is seeded outside production');
    assert.equal(c.jobPollMs, 1000);
    assert.equal(c.reconcileEvery, '1 minute');
  });

  it('treats empty strings as unset and derives the public URL from PORT', () => {
    const c = loadConfig({ PORT: '', LOG_LEVEL: '', NODE_ENV: '' });
    assert.equal(c.port, 3000);
    assert.equal(c.logLevel, 'info');
    assert.equal(c.env, 'development');
    assert.equal(loadConfig({ PORT: '8080' }).publicUrl, 'http://localhost:8080');
  });

  it('reads every setting it is given', () => {
    const c = loadConfig({
      NODE_ENV: 'test', PORT: '4321', HOST: '127.0.0.1', PUBLIC_URL: 'https://pay.example.com', DATABASE_URL: 'postgresql://u@db:5432/cb',
      DATABASE_POOL_SIZE: '20', DATA_DIR: '/tmp/cb-data', ENCRYPTION_KEY: 'k', SHOPIFY_API_KEY: 'sk', SHOPIFY_API_SECRET: 'ss', LOG_LEVEL: 'debug',
      SHOPIFY_ADMIN_ORIGIN: 'http://127.0.0.1:9999', PAYMENTO_API_ORIGIN: 'http://127.0.0.1:9998/', PAYMENTO_GATEWAY_ORIGIN: 'http://127.0.0.1:9997//',
      ALLOW_PRIVATE_URLS: '1', COINBRIDGE_ROLE: 'worker', SEED_DEMO: 'false', GATEWAY_TIMEOUT_MS: '500', JOB_POLL_MS: '100', RECONCILE_EVERY: '5 minutes',
    });
    assert.equal(c.env, 'test');
    assert.equal(c.port, 4321);
    assert.equal(c.host, '127.0.0.1');
    assert.equal(c.databaseUrl, 'postgresql://u@db:5432/cb');
    assert.equal(c.databasePoolSize, 20);
    assert.equal(c.dataDir, '/tmp/cb-data');
    assert.deepEqual(c.shopify, { apiKey: 'sk', apiSecret: 'ss', adminOrigin: 'http://127.0.0.1:9999' });
    assert.deepEqual(c.paymento, { apiOrigin: 'http://127.0.0.1:9998', gatewayOrigin: 'http://127.0.0.1:9997' }, 'origins lose their trailing slashes');
    assert.equal(c.allowPrivateUrls, true);
    assert.equal(c.role, 'worker');
    assert.equal(c.seedDemo, false);
    assert.equal(c.gatewayTimeoutMs, 500);
    assert.equal(c.jobPollMs, 100);
    assert.equal(c.reconcileEvery, '5 minutes');
  });

  it('production: valid with a key and a public URL, and does not seed the demo store by default', () => {
    const c = loadConfig(PRODUCTION);
    assert.equal(c.env, 'production');
    assert.equal(c.seedDemo, false);
    assert.equal(c.allowPrivateUrls, false);
    assert.equal(c.publicUrl, 'https://pay.example.com');
  });

  it('reports EVERY problem in one ConfigError', () => {
    const err = problemsOf({ NODE_ENV: 'production', PORT: 'eighty', LOG_LEVEL: 'loud', DATABASE_URL: 'mysql://db/cb', ALLOW_PRIVATE_URLS: 'true', SHOPIFY_API_KEY: 'k' });
    const named = (name: string) => err.problems.some((p) => p.startsWith(`${name}:`) || p.startsWith(`${name} `));
    for (const name of ['PORT', 'LOG_LEVEL', 'DATABASE_URL', 'ENCRYPTION_KEY', 'PUBLIC_URL', 'ALLOW_PRIVATE_URLS', 'SHOPIFY_API_KEY']) {
      assert.ok(named(name), `${name} is named in ${JSON.stringify(err.problems)}`);
    }
    assert.equal(err.problems.length, 7, JSON.stringify(err.problems));
    // The message lists every problem too, one per line, for the operator reading the crash.
    for (const p of err.problems) assert.ok(err.message.includes(p), `message includes "${p}"`);
    assert.match(err.message, /cannot start/);
  });

  it('names out-of-range and malformed values', () => {
    for (const [name, value] of [
      ['PORT', '70000'], ['PORT', '-1'], ['PORT', '3.5'], ['NODE_ENV', 'staging'], ['PUBLIC_URL', 'not a url'], ['PUBLIC_URL', 'ftp://pay.example.com'],
      ['DATABASE_POOL_SIZE', '1'], ['GATEWAY_TIMEOUT_MS', '10'], ['JOB_POLL_MS', '10'], ['COINBRIDGE_ROLE', 'both'], ['ALLOW_PRIVATE_URLS', 'yes'],
      ['SEED_DEMO', 'maybe'], ['PAYMENTO_API_ORIGIN', 'api.paymento.io'],
    ] as const) {
      const err = problemsOf({ [name]: value });
      assert.ok(err.problems.some((p) => p.startsWith(`${name}:`)), `${name}=${value}: ${JSON.stringify(err.problems)}`);
    }
  });

  it('production without ENCRYPTION_KEY or PUBLIC_URL is refused, naming each', () => {
    const noKey = problemsOf({ ...PRODUCTION, ENCRYPTION_KEY: undefined });
    assert.deepEqual(noKey.problems.map((p) => p.split(':')[0]), ['ENCRYPTION_KEY']);
    const noUrl = problemsOf({ ...PRODUCTION, PUBLIC_URL: '' });
    assert.deepEqual(noUrl.problems.map((p) => p.split(':')[0]), ['PUBLIC_URL']);
  });

  it('refuses every test seam when NODE_ENV=production, and allows them elsewhere', () => {
    const seams: Record<string, string> = {
      SHOPIFY_ADMIN_ORIGIN: 'http://127.0.0.1:9000', PAYMENTO_API_ORIGIN: 'http://127.0.0.1:9001', PAYMENTO_GATEWAY_ORIGIN: 'http://127.0.0.1:9002', ALLOW_PRIVATE_URLS: 'true',
    };
    for (const [name, value] of Object.entries(seams)) {
      const err = problemsOf({ ...PRODUCTION, [name]: value });
      assert.equal(err.problems.length, 1, JSON.stringify(err.problems));
      assert.match(err.problems[0]!, new RegExp(`^${name}: .*test seam.*production`), name);
    }
    // All at once: all four named.
    const all = problemsOf({ ...PRODUCTION, ...seams });
    assert.deepEqual(all.problems.map((p) => p.split(':')[0]).sort(), Object.keys(seams).sort());
    // Even the harmless-looking value is refused: the seam must be unset.
    assert.ok(problemsOf({ ...PRODUCTION, ALLOW_PRIVATE_URLS: 'false' }).problems[0]!.startsWith('ALLOW_PRIVATE_URLS:'));
    for (const env of ['development', 'test']) {
      const c = loadConfig({ NODE_ENV: env, ...seams });
      assert.equal(c.allowPrivateUrls, true);
      assert.equal(c.paymento.apiOrigin, 'http://127.0.0.1:9001');
      assert.equal(c.paymento.gatewayOrigin, 'http://127.0.0.1:9002');
      assert.equal(c.shopify.adminOrigin, 'http://127.0.0.1:9000');
    }
  });

  it('refuses SHOPIFY_API_KEY without SHOPIFY_API_SECRET (and the reverse)', () => {
    const keyOnly = problemsOf({ SHOPIFY_API_KEY: 'key' });
    assert.equal(keyOnly.problems.length, 1);
    assert.match(keyOnly.problems[0]!, /SHOPIFY_API_KEY.*SHOPIFY_API_SECRET/);
    const secretOnly = problemsOf({ SHOPIFY_API_SECRET: 'secret' });
    assert.match(secretOnly.problems[0]!, /SHOPIFY_API_KEY.*SHOPIFY_API_SECRET/);
    assert.deepEqual(loadConfig({ SHOPIFY_API_KEY: 'key', SHOPIFY_API_SECRET: 'secret' }).shopify.apiKey, 'key');
  });

  it('trims trailing slashes from PUBLIC_URL', () => {
    assert.equal(loadConfig({ PUBLIC_URL: 'https://pay.example.com/' }).publicUrl, 'https://pay.example.com');
    assert.equal(loadConfig({ PUBLIC_URL: 'https://pay.example.com///' }).publicUrl, 'https://pay.example.com');
    assert.equal(loadConfig({ PUBLIC_URL: 'https://example.com/coinbridge/' }).publicUrl, 'https://example.com/coinbridge');
    assert.equal(loadConfig({ ...PRODUCTION, PUBLIC_URL: 'https://pay.example.com/' }).publicUrl, 'https://pay.example.com');
  });
});
