/**
 * The inline runner: a job this process commits runs here at once (JobWaker.runSoon), while the
 * row stays Agenda's to retry and to take over. Agenda polls every 200 ms here, so any test that
 * says "Agenda left it alone" would fail if the hold did not keep its polls away.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { openDatabase, withTransaction, type Database } from '../../src/db/database.ts';
import { migrate } from '../../src/db/migrate.ts';
import { UpstreamError } from '../../src/errors.ts';
import { createJobRunner, createJobWaker, enqueueJobToRunSoon, JOBS_TABLE, type JobHandler, type JobRunner, type JobWaker } from '../../src/jobs/queue.ts';
import { createLogger } from '../../src/observability/log.ts';
import { freshServerDatabase } from '../support/database.ts';

const log = createLogger('silent');
const HOLD_MS = 2500;

interface Run { id: string; attempt: number; at: number }

async function setUp(cleanups: (() => Promise<unknown>)[], run: (data: { id: string }, attempt: number) => Promise<void>):
  Promise<{ db: Database; waker: JobWaker; runner: JobRunner }> {
  const server = await freshServerDatabase();
  cleanups.push(server.drop);
  const db = await openDatabase({ url: server.url, dataDir: '', poolSize: 4, log });
  cleanups.push(() => db.close());
  await migrate(db.pool, log);
  const { waker } = createJobWaker(db, log);
  const handler: JobHandler<{ id: string }> = { name: 'store.sync', maxAttempts: 3, concurrency: 2, run };
  const runner = createJobRunner(db, { log, pollMs: 200, lockLifetimeMs: HOLD_MS, name: 'inline-test', waker, handlers: [handler] });
  await runner.start();
  cleanups.push(() => runner.stop());
  return { db, waker, runner };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(what: string, check: () => boolean | Promise<boolean>, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await sleep(20);
  }
}

async function rowOf(db: Database, id: string): Promise<Record<string, any> | undefined> {
  const { rows } = await db.pool.query(`SELECT * FROM ${JOBS_TABLE} WHERE id = $1`, [id]);
  return rows[0];
}

describe('inline job runner', () => {
  const cleanups: (() => Promise<unknown>)[] = [];
  after(async () => { for (const c of cleanups.reverse()) await c().catch(() => undefined); });

  it('runs a job handed to runSoon at once, once, and removes its row', async () => {
    const runs: Run[] = [];
    const { db, waker } = await setUp(cleanups, async (data, attempt) => { runs.push({ id: data.id, attempt, at: Date.now() }); });
    const committedAt = Date.now();
    const job = await withTransaction(db.pool, (tx) => enqueueJobToRunSoon(tx, waker, { name: 'store.sync', data: { id: 'a' } }));
    assert.ok(job.heldUntil && job.heldUntil.getTime() >= committedAt + HOLD_MS - 50, 'a job this process will run is held from the polls');
    waker.runSoon(job);
    await until('the job ran', () => runs.length === 1);
    assert.ok(runs[0]!.at - committedAt < HOLD_MS / 2, 'it ran at once, not when the hold lapsed');
    await until('its row is gone', async () => (await rowOf(db, job.id)) === undefined);
    await sleep(HOLD_MS + 600);
    assert.deepEqual(runs.map((r) => [r.id, r.attempt]), [['a', 1]], 'no poll ran it a second time');
  });

  it('writes a failed first attempt back as Agenda does, and Agenda runs the retry', async () => {
    const runs: Run[] = [];
    const { db, waker } = await setUp(cleanups, async (data, attempt) => {
      runs.push({ id: data.id, attempt, at: Date.now() });
      if (attempt === 1) throw new UpstreamError('store_busy', 'the store asked to wait', { retryAfterMs: 700 });
    });
    const job = await withTransaction(db.pool, (tx) => enqueueJobToRunSoon(tx, waker, { name: 'store.sync', data: { id: 'b' } }));
    waker.runSoon(job);
    await until('the first attempt failed', () => runs.length === 1);
    await until('the failure is on the row', async () => Number((await rowOf(db, job.id))?.fail_count) === 1);
    const failed = (await rowOf(db, job.id))!;
    assert.equal(failed.locked_at, null, 'the runner let go of it');
    assert.match(failed.fail_reason, /the store asked to wait/);
    assert.ok(failed.next_run_at.getTime() - failed.failed_at.getTime() >= 600, 'the next attempt waits for the Retry-After');
    await until('Agenda ran the retry', () => runs.length === 2);
    assert.equal(runs[1]!.attempt, 2);
    assert.ok(runs[1]!.at - runs[0]!.at >= 600);
    await until('its row is gone', async () => (await rowOf(db, job.id)) === undefined);
  });

  it('a held job whose process never ran it is taken over by Agenda once the hold lapses', async () => {
    const runs: Run[] = [];
    const { db, waker } = await setUp(cleanups, async (data, attempt) => { runs.push({ id: data.id, attempt, at: Date.now() }); });
    const committedAt = Date.now();
    // Committed held, but never handed to runSoon: as if the process died right after COMMIT.
    await withTransaction(db.pool, (tx) => enqueueJobToRunSoon(tx, waker, { name: 'store.sync', data: { id: 'c' } }));
    await sleep(HOLD_MS - 700);
    assert.equal(runs.length, 0, 'Agenda polls every 200 ms, yet left the held row alone');
    await until('Agenda took it over', () => runs.length === 1);
    assert.ok(runs[0]!.at - committedAt >= HOLD_MS - 250);
  });

  it('runs many jobs handed at once each exactly once, claimed in batches, skipping those another worker holds', async () => {
    const runs: Run[] = [];
    let running = 0;
    let mostAtOnce = 0;
    const { db, waker } = await setUp(cleanups, async (data, attempt) => {
      running++;
      mostAtOnce = Math.max(mostAtOnce, running);
      await sleep(5);
      running--;
      runs.push({ id: data.id, attempt, at: Date.now() });
    });
    const jobs = await withTransaction(db.pool, async (tx) => {
      const queued = [];
      for (let i = 0; i < 60; i++) queued.push(await enqueueJobToRunSoon(tx, waker, { name: 'store.sync', data: { id: `m${i}` } }));
      // Every tenth is held by another worker already: the batch claim must leave it alone.
      await tx.query(`UPDATE ${JOBS_TABLE} SET locked_at = now() + interval '1 hour' WHERE id = ANY($1::uuid[])`, [queued.filter((_, i) => i % 10 === 0).map((j) => j.id)]);
      return queued;
    });
    for (const job of jobs) waker.runSoon(job);
    await until('the 54 free jobs ran', () => runs.length === 54);
    await sleep(300);
    assert.equal(runs.length, 54, 'no job ran twice, none of the held ones ran');
    assert.deepEqual(new Set(runs.map((r) => r.id)).size, 54);
    assert.ok(runs.every((r) => !/^m(0|10|20|30|40|50)$/.test(r.id)));
    assert.ok(mostAtOnce <= 2, `the handler's concurrency (2) holds: ${mostAtOnce} ran at once`);
    await until('their rows are gone', async () => {
      const { rows } = await db.pool.query(`SELECT count(*)::int AS n FROM ${JOBS_TABLE} WHERE id = ANY($1::uuid[])`, [jobs.map((j) => j.id)]);
      return rows[0].n === 6;
    });
  });

  it('does not run a job someone else has locked, and hands held jobs back when it stops', async () => {
    const runs: Run[] = [];
    const { db, waker, runner } = await setUp(cleanups, async (data, attempt) => { runs.push({ id: data.id, attempt, at: Date.now() }); });
    const locked = await withTransaction(db.pool, async (tx) => {
      const job = await enqueueJobToRunSoon(tx, waker, { name: 'store.sync', data: { id: 'd' } });
      await tx.query(`UPDATE ${JOBS_TABLE} SET locked_at = now() + interval '1 hour' WHERE id = $1`, [job.id]);
      return job;
    });
    waker.runSoon(locked);
    await sleep(600);
    assert.equal(runs.length, 0, 'a row locked by another worker is not run again here');
    assert.ok(await rowOf(db, locked.id));

    // Held for this process just before it stops (a running handler's follow-up), handed over after.
    const held = await withTransaction(db.pool, (tx) => enqueueJobToRunSoon(tx, waker, { name: 'store.sync', data: { id: 'e' } }));
    assert.ok(held.heldUntil);
    await runner.stop();
    waker.runSoon(held);
    await until('the held row is due at once, for the workers of other processes', async () => ((await rowOf(db, held.id))?.next_run_at?.getTime() ?? Infinity) <= Date.now() + 100);
    assert.equal(waker.holdFor('store.sync'), undefined, 'once stopped, jobs are no longer held for this process');
  });
});
