/**
 * CryptoNow's wire contract as Coinbridge assumes it. The public guide (reference seed
 * `cryptonow-vending-integration.txt`, platforms.md) names the headers, the Create Payment fields,
 * the response fields and the webhook events, but not the endpoint paths, the response and
 * webhook JSON layout, the session status words, nor the signature construction. Every such
 * guess lives here (the signature in signature.ts) and is listed in README.md, so the day the
 * real documentation is checked there is one place to correct.
 */
import type { ReportedStatus } from '../../core/gateway-facts.ts';

// ---- Headers (documented) --------------------------------------------------------------------

/** Identifies the merchant on every API request (documented). */
export const PUBLIC_KEY_HEADER = 'X-Public-Key';
/** Signs API requests and webhooks (documented name; construction assumed in signature.ts). */
export const SIGNATURE_HEADER = 'X-Signature';
/** How Node hands the webhook signature header to us: lowercased. */
export const SIGNATURE_HEADER_RECEIVED = 'x-signature';

// ---- Endpoints (ASSUMED: the guide names "Create Payment" and "View Session", not their paths) ----

/** ASSUMED: Create Payment is `POST {origin}/api/v1/payments`. */
export const CREATE_PAYMENT_PATH = '/api/v1/payments';
/** ASSUMED: View Session is `GET {origin}/api/v1/sessions/{session_key}`. */
export const SESSION_PATH_PREFIX = '/api/v1/sessions/';
export function sessionPath(sessionKey: string): string {
  return `${SESSION_PATH_PREFIX}${encodeURIComponent(sessionKey)}`;
}
/**
 * ASSUMED: the cheapest signed call that proves a key pair is View Session of a key that cannot
 * exist. A 404 means CryptoNow accepted the public key and the signature; 401/403 means it did not.
 */
export const CONNECTION_PROBE_SESSION_KEY = 'coinbridge-connection-test';

/**
 * ASSUMED shape of a session key: opaque, URL-safe, bounded. Anything else cannot be one of ours
 * and is refused without a call (it would otherwise be spliced into a URL path).
 */
export const SESSION_KEY = /^[A-Za-z0-9_-]{8,128}$/;

// ---- Money (documented) ----------------------------------------------------------------------

/** "amount in USD, currency (always USD)". */
export const CURRENCY = 'USD';
/** CryptoNow settles USDC on Solana. */
export const COIN = 'USDC';
export const NETWORK = 'solana';

/** Commission mode (documented): who pays CryptoNow's fee. total_amount is what the shopper sends. */
export type CommissionMode = 'merchant' | 'customer';

// ---- Create Payment --------------------------------------------------------------------------

/**
 * Website scenario (documented fields). `qr_id` is the vending scenario and must never be sent
 * together with return_url/success_url; Coinbridge never sends it.
 */
export interface CryptoNowCreatePaymentRequest {
  /** Unique per merchant at CryptoNow: a duplicate is refused. */
  order_id: string;
  /** USD, as a decimal string ("12.50"). ASSUMED: a string, not a JSON number. */
  amount: string;
  currency: typeof CURRENCY;
  return_url: string;
  success_url: string;
}

/** Documented: payment_id, session_key, url. The rest ASSUMED and optional. */
export interface CryptoNowCreatePaymentResponse {
  payment_id?: string | number;
  session_key?: unknown;
  url?: unknown;
  total_amount?: string | number;
  [field: string]: unknown;
}

// ---- View Session (ASSUMED shape) ------------------------------------------------------------

export interface CryptoNowSession {
  session_key?: unknown;
  payment_id?: unknown;
  order_id?: unknown;
  /** Session status word, see SESSION_STATUS. */
  status?: unknown;
  /** The last webhook event of the session, used when `status` says nothing we know. */
  last_event?: unknown;
  /** What the merchant asked, in USD. */
  amount?: unknown;
  /** What the shopper must send, in USDC: amount + fee (customer mode) or amount (merchant mode). Documented name. */
  total_amount?: unknown;
  currency?: unknown;
  /** Solana transaction signature, once paid (documented in webhooks as txid). */
  txid?: unknown;
  payer_wallet?: unknown;
  [field: string]: unknown;
}

/**
 * ASSUMED: answers may come bare or wrapped as `{ data: {...} }`; both are read. A wrapper is
 * only unwrapped when the outer object lacks the field we look for.
 */
export function unwrapData(body: unknown, field: string): Record<string, unknown> | undefined {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return undefined;
  const outer = body as Record<string, unknown>;
  if (field in outer) return outer;
  const inner = outer.data;
  if (typeof inner === 'object' && inner !== null && !Array.isArray(inner)) return inner as Record<string, unknown>;
  return outer;
}

/** An error answer's own words: ASSUMED `{ error }` or `{ message }` (both read). */
export function errorMessage(body: unknown): string | undefined {
  if (typeof body !== 'object' || body === null) return undefined;
  const b = body as Record<string, unknown>;
  const text = typeof b.message === 'string' ? b.message : typeof b.error === 'string' ? b.error : undefined;
  return text === undefined ? undefined : text.slice(0, 300);
}

/** ASSUMED: a duplicate order_id comes back as 409, or as 400/422 saying so. */
export function isDuplicateOrder(status: number | undefined, message: string | undefined): boolean {
  if (status === 409) return true;
  return (status === 400 || status === 422) && message !== undefined && /duplicate|already (exists|used|taken)|not unique|unique/i.test(message);
}

// ---- Webhooks (documented events; ASSUMED layout) --------------------------------------------

/** The documented webhook events. */
export const EVENTS = {
  PaymentCreated: 'payment.created',
  PaymentSuccess: 'payment.success',
  SessionActive: 'session.active',
  SessionClosed: 'session.closed',
  VendingScanPending: 'vending.scan_pending',
  VendingScanResolved: 'vending.scan_resolved',
} as const;
export type CryptoNowEvent = (typeof EVENTS)[keyof typeof EVENTS];

/**
 * ASSUMED webhook body: `{ event, data: { order_id, payment_id, session_key, status, amount,
 * total_amount, txid, payer_wallet, … } }` (vending events carry qr_id/scan_id instead). A flat
 * body (the fields next to `event`) is read as well.
 */
export interface CryptoNowWebhook {
  event: string;
  data?: {
    order_id?: string;
    payment_id?: string | number;
    session_key?: string;
    status?: string;
    amount?: string | number;
    total_amount?: string | number;
    txid?: string | null;
    payer_wallet?: string | null;
    qr_id?: string;
    scan_id?: string;
    [field: string]: unknown;
  };
}

/** Events about a session: they must name it (session_key), or they cannot be matched. */
export const SESSION_EVENTS: ReadonlySet<string> = new Set([EVENTS.PaymentCreated, EVENTS.PaymentSuccess, EVENTS.SessionActive, EVENTS.SessionClosed]);

/** Which id a webhook is filed under, in order of preference (vending scans have no session yet). */
export const WEBHOOK_ID_FIELDS = ['session_key', 'payment_id', 'scan_id', 'qr_id', 'order_id'] as const;

// ---- Status mapping --------------------------------------------------------------------------

/** Webhook events → canonical (documented meanings). Vending scan events concern no payment. */
const EVENT_STATUS: Readonly<Record<string, ReportedStatus>> = {
  [EVENTS.PaymentCreated]: 'pending',
  [EVENTS.PaymentSuccess]: 'paid',
  [EVENTS.SessionActive]: 'pending',
  [EVENTS.SessionClosed]: 'expired',
  [EVENTS.VendingScanPending]: 'unknown',
  [EVENTS.VendingScanResolved]: 'unknown',
};

/**
 * ASSUMED session status words (View Session): a created/active session waits for the shopper,
 * paid/success is paid (also after the window, a late payment), closed means the window ended or
 * the shopper left with nothing paid. Anything else is unknown: logged, changes nothing.
 */
const SESSION_STATUS: Readonly<Record<string, ReportedStatus>> = {
  created: 'pending',
  active: 'pending',
  paid: 'paid',
  success: 'paid',
  closed: 'expired',
};

/** A webhook's event name, case-insensitively; anything else (a status word included) is 'unknown'. */
export function mapCryptoNowEvent(event: string): ReportedStatus {
  const key = event.trim().toLowerCase();
  return (Object.hasOwn(EVENT_STATUS, key) ? EVENT_STATUS[key] : undefined) ?? 'unknown';
}

/** Event names and session status words, case-insensitively; anything else is 'unknown'. */
export function mapCryptoNowStatus(code: unknown): ReportedStatus {
  if (typeof code !== 'string') return 'unknown';
  const key = code.trim().toLowerCase();
  return (Object.hasOwn(EVENT_STATUS, key) ? EVENT_STATUS[key] : Object.hasOwn(SESSION_STATUS, key) ? SESSION_STATUS[key] : undefined) ?? 'unknown';
}

/** Every documented event and assumed status word with its canonical status (tests pin these). */
export const DOCUMENTED_STATUSES: ReadonlyArray<readonly [string, ReportedStatus]> = [
  ...Object.entries(EVENT_STATUS),
  ...Object.entries(SESSION_STATUS),
];
