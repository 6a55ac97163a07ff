import { UpstreamError } from '../errors.ts';
import type { Logger } from '../observability/log.ts';
import type { JobName } from './queue.ts';

export interface JobHandler<T = Record<string, unknown>> {
  name: JobName;
  /** Attempts before the job is left in its failed state for a human. */
  maxAttempts: number;
  concurrency?: number;
  run(data: T, attempt: number): Promise<void>;
}

/**
 * Runs one attempt of a job; resolves with the error when it failed (logged here), undefined when
 * it succeeded. Shared by Agenda's workers and the inline runner, so both log alike.
 */
export async function runAttempt(handler: JobHandler<any>, data: Record<string, unknown>, attempt: number, jobId: string, log: Logger): Promise<unknown> {
  try {
    await handler.run(data, attempt);
    return undefined;
  } catch (err) {
    const retryable = (err as { retryable?: boolean }).retryable !== false;
    log.warn({ job: handler.name, jobId, attempt, retryable, err: (err as Error).message }, 'job attempt failed');
    return err ?? new Error('job failed without an error');
  }
}

/** When the attempt after a failed one is due, or null when the job is left failed for a human. */
export function nextAttemptDelayMs(handler: JobHandler<any>, attempt: number, err: unknown): number | null {
  if ((err as { retryable?: boolean } | undefined)?.retryable === false) return null;
  return attempt >= handler.maxAttempts ? null : retryDelayMs(attempt, err);
}

/** Exponential backoff from 1 s up to 5 min, honouring an upstream's Retry-After. */
export function retryDelayMs(attempt: number, err: unknown): number {
  if (err instanceof UpstreamError && err.retryAfterMs !== undefined) return Math.min(Math.max(err.retryAfterMs, 250), 3_600_000);
  const base = Math.min(1000 * 2 ** (attempt - 1), 300_000);
  return base + Math.floor(Math.random() * base * 0.2);
}
