import { assertUnreachable } from '../errors.ts';
import type { GatewayFact } from './gateway-facts.ts';
import { compareRatio, exponentOf, formatAmount, type Money } from './money.ts';
import type { MerchantSettings } from './settings.ts';
import { canTransition, type StoredStatus } from './status.ts';

export interface PaymentSnapshot {
  status: StoredStatus;
  orderId: string;
  amount: Money;
  expiresAt: Date;
  /** The store cancelled its order (Shopify orders/cancelled, WooCommerce): money must not settle it. */
  storeOrderCancelled?: boolean;
}

export type Decision =
  | { kind: 'transition'; to: StoredStatus; reason: string; notes: string[] }
  | { kind: 'ignore'; reason: string; notes: string[] };

/**
 * Pure: what a verified gateway fact does to a payment. Money is `paid` only when the fact was
 * verified with the gateway and the order id, currency and amount agree; anything that does not
 * add up goes to `review`, never to `paid`.
 *
 * `observedAt` is when the hint arrived (the callback's receipt time), so a payment made before
 * expiry but verified after it is not counted late.
 */
export function decide(payment: PaymentSnapshot, fact: GatewayFact, settings: MerchantSettings, observedAt: Date): Decision {
  const notes: string[] = [];
  const to = (target: StoredStatus, reason: string): Decision => {
    if (target === payment.status) return { kind: 'ignore', reason: `already ${target}`, notes };
    if (!canTransition(payment.status, target)) {
      return { kind: 'ignore', reason: `${payment.status} → ${target} is not allowed (gateway said ${fact.reported})`, notes };
    }
    return { kind: 'transition', to: target, reason, notes };
  };

  if (!fact.verified) return { kind: 'ignore', reason: 'fact not verified with the gateway', notes };
  if (fact.orderId !== undefined && fact.orderId !== payment.orderId) {
    return to('review', `gateway reports order ${fact.orderId}, payment is for order ${payment.orderId}`);
  }
  if (fact.fiat?.currency !== undefined && fact.fiat.currency.toUpperCase() !== payment.amount.currency) {
    return to('review', `gateway reports currency ${fact.fiat.currency}, payment is in ${payment.amount.currency}`);
  }
  if (fact.fiat?.amount !== undefined && !sameAmount(fact.fiat.amount, payment.amount)) {
    return to('review', `gateway reports requested amount ${fact.fiat.amount}, payment expects ${formatAmount(payment.amount)}`);
  }

  if (payment.storeOrderCancelled && (fact.reported === 'paid' || fact.reported === 'underpaid')) {
    return to('review', 'money arrived for an order the store had cancelled; refund the shopper or re-open the order');
  }

  const windowClosed = payment.status === 'expired' || payment.status === 'cancelled' || observedAt > payment.expiresAt;
  const settledLate = (reason: string): Decision => {
    const lateMs = observedAt.getTime() - payment.expiresAt.getTime();
    if (lateMs > settings.latePaymentWindowMinutes * 60_000) {
      return to('review', `${reason}, ${Math.round(lateMs / 60_000)} min after expiry: outside the ${settings.latePaymentWindowMinutes}-minute late-payment window`);
    }
    if (settings.latePaymentPolicy === 'review') return to('review', `${reason} after expiry; store policy sends late payments to review`);
    return to('paid_late', `${reason} after expiry, inside the late-payment window`);
  };

  switch (fact.reported) {
    case 'unknown':
      return { kind: 'ignore', reason: `unknown gateway status ${fact.gatewayStatus}`, notes };
    case 'created':
    case 'pending':
      // Our own expiry: the gateway still waits, but the store's window is over.
      if (observedAt > payment.expiresAt && (payment.status === 'created' || payment.status === 'pending')) {
        return to('expired', 'store expiry reached; the gateway shows no payment');
      }
      if (fact.reported === 'created') return { kind: 'ignore', reason: 'gateway reports the payment as newly created', notes };
      return payment.status === 'created' ? to('pending', 'shopper chose a coin and network') : { kind: 'ignore', reason: `pending reported while ${payment.status}`, notes };
    case 'confirming':
      // After the window closed, a transaction in flight decides nothing yet: its confirmation
      // (paid or short) is what the late-payment policy judges.
      return payment.status === 'expired' || payment.status === 'cancelled'
        ? { kind: 'ignore', reason: `transaction seen while ${payment.status}; waiting for its confirmation`, notes }
        : to('confirming', 'transaction seen, waiting for confirmations');
    case 'underpaid':
      return windowClosed && payment.status !== 'underpaid' && payment.status !== 'confirming' && payment.status !== 'created' && payment.status !== 'pending'
        ? to('review', 'partial payment after expiry')
        : to('underpaid', 'less than the required amount received');
    case 'paid': {
      const verdict = amountVerdict(fact, settings, notes);
      if (verdict === 'short') {
        return windowClosed ? to('review', 'partial payment after expiry') : to('underpaid', 'confirmed amount is short of the required amount');
      }
      if (windowClosed) return settledLate(verdict === 'excess' ? 'overpaid' : 'paid');
      return verdict === 'excess' ? to('overpaid', 'confirmed, more than the required amount') : to('paid', 'confirmed by the gateway');
    }
    case 'expired':
    case 'rejected':
    case 'cancelled': {
      const target = fact.reported === 'cancelled' ? 'cancelled' : 'expired';
      if (payment.status === 'confirming' || payment.status === 'underpaid') {
        return to('review', `gateway reports ${fact.reported} while ${payment.status}: money may have moved`);
      }
      return to(target, fact.reported === 'cancelled' ? 'shopper cancelled at the gateway' : 'payment window over, nothing paid');
    }
    default:
      return assertUnreachable(fact.reported, 'reported status');
  }
}

function sameAmount(reported: string, expected: Money): boolean {
  const match = /^(\d+)(?:\.(\d+))?$/.exec(reported.trim());
  if (!match) return false;
  const whole = BigInt(match[1]!);
  const fraction = match[2] ?? '';
  const scale = 10n ** BigInt(fraction.length);
  // reported = (whole*scale + fraction)/scale; compare against expected minor/10^exp via cross products.
  const reportedScaled = whole * scale + BigInt(fraction || '0');
  return reportedScaled * 10n ** BigInt(exponentOf(expected.currency)) === expected.minor * scale;
}

/** Compares crypto received with crypto expected, within the store's underpayment tolerance. */
function amountVerdict(fact: GatewayFact, settings: MerchantSettings, notes: string[]): 'exact' | 'short' | 'excess' {
  const expected = fact.crypto?.expected;
  const received = fact.crypto?.received;
  if (!expected || !received || expected.units === 0n) {
    if (fact.amountJudgement === 'excess') {
      notes.push('more than the required amount, by the gateway\'s own status (it returned no amounts)');
      return 'excess';
    }
    notes.push('amount confirmed by status only: the gateway returned no amounts');
    return 'exact';
  }
  const tolerance = BigInt(10_000 - settings.underpaymentToleranceBp);
  if (compareRatio(received, expected, tolerance, 10_000n) < 0) return 'short';
  if (compareRatio(received, expected, 1n, 1n) > 0) return 'excess';
  if (compareRatio(received, expected, 1n, 1n) < 0) notes.push('short by less than the underpayment tolerance: accepted as paid');
  return 'exact';
}
