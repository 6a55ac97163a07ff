import type { Database } from '../db/database.ts';
import { JOBS_TABLE, type QueuedJob } from '../jobs/queue.ts';

export interface InboxItem {
  source: string;
  connectionId: string;
  gatewayPaymentId: string;
  dedupeKey: string;
  rawBody: Buffer;
  gatewayStatus: string;
  reported: string;
}

/**
 * `undefined` when the item was a duplicate of one already stored. A callback for a known
 * payment comes with the verify job queued for it.
 */
export type InboxWrite = { inboxId: string; paymentId: string | null; verifyJob: QueuedJob | undefined } | undefined;

interface Pending {
  item: InboxItem;
  resolve(result: InboxWrite): void;
  reject(err: unknown): void;
}

const MAX_BATCH = 64;
/**
 * Batches in flight at once, per process. While one commits, new callbacks queue up and leave
 * together in the next: fewer, fuller commits instead of one log flush per callback. One beat two
 * and more on the benchmark at 10 and 50 connections (bench/ipn-ingest.ts); several processes
 * each have their own.
 */
const MAX_IN_FLIGHT = 1;

/**
 * Writes verified callbacks to the inbox — each with its event and its verify job — in one
 * statement per batch. Callbacks that arrive together share a statement and a commit (group
 * commit), so under load PostgreSQL flushes its log once for many callbacks; alone, a callback
 * is written at once. Every caller's promise settles only after its row is committed.
 */
export class InboxWriter {
  readonly #db: Database;
  /** When the verify jobs written now become due for any worker (JobWaker.holdFor); now when undefined. */
  readonly #verifyDueAt: () => Date | undefined;
  #queue: Pending[] = [];
  #scheduled = false;
  #inFlight = 0;

  constructor(db: Database, opts: { verifyDueAt: () => Date | undefined }) {
    this.#db = db;
    this.#verifyDueAt = opts.verifyDueAt;
  }

  write(item: InboxItem): Promise<InboxWrite> {
    return new Promise((resolve, reject) => {
      this.#queue.push({ item, resolve, reject });
      if (!this.#scheduled) {
        this.#scheduled = true;
        // Gather whatever else arrives in this turn of the event loop.
        setImmediate(() => this.#drain());
      }
    });
  }

  #drain(): void {
    this.#scheduled = false;
    while (this.#queue.length > 0 && this.#inFlight < MAX_IN_FLIGHT) {
      this.#inFlight++;
      void this.#flush(this.#queue.splice(0, MAX_BATCH)).finally(() => {
        this.#inFlight--;
        this.#drain();
      });
    }
  }

  async #flush(batch: Pending[]): Promise<void> {
    try {
      const results = await this.#insert(batch.map((p) => p.item));
      batch.forEach((p, i) => p.resolve(results[i]));
    } catch (err) {
      if (batch.length === 1) {
        batch[0]!.reject(err);
        return;
      }
      // One bad item must not fail the others: write them one by one.
      await Promise.all(batch.map((p) => this.#flush([p])));
    }
  }

  async #insert(items: InboxItem[]): Promise<InboxWrite[]> {
    const col = <K extends keyof InboxItem>(k: K) => items.map((i) => i[k]);
    const verifyDueAt = this.#verifyDueAt() ?? null;
    const { rows } = await this.#db.pool.query<{ ord: number; id: string; payment_id: string | null; job_id: string | null }>({
      // Prepared on a server, so PostgreSQL plans this statement once per connection. Not on the
      // embedded database, whose socket bridge loses track of named statements after an error.
      ...(this.#db.embedded ? {} : { name: 'inbox-write' }),
      text: INSERT_SQL,
      values: [col('source'), col('connectionId'), col('gatewayPaymentId'), col('dedupeKey'), col('rawBody'), col('gatewayStatus'), col('reported'),
        verifyDueAt],
    });
    const written = new Map(rows.map((r) => [Number(r.ord), r]));
    const heldUntil = verifyDueAt ?? undefined;
    return items.map((_, i) => {
      const row = written.get(i + 1);
      return row ? { inboxId: row.id, paymentId: row.payment_id, verifyJob: row.job_id ? { id: row.job_id, name: 'payment.verify', heldUntil } : undefined } : undefined;
    });
  }
}

/**
 * Input rows keep their position (`ord`); of several with the same dedupe key only the first is
 * inserted (DISTINCT ON), the rest — like any already stored — are duplicates.
 */
const INSERT_SQL = `
  WITH input AS (
    SELECT * FROM unnest($1::text[], $2::uuid[], $3::text[], $4::text[], $5::bytea[], $6::text[], $7::text[])
      WITH ORDINALITY AS t(source, connection_id, gateway_payment_id, dedupe_key, raw_body, gateway_status, reported, ord)),
  firsts AS (
    SELECT DISTINCT ON (source, connection_id, dedupe_key) input.*, p.id AS payment_id, p.store_id
    FROM input LEFT JOIN payments p ON p.connection_id = input.connection_id AND p.gateway_payment_id = input.gateway_payment_id
    ORDER BY source, connection_id, dedupe_key, ord),
  ins AS (
    INSERT INTO inbox (source, connection_id, dedupe_key, payment_id, raw_body, processed_at, outcome)
    SELECT source, connection_id, dedupe_key, payment_id, raw_body, CASE WHEN payment_id IS NULL THEN now() END,
           CASE WHEN payment_id IS NULL THEN 'unmatched: no payment with this gateway id on this connection' END
    FROM firsts ORDER BY ord
    ON CONFLICT (source, connection_id, dedupe_key) DO NOTHING
    RETURNING id, payment_id, source, connection_id, dedupe_key),
  done AS (
    SELECT ins.id, ins.payment_id, f.store_id, f.ord, f.gateway_status, f.reported
    FROM ins JOIN firsts f USING (source, connection_id, dedupe_key)),
  ev AS (
    INSERT INTO payment_events (payment_id, store_id, type, cause, data)
    SELECT payment_id, store_id, 'callback.received', 'gateway callback',
           jsonb_build_object('inboxId', id, 'gatewayStatus', gateway_status, 'reported', reported, 'signature', 'valid')
    FROM done WHERE payment_id IS NOT NULL ORDER BY ord),
  job AS (
    INSERT INTO ${JOBS_TABLE} (name, data, next_run_at, priority, type)
    SELECT 'payment.verify', jsonb_build_object('paymentId', payment_id, 'inboxId', id::text), coalesce($8::timestamptz, now()), 0, 'normal'
    FROM done WHERE payment_id IS NOT NULL
    RETURNING id, data->>'inboxId' AS inbox_id)
  SELECT done.ord, done.id, done.payment_id, job.id AS job_id FROM done LEFT JOIN job ON job.inbox_id = done.id::text`;
