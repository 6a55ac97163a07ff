// Baseline for bench/settlement.ts: the job queue alone. The same two-hop chain a settlement takes
// (a `payment.verify` job whose run queues a `store.sync` job in its transaction and hands it to
// this process's runner, as Coinbridge does: enqueueJobToRunSoon, then JobWaker.runSoon) on the
// same Agenda-on-PostgreSQL runner, settings and handler concurrencies as Coinbridge, with
// handlers that do nothing else: no gateway call, no payment row, no store.
// Started by the bench as a child process on a database of its own; runs the same two phases as
// the bench (steady rate, then a capped throughput run) and writes the figures as JSON to
// $BENCH_RESULT_FILE.
//
//   env: DATABASE_URL, BENCH_RESULT_FILE, BENCH_STEADY_RATE, BENCH_STEADY_COUNT,
//        BENCH_PEAK_RATE, BENCH_PEAK_SECONDS, BENCH_MAX_IN_FLIGHT, BENCH_RAMP_MS
import fs from 'node:fs/promises';
import { loadConfig } from '../src/config.ts';
import { openDatabase, withTransaction } from '../src/db/database.ts';
import { migrate } from '../src/db/migrate.ts';
import { verifyPaymentJob } from '../src/jobs/payment-jobs.ts';
import { createJobRunner, createJobWaker, enqueueJobToRunSoon } from '../src/jobs/queue.ts';
import { storeSyncJob } from '../src/jobs/store-sync.ts';
import { createLogger } from '../src/observability/log.ts';
import { offer, paced, ratePerSecond } from './lib/http.ts';

export interface BareJobsResult {
  steady: { latenciesMs: number[] };
  peak: { sent: number; ratePerS: number; throttled: boolean };
  /** Chains run in all, warm-up included. */
  chains: number;
}

const num = (name: string): number => {
  const v = Number(process.env[name]);
  if (!Number.isFinite(v) || v <= 0) throw new Error(`${name} must be a positive number`);
  return v;
};

const config = loadConfig({ DATABASE_URL: process.env.DATABASE_URL, LOG_LEVEL: 'warn' });
const log = createLogger('warn');
const db = await openDatabase({ url: config.databaseUrl, dataDir: '.', poolSize: config.databasePoolSize, log });
await migrate(db.pool, log);
const { waker, localChannel } = createJobWaker(db, log);

// The real handlers' limits, read from their definitions so the baseline follows them.
const realVerify = verifyPaymentJob(undefined as never);
const realSync = storeSyncJob(db, [], { leaseMs: 60_000 });

const started: number[] = [];
const finished: number[] = [];
let onFinish: (() => void) | undefined;

const runner = createJobRunner(db, {
  log, pollMs: config.jobPollMs, lockLifetimeMs: config.jobLockLifetimeMs, name: `bare-jobs-${process.pid}`, waker, localChannel,
  handlers: [
    {
      name: 'payment.verify', maxAttempts: realVerify.maxAttempts, concurrency: realVerify.concurrency,
      async run(data: { i: number }) {
        waker.runSoon(await withTransaction(db.pool, (tx) => enqueueJobToRunSoon(tx, waker, { name: 'store.sync', data: { i: data.i } })));
      },
    },
    {
      name: 'store.sync', maxAttempts: realSync.maxAttempts, concurrency: realSync.concurrency,
      async run(data: { i: number }) {
        finished[data.i] = performance.now();
        onFinish?.();
      },
    },
  ],
});
await runner.start();

let next = 0;
let done = 0;
onFinish = () => { done++; };

/** Starts chain i: its first job, committed, then handed to the runner (as the IPN path does). */
async function startChain(): Promise<void> {
  const i = next++;
  started[i] = performance.now();
  waker.runSoon(await enqueueJobToRunSoon(db.pool, waker, { name: 'payment.verify', data: { i } }));
}

async function allDone(): Promise<void> {
  const deadline = Date.now() + 180_000;
  while (done < next) {
    if (Date.now() > deadline) throw new Error(`bare job chains: ${done} of ${next} done after 180 s`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

try {
  await paced(50, 50, startChain); // warm-up
  await allDone();
  const steadyFrom = next;
  await paced(num('BENCH_STEADY_COUNT'), num('BENCH_STEADY_RATE'), startChain);
  await allDone();
  const latenciesMs = started.slice(steadyFrom).map((s, k) => finished[steadyFrom + k]! - s);
  const peakFrom = next;
  const run = await offer({
    rate: num('BENCH_PEAK_RATE'), seconds: num('BENCH_PEAK_SECONDS'), maxInFlight: num('BENCH_MAX_IN_FLIGHT'),
    inFlight: () => next - done, fn: () => void startChain(),
  });
  await allDone();
  const result: BareJobsResult = {
    steady: { latenciesMs },
    peak: { sent: next - peakFrom, ratePerS: ratePerSecond(finished.slice(peakFrom), run.start + num('BENCH_RAMP_MS'), run.end), throttled: run.throttled },
    chains: next,
  };
  await fs.writeFile(process.env.BENCH_RESULT_FILE!, JSON.stringify(result));
} finally {
  await runner.stop();
  await db.close();
}
