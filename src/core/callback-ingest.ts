import type { Database } from '../db/database.ts';
import type { SecretBox } from '../crypto/secret-box.ts';
import { findConnection } from '../db/stores-repo.ts';
import { InputError } from '../errors.ts';
import type { GatewayRegistry } from '../gateways/registry.ts';
import type { GatewayConnection } from '../gateways/types.ts';
import type { JobWaker } from '../jobs/queue.ts';
import { InboxWriter } from './inbox-writer.ts';
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
 * Gateway callbacks in: signature checked on the raw bytes, then stored in the inbox under its
 * dedupe key, logged as an event and given its verify job, atomically (InboxWriter). Workers are
 * woken after the commit. No outbound call happens inside the request.
 */
export class CallbackIngest {
  readonly #db: Database;
  readonly #box: SecretBox;
  readonly #gateways: GatewayRegistry;
  readonly #log: Logger;
  readonly #metrics: Metrics;
  readonly #connections = new Map<string, { conn: GatewayConnection; until: number }>();
  readonly #inbox: InboxWriter;
  readonly #waker: JobWaker;

  constructor(deps: { db: Database; box: SecretBox; gateways: GatewayRegistry; log: Logger; metrics: Metrics; waker: JobWaker }) {
    this.#db = deps.db;
    this.#box = deps.box;
    this.#gateways = deps.gateways;
    this.#log = deps.log;
    this.#metrics = deps.metrics;
    this.#waker = deps.waker;
    this.#inbox = new InboxWriter(deps.db, { verifyDueAt: () => deps.waker.holdFor('payment.verify') });
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
    const written = await this.#inbox.write({
      source, connectionId: conn.id, gatewayPaymentId: hint.gatewayPaymentId, dedupeKey: hint.dedupeKey, rawBody,
      gatewayStatus: hint.gatewayStatus, reported: hint.reported,
    });
    if (!written) {
      this.#metrics.callbackDuplicated(source);
      return { duplicate: true, inboxId: undefined, paymentId: null };
    }
    if (written.verifyJob) this.#waker.runSoon(written.verifyJob);
    else this.#log.warn({ gateway, connectionId, gatewayPaymentId: hint.gatewayPaymentId }, 'callback for an unknown payment stored, not applied');
    return { duplicate: false, inboxId: written.inboxId, paymentId: written.paymentId };
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
