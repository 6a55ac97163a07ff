import type pg from 'pg';
import type { Logger } from '../observability/log.ts';
import { nextAttemptDelayMs, runAttempt, type JobHandler } from './attempts.ts';
import type { JobName, QueuedJob } from './queue.ts';

/**
 * Runs a job this process has just committed, here and now, instead of waiting for Agenda to
 * find it: the first attempt of the hot-path jobs (verify after a callback, store write-back
 * after a transition, platform webhooks) then costs a claim and a delete, each shared by the jobs
 * that start or finish together, where Agenda's find-lock-save-run-save-remove cycle costs about
 * a dozen statements a job. That cycle was what capped settlement (bench/settlement.ts).
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
  readonly #finished: string[] = [];
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
    await Promise.allSettled(waiting.map(([name, ids]) => this.#handOver(name, ids)));
    // Running jobs finish, then their rows are removed: work that starts more work, so wait until none is left.
    while (this.#inFlight.size > 0) await Promise.allSettled([...this.#inFlight]);
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

  /**
   * Starts as many waiting jobs as the handler's concurrency allows, claimed together: under load
   * one statement claims a batch, where one per job would each cost a round trip.
   */
  #pump(handler: JobHandler<any>): void {
    const waiting = this.#waiting.get(handler.name);
    const free = (handler.concurrency ?? DEFAULT_CONCURRENCY) - (this.#running.get(handler.name) ?? 0);
    if (this.#stopped || !waiting || waiting.length === 0 || free <= 0) return;
    const ids = waiting.splice(0, free);
    this.#adjustRunning(handler.name, ids.length);
    this.#track(this.#claimAndRun(handler, ids)
      .catch((err: Error) => this.#log.warn({ job: handler.name, jobs: ids.length, err: err.message }, 'inline jobs not claimed; Agenda runs them once their hold lapses')));
  }

  async #claimAndRun(handler: JobHandler<any>, ids: string[]): Promise<void> {
    let claimed: { id: string; data: Record<string, unknown>; fail_count: number | null }[] = [];
    try {
      ({ rows: claimed } = await this.#pool.query(
        `UPDATE ${this.#table} SET locked_at = now(), last_run_at = now(), last_modified_by = $3
         WHERE id = ANY($1::uuid[]) AND name = $2 AND locked_at IS NULL AND disabled = false AND next_run_at IS NOT NULL
         RETURNING id, data, fail_count`,
        [ids, handler.name, this.#owner],
      ));
    } finally {
      // The ones not claimed are someone else's (an Agenda worker's) or gone: their slots are free again.
      this.#adjustRunning(handler.name, claimed.length - ids.length);
      this.#pump(handler);
    }
    await Promise.all(claimed.map((row) => this.#runClaimed(handler, row)
      .catch((err: Error) => this.#log.warn({ job: handler.name, jobId: row.id, err: err.message }, 'inline job bookkeeping failed; Agenda will take the job over'))
      .finally(() => {
        this.#adjustRunning(handler.name, -1);
        this.#pump(handler);
      })));
  }

  async #runClaimed(handler: JobHandler<any>, row: { id: string; data: Record<string, unknown>; fail_count: number | null }): Promise<void> {
    const attempt = (row.fail_count ?? 0) + 1;
    const failure = await runAttempt(handler, row.data, attempt, row.id, this.#log);
    if (!failure) {
      this.#remove(row.id);
      return;
    }
    const delayMs = nextAttemptDelayMs(handler, attempt, failure);
    await this.#pool.query(
      `UPDATE ${this.#table} SET locked_at = NULL, fail_count = $2, fail_reason = $3, failed_at = now(), last_finished_at = now(),
         next_run_at = CASE WHEN $4::int IS NULL THEN NULL ELSE now() + $4::int * interval '1 millisecond' END, last_modified_by = $5
       WHERE id = $1`,
      [row.id, attempt, (failure as Error).message ?? String(failure), delayMs, this.#owner],
    );
  }

  /**
   * As Agenda's removeOnComplete: a succeeded one-off job leaves nothing worth keeping. Rows of
   * jobs that finished together go in one statement. Should the process die first, a finished
   * job's row stays locked and Agenda runs it once more when the lock lapses: handlers are
   * idempotent, so that costs a repeat, never a double effect.
   */
  #remove(id: string): void {
    this.#finished.push(id);
    if (this.#finished.length > 1) return;
    this.#track(new Promise<void>((resolve) => setImmediate(resolve)).then(async () => {
      const ids = this.#finished.splice(0);
      try {
        await this.#pool.query(`DELETE FROM ${this.#table} WHERE id = ANY($1::uuid[])`, [ids]);
      } catch (err) {
        this.#log.warn({ jobs: ids.length, err: (err as Error).message }, 'finished jobs not removed; Agenda runs them once more when their lock lapses');
      }
    }));
  }

  #adjustRunning(name: JobName, by: number): void {
    this.#running.set(name, (this.#running.get(name) ?? 0) + by);
  }

  #track(work: Promise<void>): void {
    this.#inFlight.add(work);
    void work.finally(() => this.#inFlight.delete(work));
  }
}

/** Beyond this many waiting per job name, new jobs are handed to Agenda's workers. */
const MAX_WAITING = 2000;
const DEFAULT_CONCURRENCY = 5;
