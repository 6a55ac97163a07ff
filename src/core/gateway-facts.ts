import type { Decimal } from './money.ts';

/**
 * What a gateway says about a payment, in canonical words. Adapters translate their own codes
 * into this; the core decides what it means for the payment.
 */
export type ReportedStatus =
  | 'created' | 'pending' | 'confirming' | 'underpaid' | 'paid' | 'expired' | 'cancelled' | 'rejected' | 'unknown';

export interface GatewayFact {
  reported: ReportedStatus;
  /** The gateway's own code or name, kept for the event log. */
  gatewayStatus: string;
  /** True only when this came from the gateway's verify/status API (not from a callback body). */
  verified: boolean;
  orderId?: string | undefined;
  fiat?: { amount?: string | undefined; currency?: string | undefined } | undefined;
  crypto?: { expected?: Decimal | undefined; received?: Decimal | undefined; coin?: string | undefined } | undefined;
  txHash?: string | undefined;
  network?: string | undefined;
  /**
   * The gateway's own judgement of the amount, for gateways that report no received amount but say
   * "overpaid"/"underpaid" in their status (Crypto Checkout). Amounts, when present, still win.
   */
  amountJudgement?: 'exact' | 'short' | 'excess' | undefined;
}
