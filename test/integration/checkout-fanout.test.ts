/**
 * Live checkout updates across processes: two Coinbridge OS processes on one PostgreSQL server
 * (always the server, also when the suite runs embedded). The shopper's stream is held by A, a
 * web-only process that runs no jobs; the sandbox's IPN lands on B, which verifies and commits.
 * Only PostgreSQL's NOTIFY can tell A.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { freshServerDatabase } from '../support/database.ts';
import { api, freePort, paymentBody, TEST_ENCRYPTION_KEY, waitFor } from '../support/harness.ts';
import { runCli, spawnCoinbridge, type CoinbridgeProcess } from '../support/process.ts';
import { SseStream } from '../support/sse.ts';

describe('checkout events across two processes', () => {
  let db: { url: string; drop(): Promise<void> };
  let dataDir: string;
  let a: CoinbridgeProcess | undefined;
  let b: CoinbridgeProcess | undefined;
  let apiKey: string;

  before(async () => {
    db = await freshServerDatabase();
    dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'cbt-fanout-'));
    const [portA, portB] = [await freePort(), await freePort()];
    // Callbacks are addressed to B's public URL; B's jobs deliver the sandbox IPN to B itself.
    const common = {
      NODE_ENV: 'test', HOST: '127.0.0.1', DATABASE_URL: db.url, DATA_DIR: dataDir, ENCRYPTION_KEY: TEST_ENCRYPTION_KEY, PUBLIC_URL: `http://127.0.0.1:${portB}`,
      SEED_DEMO: 'false', LOG_LEVEL: 'info', ALLOW_PRIVATE_URLS: 'true', JOB_POLL_MS: '200', JOB_LOCK_LIFETIME_MS: '4000',
    };
    const store = await runCli(['create-store', '--name', 'Fan-out shop'], { ...common, PORT: String(portB) });
    apiKey = store.apiKey;
    b = await spawnCoinbridge({ ...common, COINBRIDGE_ROLE: 'all' }, portB);
    a = await spawnCoinbridge({ ...common, COINBRIDGE_ROLE: 'web' }, portA);
  });

  after(async () => {
    for (const p of [a, b]) {
      if (p && p.child.exitCode === null) {
        p.child.kill('SIGTERM');
        await p.exited;
      }
    }
    await db?.drop();
    if (dataDir) await fs.rm(dataDir, { recursive: true, force: true });
  });

  it('a stream on A sees the payment settle when the IPN is delivered to B', async () => {
    const created = await api(a!, 'POST', '/v1/payments', { key: apiKey, body: paymentBody('FANOUT-1') });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const stream = await SseStream.open(`${a!.url}/v1/checkout/${created.body.ref}/events`);
    try {
      assert.equal(stream.status, 200);
      const first = JSON.parse((await stream.waitFor('the current state', () => true)).data);
      assert.equal(first.status, 'created');
      const token = new URL(first.gatewayUrl).searchParams.get('token');
      assert.match(token ?? '', /^[0-9a-f]{40}$/);
      const press = await fetch(`${b!.url}/sandbox/paymento/gateway/${token}/pay`, { method: 'POST', headers: { accept: 'application/json' } });
      assert.equal(press.status, 200);
      const paid = await stream.waitFor('paid, on A', (e) => JSON.parse(e.data).status === 'paid', 30_000);
      assert.ok(Number(paid.id) > first.version);
      await stream.untilEnded();
      // B handled the callback, A never ran a job. (B's log line reaches us through a pipe, maybe
      // after A's stream did.)
      await waitFor('B to log the settlement', async () => /payment settled/.test(b!.output()));
      assert.doesNotMatch(a!.output(), /payment settled/);
    } finally {
      stream.close();
    }
  });

  it('the listening connection of each process comes back after the database drops it, and streams keep working', async () => {
    const admin = new pg.Client({ connectionString: db.url });
    await admin.connect();
    try {
      const listeners = async () => (await admin.query<{ pid: number }>(
        `SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'coinbridge-live-updates' AND query ILIKE 'LISTEN%'`)).rows.map((r) => r.pid);
      const before = await listeners();
      assert.equal(before.length, 2, 'one listening connection per process');
      const created = await api(a!, 'POST', '/v1/payments', { key: apiKey, body: paymentBody('FANOUT-2') });
      assert.equal(created.status, 201);
      const stream = await SseStream.open(`${a!.url}/v1/checkout/${created.body.ref}/events`);
      try {
        const first = JSON.parse((await stream.waitFor('the current state', () => true)).data);
        // Drop both processes' listening connections, as a failover or restart would.
        await admin.query('SELECT pg_terminate_backend(pid) FROM unnest($1::int[]) AS pid', [before]);
        await waitFor('both processes to listen again', async () => {
          const now = await listeners();
          return now.length === 2 && now.every((pid) => !before.includes(pid));
        }, 30_000);
        await waitFor('A to log the lost connection', async () => /listening connection lost; reconnecting/.test(a!.output()));
        const token = new URL(first.gatewayUrl).searchParams.get('token');
        const press = await fetch(`${b!.url}/sandbox/paymento/gateway/${token}/pay`, { method: 'POST', headers: { accept: 'application/json' } });
        assert.equal(press.status, 200);
        await stream.waitFor('paid, on A, after the reconnect', (e) => JSON.parse(e.data).status === 'paid', 30_000);
      } finally {
        stream.close();
      }
    } finally {
      await admin.end();
    }
  });

  // Why version is not max(payment_events.id): ids are taken at insert, not commit, and callbacks
  // append events without locking the payment.
  it('the version grows in commit order even when an event with a larger id committed first', async () => {
    const created = await api(a!, 'POST', '/v1/payments', { key: apiKey, body: paymentBody('FANOUT-3') });
    assert.equal(created.status, 201);
    const ref = created.body.ref as string;
    const read = async () => (await api(a!, 'GET', `/v1/checkout/${ref}`)).body as { status: string; version: number };
    const before = await read();
    const tx = new pg.Client({ connectionString: db.url });
    const other = new pg.Client({ connectionString: db.url });
    await tx.connect();
    await other.connect();
    try {
      const { rows } = await other.query('SELECT id, store_id FROM payments WHERE ref = $1', [ref]);
      const [paymentId, storeId] = [rows[0].id, rows[0].store_id];
      // A verify-like transaction: its event id is taken now, its commit comes later.
      await tx.query('BEGIN');
      await tx.query(`INSERT INTO payment_events (payment_id, store_id, type, from_status, to_status, cause) VALUES ($1, $2, 'transition', 'created', 'pending', 'test')`, [paymentId, storeId]);
      await tx.query(`UPDATE payments SET status = 'pending', updated_at = now() WHERE id = $1`, [paymentId]);
      // Meanwhile a callback's event (a larger id) commits, and a shopper reads.
      await other.query(`INSERT INTO payment_events (payment_id, store_id, type, cause) VALUES ($1, $2, 'callback.received', 'test')`, [paymentId, storeId]);
      const during = await read();
      assert.equal(during.status, 'created', 'the uncommitted change is invisible');
      assert.ok(during.version >= before.version);
      await tx.query('COMMIT');
      const after = await read();
      assert.equal(after.status, 'pending');
      assert.ok(after.version > during.version, `the committed change has a larger version (${during.version} → ${after.version})`);
    } finally {
      await tx.end();
      await other.end();
    }
  });
});
