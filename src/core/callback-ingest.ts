import type { Database } from '../db/database.ts';
import type { SecretBox } from '../crypto/secret-box.ts';
import { findConnection } from '../db/stores-repo.ts';
import { InputError } from '../errors.ts';
import type { GatewayRegistry } from '../gateways/registry.ts';
import type { GatewayConnection } from '../gateways/types.ts';
import { JOBS_TABLE, type JobWaker } from '../jobs/queue.ts';
import type { Logger } from '../observability/log.ts';
import type { Metrics } from '../observability/metrics.ts';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const CONNECTION_TTL_MS = 30_000;

export interface IngestResult {
  duplicate: boolean;
  inboxId: string | undefined;
  paymentId: string | null;
}

/**
 * Gateway callbacks in: signature checked on the raw bytes, then — in ONE statement, so one
 * round trip and one atomic commit — stored in the inbox under its dedupe key, logged as an
 * event, and given its verify job. Workers are woken after the commit. No outbound call happens
 * inside the request.
 */
export class CallbackIngest {
  readonly #db: Database;
  readonly #box: SecretBox;
  readonly #gateways: GatewayRegistry;
  readonly #log: Logger;
  readonly #metrics: Metrics;
  readonly #connections = new Map<string, { conn: GatewayConnection; until: number }>();
  readonly #sql: string;
  readonly #waker: JobWaker;

  constructor(deps: { db: Database; box: SecretBox; gateways: GatewayRegistry; log: Logger; metrics: Metrics; waker: JobWaker }) {
    this.#db = deps.db;
    this.#box = deps.box;
    this.#gateways = deps.gateways;
    this.#log = deps.log;
    this.#metrics = deps.metrics;
    this.#waker = deps.waker;
    this.#sql = `
      WITH p AS (SELECT id, store_id FROM payments WHERE connection_id = $1 AND gateway_payment_id = $2),
      ins AS (
        INSERT INTO inbox (source, connection_id, dedupe_key, payment_id, raw_body, processed_at, outcome)
        SELECT $3, $1, $4, p.id, $5, CASE WHEN p.id IS NULL THEN now() END,
               CASE WHEN p.id IS NULL THEN 'unmatched: no payment with this gateway id on this connection' END
        FROM (SELECT 1) one LEFT JOIN p ON true
        ON CONFLICT (source, connection_id, dedupe_key) DO NOTHING
        RETURNING id, payment_id),
      ev AS (
        INSERT INTO payment_events (payment_id, store_id, type, cause, data)
        SELECT ins.payment_id, p.store_id, 'callback.received', 'gateway callback',
               jsonb_build_object('inboxId', ins.id, 'gatewayStatus', $6::text, 'reported', $7::text, 'signature', 'valid')
        FROM ins JOIN p ON p.id = ins.payment_id),
      job AS (
        INSERT INTO ${JOBS_TABLE} (name, data, next_run_at, priority, type)
        SELECT 'payment.verify', jsonb_build_object('paymentId', ins.payment_id, 'inboxId', ins.id::text), now(), 0, 'normal'
        FROM ins WHERE ins.payment_id IS NOT NULL)
      SELECT (SELECT id FROM ins) AS inbox_id, (SELECT payment_id FROM ins) AS payment_id`;
  }

  async ingest(gateway: string, connectionId: string, rawBody: Buffer, headers: Record<string, string | string[] | undefined>): Promise<IngestResult> {
    const source = gateway;
    if (!this.#gateways.has(gateway)) {
      this.#metrics.callbackRejected(source, 'unknown_gateway');
      throw new InputError('unknown_gateway', `No gateway called "${gateway}"; callback URLs look like /ipn/paymento/{connectionId}.`, 404);
    }
    const conn = await this.#connection(connectionId);
    if (!conn || conn.gateway !== gateway) {
      this.#metrics.callbackRejected(source, 'unknown_connection');
      throw new InputError('unknown_connection', 'No gateway connection with this id; check the callback URL configured at the gateway.', 404);
    }
    this.#metrics.callbackReceived(source);
    const verdict = this.#gateways.adapterFor(conn).parseCallback(conn, rawBody, headers);
    if (!verdict.ok) {
      this.#metrics.callbackRejected(source, verdict.reason);
      if (verdict.reason === 'malformed_body') throw new InputError('malformed_callback', `Callback refused: ${verdict.message}.`, 400);
      await this.#db.pool.query('UPDATE gateway_connections SET rejected_callbacks = rejected_callbacks + 1 WHERE id = $1', [conn.id]);
      this.#log.warn({ gateway, connectionId, reason: verdict.reason, bytes: rawBody.length }, 'callback refused: signature check failed');
      throw new InputError('invalid_signature', `Callback refused: ${verdict.message}.`, 401);
    }
    const { hint } = verdict;
    // Prepared once per connection: PostgreSQL plans this four-part statement only the first time.
    const { rows } = await this.#db.pool.query({
      name: 'callback-ingest', text: this.#sql,
      values: [conn.id, hint.gatewayPaymentId, source, hint.dedupeKey, rawBody, hint.gatewayStatus, hint.reported],
    });
    const row = rows[0] as { inbox_id: string | null; payment_id: string | null };
    if (row.inbox_id === null) {
      this.#metrics.callbackDuplicated(source);
      return { duplicate: true, inboxId: undefined, paymentId: null };
    }
    if (row.payment_id !== null) this.#waker.wake('payment.verify');
    if (row.payment_id === null) this.#log.warn({ gateway, connectionId, gatewayPaymentId: hint.gatewayPaymentId }, 'callback for an unknown payment stored, not applied');
    return { duplicate: false, inboxId: row.inbox_id, paymentId: row.payment_id };
  }

  async #connection(id: string): Promise<GatewayConnection | undefined> {
    if (!UUID.test(id)) return undefined;
    const cached = this.#connections.get(id);
    if (cached && cached.until > Date.now()) return cached.conn;
    const conn = await findConnection(this.#db.pool, this.#box, id);
    if (conn) this.#connections.set(id, { conn, until: Date.now() + CONNECTION_TTL_MS });
    return conn;
  }
}
