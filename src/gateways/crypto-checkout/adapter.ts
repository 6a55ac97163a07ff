import type { GatewayFact } from '../../core/gateway-facts.ts';
import { formatAmount, parseDecimal } from '../../core/money.ts';
import { sha256Hex } from '../../crypto/signatures.ts';
import { UpstreamError, UpstreamRefusal } from '../../errors.ts';
import { callJson, type MerchantHosts } from '../http-client.ts';
import type { CallbackVerdict, CreatedPayment, CreatePaymentInput, GatewayAdapter, GatewayConnection, OriginFor } from '../types.ts';
import {
  amountJudgementOf, API_KEY, COIN, errorMessage, EVENT_ID, EVENT_TYPE, IDEMPOTENCY_HEADER, mapSessionStatus, SESSION_ID, SESSIONS_PATH,
  sessionPath, SIGNATURE_HEADER, TEST_CONNECTION_PATH, TIMESTAMP_HEADER,
  type CheckoutSession, type CreateSessionRequest,
} from './protocol.ts';
import { verifyWebhookSignature } from './signature.ts';
import { isStorableText } from '../../http/validation.ts';

/** A status name is a short lowercase word; anything longer is not one we could map or log. */
const STATUS_TEXT = /^[\x21-\x7e]{1,64}$/;
/** A transaction hash is printable and bounded (0x + 64 hex on EVM chains; other chains differ). */
const TX_HASH = /^[\x21-\x7e]{1,200}$/;

/**
 * The Idempotency-Key for one Coinbridge payment of one store order: deterministic, so a retried
 * create (after a timeout, a crash, a redeploy) names the same session; hashed, so any order id
 * is a safe header value of fixed length.
 */
export function idempotencyKeyFor(input: Pick<CreatePaymentInput, 'orderId' | 'paymentId'>): string {
  return `coinbridge-${sha256Hex(JSON.stringify([input.orderId, input.paymentId]))}`;
}

/** Crypto Checkout (self-hosted), per the quickstart and docs.mycryptoserver.com; assumptions in protocol.ts. */
export class CryptoCheckoutAdapter implements GatewayAdapter {
  readonly name = 'crypto-checkout' as const;
  readonly capabilities = {
    // The API reports the expected amount only; over/underpayment comes as a status (amountJudgement).
    reportsAmounts: false,
    // "Create a new session for any remaining balance": an underpaid session is not topped up.
    topUp: false,
    // Webhook endpoints are registered in the merchant's Dashboard → Webhooks.
    configuresCallbackUrl: false,
    idempotentCreate: true,
  };
  readonly #originFor: OriginFor;
  readonly #timeoutMs: number;
  readonly #now: () => number;
  readonly #viaFor: (conn: GatewayConnection) => MerchantHosts | undefined;

  /** `viaFor` carries the calls to a connection's instance (a host the merchant named). */
  constructor(originFor: OriginFor, opts: { timeoutMs?: number; now?: () => number; viaFor?: (conn: GatewayConnection) => MerchantHosts | undefined } = {}) {
    this.#originFor = originFor;
    this.#viaFor = opts.viaFor ?? (() => undefined);
    this.#timeoutMs = opts.timeoutMs ?? 10_000;
    this.#now = opts.now ?? Date.now;
  }

  async #call<T>(conn: GatewayConnection, method: 'GET' | 'POST', path: string, opts: { body?: unknown; headers?: Record<string, string> } = {}): Promise<T> {
    const upstream = conn.mode === 'sandbox' ? 'Crypto Checkout sandbox' : 'Crypto Checkout';
    // Checked before anything leaves: a key of the wrong shape can only be refused, and must not be sent anywhere.
    if (!API_KEY.test(conn.credentials.apiKey)) {
      throw new UpstreamRefusal('gateway_credentials_rejected',
        'This is not a Crypto Checkout API key: keys start with ck_test_ or ck_live_ (Dashboard → API Keys). Nothing was sent; fix the connection\'s API key.');
    }
    const origin = this.#originFor(conn);
    try {
      return await callJson<T>({
        method, url: `${origin}${path}`, body: opts.body, upstream, timeoutMs: this.#timeoutMs, via: this.#viaFor(conn),
        headers: { Authorization: `Bearer ${conn.credentials.apiKey}`, ...opts.headers },
      });
    } catch (err) {
      throw explainRefusal(err, upstream, method, path);
    }
  }

  async createPayment(conn: GatewayConnection, input: CreatePaymentInput): Promise<CreatedPayment> {
    const request: CreateSessionRequest = {
      amount: { value: formatAmount(input.amount), currency: input.amount.currency },
      metadata: { orderId: input.orderId, coinbridgePaymentId: input.paymentId },
      successUrl: input.returnUrl,
    };
    const session = await this.#call<CheckoutSession>(conn, 'POST', SESSIONS_PATH, { body: request, headers: { [IDEMPOTENCY_HEADER]: idempotencyKeyFor(input) } });
    if (typeof session !== 'object' || session === null || typeof session.id !== 'string' || !SESSION_ID.test(session.id)) {
      throw new UpstreamError('upstream_bad_response', 'Crypto Checkout answered the session create without a session id (cs_…); check that the instance URL points at Crypto Checkout');
    }
    if (!isHttpUrl(session.checkoutUrl)) {
      throw new UpstreamError('upstream_bad_response', `Crypto Checkout created session ${session.id} but its checkoutUrl is not an http(s) URL`);
    }
    return { gatewayPaymentId: session.id, checkoutUrl: session.checkoutUrl };
  }

  async getStatus(conn: GatewayConnection, id: string): Promise<GatewayFact> {
    if (!SESSION_ID.test(id)) {
      throw new UpstreamRefusal('gateway_unknown_payment', 'This is not a Crypto Checkout session id (cs_ followed by letters, digits, _ or -); Crypto Checkout was not asked.');
    }
    const session = await this.#call<CheckoutSession>(conn, 'GET', sessionPath(id));
    if (typeof session !== 'object' || session === null || session.id !== id) {
      throw new UpstreamError('upstream_bad_response', `Crypto Checkout answered the lookup of session ${id} with something other than that session`);
    }
    if (typeof session.status !== 'string' || !STATUS_TEXT.test(session.status)) {
      throw new UpstreamError('upstream_bad_response', `Crypto Checkout answered session ${id} without a status`);
    }
    const expected = parseDecimal(session.amount?.eth);
    return {
      reported: mapSessionStatus(session.status),
      gatewayStatus: session.status,
      verified: true,
      orderId: orderIdOf(session),
      fiat: session.fiat && typeof session.fiat === 'object'
        ? { amount: stringOrUndefined(session.fiat.amount), currency: stringOrUndefined(session.fiat.currency) }
        : undefined,
      // The expected amount only: Crypto Checkout reports no received amount, and none is invented.
      crypto: expected ? { expected, coin: COIN } : undefined,
      txHash: typeof session.txHash === 'string' && TX_HASH.test(session.txHash) ? session.txHash : undefined,
      amountJudgement: amountJudgementOf(session.status),
    };
  }

  parseCallback(conn: GatewayConnection, rawBody: Buffer, headers: Record<string, string | string[] | undefined>): CallbackVerdict {
    const check = verifyWebhookSignature({
      rawBody,
      header: first(headers[SIGNATURE_HEADER]),
      timestampHeader: first(headers[TIMESTAMP_HEADER]),
      secret: conn.credentials.ipnSecret,
      now: this.#now(),
    });
    switch (check.reason) {
      case 'ok': break;
      case 'missing': return { ok: false, reason: 'missing_signature', message: check.message };
      case 'stale': return { ok: false, reason: 'stale_signature', message: check.message };
      case 'malformed_header':
      case 'no_match':
        return { ok: false, reason: 'bad_signature', message: check.message };
    }
    let event: unknown;
    try {
      event = JSON.parse(rawBody.toString('utf8'));
    } catch {
      return { ok: false, reason: 'malformed_body', message: 'signed body is not JSON' };
    }
    const problem = eventProblem(event);
    if (problem) return { ok: false, reason: 'malformed_body', message: `signed body is not a Crypto Checkout session event: ${problem}` };
    const { id, data } = event as { id: string; data: CheckoutSession };
    return {
      ok: true,
      hint: {
        gatewayPaymentId: data.id,
        // The docs: "Use [the event id] to deduplicate redeliveries" — a redelivery keeps it, a new transition gets a new one.
        dedupeKey: id,
        reported: mapSessionStatus(data.status),
        gatewayStatus: data.status,
        orderId: orderIdOf(data),
      },
    };
  }

  /** No API registers webhooks here: the merchant pastes the URL in Dashboard → Webhooks. This proves the key works. */
  async configureCallbacks(conn: GatewayConnection, _callbackUrl: string): Promise<void> {
    await this.testConnection(conn);
  }

  async testConnection(conn: GatewayConnection): Promise<void> {
    const list = await this.#call<unknown>(conn, 'GET', TEST_CONNECTION_PATH);
    if (typeof list !== 'object' || list === null) {
      throw new UpstreamError('upstream_bad_response', 'Crypto Checkout answered the session list with something other than a JSON object; check the instance URL');
    }
  }

  mapStatus(code: string | number) {
    return mapSessionStatus(code);
  }
}

function first(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

function isHttpUrl(value: unknown): value is string {
  if (typeof value !== 'string') return false;
  try {
    const url = new URL(value);
    return url.protocol === 'https:' || url.protocol === 'http:';
  } catch {
    return false;
  }
}

function stringOrUndefined(value: unknown): string | undefined {
  return typeof value === 'string' ? value : undefined;
}

/** Our order id as we put it in metadata; anything that could not be one is left out rather than trusted. */
function orderIdOf(session: CheckoutSession): string | undefined {
  const value = session.metadata && typeof session.metadata === 'object' ? (session.metadata as Record<string, unknown>).orderId : undefined;
  return typeof value === 'string' && value.length > 0 && value.length <= 1000 && isStorableText(value) ? value : undefined;
}

/** Why a parsed body is not a session event (`{id, type: "session.…", data: {id: "cs_…", status}}`), or undefined. */
function eventProblem(event: unknown): string | undefined {
  if (typeof event !== 'object' || event === null || Array.isArray(event)) return 'not a JSON object';
  const e = event as Record<string, unknown>;
  if (typeof e.id !== 'string' || !EVENT_ID.test(e.id)) return 'no event id';
  if (typeof e.type !== 'string' || !EVENT_TYPE.test(e.type)) return 'type is not session.<status>';
  const data = e.data;
  if (typeof data !== 'object' || data === null || Array.isArray(data)) return 'no data (session) object';
  const d = data as Record<string, unknown>;
  if (typeof d.id !== 'string' || !SESSION_ID.test(d.id)) return 'data.id is not a session id (cs_…)';
  if (typeof d.status !== 'string' || !STATUS_TEXT.test(d.status)) return 'data.status is missing';
  return undefined;
}

/** Gives a refused call Crypto Checkout's own words and a code that says which kind of refusal it was. */
function explainRefusal(err: unknown, upstream: string, method: string, path: string): unknown {
  if (!(err instanceof UpstreamRefusal)) return err;
  const details = err.details as { status?: number; body?: unknown } | undefined;
  const status = details?.status;
  const said = errorMessage(details?.body) ?? 'no reason given';
  if (status === 401 || status === 403) {
    return new UpstreamRefusal('gateway_credentials_rejected',
      `${upstream} rejected the API key (${status}: ${said}); check the connection's ck_test_/ck_live_ key in Dashboard → API Keys (it may be revoked, or belong to another instance)`, details);
  }
  const route = path.split('?')[0]!;
  if (status === 404 && method === 'GET' && route !== SESSIONS_PATH) {
    return new UpstreamRefusal('gateway_unknown_payment', `${upstream} does not know this session (404: ${said})`, details);
  }
  if (status === 404) {
    return new UpstreamRefusal('gateway_refused', `${upstream} has no ${method} ${route} (404: ${said}); check that the instance URL is the address of your Crypto Checkout instance`, details);
  }
  if (status === 422 && method === 'POST' && route === SESSIONS_PATH && /idempot/i.test(JSON.stringify(details?.body ?? ''))) {
    return new UpstreamRefusal('gateway_idempotency_conflict',
      `${upstream} refused the session (422: ${said}): this payment's Idempotency-Key was already used with other parameters`, details);
  }
  return new UpstreamRefusal('gateway_refused', `${upstream} refused ${method} ${route} (${status ?? 'no status'}: ${said})`, details);
}
