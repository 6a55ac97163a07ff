import { Agenda, InMemoryNotificationChannel, toJobId, type Job, type JobNotification } from 'agenda';
import { PostgresBackend } from '@agendajs/postgres-backend';
import type { Database, Queryable, SqlPart } from '../db/database.ts';
import type { Logger } from '../observability/log.ts';
import { nextAttemptDelayMs, runAttempt, type JobHandler } from './attempts.ts';
import { InlineRunner } from './inline-runner.ts';

export type { JobHandler } from './attempts.ts';

export const JOBS_TABLE = 'agenda_jobs';

export type JobName = 'payment.verify' | 'payment.expiry-check' | 'payments.reconcile' | 'sandbox.deliver-ipn'
  | 'store.sync' | 'shopify.webhook' | 'shopify.register-webhooks' | 'woocommerce.connect' | 'woocommerce.webhook' | 'woocommerce.reconcile';

export interface JobRequest {
  name: JobName;
  data: Record<string, unknown>;
  runAt?: Date;
}

/** A job row as its enqueuer knows it: enough to hand it to a worker once it is committed. */
export interface QueuedJob {
  id: string;
  name: JobName;
  /** Set when the row was held for this process (JobWaker.holdFor): Agenda's workers wait until then. */
  heldUntil?: Date | undefined;
}

/**
 * Adds a job inside the caller's transaction, so a committed state change always has its
 * follow-up job: if the process dies right after COMMIT, the row is there for any worker.
 * Waking workers is separate (JobWaker, after commit): a NOTIFY inside the transaction would
 * make every such commit take PostgreSQL's global notify lock and commit one at a time.
 */
export async function enqueueJob(q: Queryable, job: JobRequest): Promise<QueuedJob> {
  const insert = jobInsert(job);
  const { rows } = await q.query<{ id: string }>(insert.text(1), insert.values);
  return { id: rows[0]!.id, name: job.name };
}

/** enqueueJob as a part of a larger statement (combine); it returns the job's `id`. */
export function jobInsert(job: JobRequest): SqlPart {
  return {
    text: (p) => `INSERT INTO ${JOBS_TABLE} (name, data, next_run_at, priority, type)
      VALUES ($${p}, $${p + 1}::jsonb, coalesce($${p + 2}::timestamptz, now()), 0, 'normal') RETURNING id`,
    values: [job.name, JSON.stringify(job.data), job.runAt ?? null],
  };
}

/**
 * Adds a job that this process means to run itself as soon as the transaction commits (hand it
 * to JobWaker.runSoon then). When this process has a worker for it, the row is held for it
 * (JobWaker.holdFor); otherwise it is due at once, for any worker.
 */
export async function enqueueJobToRunSoon(q: Queryable, waker: JobWaker | undefined, job: Omit<JobRequest, 'runAt'>): Promise<QueuedJob> {
  const request = toRunSoon(waker, job);
  return queuedToRunSoon(request, (await enqueueJob(q, request)).id);
}

/** The request for a job this process means to run itself: held for it when it has a worker for the job. */
export function toRunSoon(waker: JobWaker | undefined, job: Omit<JobRequest, 'runAt'>): JobRequest {
  return { ...job, runAt: waker?.holdFor(job.name) };
}

/** The committed row of a job requested with toRunSoon, as JobWaker.runSoon takes it. */
export function queuedToRunSoon(request: JobRequest, id: string): QueuedJob {
  return { id, name: request.name, heldUntil: request.runAt };
}

/**
 * Tells job workers that jobs are due now, coalesced: at most one wake-up per job name per
 * short window, sent after the jobs were committed. A lost wake-up costs only latency — workers
 * also poll — so it is best-effort by design.
 */
export class JobWaker {
  readonly #publish: (name: JobName) => Promise<void>;
  readonly #log: Logger;
  readonly #pending = new Set<JobName>();
  #timer: NodeJS.Timeout | undefined;
  #inline: InlineRunner | undefined;

  constructor(publish: (name: JobName) => Promise<void>, log: Logger) {
    this.#publish = publish;
    this.#log = log;
  }

  /** From now on, jobs handed to runSoon() run in this process when it has a worker for them. */
  runHere(runner: InlineRunner): void {
    this.#inline = runner;
  }

  /**
   * The `next_run_at` for a job this process will run itself once it is committed: Agenda's
   * workers leave the row alone until then, so they do not race this process for it, and take
   * it over afterwards should this process die before running it. Undefined (due at once) when
   * this process has no worker for the job.
   */
  holdFor(name: JobName): Date | undefined {
    return this.#inline?.runs(name) ? new Date(Date.now() + this.#inline.holdMs) : undefined;
  }

  /**
   * After the job's transaction committed: runs it in this process, or (a web-only process, a
   * stopping one) wakes the workers. Either way the committed row is what guarantees it runs.
   */
  runSoon(job: QueuedJob): void {
    if (!this.#inline?.accept(job)) this.wake(job.name);
  }

  wake(name: JobName): void {
    this.#pending.add(name);
    this.#timer ??= setTimeout(() => this.#flush(), WAKE_WINDOW_MS);
  }

  #flush(): void {
    this.#timer = undefined;
    const names = [...this.#pending];
    this.#pending.clear();
    for (const name of names) {
      this.#publish(name).catch((err: Error) => this.#log.debug({ job: name, err: err.message }, 'job wake-up not sent; workers will poll'));
    }
  }
}

const WAKE_WINDOW_MS = 15;

function wakeNotification(name: JobName): JobNotification {
  return { jobId: toJobId('wake'), jobName: name, nextRunAt: new Date(), priority: 0, timestamp: new Date(), source: 'coinbridge' };
}

/**
 * On a PostgreSQL server the wake-up is a NOTIFY on Agenda's channel, heard by workers in every
 * process; the embedded database is one process, so an in-memory channel does.
 */
export function createJobWaker(db: Database, log: Logger): { waker: JobWaker; localChannel: InMemoryNotificationChannel | undefined } {
  if (db.embedded) {
    const localChannel = new InMemoryNotificationChannel();
    const waker = new JobWaker(async (name) => {
      if (localChannel.state === 'connected') await localChannel.publish(wakeNotification(name));
    }, log);
    return { waker, localChannel };
  }
  const waker = new JobWaker(async (name) => {
    const n = wakeNotification(name);
    await db.pool.query('SELECT pg_notify($1, $2)', [JOBS_TABLE, JSON.stringify({ ...n, nextRunAt: n.nextRunAt?.toISOString(), timestamp: n.timestamp.toISOString() })]);
  }, log);
  return { waker, localChannel: undefined };
}

export interface JobRunner {
  agenda: Agenda;
  /** First attempts of jobs this process commits (JobWaker.runSoon). */
  inline: InlineRunner;
  start(): Promise<void>;
  stop(): Promise<void>;
}

export function createJobRunner(db: Database, opts: { log: Logger; pollMs: number; lockLifetimeMs: number; handlers: JobHandler<any>[]; name: string; waker: JobWaker; localChannel?: InMemoryNotificationChannel | undefined }): JobRunner {
  // The channel must be named: the backend's own default ('agenda:jobs') is not the channel
  // JobWaker notifies, and a waker nobody hears leaves every job waiting for the next poll.
  const backend = new PostgresBackend({ pool: db.pool, tableName: JOBS_TABLE, channelName: JOBS_TABLE, ensureSchema: false, disableNotifications: db.embedded });
  // The LISTEN connection can drop (database restart, failover); the channel reconnects by itself,
  // but an 'error' event without a listener would crash the process.
  (backend.notificationChannel as unknown as NodeJS.EventEmitter | undefined)?.on('error', (err: Error) =>
    opts.log.warn({ err: err.message }, 'job notification channel lost its connection; reconnecting'));
  const agenda = new Agenda({
    backend,
    name: opts.name,
    processEvery: db.embedded ? Math.min(opts.pollMs, 250) : opts.pollMs,
    ...(opts.localChannel ? { notificationChannel: opts.localChannel } : {}),
    defaultLockLifetime: opts.lockLifetimeMs,
    maxConcurrency: 40,
    defaultConcurrency: 5,
    // Succeeded one-off jobs leave nothing worth keeping (the payment's event log has the story);
    // failed ones stay, with failed_at and fail_reason, for a human.
    removeOnComplete: true,
  });
  for (const handler of opts.handlers) {
    agenda.define(
      handler.name,
      async (job: Job) => {
        const failure = await runAttempt(handler, job.attrs.data as Record<string, unknown>, (job.attrs.failCount ?? 0) + 1, String(job.attrs._id), opts.log);
        if (failure !== undefined) throw failure;
      },
      {
        concurrency: handler.concurrency ?? 5,
        backoff: ({ attempt, error }) => nextAttemptDelayMs(handler, attempt, error),
      },
    );
  }
  agenda.on('error', (err: Error) => opts.log.error({ err: err.message }, 'job runner error'));
  const inline = new InlineRunner(db.pool, {
    table: JOBS_TABLE, log: opts.log, owner: opts.name, handlers: opts.handlers, holdMs: opts.lockLifetimeMs, wake: (name) => opts.waker.wake(name),
  });
  return {
    agenda,
    inline,
    async start() {
      await agenda.start();
      opts.waker.runHere(inline);
    },
    async stop() {
      // The runner stays attached: stopped, it holds no new job, and a job held for it just
      // before (a running handler's follow-up) is handed to the workers instead of waiting out
      // its hold.
      await inline.stop();
      await agenda.stop();
    },
  };
}
