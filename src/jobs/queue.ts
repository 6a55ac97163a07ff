import { Agenda, type Job } from 'agenda';
import { PostgresBackend } from '@agendajs/postgres-backend';
import type { Database, Queryable } from '../db/database.ts';
import { UpstreamError } from '../errors.ts';
import type { Logger } from '../observability/log.ts';

export const JOBS_TABLE = 'agenda_jobs';

export type JobName = 'payment.verify' | 'payment.expiry-check' | 'payments.reconcile' | 'sandbox.deliver-ipn';

export interface JobRequest {
  name: JobName;
  data: Record<string, unknown>;
  runAt?: Date;
}

/**
 * Adds a job inside the caller's transaction, so a committed state change always has its
 * follow-up job: if the process dies right after COMMIT, the row is there for any worker.
 * On a PostgreSQL server the same statement queues a NOTIFY (delivered at commit) that wakes
 * workers in every process at once; the embedded database relies on the polling interval.
 */
export async function enqueueJob(q: Queryable, job: JobRequest, opts: { notify: boolean }): Promise<void> {
  const insert = `INSERT INTO ${JOBS_TABLE} (name, data, next_run_at, priority, type)
    VALUES ($1, $2::jsonb, coalesce($3::timestamptz, now()), 0, 'normal') RETURNING id, name, next_run_at`;
  const sql = opts.notify ? `WITH job AS (${insert}) SELECT ${notifyJobsSql('job')}` : insert;
  await q.query(sql, [job.name, JSON.stringify(job.data), job.runAt ?? null]);
}

/**
 * A select-list expression that NOTIFYs Agenda's channel for every row of `cte` (id, name,
 * next_run_at), in Agenda's payload format. Delivered at commit, to workers in every process.
 */
export function notifyJobsSql(cte: string): string {
  const iso = (expr: string) => `to_char(${expr} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`;
  return `(SELECT count(pg_notify('${JOBS_TABLE}', json_build_object('jobId', ${cte}.id, 'jobName', ${cte}.name,
    'nextRunAt', ${iso(`${cte}.next_run_at`)}, 'priority', 0, 'timestamp', ${iso('now()')}, 'source', 'coinbridge')::text)) FROM ${cte})`;
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

export function createJobRunner(db: Database, opts: { log: Logger; pollMs: number; handlers: JobHandler<any>[]; name: string }): JobRunner {
  const backend = new PostgresBackend({ pool: db.pool, tableName: JOBS_TABLE, ensureSchema: false, disableNotifications: db.embedded });
  // The LISTEN connection can drop (database restart, failover); the channel reconnects by itself,
  // but an 'error' event without a listener would crash the process.
  (backend.notificationChannel as unknown as NodeJS.EventEmitter | undefined)?.on('error', (err: Error) =>
    opts.log.warn({ err: err.message }, 'job notification channel lost its connection; reconnecting'));
  const agenda = new Agenda({
    backend,
    name: opts.name,
    processEvery: db.embedded ? Math.min(opts.pollMs, 250) : opts.pollMs,
    defaultLockLifetime: 60_000,
    maxConcurrency: 40,
    defaultConcurrency: 5,
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
