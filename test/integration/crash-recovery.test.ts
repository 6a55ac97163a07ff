/**
 * A process killed with SIGKILL right after a callback's commit: the callback and its verify job
 * were committed together, so after a restart the job runs and the payment settles.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startPaymentoEmulator, type PaymentoEmulator } from '../emulators/paymento/server.ts';
import { freshDatabaseUrl } from '../support/database.ts';
import { api, freePort, paymentBody, TEST_ENCRYPTION_KEY, waitFor } from '../support/harness.ts';
import { runCli, spawnCoinbridge } from '../support/process.ts';

describe('crash between a callback commit and its job', () => {
  let emu: PaymentoEmulator;
  let dataDir: string;
  let db: Awaited<ReturnType<typeof freshDatabaseUrl>>;
  let env: Record<string, string>;
  let port: number;

  before(async () => {
    emu = await startPaymentoEmulator({ verifyShape: 'docs', ipnRetryDelaysMs: [] });
    dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'cbt-crash-'));
    db = await freshDatabaseUrl();
    port = await freePort();
    env = {
      NODE_ENV: 'test', HOST: '127.0.0.1', PORT: String(port), PUBLIC_URL: `http://127.0.0.1:${port}`, DATA_DIR: dataDir,
      ENCRYPTION_KEY: TEST_ENCRYPTION_KEY, LOG_LEVEL: 'info', SEED_DEMO: 'false', JOB_POLL_MS: '200',
      PAYMENTO_API_ORIGIN: emu.origin, PAYMENTO_GATEWAY_ORIGIN: emu.gatewayOrigin, ALLOW_PRIVATE_URLS: 'true',
      ...(db.url ? { DATABASE_URL: db.url } : {}),
    };
  });
  after(async () => {
    await emu?.close();
    await db?.drop();
    if (dataDir) await fs.rm(dataDir, { recursive: true, force: true });
  });

  it('settles the payment after a restart', async () => {
    const merchant = emu.addMerchant();
    const created = await runCli(['create-store', '--name', 'Crash shop', '--mode', 'live', '--api-key', merchant.apiKey, '--ipn-secret', merchant.secret], env);
    assert.match(created.apiKey, /^cb_live_/);

    // A web-only process: it accepts callbacks and commits their jobs but runs no jobs.
    const web = await spawnCoinbridge({ ...env, COINBRIDGE_ROLE: 'web' }, port);
    const payment = await api(web, 'POST', '/v1/payments', { key: created.apiKey, body: paymentBody('CRASH-1') });
    assert.equal(payment.status, 201, JSON.stringify(payment.body));
    const gatewayToken = new URL((await api(web, 'GET', `/v1/checkout/${payment.body.ref}`)).body.gatewayUrl).searchParams.get('token')!;

    await emu.setStatus(gatewayToken, 7);
    const delivery = emu.deliveries.filter((d) => d.token === gatewayToken).at(-1)!;
    assert.equal(delivery.httpStatus, 200, 'the callback was acknowledged, so it is committed');
    assert.equal(emu.requests.filter((r) => r.path === '/v1/payment/verify').length, 0, 'no verify has run yet');

    web.child.kill('SIGKILL');
    await web.exited;

    const worker = await spawnCoinbridge({ ...env, COINBRIDGE_ROLE: 'all' }, port);
    try {
      await waitFor('the payment to settle after restart', async () => {
        const res = await api(worker, 'GET', `/v1/payments/${payment.body.id}`, { key: created.apiKey });
        return res.body.status === 'paid';
      }, 20_000);
      assert.ok(emu.requests.some((r) => r.path === '/v1/payment/verify'), 'the restarted process asked the gateway');
    } finally {
      worker.child.kill('SIGTERM');
      await worker.exited;
    }
  });
});
