import type { GatewayFact, ReportedStatus } from '../core/gateway-facts.ts';
import type { Money } from '../core/money.ts';

export const GATEWAY_NAMES = ['paymento', 'crypto-checkout', 'cryptonow'] as const;
export type GatewayName = (typeof GATEWAY_NAMES)[number];
export type ConnectionMode = 'live' | 'sandbox';

export interface GatewayCredentials {
  /** Paymento `Api-Key`; Crypto Checkout `ck_test_…`/`ck_live_…`; CryptoNow public key (`X-Public-Key`). */
  apiKey: string;
  /**
   * The secret callbacks are signed with: Paymento IPN secret; Crypto Checkout webhook secret;
   * CryptoNow private key (which also signs every API request).
   */
  ipnSecret: string;
  /** Self-hosted gateways (Crypto Checkout): the merchant's own instance, e.g. https://pay.example.com. */
  apiOrigin?: string | undefined;
}

export interface GatewayConnection {
  id: string;
  storeId: string;
  gateway: GatewayName;
  mode: ConnectionMode;
  credentials: GatewayCredentials;
}

export interface CreatePaymentInput {
  /** Coinbridge's payment id: the gateway echoes it back so callbacks can be matched. */
  paymentId: string;
  orderId: string;
  amount: Money;
  returnUrl: string;
  customerEmail?: string | undefined;
  language?: string | undefined;
  confirmationSpeed: 'fast' | 'secure';
}

export interface CreatedPayment {
  gatewayPaymentId: string;
  /** Where the shopper pays on the gateway's own page. */
  checkoutUrl: string;
}

/** A callback that passed its signature check: a hint to go and verify, never a fact. */
export interface CallbackHint {
  gatewayPaymentId: string;
  /** Same key for the same notification however often it is delivered. */
  dedupeKey: string;
  reported: ReportedStatus;
  gatewayStatus: string;
  orderId?: string | undefined;
}

/** `stale_signature`: signed correctly, but its timestamp is outside the gateway's tolerance (a replay or a wrong clock). */
export type CallbackRejection = 'missing_signature' | 'bad_signature' | 'stale_signature' | 'malformed_body';

export type CallbackVerdict =
  | { ok: true; hint: CallbackHint }
  | { ok: false; reason: CallbackRejection; message: string };

export interface GatewayCapabilities {
  /** The gateway reports received crypto amounts (otherwise amounts are confirmed by status only). */
  reportsAmounts: boolean;
  /** A shopper can top up an underpaid payment at the same address. */
  topUp: boolean;
  /** Coinbridge registers its callback URL through the API (else the merchant pastes it). */
  configuresCallbackUrl: boolean;
  /** The gateway dedupes creation on our idempotency key. */
  idempotentCreate: boolean;
}

/** Where an adapter sends its API calls for one connection (live origin, the merchant's instance, or the built-in sandbox). */
export type OriginFor = (conn: GatewayConnection) => string;

/**
 * One interface, many gateways. Adapters translate; the payment core decides. Every adapter
 * passes the shared conformance suite in test/gateways/conformance.ts.
 */
export interface GatewayAdapter {
  readonly name: GatewayName;
  readonly capabilities: GatewayCapabilities;
  createPayment(conn: GatewayConnection, input: CreatePaymentInput): Promise<CreatedPayment>;
  /** Asks the gateway's own API (the truth) what the payment's status is. */
  getStatus(conn: GatewayConnection, gatewayPaymentId: string): Promise<GatewayFact>;
  /** Checks the signature on the raw bytes, then parses. Never calls out. */
  parseCallback(conn: GatewayConnection, rawBody: Buffer, headers: Record<string, string | string[] | undefined>): CallbackVerdict;
  /** Points the gateway's callbacks at Coinbridge. */
  configureCallbacks(conn: GatewayConnection, callbackUrl: string): Promise<void>;
  /** Cheap authenticated call to prove the credentials work. */
  testConnection(conn: GatewayConnection): Promise<void>;
  mapStatus(code: string | number): ReportedStatus;
}
