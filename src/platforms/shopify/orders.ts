import { parseAmount, parseCurrency } from '../../core/money.ts';
import type { PaymentService } from '../../core/payment-service.ts';
import type { Database } from '../../db/database.ts';
import { findLivePaymentForOrder, findPayment, type PaymentRow } from '../../db/payments-repo.ts';
import { findStore } from '../../db/stores-repo.ts';
import { UpstreamRefusal } from '../../errors.ts';
import { paidWithCryptoMethod, type ShopRecord } from './shops.ts';

/** One Shopify order as Coinbridge needs it, whether it came by webhook or by Admin GraphQL. */
export interface ShopifyOrderFacts {
  gid: string;
  name: string;
  total: string;
  currency: string;
  gatewayNames: string[];
  email: string | null;
  customerGid: string | null;
  statusUrl: string | null;
  cancelledAt: string | null;
}

const str = (v: unknown): string | null => (typeof v === 'string' && v !== '' ? v : null);

/** From an `orders/create` / `orders/cancelled` payload (the REST order resource). */
export function orderFromWebhook(p: Record<string, any>): ShopifyOrderFacts {
  const gid = str(p.admin_graphql_api_id) ?? (p.id !== undefined ? `gid://shopify/Order/${String(p.id)}` : '');
  return {
    gid, name: str(p.name) ?? gid, total: String(p.total_price ?? ''), currency: String(p.currency ?? ''),
    gatewayNames: Array.isArray(p.payment_gateway_names) ? p.payment_gateway_names.map(String) : [],
    email: str(p.email) ?? str(p.customer?.email), customerGid: str(p.customer?.admin_graphql_api_id) ?? (p.customer?.id ? `gid://shopify/Customer/${String(p.customer.id)}` : null),
    statusUrl: str(p.order_status_url), cancelledAt: str(p.cancelled_at),
  };
}

export const ORDER_QUERY = `query order($id: ID!) {
  order(id: $id) {
    id name email cancelledAt statusPageUrl paymentGatewayNames displayFinancialStatus tags
    customer { id }
    totalPriceSet { shopMoney { amount currencyCode } }
    transactions { id kind status manuallyCapturable parentTransaction { id } amountSet { shopMoney { amount currencyCode } } }
  }
}`;

export function orderFromGraphql(o: Record<string, any>): ShopifyOrderFacts {
  return {
    gid: String(o.id), name: str(o.name) ?? String(o.id), total: String(o.totalPriceSet?.shopMoney?.amount ?? ''),
    currency: String(o.totalPriceSet?.shopMoney?.currencyCode ?? ''), gatewayNames: Array.isArray(o.paymentGatewayNames) ? o.paymentGatewayNames.map(String) : [],
    email: str(o.email), customerGid: str(o.customer?.id), statusUrl: str(o.statusPageUrl), cancelledAt: str(o.cancelledAt),
  };
}

/** Checkout extensions name the order as `gid://shopify/OrderIdentity/{n}`; the Admin API as `Order/{n}`. */
export function normaliseOrderGid(id: string): string | undefined {
  const m = /^gid:\/\/shopify\/(?:Order|OrderIdentity)\/(\d{1,20})$/.exec(id) ?? /^(\d{1,20})$/.exec(id);
  return m ? `gid://shopify/Order/${m[1]}` : undefined;
}

export type OrderPaymentOutcome =
  | { kind: 'payment'; payment: PaymentRow }
  | { kind: 'not-crypto' }
  | { kind: 'cancelled' };

/**
 * The one gateway payment of a crypto-method order, made on first ask — by the `orders/create`
 * job or by the thank-you block, whichever comes first. The order id is the payments table's
 * unique key, so both racing still make one payment.
 */
export async function paymentForOrder(deps: { db: Database; payments: PaymentService }, shop: ShopRecord, order: ShopifyOrderFacts): Promise<OrderPaymentOutcome> {
  if (!paidWithCryptoMethod(order.gatewayNames, shop.settings)) return { kind: 'not-crypto' };
  if (!shop.storeId) throw new UpstreamRefusal('shop_without_store', `${shop.domain} has no Coinbridge store; reinstall the app.`);
  const { rows } = await deps.db.pool.query(
    `INSERT INTO shopify_orders (shop_domain, order_gid, order_name, store_id, customer_gid, customer_email, cancelled_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7)
     ON CONFLICT (shop_domain, order_gid) DO UPDATE SET order_name = EXCLUDED.order_name,
       customer_gid = coalesce(shopify_orders.customer_gid, EXCLUDED.customer_gid), customer_email = coalesce(shopify_orders.customer_email, EXCLUDED.customer_email),
       cancelled_at = coalesce(shopify_orders.cancelled_at, EXCLUDED.cancelled_at)
     RETURNING payment_id, cancelled_at`,
    [shop.domain, order.gid, order.name, shop.storeId, order.customerGid, order.email, order.cancelledAt],
  );
  if (rows[0].payment_id) {
    const existing = await findPayment(deps.db.pool, rows[0].payment_id);
    if (existing) return { kind: 'payment', payment: existing };
  }
  if (rows[0].cancelled_at) return { kind: 'cancelled' };

  const store = await findStore(deps.db.pool, shop.storeId);
  if (!store) throw new UpstreamRefusal('shop_without_store', `${shop.domain} has no Coinbridge store; reinstall the app.`);
  const currency = parseCurrency(order.currency);
  if (!currency.ok) throw new UpstreamRefusal('unsupported_order', `Order ${order.name}: ${currency.reason}`);
  const amount = parseAmount(order.total, currency.value);
  if (!amount.ok) throw new UpstreamRefusal('unsupported_order', `Order ${order.name}: ${amount.reason}`);

  // The thank-you block and the webhook build the request from different sources; for the same
  // order and money the payment service hands both the one payment.
  let { payment } = await deps.payments.create(store, {
    orderId: order.gid, amount: amount.value, returnUrl: order.statusUrl ?? `https://${shop.domain}/`,
    customerEmail: order.email ?? undefined, metadata: { shopifyOrder: order.name },
  }, `shopify:${order.gid}`);
  const linked = await deps.db.pool.query('UPDATE shopify_orders SET payment_id = $3 WHERE shop_domain = $1 AND order_gid = $2 RETURNING cancelled_at', [shop.domain, order.gid, payment.id]);
  if (linked.rows[0]?.cancelled_at && !payment.storeOrderCancelledAt) {
    // orders/cancelled was handled while this payment was being made.
    await deps.payments.storeOrderCancelled(payment.id, `Shopify order ${order.name} was cancelled`);
    payment = (await findPayment(deps.db.pool, payment.id)) ?? payment;
  }
  return { kind: 'payment', payment };
}

/**
 * The merchant cancelled the order: its payment can no longer be paid, and money that arrives
 * anyway goes to review. An order cancelled before its `orders/create` was handled is remembered,
 * so no payment is made for it later.
 */
export async function orderCancelled(deps: { db: Database; payments: PaymentService }, shop: ShopRecord, order: ShopifyOrderFacts): Promise<string> {
  if (!paidWithCryptoMethod(order.gatewayNames, shop.settings) || !shop.storeId) return 'ignored: not a crypto-method order';
  const { rows } = await deps.db.pool.query(
    `INSERT INTO shopify_orders (shop_domain, order_gid, order_name, store_id, cancelled_at) VALUES ($1, $2, $3, $4, coalesce($5::timestamptz, now()))
     ON CONFLICT (shop_domain, order_gid) DO UPDATE SET cancelled_at = coalesce(shopify_orders.cancelled_at, EXCLUDED.cancelled_at)
     RETURNING payment_id`,
    [shop.domain, order.gid, order.name, shop.storeId, order.cancelledAt],
  );
  const paymentId = rows[0].payment_id ?? (await findLivePaymentForOrder(deps.db.pool, shop.storeId, order.gid))?.id;
  if (!paymentId) return 'order cancelled before any payment was made';
  const status = await deps.payments.storeOrderCancelled(paymentId, `Shopify order ${order.name} was cancelled`);
  return `payment is ${status}`;
}
