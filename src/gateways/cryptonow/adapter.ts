import type { GatewayFact, ReportedStatus } from '../../core/gateway-facts.ts';
import { decimalToString, formatAmount, parseDecimal } from '../../core/money.ts';
import { UpstreamError, UpstreamRefusal } from '../../errors.ts';
import { callJson } from '../http-client.ts';
import type { CallbackVerdict, CreatedPayment, CreatePaymentInput, GatewayAdapter, GatewayConnection, OriginFor } from '../types.ts';
import {
  COIN, CONNECTION_PROBE_SESSION_KEY, CREATE_PAYMENT_PATH, CURRENCY, NETWORK, PUBLIC_KEY_HEADER, SESSION_EVENTS, SESSION_KEY, WEBHOOK_ID_FIELDS,
  errorMessage, isDuplicateOrder, mapCryptoNowEvent, mapCryptoNowStatus, sessionPath, unwrapData,
  type CryptoNowCreatePaymentRequest, type CryptoNowSession,
} from './protocol.ts';
import { signRequest, verifyWebhook } from './signature.ts';
import { isStorableText } from '../../http/validation.ts';

type Operation = 'create' | 'status' | 'probe';

/** A webhook id we file a hint under: printable ASCII, bounded. */
const WEBHOOK_ID = /^[\x21-\x7e]{1,200}$/;

/**
 * CryptoNow (USDC on Solana, non-custodial), website scenario. Built from the public guide;
 * everything the guide leaves open is an assumption in protocol.ts / signature.ts (README.md).
 */
export class CryptoNowAdapter implements GatewayAdapter {
  readonly name = 'cryptonow' as const;
  // No received amount is documented (only total_amount, what is owed), no top-up, no API to set
  // the webhook URL (dashboard only), and no idempotency key: order_id is unique instead.
  readonly capabilities = { reportsAmounts: false, topUp: false, configuresCallbackUrl: false, idempotentCreate: false };
  readonly #originFor: OriginFor;
  readonly #timeoutMs: number;
  readonly #now: () => number;

  constructor(originFor: OriginFor, opts: { timeoutMs?: number; now?: () => number } = {}) {
    this.#originFor = originFor;
    this.#timeoutMs = opts.timeoutMs ?? 10_000;
    this.#now = opts.now ?? Date.now;
  }

  async #call<T>(conn: GatewayConnection, method: 'GET' | 'POST', path: string, op: Operation, body?: Readonly<object>): Promise<T> {
    const upstream = conn.mode === 'sandbox' ? 'CryptoNow sandbox' : 'CryptoNow';
    const url = new URL(`${this.#originFor(conn)}${path}`);
    // Serialised once and sent as these exact bytes, so the signature covers exactly what is sent.
    const raw = body === undefined ? undefined : JSON.stringify(body);
    const headers = {
      [PUBLIC_KEY_HEADER]: conn.credentials.apiKey,
      ...signRequest(conn.credentials.ipnSecret, { method, pathAndQuery: url.pathname + url.search, body: raw }, this.#now()),
    };
    try {
      return await callJson<T>({ method, url: url.href, headers, ...(raw === undefined ? {} : { rawBody: raw }), upstream, timeoutMs: this.#timeoutMs });
    } catch (err) {
      throw explainRefusal(err, upstream, op);
    }
  }

  async createPayment(conn: GatewayConnection, input: CreatePaymentInput): Promise<CreatedPayment> {
    if (input.amount.currency !== CURRENCY) {
      throw new UpstreamRefusal('gateway_refused',
        `CryptoNow takes USD amounts only; this order is in ${input.amount.currency}. Price the order in USD, or let the store's fallback gateway take ${input.amount.currency} orders`);
    }
    // Website scenario: return_url/success_url, never qr_id (vending). Coinbridge has one return
    // address (its own return page decides what to show), so both name it.
    // order_id is the store's order id so webhooks match orders; CryptoNow refuses a second
    // payment for the same order_id, which the core meets as a final refusal (see README).
    const request: CryptoNowCreatePaymentRequest = Object.freeze({
      order_id: input.orderId,
      amount: formatAmount(input.amount),
      currency: CURRENCY,
      return_url: input.returnUrl,
      success_url: input.returnUrl,
    });
    const res = await this.#call<unknown>(conn, 'POST', CREATE_PAYMENT_PATH, 'create', request);
    const body = unwrapData(res, 'session_key');
    // The session may exist at CryptoNow now, and its order_id is spent: a retry could only be
    // refused as a duplicate, so an unusable answer is final (the fallback gateway can take over).
    const key = body?.session_key;
    if (typeof key !== 'string' || !SESSION_KEY.test(key)) {
      throw new UpstreamRefusal('gateway_bad_response', `CryptoNow answered Create Payment without a usable session_key for order ${input.orderId}; check the payment in the CryptoNow dashboard`);
    }
    const checkoutUrl = httpUrl(body?.url);
    if (!checkoutUrl) {
      throw new UpstreamRefusal('gateway_bad_response', `CryptoNow answered Create Payment for order ${input.orderId} without an http(s) payment url`);
    }
    return { gatewayPaymentId: key, checkoutUrl };
  }

  async getStatus(conn: GatewayConnection, sessionKey: string): Promise<GatewayFact> {
    if (!SESSION_KEY.test(sessionKey)) {
      throw new UpstreamRefusal('gateway_unknown_payment', `${JSON.stringify(sessionKey.slice(0, 60))} cannot be a CryptoNow session key (8–128 letters, digits, _ or -); nothing was asked`);
    }
    const res = await this.#call<unknown>(conn, 'GET', sessionPath(sessionKey), 'status');
    const s = unwrapData(res, 'status') as CryptoNowSession | undefined;
    if (!s) throw new UpstreamError('upstream_bad_response', 'CryptoNow answered View Session without a session object');
    if (s.session_key !== undefined && s.session_key !== sessionKey) {
      throw new UpstreamError('upstream_bad_response', `CryptoNow answered View Session of ${sessionKey} with another session`);
    }
    const { reported, gatewayStatus } = sessionStatus(s);
    const expected = parseDecimal(s.total_amount);
    return {
      reported,
      gatewayStatus,
      verified: true,
      orderId: typeof s.order_id === 'string' ? s.order_id : typeof s.order_id === 'number' ? String(s.order_id) : undefined,
      fiat: s.amount === undefined || s.amount === null ? undefined : { amount: fiatAmount(s.amount), currency: typeof s.currency === 'string' ? s.currency : CURRENCY },
      // total_amount is what the shopper must send (amount + fee in customer mode, amount in
      // merchant mode); CryptoNow documents no received amount, so none is reported.
      crypto: expected ? { expected, coin: COIN } : undefined,
      txHash: typeof s.txid === 'string' && s.txid.length > 0 ? s.txid : undefined,
      network: NETWORK,
    };
  }

  parseCallback(conn: GatewayConnection, rawBody: Buffer, headers: Record<string, string | string[] | undefined>): CallbackVerdict {
    const check = verifyWebhook(conn.credentials.ipnSecret, rawBody, headers, this.#now());
    if (!check.ok) return { ok: false, reason: check.reason, message: check.message };
    let body: unknown;
    try {
      body = JSON.parse(rawBody.toString('utf8'));
    } catch {
      return { ok: false, reason: 'malformed_body', message: 'signed webhook body is not JSON' };
    }
    if (typeof body !== 'object' || body === null || Array.isArray(body)) return { ok: false, reason: 'malformed_body', message: 'webhook body is not a JSON object' };
    const outer = body as Record<string, unknown>;
    const event = outer.event;
    if (typeof event !== 'string' || !WEBHOOK_ID.test(event)) return { ok: false, reason: 'malformed_body', message: 'webhook body has no event name' };
    const data = typeof outer.data === 'object' && outer.data !== null && !Array.isArray(outer.data) ? outer.data as Record<string, unknown> : outer;

    let id: string | undefined;
    if (SESSION_EVENTS.has(event.trim().toLowerCase())) {
      // Payment and session events are matched by session_key (what View Session takes).
      id = typeof data.session_key === 'string' && SESSION_KEY.test(data.session_key) ? data.session_key : undefined;
      if (!id) return { ok: false, reason: 'malformed_body', message: `${event} webhook has no session_key (8–128 letters, digits, _ or -)` };
    } else {
      // Vending scans and events we do not know: acknowledged and kept (a 4xx would make CryptoNow
      // retry forever), filed under whichever id they carry; 'unknown' changes nothing.
      for (const field of WEBHOOK_ID_FIELDS) {
        const v = data[field];
        const text = typeof v === 'number' && Number.isSafeInteger(v) ? String(v) : v;
        if (typeof text === 'string' && WEBHOOK_ID.test(text)) { id = text; break; }
      }
      if (!id) return { ok: false, reason: 'malformed_body', message: `${event} webhook names no session_key, payment_id, scan_id, qr_id or order_id` };
    }
    const orderId = data.order_id;
    return {
      ok: true,
      hint: {
        gatewayPaymentId: id,
        // No event id is documented: one event per session is one notification.
        dedupeKey: `${event}:${id}`,
        reported: mapCryptoNowEvent(event),
        gatewayStatus: event,
        orderId: typeof orderId === 'string' && orderId.length <= 200 && isStorableText(orderId) ? orderId : undefined,
      },
    };
  }

  /** CryptoNow's webhook URL is set in the merchant dashboard only: prove the keys, the merchant pastes the URL. */
  async configureCallbacks(conn: GatewayConnection, _callbackUrl: string): Promise<void> {
    await this.testConnection(conn);
  }

  /** View Session of a key that cannot exist: 404 means the public key and signature were accepted. */
  async testConnection(conn: GatewayConnection): Promise<void> {
    try {
      await this.#call<unknown>(conn, 'GET', sessionPath(CONNECTION_PROBE_SESSION_KEY), 'probe');
    } catch (err) {
      if (err instanceof UpstreamRefusal && statusOf(err) === 404) return;
      throw err;
    }
  }

  mapStatus(code: string | number): ReportedStatus {
    return mapCryptoNowStatus(code);
  }
}

/** The session's status word when we know it, else its last event; kept as CryptoNow said it. */
function sessionStatus(s: CryptoNowSession): { reported: ReportedStatus; gatewayStatus: string } {
  const candidates = [s.status, s.last_event].filter((v): v is string => typeof v === 'string' && v.trim().length > 0).map((v) => v.trim().slice(0, 64));
  for (const word of candidates) {
    const reported = mapCryptoNowStatus(word);
    if (reported !== 'unknown') return { reported, gatewayStatus: word };
  }
  const said = candidates[0];
  if (said === undefined) throw new UpstreamError('upstream_bad_response', 'CryptoNow answered View Session with neither a status nor a last_event');
  return { reported: 'unknown', gatewayStatus: said };
}

/** The requested USD amount as a decimal string; something that is not one is passed on as said, so the core sends it to review. */
function fiatAmount(value: unknown): string {
  const d = parseDecimal(value);
  return d ? decimalToString(d) : String(value).slice(0, 40);
}

function httpUrl(value: unknown): string | undefined {
  if (typeof value !== 'string') return undefined;
  try {
    const url = new URL(value);
    return url.protocol === 'https:' || url.protocol === 'http:' ? url.href : undefined;
  } catch {
    return undefined;
  }
}

function statusOf(err: UpstreamRefusal): number | undefined {
  return (err.details as { status?: number } | undefined)?.status;
}

/** Gives a refused call CryptoNow's own words and a code that says which kind of refusal it was. */
function explainRefusal(err: unknown, upstream: string, op: Operation): unknown {
  if (!(err instanceof UpstreamRefusal)) return err;
  const details = err.details as { status?: number; body?: unknown } | undefined;
  const status = details?.status;
  const said = errorMessage(details?.body);
  const reason = `${status ?? '?'}: ${said ?? 'no reason given'}`;
  if (status === 401 || status === 403) {
    return new UpstreamRefusal('gateway_credentials_rejected',
      `${upstream} rejected the public key or the request signature (${reason}); check the connection's public key and private key`, details);
  }
  if (op === 'create' && isDuplicateOrder(status, said)) {
    return new UpstreamRefusal('gateway_duplicate_order',
      `${upstream} already has a payment for this order_id (${reason}); order_id must be unique per merchant, so this order cannot get a second CryptoNow payment`, details);
  }
  if (op === 'create') return new UpstreamRefusal('gateway_refused', `${upstream} refused the payment (${reason})`, details);
  if (op === 'status' && (status === 400 || status === 404)) {
    return new UpstreamRefusal('gateway_unknown_payment', `${upstream} does not know this session (${reason})`, details);
  }
  if (op === 'probe' && status === 404) return err; // the answer testConnection hopes for
  return new UpstreamRefusal(err.code, `${err.message} (${reason})`, details);
}
