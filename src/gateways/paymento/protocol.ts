import type { ReportedStatus } from '../../core/gateway-facts.ts';

/** Paymento's order status codes (reference/platforms.md; 6 is in the swagger enum, undocumented). */
export const PAYMENTO_STATUS = {
  Initialize: 0,
  Pending: 1,
  PartialPaid: 2,
  WaitingToConfirm: 3,
  Timeout: 4,
  UserCanceled: 5,
  Paid: 7,
  Approve: 8,
  Reject: 9,
} as const;

const BY_NAME = new Map<string, number>(Object.entries(PAYMENTO_STATUS).map(([k, v]) => [k.toLowerCase(), v]));

/** Accepts the swagger's integer or the newer docs' status name. */
export function paymentoStatusCode(value: unknown): number | undefined {
  if (typeof value === 'number' && Number.isInteger(value)) return value;
  if (typeof value === 'string') {
    const trimmed = value.trim();
    if (/^\d+$/.test(trimmed)) return Number(trimmed);
    return BY_NAME.get(trimmed.toLowerCase());
  }
  return undefined;
}

export function mapPaymentoStatus(code: number | undefined): ReportedStatus {
  switch (code) {
    case 0: return 'created';
    case 1: return 'pending';
    case 2: return 'underpaid';
    case 3: return 'confirming';
    case 4: return 'expired';
    case 5: return 'cancelled';
    case 7: case 8: return 'paid';
    case 9: return 'rejected';
    default: return 'unknown'; // 6 and anything new: logged, changes nothing
  }
}

export interface PaymentoEnvelope<T> {
  success: boolean;
  message: string | null;
  body: T;
}

export interface PaymentoAdditionalData {
  key: string | null;
  value: string | null;
}

export interface PaymentoPaymentRequest {
  fiatAmount: string;
  fiatCurrency: string;
  returnUrl: string;
  orderId: string;
  riskSpeed: 0 | 1;
  language?: string;
  emailAddress?: string;
  additionalData: PaymentoAdditionalData[];
}

/** Verify answer: the swagger shape, plus the newer docs' `settlement` (both accepted). */
export interface PaymentoVerifyBody {
  token?: string | null;
  orderId?: string | null;
  orderStatus?: number | string;
  additionalData?: PaymentoAdditionalData[] | null;
  settlement?: {
    expectedCryptoAmount?: string | number | null;
    requestedFiatAmount?: string | number | null;
    receivedCryptoAmount?: string | number | null;
    pendingTxHash?: string | null;
    coin?: string | null;
    fiatCurrency?: string | null;
  } | null;
}

export interface PaymentoSettings {
  ipN_URL?: string | null;
  ipN_Method?: number;
  IPN_Url?: string | null;
  IPN_Method?: number;
}

/** The IPN body Paymento posts (PascalCase, as documented). */
export interface PaymentoIpn {
  Token: string;
  PaymentId?: number | string;
  OrderId?: string;
  OrderStatus: number | string;
  AdditionalData?: PaymentoAdditionalData[];
}

export const SIGNATURE_HEADER = 'x-hmac-sha256-signature';
