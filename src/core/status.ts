import { assertUnreachable } from '../errors.ts';

/** The canonical payment statuses (DESIGN §2), one model for every gateway and platform. */
export const PAYMENT_STATUSES = [
  'created', 'pending', 'confirming', 'underpaid', 'paid', 'overpaid', 'paid_late', 'expired', 'cancelled', 'review', 'failed',
] as const;
export type PaymentStatus = (typeof PAYMENT_STATUSES)[number];

/**
 * `initiating` is internal: the row exists (it reserves the store order) but the gateway has not
 * answered yet. It never reaches a store and becomes `created` or `failed` within one request.
 */
export type StoredStatus = PaymentStatus | 'initiating';
export const STORED_STATUSES: readonly StoredStatus[] = ['initiating', ...PAYMENT_STATUSES];

const PAID: readonly PaymentStatus[] = ['paid', 'overpaid', 'paid_late'];

/**
 * The only moves a payment may make. Anything not listed is refused, so nothing moves backwards:
 * a late `pending` after `paid` is recorded and ignored. `expired` and `cancelled` still accept a
 * late payment (to `paid_late` or `review`); `review` leaves only by a human decision.
 */
export const TRANSITIONS: Readonly<Record<StoredStatus, readonly StoredStatus[]>> = {
  initiating: ['created', 'failed'],
  created: ['pending', 'confirming', 'underpaid', 'paid', 'overpaid', 'paid_late', 'expired', 'cancelled', 'review'],
  pending: ['confirming', 'underpaid', 'paid', 'overpaid', 'paid_late', 'expired', 'cancelled', 'review'],
  confirming: ['underpaid', 'paid', 'overpaid', 'paid_late', 'review'],
  underpaid: ['confirming', 'paid', 'overpaid', 'paid_late', 'review'],
  expired: ['paid_late', 'review'],
  cancelled: ['paid_late', 'review'],
  review: ['paid', 'overpaid', 'paid_late', 'expired', 'cancelled'],
  paid: [],
  overpaid: [],
  paid_late: [],
  failed: [],
};

export function canTransition(from: StoredStatus, to: StoredStatus): boolean {
  return TRANSITIONS[from].includes(to);
}

export function isPaid(status: StoredStatus): boolean {
  return (PAID as readonly string[]).includes(status);
}

/** Statuses the gateway may still move on its own (the reconciler keeps asking about these). */
export function isOpen(status: StoredStatus): boolean {
  switch (status) {
    case 'initiating': case 'created': case 'pending': case 'confirming': case 'underpaid':
      return true;
    case 'paid': case 'overpaid': case 'paid_late': case 'expired': case 'cancelled': case 'review': case 'failed':
      return false;
    default:
      return assertUnreachable(status, 'payment status');
  }
}
