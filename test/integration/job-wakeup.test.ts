/**
 * A committed job must not wait for the next poll: JobWaker's notification has to reach the job
 * runners of every process. The runner here polls every 30 s, so the job can only run within
 * the test's deadline if the wake-up was heard (a NOTIFY between two pools, as between two
 * processes). The embedded database is left out: it is one process and polls every 250 ms anyway.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { openDatabase, type Database } from '../../src/db/database.ts';
import { migrate } from '../../src/db/migrate.ts';
import { createJobRunner, createJobWaker, enqueueJob, type JobRunner } from '../../src/jobs/queue.ts';
import { createLogger } from '../../src/observability/log.ts';
import { freshServerDatabase } from '../support/database.ts';

// Long enough that only a wake-up can explain a run within the deadline; not longer, because a
// run job keeps an Agenda liveness timer of half the poll interval that holds the process open.
const POLL_MS = 30_000;
const DEADLINE_MS = 15_000;
const log = createLogger('silent');

async function runnerThatRecords(db: Database, localChannel: Parameters<typeof createJobRunner>[1]['localChannel'], ran: (id: string) => void): Promise<JobRunner> {
  const runner = createJobRunner(db, {
    log, pollMs: POLL_MS, lockLifetimeMs: 10_000, name: 'wakeup-test', localChannel, waker: createJobWaker(db, log).waker,
    handlers: [{ name: 'payments.reconcile', maxAttempts: 1, run: async (data) => ran(String(data.id)) }],
  });
  await runner.start();
  // Let the start-up pass finish, so the job below can only be found through a wake-up.
  await new Promise((r) => setTimeout(r, 1000));
  return runner;
}

function jobRun(id: string, seen: Set<string>): Promise<void> {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const check = setInterval(() => {
      if (seen.has(id)) { clearInterval(check); resolve(); }
      else if (Date.now() - started > DEADLINE_MS) { clearInterval(check); reject(new Error(`job ${id} did not run: the wake-up was not heard (the runner polls only every ${POLL_MS} ms)`)); }
    }, 25);
  });
}

describe('job wake-up', () => {
  const cleanups: (() => Promise<unknown>)[] = [];
  after(async () => { for (const c of cleanups.reverse()) await c().catch(() => undefined); });

  it('a wake-up sent by one pool reaches the runner of another (PostgreSQL server)', async () => {
    const server = await freshServerDatabase();
    cleanups.push(server.drop);
    const workerDb = await openDatabase({ url: server.url, dataDir: '', poolSize: 4, log });
    cleanups.push(() => workerDb.close());
    await migrate(workerDb.pool, log);
    const senderDb = await openDatabase({ url: server.url, dataDir: '', poolSize: 2, log });
    cleanups.push(() => senderDb.close());

    const seen = new Set<string>();
    const runner = await runnerThatRecords(workerDb, undefined, (id) => seen.add(id));
    cleanups.push(() => runner.stop());
    const { waker } = createJobWaker(senderDb, log);
    await enqueueJob(senderDb.pool, { name: 'payments.reconcile', data: { id: 'server-1' } });
    waker.wake('payments.reconcile');
    await jobRun('server-1', seen);
  });

  it('without a wake-up the job is not picked up before the poll (so the tests above can fail)', async () => {
    const server = await freshServerDatabase();
    cleanups.push(server.drop);
    const db = await openDatabase({ url: server.url, dataDir: '', poolSize: 4, log });
    cleanups.push(() => db.close());
    await migrate(db.pool, log);
    const seen = new Set<string>();
    const runner = await runnerThatRecords(db, undefined, (id) => seen.add(id));
    cleanups.push(() => runner.stop());
    await enqueueJob(db.pool, { name: 'payments.reconcile', data: { id: 'unwoken-1' } });
    await new Promise((r) => setTimeout(r, 3000));
    assert.equal(seen.has('unwoken-1'), false, 'a job found without a wake-up means this test proves nothing about wake-ups');
  });
});
