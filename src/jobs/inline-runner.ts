import type pg from 'pg';
import type { Logger } from '../observability/log.ts';
import { nextAttemptDelayMs, runAttempt, type JobHandler } from './attempts.ts';
import type { JobName, QueuedJob } from './queue.ts';

/**
 * Runs a job this process has just committed, here and now, instead of waiting for Agenda to
 * find it: the first attempt of the hot-path jobs (verify after a callback, store write-back
 * after a transition) then costs two statements — claim and delete — where Agenda's
 * find-lock-save-run-save-remove cycle costs about a dozen. That cycle was what capped
 * settlement (bench/settlement.ts).
 *
 * The job row stays the durable record throughout, and Agenda still owns everything after the
 * first attempt:
 * - the row is committed held for this process (due one lock lifetime later, JobWaker.holdFor),
 *   so Agenda's polls do not race the runner for it under load; the claim is Agenda's own lock
 *   (`locked_at`), taken only on an unlocked row, so a job runs once whoever gets to it first;
 * - a process that dies before or during the job leaves a row that Agenda takes over once the
 *   hold or the lock lifetime lapses, as it does for its own workers;
 * - a failed attempt is written back the way Agenda writes one (fail count, reason, next run
 *   by the handler's backoff, or left failed for a human), so retries are Agenda's.
 */
export class InlineRunner {
  readonly #pool: pg.Pool;
  readonly #table: string;
  readonly #log: Logger;
  readonly #owner: string;
  readonly #handlers: Map<JobName, JobHandler<any>>;
  readonly #wake: (name: JobName) => void;
  /** How long a job committed for this runner is held for it (JobWaker.holdFor). */
  readonly holdMs: number;
  readonly #waiting = new Map<JobName, string[]>();
  readonly #running = new Map<JobName, number>();
  readonly #inFlight = new Set<Promise<void>>();
  #stopped = false;

  constructor(pool: pg.Pool, opts: { table: string; log: Logger; owner: string; handlers: JobHandler<any>[]; holdMs: number; wake: (name: JobName) => void }) {
    this.#pool = pool;
    this.#table = opts.table;
    this.#log = opts.log;
    this.#owner = opts.owner;
    this.#handlers = new Map(opts.handlers.map((h) => [h.name, h]));
    this.holdMs = opts.holdMs;
    this.#wake = opts.wake;
  }

  /** Whether a job of this name committed now would run here. */
  runs(name: JobName): boolean {
    return !this.#stopped && this.#handlers.has(name);
  }

  /**
   * Takes a committed job: runs it here, or — too many waiting already, or stopping — makes a
   * row held for this runner due at once and wakes the job workers for it. False when the job
   * is not this runner's to take (no handler, stopped before it was held): the caller wakes the
   * workers.
   */
  accept(job: QueuedJob): boolean {
    const handler = this.#handlers.get(job.name);
    const waiting = this.#waiting.get(job.name) ?? [];
    if (!this.#stopped && handler && waiting.length < MAX_WAITING) {
      waiting.push(job.id);
      this.#waiting.set(job.name, waiting);
      this.#pump(handler);
      return true;
    }
    if (!job.heldUntil) return false;
    void this.#handOver(job.name, [job.id]);
    return true;
  }

  /** Stops taking jobs, hands the ones not yet claimed to Agenda's workers, and waits for the ones running. */
  async stop(): Promise<void> {
    this.#stopped = true;
    const waiting = [...this.#waiting];
    this.#waiting.clear();
    await Promise.allSettled([...waiting.map(([name, ids]) => this.#handOver(name, ids)), ...this.#inFlight]);
  }

  /** Held rows this runner will not run become due now; if this fails, their hold lapses by itself. */
  async #handOver(name: JobName, ids: string[]): Promise<void> {
    if (ids.length === 0) return;
    try {
      await this.#pool.query(`UPDATE ${this.#table} SET next_run_at = now() WHERE id = ANY($1::uuid[]) AND locked_at IS NULL`, [ids]);
      this.#wake(name);
    } catch (err) {
      this.#log.warn({ job: name, jobs: ids.length, err: (err as Error).message }, 'jobs left to wait out their hold; Agenda runs them then');
    }
  }

  #pump(handler: JobHandler<any>): void {
    const waiting = this.#waiting.get(handler.name);
    const limit = handler.concurrency ?? DEFAULT_CONCURRENCY;
    while (!this.#stopped && waiting && waiting.length > 0 && (this.#running.get(handler.name) ?? 0) < limit) {
      const id = waiting.shift()!;
      this.#running.set(handler.name, (this.#running.get(handler.name) ?? 0) + 1);
      const run = this.#run(handler, id)
        .catch((err: Error) => this.#log.warn({ job: handler.name, jobId: id, err: err.message }, 'inline job bookkeeping failed; Agenda will take the job over'))
        .finally(() => {
          this.#inFlight.delete(run);
          this.#running.set(handler.name, (this.#running.get(handler.name) ?? 1) - 1);
          this.#pump(handler);
        });
      this.#inFlight.add(run);
    }
  }

  async #run(handler: JobHandler<any>, id: string): Promise<void> {
    const claimed = await this.#pool.query<{ data: Record<string, unknown>; fail_count: number | null }>(
      `UPDATE ${this.#table} SET locked_at = now(), last_run_at = now(), last_modified_by = $3
       WHERE id = $1 AND name = $2 AND locked_at IS NULL AND disabled = false AND next_run_at IS NOT NULL
       RETURNING data, fail_count`,
      [id, handler.name, this.#owner],
    );
    // Someone else (an Agenda worker) has it, or it is gone: nothing to do here.
    if (claimed.rowCount === 0) return;
    const row = claimed.rows[0]!;
    const attempt = (row.fail_count ?? 0) + 1;
    const failure = await runAttempt(handler, row.data, attempt, id, this.#log);
    if (!failure) {
      // As Agenda's removeOnComplete: a succeeded one-off job leaves nothing worth keeping.
      await this.#pool.query(`DELETE FROM ${this.#table} WHERE id = $1`, [id]);
      return;
    }
    const delayMs = nextAttemptDelayMs(handler, attempt, failure);
    await this.#pool.query(
      `UPDATE ${this.#table} SET locked_at = NULL, fail_count = $2, fail_reason = $3, failed_at = now(), last_finished_at = now(),
         next_run_at = CASE WHEN $4::int IS NULL THEN NULL ELSE now() + $4::int * interval '1 millisecond' END, last_modified_by = $5
       WHERE id = $1`,
      [id, attempt, (failure as Error).message ?? String(failure), delayMs, this.#owner],
    );
  }
}

/** Beyond this many waiting per job name, new jobs are handed to Agenda's workers. */
const MAX_WAITING = 2000;
const DEFAULT_CONCURRENCY = 5;
