import crypto from 'node:crypto';
import type pg from 'pg';
import { newPaymentRef } from '../crypto/api-keys.ts';
import type { SecretBox } from '../crypto/secret-box.ts';
import { combine, withTransaction, type Database, type SqlPart } from '../db/database.ts';
import { appendEvent, eventsInsert, findLivePaymentForOrder, findPayment, toPayment, type PaymentEvent, type PaymentRow } from '../db/payments-repo.ts';
import { findConnection, findStore, servingConnections, type Store } from '../db/stores-repo.ts';
import { CoinbridgeError, InputError, UpstreamError } from '../errors.ts';
import type { GatewayRegistry } from '../gateways/registry.ts';
import type { GatewayConnection } from '../gateways/types.ts';
import { enqueueJob, jobInsert, queuedToRunSoon, toRunSoon, type JobRequest, type JobWaker, type QueuedJob } from '../jobs/queue.ts';
import type { Logger } from '../observability/log.ts';
import type { Metrics } from '../observability/metrics.ts';
import { decide } from './decide.ts';
import type { GatewayFact } from './gateway-facts.ts';
import { decimalToString, formatAmount, type Money } from './money.ts';
import { canTransition, isOpen, isPaid, type StoredStatus } from './status.ts';

export interface NewPaymentRequest {
  orderId: string;
  amount: Money;
  returnUrl: string;
  customerEmail?: string | undefined;
  metadata?: Record<string, unknown> | undefined;
  language?: string | undefined;
}

export interface CreateOutcome {
  payment: PaymentRow;
  /** False when an earlier identical request already made it (idempotent replay). */
  created: boolean;
}

/** How long a creating request may hold an order before another request may take over. */
const CLAIM_MS = 20_000;

/** The connections that may create a store's payment, in order. */
type Serving = { primary: GatewayConnection; fallback?: GatewayConnection };
const WAIT_LIMIT_MS = 25_000;

export type VerifyCause = { kind: 'callback'; inboxId: string } | { kind: 'reconcile' } | { kind: 'expiry' } | { kind: 'manual'; by: string };

export class PaymentService {
  readonly #db: Database;
  readonly #box: SecretBox;
  readonly #gateways: GatewayRegistry;
  readonly #log: Logger;
  readonly #metrics: Metrics;
  readonly #publicUrl: string;
  readonly #waker: JobWaker | undefined;

  constructor(deps: { db: Database; box: SecretBox; gateways: GatewayRegistry; log: Logger; metrics: Metrics; publicUrl: string; waker?: JobWaker }) {
    this.#db = deps.db;
    this.#box = deps.box;
    this.#gateways = deps.gateways;
    this.#log = deps.log;
    this.#metrics = deps.metrics;
    this.#publicUrl = deps.publicUrl;
    this.#waker = deps.waker;
  }

  payUrl(payment: Pick<PaymentRow, 'ref'>): string {
    return `${this.#publicUrl}/pay/${payment.ref}`;
  }

  /**
   * One gateway payment per store order, however many identical requests race: the unique
   * index elects one creator; the others wait for its answer (or take over a stale claim).
   * No transaction is held across the gateway call.
   */
  async create(store: Store, req: NewPaymentRequest, idempotencyKey: string | undefined): Promise<CreateOutcome> {
    const serving = await servingConnections(this.#db.pool, this.#box, store.id);
    if (!serving) throw new InputError('no_gateway_connection', 'This store has no gateway connection yet; connect a gateway first.', 409);
    const connection = serving.primary;
    const requestHash = hashRequest(req);
    const deadline = Date.now() + WAIT_LIMIT_MS;

    for (let round = 0; ; round++) {
      if (idempotencyKey) {
        const prior = await this.#paymentForKey(store.id, idempotencyKey, requestHash, req);
        if (prior) {
          const settled = await this.#settleOrWait(prior, serving, store, req, deadline);
          return { payment: settled, created: false };
        }
      }
      const claim = await this.#claimOrder(store, connection, req, requestHash, idempotencyKey);
      if (claim.kind === 'retry') continue;
      if (claim.kind === 'claimed') {
        return { payment: await this.#callGateway(claim.payment, serving, store, req), created: true };
      }
      // The same order for the same money is the same payment, even when incidental details
      // differ (a return URL or email the other path built slightly differently): a store's
      // checkout call and its reconciler may both ask. Different money is a conflict.
      const sameMoney = claim.payment.amount.minor === req.amount.minor && claim.payment.amount.currency === req.amount.currency;
      if (claim.payment.requestHash !== requestHash && !sameMoney) {
        throw new InputError('order_already_has_payment',
          `Order ${req.orderId} already has payment ${claim.payment.id} for a different amount or currency; fetch it with GET /v1/payments/${claim.payment.id}.`,
          409, { paymentId: claim.payment.id });
      }
      const settled = await this.#settleOrWait(claim.payment, serving, store, req, deadline);
      return { payment: settled, created: false };
    }
  }

  async #paymentForKey(storeId: string, key: string, requestHash: string, req: NewPaymentRequest): Promise<PaymentRow | undefined> {
    const { rows } = await this.#db.pool.query(
      'SELECT k.request_hash AS key_hash, p.* FROM idempotency_keys k JOIN payments p ON p.id = k.payment_id WHERE k.store_id = $1 AND k.key = $2',
      [storeId, key],
    );
    if (!rows[0]) return undefined;
    const prior = toPayment(rows[0]);
    // A retry for the same order and money is the same payment even if the shopper changed an
    // incidental detail (their email) in between; anything else under the same key is a mistake.
    const sameOrderAndMoney = prior.orderId === req.orderId && prior.amount.minor === req.amount.minor && prior.amount.currency === req.amount.currency;
    if (rows[0].key_hash !== requestHash && !sameOrderAndMoney) {
      throw new InputError('idempotency_key_reused', 'This Idempotency-Key was already used for a different order or amount; use a new key for a different payment.', 422);
    }
    return prior;
  }

  async #claimOrder(store: Store, connection: GatewayConnection, req: NewPaymentRequest, requestHash: string, key: string | undefined):
    Promise<{ kind: 'claimed' | 'exists'; payment: PaymentRow } | { kind: 'retry' }> {
    try {
      return await withTransaction(this.#db.pool, async (tx) => {
        const { rows } = await tx.query(
          `INSERT INTO payments (ref, store_id, connection_id, order_id, status, amount_minor, currency, return_url, customer_email,
             metadata, request_hash, claimed_until, expires_at)
           VALUES ($1, $2, $3, $4, 'initiating', $5, $6, $7, $8, $9, $10, now() + $11 * interval '1 millisecond', now() + $12 * interval '1 minute')
           ON CONFLICT (store_id, order_id) WHERE status <> 'failed' DO NOTHING RETURNING *`,
          [newPaymentRef(), store.id, connection.id, req.orderId, req.amount.minor.toString(), req.amount.currency, req.returnUrl,
            req.customerEmail ?? null, JSON.stringify(req.metadata ?? {}), requestHash, CLAIM_MS, store.settings.expiryMinutes],
        );
        const inserted = rows[0] ? toPayment(rows[0]) : await findLivePaymentForOrder(tx, store.id, req.orderId);
        if (!inserted) return { kind: 'retry' as const }; // the conflicting row turned `failed` meanwhile
        if (key && inserted.requestHash === requestHash) {
          const k = await tx.query('INSERT INTO idempotency_keys (store_id, key, request_hash, payment_id) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING',
            [store.id, key, requestHash, inserted.id]);
          if (k.rowCount === 0 && rows[0]) throw new KeyRace();
        }
        if (!rows[0]) return { kind: 'exists' as const, payment: inserted };
        await appendEvent(tx, { paymentId: inserted.id, storeId: store.id, type: 'payment.requested', toStatus: 'initiating',
          cause: 'POST /v1/payments', data: { orderId: req.orderId, amount: formatAmount(req.amount), currency: req.amount.currency, idempotencyKey: key ?? null } });
        return { kind: 'claimed' as const, payment: inserted };
      });
    } catch (err) {
      if (err instanceof KeyRace) return { kind: 'retry' };
      throw err;
    }
  }

  /** Waits for whoever is creating the payment, or takes over once its claim has lapsed. */
  async #settleOrWait(payment: PaymentRow, serving: Serving, store: Store, req: NewPaymentRequest, deadline: number): Promise<PaymentRow> {
    let current = payment;
    let pause = 10;
    while (current.status === 'initiating') {
      const { rows } = await this.#db.pool.query(
        `UPDATE payments SET claimed_until = now() + $2 * interval '1 millisecond' WHERE id = $1 AND status = 'initiating' AND claimed_until < now() RETURNING *`,
        [current.id, CLAIM_MS],
      );
      if (rows[0]) return this.#callGateway(toPayment(rows[0]), serving, store, req);
      if (Date.now() > deadline) {
        throw new CoinbridgeError('payment_in_progress', 'The payment for this order is still being created; retry the same request in a few seconds.', { status: 503, retryable: true });
      }
      await new Promise((r) => setTimeout(r, pause));
      pause = Math.min(pause * 2, 200);
      current = (await findPayment(this.#db.pool, current.id)) ?? current;
    }
    return current;
  }

  /**
   * Creates the payment at the store's default gateway; when that refuses or fails and the
   * merchant enabled a fallback, at the fallback instead, so the shopper still gets a way to pay
   * rather than an error page. The event log says why the fallback was used.
   */
  async #callGateway(payment: PaymentRow, serving: Serving, store: Store, req: NewPaymentRequest): Promise<PaymentRow> {
    const first = await this.#createAt(payment, serving.primary, store, req);
    if (first.ok) return first.payment;
    if (!serving.fallback) return this.#giveUp(payment, store, first.error, first.retryable);
    const fallback = serving.fallback;
    // The first attempt may have used most of the claim; the fallback gets a whole one.
    await this.#db.pool.query(`UPDATE payments SET claimed_until = now() + $2 * interval '1 millisecond' WHERE id = $1 AND status = 'initiating'`, [payment.id, CLAIM_MS]);
    await appendEvent(this.#db.pool, { paymentId: payment.id, storeId: store.id, type: 'gateway.fallback',
      cause: `default gateway ${serving.primary.gateway} ${first.retryable ? 'failed' : 'refused'} (${first.error.message}); trying fallback ${fallback.gateway}`,
      data: { from: { connectionId: serving.primary.id, gateway: serving.primary.gateway }, to: { connectionId: fallback.id, gateway: fallback.gateway },
        code: first.error.code ?? 'error', retryable: first.retryable } });
    this.#log.warn({ paymentId: payment.id, from: serving.primary.gateway, to: fallback.gateway, code: first.error.code }, 'default gateway could not create the payment; using the fallback');
    const second = await this.#createAt(payment, fallback, store, req);
    if (second.ok) return second.payment;
    // If either failure was transient, a retry may still succeed: never fail the payment for good then.
    return this.#giveUp(payment, store, second.error, first.retryable || second.retryable);
  }

  /** One create call at one gateway; success is recorded with the connection that served it. */
  async #createAt(payment: PaymentRow, connection: GatewayConnection, store: Store, req: NewPaymentRequest):
    Promise<{ ok: true; payment: PaymentRow } | { ok: false; error: CoinbridgeError; retryable: boolean }> {
    const adapter = this.#gateways.adapterFor(connection);
    const started = Date.now();
    let created: Awaited<ReturnType<typeof adapter.createPayment>>;
    try {
      created = await adapter.createPayment(connection, {
        paymentId: payment.id, orderId: payment.orderId, amount: payment.amount, returnUrl: payment.returnUrl,
        customerEmail: payment.customerEmail ?? undefined, language: req.language, confirmationSpeed: store.settings.confirmationSpeed,
      });
    } catch (err) {
      const e = err as CoinbridgeError;
      await appendEvent(this.#db.pool, { paymentId: payment.id, storeId: store.id, type: 'gateway.create', cause: 'create payment at gateway',
        data: { gateway: connection.gateway, mode: connection.mode, connectionId: connection.id, ms: Date.now() - started, outcome: 'error', code: e.code ?? 'error', message: e.message } });
      return { ok: false, error: e, retryable: e instanceof UpstreamError || e.retryable === true };
    }
    const updated = await withTransaction(this.#db.pool, async (tx) => {
      const { rows } = await tx.query(
        `UPDATE payments SET status = 'created', gateway_payment_id = $2, checkout_url = $3, connection_id = $4, claimed_until = NULL, updated_at = now()
         WHERE id = $1 AND status = 'initiating' RETURNING *`,
        [payment.id, created.gatewayPaymentId, created.checkoutUrl, connection.id],
      );
      if (!rows[0]) return (await findPayment(tx, payment.id))!; // someone who took over our lapsed claim finished first
      const row = toPayment(rows[0]);
      await appendEvent(tx, { paymentId: payment.id, storeId: store.id, type: 'gateway.create', cause: 'create payment at gateway',
        data: { gateway: connection.gateway, mode: connection.mode, connectionId: connection.id, gatewayPaymentId: created.gatewayPaymentId, ms: Date.now() - started, outcome: 'ok' } });
      await appendEvent(tx, { paymentId: payment.id, storeId: store.id, type: 'transition', fromStatus: 'initiating', toStatus: 'created',
        cause: `gateway ${connection.gateway} accepted the payment` });
      await enqueueJob(tx, { name: 'payment.expiry-check', data: { paymentId: payment.id }, runAt: new Date(row.expiresAt.getTime() + 30_000) });
      this.#metrics.transition('created');
      return row;
    });
    return { ok: true, payment: updated };
  }

  async #giveUp(payment: PaymentRow, store: Store, e: CoinbridgeError, retryable: boolean): Promise<never> {
    if (retryable) {
      // The gateway may or may not have made it; leave the claim to lapse so a retry of the
      // same request tries again, and tell the caller to retry.
      await this.#db.pool.query('UPDATE payments SET claimed_until = now() WHERE id = $1 AND status = $2', [payment.id, 'initiating']);
      throw new CoinbridgeError('gateway_unavailable', `The payment gateway is not answering (${e.message}); retry the same request shortly.`, { status: 503, retryable: true, cause: e });
    }
    await withTransaction(this.#db.pool, async (tx) => {
      const { rowCount } = await tx.query(`UPDATE payments SET status = 'failed', failure_reason = $2, claimed_until = NULL, updated_at = now() WHERE id = $1 AND status = 'initiating'`,
        [payment.id, e.message]);
      if (rowCount) {
        await appendEvent(tx, { paymentId: payment.id, storeId: store.id, type: 'transition', fromStatus: 'initiating', toStatus: 'failed', cause: e.message });
        this.#metrics.transition('failed');
      }
    });
    throw new CoinbridgeError('gateway_refused', `The payment gateway refused this payment: ${e.message}. Check the store's gateway connection, then send the request again with a new Idempotency-Key.`,
      { status: 502, cause: e, details: { paymentId: payment.id } });
  }

  /**
   * Asks the gateway for the truth about a payment and applies it. Idempotent: running it twice
   * with the same gateway answer changes nothing the second time.
   */
  async verify(paymentId: string, cause: VerifyCause): Promise<{ status: StoredStatus; changed: boolean }> {
    const payment = await findPayment(this.#db.pool, paymentId);
    if (!payment) throw new CoinbridgeError('unknown_payment', `payment ${paymentId} does not exist`, { status: 404 });
    const inboxId = cause.kind === 'callback' ? cause.inboxId : null;
    if (!payment.gatewayPaymentId || (!isOpen(payment.status) && !['expired', 'cancelled'].includes(payment.status))) {
      await this.#finishInbox(inboxId, `ignored: payment is ${payment.status}`, payment, cause);
      return { status: payment.status, changed: false };
    }
    const connection = await findConnection(this.#db.pool, this.#box, payment.connectionId);
    if (!connection) throw new CoinbridgeError('unknown_connection', `connection ${payment.connectionId} is gone`, { retryable: false });
    const adapter = this.#gateways.adapterFor(connection);
    const started = Date.now();
    let fact: GatewayFact;
    try {
      fact = await adapter.getStatus(connection, payment.gatewayPaymentId);
    } catch (err) {
      const e = err as CoinbridgeError;
      await appendEvent(this.#db.pool, { paymentId, storeId: payment.storeId, type: 'gateway.verify', cause: describeCause(cause),
        data: { outcome: 'error', code: e.code ?? 'error', message: e.message, ms: Date.now() - started } });
      throw err;
    }
    const store = (await findStore(this.#db.pool, payment.storeId))!;
    const cryptoExpected = fact.crypto?.expected ? decimalToString(fact.crypto.expected) : null;
    const cryptoReceived = fact.crypto?.received ? decimalToString(fact.crypto.received) : null;
    // A settlement's hot path: every statement is a round trip made while holding the payment's
    // row lock, so there are two: the locking read, and one statement for all the writes.
    return withTransaction(this.#db.pool, async (tx) => {
      const { rows: [lockedRow] } = await tx.query(
        'SELECT p.*, i.received_at AS observed_at FROM payments p LEFT JOIN inbox i ON i.id = $2::bigint WHERE p.id = $1 FOR UPDATE OF p', [paymentId, inboxId]);
      const locked = toPayment(lockedRow!);
      const observedAt: Date = lockedRow!.observed_at ?? new Date();
      const decision = decide({ status: locked.status, orderId: locked.orderId, amount: locked.amount, expiresAt: locked.expiresAt,
        storeOrderCancelled: locked.storeOrderCancelledAt !== null }, fact, store.settings, observedAt);
      const to = decision.kind === 'transition' ? decision.to : null;
      const paymentUpdate: SqlPart = {
        text: (p) => `UPDATE payments SET last_verified_at = now(), crypto_expected = coalesce($${p + 1}, crypto_expected),
            crypto_received = coalesce($${p + 2}, crypto_received), crypto_coin = coalesce($${p + 3}, crypto_coin), tx_hash = coalesce($${p + 4}, tx_hash),
            network = coalesce($${p + 5}, network), status = coalesce($${p + 6}, status),
            updated_at = CASE WHEN $${p + 6}::text IS NULL THEN updated_at ELSE now() END
          WHERE id = $${p}`,
        values: [paymentId, cryptoExpected, cryptoReceived, fact.crypto?.coin ?? null, fact.txHash ?? null, fact.network ?? null, to],
      };
      const events: PaymentEvent[] = [{ paymentId, storeId: locked.storeId, type: 'gateway.verify', cause: describeCause(cause), data: {
        outcome: 'ok', ms: Date.now() - started, gatewayStatus: fact.gatewayStatus, reported: fact.reported, orderId: fact.orderId ?? null,
        cryptoExpected, cryptoReceived, txHash: fact.txHash ?? null, decision: decision.kind, reason: decision.reason, notes: decision.notes } }];
      let status = locked.status;
      let storeSync: JobRequest | undefined;
      if (decision.kind === 'transition') {
        events.push({ paymentId, storeId: locked.storeId, type: 'transition', fromStatus: locked.status, toStatus: decision.to,
          cause: decision.reason, data: { trigger: describeCause(cause), notes: decision.notes } });
        status = decision.to;
        storeSync = this.#storeSyncJob(store, paymentId);
        this.#metrics.transition(decision.to);
        this.#log.info({ paymentId, from: locked.status, to: decision.to, reason: decision.reason }, isPaid(decision.to) ? 'payment settled' : 'payment moved');
      }
      if (decision.kind === 'ignore' && fact.reported === 'unknown') {
        this.#log.warn({ paymentId, gatewayStatus: fact.gatewayStatus }, 'gateway reported an unknown status; nothing changed');
      }
      const inboxOutcome = decision.kind === 'transition' ? `${locked.status} → ${decision.to}` : `ignored: ${decision.reason}`;
      // Inside the verify transaction the callback's outcome is already in the gateway.verify event.
      const inboxDone: SqlPart = {
        text: (p) => `UPDATE inbox SET processed_at = now(), outcome = $${p + 1} WHERE id = $${p}::bigint AND processed_at IS NULL`,
        values: [inboxId, inboxOutcome],
      };
      const writes = combine([paymentUpdate, eventsInsert(events), inboxDone, ...(storeSync ? [jobInsert(storeSync)] : [])], ([payment, logged, inbox, job]) =>
        `WITH payment AS (${payment}), logged AS (${logged}), inbox AS (${inbox})${job ? `, job AS (${job}) SELECT id AS job_id FROM job` : ' SELECT NULL AS job_id'}`);
      const { rows: [written] } = await tx.query<{ job_id: string | null }>(writes.text, writes.values);
      const queued = storeSync && written?.job_id ? queuedToRunSoon(storeSync, written.job_id) : undefined;
      return { status, changed: decision.kind === 'transition', queued };
    }).then(({ queued, ...outcome }) => {
      if (queued) this.#waker?.runSoon(queued);
      return outcome;
    });
  }

  /**
   * The store cancelled the order: the payment can no longer be paid (`cancelled` when nothing
   * moved yet), and money that arrives anyway goes to `review` (decide()), never to a capture.
   */
  async storeOrderCancelled(paymentId: string, cause: string): Promise<StoredStatus> {
    return withTransaction(this.#db.pool, async (tx) => {
      const p = await findPayment(tx, paymentId, { forUpdate: true });
      if (!p) throw new CoinbridgeError('unknown_payment', `payment ${paymentId} does not exist`, { status: 404 });
      await tx.query('UPDATE payments SET store_order_cancelled_at = coalesce(store_order_cancelled_at, now()) WHERE id = $1', [paymentId]);
      if (p.status === 'initiating' || !canTransition(p.status, 'cancelled')) {
        await appendEvent(tx, { paymentId, storeId: p.storeId, type: 'store.order-cancelled', cause, data: { statusKept: p.status } });
        return p.status;
      }
      await tx.query(`UPDATE payments SET status = 'cancelled', updated_at = now() WHERE id = $1`, [paymentId]);
      await appendEvent(tx, { paymentId, storeId: p.storeId, type: 'transition', fromStatus: p.status, toStatus: 'cancelled', cause });
      this.#metrics.transition('cancelled');
      return 'cancelled' as const;
    });
  }

  /** Hands a payment to a human (e.g. a shop's policy for a shortfall at expiry). */
  async sendToReview(paymentId: string, reason: string): Promise<boolean> {
    const moved = await withTransaction(this.#db.pool, async (tx) => {
      const p = await findPayment(tx, paymentId, { forUpdate: true });
      if (!p || !canTransition(p.status, 'review')) return undefined;
      await tx.query(`UPDATE payments SET status = 'review', updated_at = now() WHERE id = $1`, [paymentId]);
      await appendEvent(tx, { paymentId, storeId: p.storeId, type: 'transition', fromStatus: p.status, toStatus: 'review', cause: reason });
      const store = await findStore(tx, p.storeId);
      this.#metrics.transition('review');
      return { storeSync: store ? await this.#queueStoreSync(tx, store, paymentId) : undefined };
    });
    if (moved?.storeSync) this.#waker?.runSoon(moved.storeSync);
    return moved !== undefined;
  }

  /**
   * A staff member's decision on a payment in `review`: to `paid` or `cancelled`, with a note.
   * One transaction locks the payment, records the transition (its cause names who decided and
   * why), queues the store write-back like any other transition, and runs `inTransaction` (the
   * console's audit entry), so the decision and its record commit together or not at all.
   */
  async resolveReview(paymentId: string, to: 'paid' | 'cancelled', opts: { by: string; note: string; inTransaction?: (tx: pg.PoolClient, payment: PaymentRow) => Promise<void> }):
    Promise<{ status: StoredStatus; payment: PaymentRow }> {
    const note = opts.note.trim();
    if (note.length < 3) throw new InputError('note_required', 'Resolving a review needs a note of at least 3 characters saying why.', 400);
    const outcome = await withTransaction(this.#db.pool, async (tx) => {
      const p = await findPayment(tx, paymentId, { forUpdate: true });
      if (!p) throw new CoinbridgeError('unknown_payment', `payment ${paymentId} does not exist`, { status: 404 });
      if (p.status !== 'review' || !canTransition(p.status, to)) {
        throw new CoinbridgeError('not_in_review', `Payment ${p.ref} is ${p.status}; only a payment in review can be resolved.`, { status: 409, details: { status: p.status } });
      }
      const { rows } = await tx.query(`UPDATE payments SET status = $2, updated_at = now() WHERE id = $1 RETURNING *`, [paymentId, to]);
      const updated = toPayment(rows[0]);
      await appendEvent(tx, { paymentId, storeId: p.storeId, type: 'transition', fromStatus: 'review', toStatus: to,
        cause: `review resolved by ${opts.by}: ${note}`, data: { trigger: 'manual review', resolvedBy: opts.by, note } });
      const store = await findStore(tx, p.storeId);
      const storeSync = store ? await this.#queueStoreSync(tx, store, paymentId) : undefined;
      await opts.inTransaction?.(tx, updated);
      this.#metrics.transition(to);
      this.#log.info({ paymentId, from: 'review', to }, 'review resolved by staff');
      return { status: to as StoredStatus, payment: updated, storeSync };
    });
    if (outcome.storeSync) this.#waker?.runSoon(outcome.storeSync);
    return { status: outcome.status, payment: outcome.payment };
  }

  /**
   * Store-platform write-back rides the outbox: its job commits with the transition it reports,
   * for this process to run at once. A direct (API) store has no order to write back to.
   */
  #storeSyncJob(store: Store, paymentId: string): JobRequest | undefined {
    return store.platform === 'direct' ? undefined : toRunSoon(this.#waker, { name: 'store.sync', data: { paymentId } });
  }

  async #queueStoreSync(tx: pg.PoolClient, store: Store, paymentId: string): Promise<QueuedJob | undefined> {
    const job = this.#storeSyncJob(store, paymentId);
    return job && queuedToRunSoon(job, (await enqueueJob(tx, job)).id);
  }

  /**
   * Marks a callback handled that was ignored without asking the gateway, with an event of its
   * own (a verified one is marked inside the verify transaction, its outcome in gateway.verify).
   */
  async #finishInbox(inboxId: string | null, outcome: string, payment: PaymentRow, cause: VerifyCause): Promise<void> {
    if (!inboxId) return;
    await this.#db.pool.query('UPDATE inbox SET processed_at = now(), outcome = $2 WHERE id = $1 AND processed_at IS NULL', [inboxId, outcome]);
    await appendEvent(this.#db.pool, { paymentId: payment.id, storeId: payment.storeId, type: 'callback.processed', cause: describeCause(cause), data: { outcome } });
  }
}

class KeyRace extends Error {}

function describeCause(cause: VerifyCause): string {
  switch (cause.kind) {
    case 'callback': return `callback #${cause.inboxId}`;
    case 'reconcile': return 'reconciler';
    case 'expiry': return 'expiry check';
    case 'manual': return `manual re-verify by ${cause.by}`;
  }
}

/** Canonical hash of what makes two creation requests "the same". */
export function hashRequest(req: NewPaymentRequest): string {
  const canonical = JSON.stringify([req.orderId, req.amount.minor.toString(), req.amount.currency, req.returnUrl, req.customerEmail ?? null, sortKeys(req.metadata ?? {})]);
  return crypto.createHash('sha256').update(canonical).digest('hex');
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value && typeof value === 'object') return Object.fromEntries(Object.entries(value).sort(([a], [b]) => (a < b ? -1 : 1)).map(([k, v]) => [k, sortKeys(v)]));
  return value;
}
