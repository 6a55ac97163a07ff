import { parseAmount, parseCurrency } from '../../core/money.ts';
import type { PaymentService } from '../../core/payment-service.ts';
import type { Database } from '../../db/database.ts';
import { findLivePaymentForOrder } from '../../db/payments-repo.ts';
import { findStore } from '../../db/stores-repo.ts';
import type { WooOrder } from './client.ts';
import type { WooStore } from './stores.ts';

/** The payment method id the plugin registers. */
export const GATEWAY_ID = 'coinbridge';

/** Orders young enough that the plugin's own checkout call may still be on its way. */
const CHECKOUT_GRACE_MS = 2 * 60_000;

/**
 * Brings Coinbridge in line with what the store says about one order (read from the store, never
 * from a webhook body): a cancelled order makes its payment unpayable; a crypto order the plugin
 * never got a payment for (Coinbridge unreachable at checkout) gets one, so the pay link works.
 */
export async function reconcileOrder(deps: { db: Database; payments: PaymentService }, store: WooStore, order: WooOrder, now = new Date()): Promise<string> {
  if (order.payment_method !== GATEWAY_ID) return 'ignored: not a Coinbridge order';
  const orderId = String(order.id);
  const payment = await findLivePaymentForOrder(deps.db.pool, store.storeId, orderId);
  if (order.status === 'cancelled' || order.status === 'trash') {
    if (!payment) return 'cancelled in the store before any payment was made';
    if (payment.storeOrderCancelledAt) return `already known cancelled; payment is ${payment.status}`;
    return `payment is ${await deps.payments.storeOrderCancelled(payment.id, `WooCommerce order ${order.number} was cancelled in the store`)}`;
  }
  if (payment) return `payment ${payment.ref} is ${payment.status}`;
  if (order.status !== 'pending' && order.status !== 'on-hold') return `ignored: order is ${order.status}`;
  const created = order.date_created_gmt ? Date.parse(`${order.date_created_gmt}Z`) : NaN;
  if (Number.isFinite(created) && now.getTime() - created < CHECKOUT_GRACE_MS) return 'waiting: the checkout may still be creating its payment';
  const coinbridgeStore = await findStore(deps.db.pool, store.storeId);
  const currency = parseCurrency(order.currency);
  if (!coinbridgeStore || !currency.ok) return `ignored: ${currency.ok ? 'store gone' : currency.reason}`;
  const amount = parseAmount(order.total, currency.value);
  if (!amount.ok) return `ignored: ${amount.reason}`;
  const { payment: made } = await deps.payments.create(coinbridgeStore, {
    orderId, amount: amount.value,
    returnUrl: `${store.storeUrl}/checkout/order-received/${orderId}/?key=${encodeURIComponent(order.order_key)}`,
    customerEmail: order.billing?.email || undefined, metadata: { orderKey: order.order_key, orderNumber: order.number },
  }, undefined);
  return `payment ${made.ref} made for an order the checkout left without one`;
}
