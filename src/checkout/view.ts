import type { Queryable } from '../db/database.ts';
import { formatAmount, parseDecimal, shareOfAmount, type CurrencyCode, type Money } from '../core/money.ts';
import { readSettings, type CheckoutLocale } from '../core/settings.ts';
import type { PaymentStatus, StoredStatus } from '../core/status.ts';

/** Payment refs are 22 letters and digits (newPaymentRef); nothing else is ever looked up. */
export const REF = /^[A-Za-z0-9]{22}$/;

/**
 * Exactly what the shopper's pay page and widget get: no payment, store, connection or gateway
 * ids, no email, metadata or secrets. The JSON of `GET /v1/checkout/{ref}` and each SSE event.
 */
export interface CheckoutView {
  ref: string;
  status: PaymentStatus;
  /** Grows with every change the shopper can see; a client never shows a smaller one after a larger. */
  version: number;
  store: { name: string; brandColor: string; logoUrl: string | null; locale: CheckoutLocale };
  amount: string;
  currency: string;
  crypto: { coin: string | null; network: string | null; expected: string | null; received: string | null } | null;
  /** The gateway's hosted checkout page; null only while (or if) the gateway never created the payment. */
  gatewayUrl: string | null;
  /** Whether the gateway's page may be shown in a frame (none of today's gateways allow it). */
  frameable: boolean;
  expiresAt: string;
  serverTime: string;
  returnUrl: string;
  /** Underpaid only: the fiat value not yet covered, rounded up to the currency's minor unit. */
  missing: { amount: string; currency: string } | null;
  /** Underpaid and not yet expired: the gateway's page takes the rest. */
  canTopUp: boolean;
  support: { email: string | null };
}

export const CHECKOUT_VIEW_KEYS = ['ref', 'status', 'version', 'store', 'amount', 'currency', 'crypto', 'gatewayUrl', 'frameable', 'expiresAt',
  'serverTime', 'returnUrl', 'missing', 'canTopUp', 'support'] as const;

export interface CheckoutSnapshot {
  view: CheckoutView;
  /** The store's allowed framing origins, for the pay page's CSP (not part of the JSON). */
  frameAncestors: string[];
  /** Paid, overpaid, paid late or failed: nothing the shopper sees will change any more. */
  settled: boolean;
}

const SETTLED: readonly PaymentStatus[] = ['paid', 'overpaid', 'paid_late', 'failed'];

/** The shopper's view of payment `ref`, read in one statement (one snapshot), or undefined. */
export async function loadCheckout(q: Queryable, ref: string): Promise<CheckoutSnapshot | undefined> {
  if (!REF.test(ref)) return undefined;
  const { rows } = await q.query(
    `SELECT p.ref, p.status, p.amount_minor, p.currency, p.crypto_expected, p.crypto_received, p.crypto_coin, p.network, p.checkout_url,
            p.expires_at, p.return_url, p.checkout_version, s.name AS store_name, s.settings AS store_settings, clock_timestamp() AS server_time
       FROM payments p JOIN stores s ON s.id = p.store_id
      WHERE p.ref = $1`,
    [ref],
  );
  const r = rows[0];
  if (!r) return undefined;
  const settings = readSettings(r.store_settings);
  const stored = r.status as StoredStatus;
  const status: PaymentStatus = stored === 'initiating' ? 'created' : stored;
  const amount: Money = { minor: BigInt(r.amount_minor), currency: String(r.currency).trim() as CurrencyCode };
  const expiresAt = r.expires_at as Date;
  const serverTime = r.server_time as Date;
  const hasCrypto = r.crypto_expected !== null || r.crypto_received !== null || r.crypto_coin !== null || r.network !== null;
  const missing = status === 'underpaid' ? missingFiat(amount, r.crypto_expected, r.crypto_received) : undefined;
  const view: CheckoutView = {
    ref: r.ref,
    status,
    version: Number(r.checkout_version),
    store: { name: r.store_name, brandColor: settings.brandColor, logoUrl: settings.logoUrl, locale: settings.locale },
    amount: formatAmount(amount),
    currency: amount.currency,
    crypto: hasCrypto ? { coin: r.crypto_coin, network: r.network, expected: r.crypto_expected, received: r.crypto_received } : null,
    gatewayUrl: r.checkout_url,
    frameable: false,
    expiresAt: expiresAt.toISOString(),
    serverTime: serverTime.toISOString(),
    returnUrl: r.return_url,
    missing: missing ? { amount: formatAmount(missing), currency: missing.currency } : null,
    canTopUp: status === 'underpaid' && r.checkout_url !== null && serverTime.getTime() < expiresAt.getTime(),
    support: { email: settings.supportEmail },
  };
  return { view, frameAncestors: settings.frameAncestors, settled: SETTLED.includes(status) };
}

/**
 * The fiat not yet covered: amount × (1 − received / expected), rounded up to a whole minor unit
 * (the shopper must never be told too little). Exact: integers only. Undefined when the gateway
 * gave no usable amounts or nothing is missing.
 */
export function missingFiat(amount: Money, cryptoExpected: string | null, cryptoReceived: string | null): Money | undefined {
  const expected = parseDecimal(cryptoExpected);
  const received = parseDecimal(cryptoReceived ?? '0');
  if (!expected || !received || expected.units === 0n) return undefined;
  // amount − ⌊amount × R/E⌋ is amount × (1 − R/E) rounded up.
  const minor = amount.minor - shareOfAmount(amount, received, expected);
  return minor > 0n ? { minor, currency: amount.currency } : undefined;
}

/** Serialised for a `<script type="application/json">` block: no `<`, `>` or `&` can end it or open a comment. */
export function jsonForHtml(value: unknown): string {
  return JSON.stringify(value).replace(/[<>&\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}
