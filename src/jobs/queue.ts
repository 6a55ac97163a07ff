import { Agenda, InMemoryNotificationChannel, toJobId, type Job, type JobNotification } from 'agenda';
import { PostgresBackend } from '@agendajs/postgres-backend';
import type { Database, Queryable } from '../db/database.ts';
import { UpstreamError } from '../errors.ts';
import type { Logger } from '../observability/log.ts';

export const JOBS_TABLE = 'agenda_jobs';

export type JobName = 'payment.verify' | 'payment.expiry-check' | 'payments.reconcile' | 'sandbox.deliver-ipn'
  | 'store.sync' | 'shopify.webhook' | 'shopify.register-webhooks' | 'woocommerce.connect' | 'woocommerce.webhook' | 'woocommerce.reconcile';

export interface JobRequest {
  name: JobName;
  data: Record<string, unknown>;
  runAt?: Date;
}

/**
 * Adds a job inside the caller's transaction, so a committed state change always has its
 * follow-up job: if the process dies right after COMMIT, the row is there for any worker.
 * Waking workers is separate (JobWaker, after commit): a NOTIFY inside the transaction would
 * make every such commit take PostgreSQL's global notify lock and commit one at a time.
 */
export async function enqueueJob(q: Queryable, job: JobRequest): Promise<void> {
  await q.query(
    `INSERT INTO ${JOBS_TABLE} (name, data, next_run_at, priority, type) VALUES ($1, $2::jsonb, coalesce($3::timestamptz, now()), 0, 'normal')`,
    [job.name, JSON.stringify(job.data), job.runAt ?? null],
  );
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

  constructor(publish: (name: JobName) => Promise<void>, log: Logger) {
    this.#publish = publish;
    this.#log = log;
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

export interface JobHandler<T = Record<string, unknown>> {
  name: JobName;
  /** Attempts before the job is left in its failed state for a human. */
  maxAttempts: number;
  concurrency?: number;
  run(data: T, attempt: number): Promise<void>;
}

/** Exponential backoff from 1 s up to 5 min, honouring an upstream's Retry-After. */
export function retryDelayMs(attempt: number, err: unknown): number {
  if (err instanceof UpstreamError && err.retryAfterMs !== undefined) return Math.min(Math.max(err.retryAfterMs, 250), 3_600_000);
  const base = Math.min(1000 * 2 ** (attempt - 1), 300_000);
  return base + Math.floor(Math.random() * base * 0.2);
}

export interface JobRunner {
  agenda: Agenda;
  start(): Promise<void>;
  stop(): Promise<void>;
}

export function createJobRunner(db: Database, opts: { log: Logger; pollMs: number; lockLifetimeMs: number; handlers: JobHandler<any>[]; name: string; localChannel?: InMemoryNotificationChannel | undefined }): JobRunner {
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
        const attempt = (job.attrs.failCount ?? 0) + 1;
        try {
          await handler.run(job.attrs.data as Record<string, unknown>, attempt);
        } catch (err) {
          const retryable = (err as { retryable?: boolean }).retryable !== false;
          opts.log.warn({ job: handler.name, jobId: String(job.attrs._id), attempt, retryable, err: (err as Error).message }, 'job attempt failed');
          throw err;
        }
      },
      {
        concurrency: handler.concurrency ?? 5,
        backoff: ({ attempt, error }) => {
          if ((error as { retryable?: boolean }).retryable === false) return null;
          return attempt >= handler.maxAttempts ? null : retryDelayMs(attempt, error);
        },
      },
    );
  }
  agenda.on('error', (err: Error) => opts.log.error({ err: err.message }, 'job runner error'));
  return {
    agenda,
    async start() {
      await agenda.start();
    },
    async stop() {
      await agenda.stop();
    },
  };
}
