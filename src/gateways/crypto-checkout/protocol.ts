import type { ReportedStatus } from '../../core/gateway-facts.ts';

/**
 * Crypto Checkout's wire contract, and every assumption Coinbridge makes about it, in one place.
 *
 * Sources: the quickstart ("Accept your first payment", reference/seeds/crypto-checkout-quickstart.txt),
 * reference/platforms.md, and the public docs at docs.mycryptoserver.com (session object, session
 * lifecycle, event types, signature verification). Anything marked ASSUMED is not in those
 * sources; the README lists each with its reason.
 */

// ---- Endpoints (relative to the merchant's own instance: Crypto Checkout is self-hosted) ----

/** Documented (quickstart): create a session. */
export const SESSIONS_PATH = '/api/v1/checkout_sessions';

/** ASSUMED: the plain REST "retrieve" next to the documented create. */
export function sessionPath(id: string): string {
  return `${SESSIONS_PATH}/${encodeURIComponent(id)}`;
}

/** ASSUMED: the cheapest authenticated call (a one-item list) proves the API key works. */
export const TEST_CONNECTION_PATH = `${SESSIONS_PATH}?limit=1`;

// ---- Headers ----

/** Documented: always sent on create so a network retry cannot make a second session. */
export const IDEMPOTENCY_HEADER = 'Idempotency-Key';
/** Documented: `t=<unix>,v1=<hex>`; lowercased, as Node hands header names to handlers. */
export const SIGNATURE_HEADER = 'x-webhook-signature';
/** Documented (signature-verification page): the same `t`, standalone; the SDK falls back to it when `t=` is absent. */
export const TIMESTAMP_HEADER = 'x-webhook-timestamp';

/** Documented: deliveries whose `t` is more than this many seconds from now are refused. */
export const SIGNATURE_TOLERANCE_SECONDS = 300;

// ---- Shapes of identifiers ----

/**
 * Documented prefixes `ck_test_` / `ck_live_`. ASSUMED: the rest is visible ASCII without spaces
 * (it goes into an Authorization header); the exact alphabet is not published.
 */
export const API_KEY = /^ck_(?:test|live)_[\x21-\x7e]{1,200}$/;

/** Documented prefix `cs_` (example `cs_01HZ...`). ASSUMED: URL-safe characters, at most 100 in all. */
export const SESSION_ID = /^cs_[A-Za-z0-9_-]{1,97}$/;

/**
 * Documented as `evt_…`. ASSUMED nothing more than a bounded printable string: the prefix is not
 * needed to dedupe, and refusing a differently shaped id would refuse every webhook.
 */
export const EVENT_ID = /^[\x21-\x7e]{1,200}$/;

/** Documented event names are `session.<status>` (plus `session.created`). */
export const EVENT_TYPE = /^session\.[a-z_]{1,40}$/;

// ---- Statuses ----

/** Documented (session lifecycle): every status a session can have. */
export const SESSION_STATUSES = ['pending', 'detected', 'paid', 'underpaid', 'overpaid', 'paid_late', 'expired', 'failed'] as const;
export type SessionStatus = (typeof SESSION_STATUSES)[number];

/**
 * Crypto Checkout status → canonical status.
 * - overpaid: the quickstart says "sending more moves it to overpaid … Session transitions to paid";
 *   it is money received in full, and the excess is carried as amountJudgement 'excess'.
 * - paid_late: "treat as paid"; the core judges lateness against its own expiry.
 * - failed: "a terminal, unrecoverable error" — the gateway will not complete this session.
 */
export const STATUS_MAP: Readonly<Record<SessionStatus, ReportedStatus>> = {
  pending: 'pending',
  detected: 'confirming',
  paid: 'paid',
  underpaid: 'underpaid',
  overpaid: 'paid',
  paid_late: 'paid',
  expired: 'expired',
  failed: 'rejected',
};

export function isSessionStatus(value: unknown): value is SessionStatus {
  return typeof value === 'string' && (SESSION_STATUSES as readonly string[]).includes(value);
}

export function mapSessionStatus(code: string | number): ReportedStatus {
  if (typeof code !== 'string') return 'unknown';
  const name = code.trim().toLowerCase();
  return isSessionStatus(name) ? STATUS_MAP[name] : 'unknown';
}

/** What the status itself says about the amount (the API reports no received amount). */
export function amountJudgementOf(status: string): 'short' | 'excess' | undefined {
  if (status === 'underpaid') return 'short';
  if (status === 'overpaid') return 'excess';
  // 'paid' is documented as "the exact (or overpaid) amount": it says nothing certain either way.
  return undefined;
}

/** ASSUMED coin name: the session prices in the chain's native coin, reported as `amount.eth`. */
export const COIN = 'ETH';

// ---- Wire types ----

export interface CreateSessionRequest {
  amount: { value: string; currency: string };
  /** ASSUMED: string values (the quickstart only shows `orderId`). */
  metadata: { orderId: string; coinbridgePaymentId: string };
  successUrl: string;
}

/** The session object (quickstart response; docs.mycryptoserver.com "Key fields" adds metadata, txHash). */
export interface CheckoutSession {
  id: string;
  object?: 'checkout_session';
  status: string;
  checkoutUrl: string;
  address?: string;
  amount?: { wei?: string; eth?: string };
  fiat?: { amount?: string; currency?: string };
  expiresAt?: string;
  livemode?: boolean;
  createdAt?: string;
  metadata?: Record<string, unknown> | null;
  /** Documented on the session object: "the on-chain transaction hash of the payment, once detected". */
  txHash?: string | null;
}

/** Documented envelope (event types page): `data` is the session at the time of the event. */
export interface WebhookEvent {
  id: string;
  type: string;
  livemode?: boolean;
  createdAt?: string;
  data: CheckoutSession;
}

/** ASSUMED error body `{error: {code, message}}`; `{message}` and `{error: "…"}` are read too. */
export interface ErrorBody {
  error?: { code?: string; message?: string } | string;
  message?: string;
}

export function errorMessage(body: unknown): string | undefined {
  if (typeof body !== 'object' || body === null) return undefined;
  const b = body as ErrorBody;
  if (typeof b.error === 'string') return b.error;
  if (typeof b.error?.message === 'string') return b.error.message;
  if (typeof b.message === 'string') return b.message;
  return undefined;
}
