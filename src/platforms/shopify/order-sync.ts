import { formatAmount, parseAmount, parseDecimal, shareOfAmount, type Money } from '../../core/money.ts';
import type { PaymentService } from '../../core/payment-service.ts';
import type { SecretBox } from '../../crypto/secret-box.ts';
import type { Database } from '../../db/database.ts';
import type { PaymentRow } from '../../db/payments-repo.ts';
import type { Store } from '../../db/stores-repo.ts';
import { UpstreamRefusal, assertUnreachable } from '../../errors.ts';
import type { PlatformAdapter, StoreWrite, SyncResult } from '../types.ts';
import type { ShopifyAdmin } from './admin.ts';
import { ORDER_QUERY } from './orders.ts';
import { shopForStore, type ShopRecord } from './shops.ts';

const METAFIELD_NAMESPACE = 'coinbridge';

const CAPTURE = `mutation orderCapture($input: OrderCaptureInput!) {
  orderCapture(input: $input) { transaction { id status amountSet { shopMoney { amount currencyCode } } } userErrors { field message } }
}`;
const CANCEL = `mutation orderCancel($orderId: ID!, $reason: OrderCancelReason!, $restock: Boolean!, $refund: Boolean, $notifyCustomer: Boolean, $staffNote: String) {
  orderCancel(orderId: $orderId, reason: $reason, restock: $restock, refund: $refund, notifyCustomer: $notifyCustomer, staffNote: $staffNote) {
    job { id } orderCancelUserErrors { field message code }
  }
}`;
const METAFIELDS = `mutation metafieldsSet($metafields: [MetafieldsSetInput!]!) {
  metafieldsSet(metafields: $metafields) { metafields { key } userErrors { field message } }
}`;
const TAGS = `mutation tagsAdd($id: ID!, $tags: [String!]!) { tagsAdd(id: $id, tags: $tags) { node { id } userErrors { field message } } }`;

interface OrderTransaction { id: string; kind: string; status: string; manuallyCapturable: boolean; parentTransaction: { id: string } | null; amountSet: { shopMoney: { amount: string; currencyCode: string } } }
interface AdminOrder { id: string; name: string; cancelledAt: string | null; tags: string[]; transactions: OrderTransaction[] }

/**
 * Shopify write-back over Admin GraphQL. Paid → `orderCapture` of the verified amount on the
 * pending, manually capturable SALE (or AUTHORIZATION) a manual payment method leaves, minus
 * what Shopify already shows captured — so a retried job never captures twice; plus metafields
 * and a tag. A cancelled order is never captured.
 */
export class ShopifyOrderSync implements PlatformAdapter {
  readonly platform = 'shopify' as const;
  readonly #db: Database;
  readonly #box: SecretBox;
  readonly #admin: ShopifyAdmin;
  readonly #payments: PaymentService;

  constructor(deps: { db: Database; box: SecretBox; admin: ShopifyAdmin; payments: PaymentService }) {
    this.#db = deps.db;
    this.#box = deps.box;
    this.#admin = deps.admin;
    this.#payments = deps.payments;
  }

  async syncOrder(payment: PaymentRow, store: Store, opts: { atExpiry: boolean }): Promise<SyncResult> {
    const shop = await shopForStore(this.#db.pool, this.#box, store.id);
    if (!shop?.installed) return { outcome: 'skipped', reason: 'the app is not installed on the shop; nothing written', writes: [] };
    const writes: StoreWrite[] = [];
    const status = payment.status;
    switch (status) {
      case 'initiating': case 'created': case 'pending': case 'confirming': case 'cancelled': case 'failed':
        return { outcome: 'nothing-to-do', reason: `nothing to write for ${status}`, writes };
      case 'paid': case 'overpaid': case 'paid_late': {
        const order = await this.#order(shop, payment);
        if (order.cancelledAt) {
          await this.#mark(shop, order, payment, 'review', writes);
          return { outcome: 'written', reason: 'paid, but the order was cancelled in Shopify: not captured; refund the shopper or re-open the order', writes };
        }
        await this.#captureUpTo(shop, order, payment.amount, writes);
        await this.#mark(shop, order, payment, 'paid', writes);
        return { outcome: 'written', reason: 'captured the verified amount', writes };
      }
      case 'underpaid': {
        if (!opts.atExpiry) return { outcome: 'nothing-to-do', reason: 'underpaid; the shopper may still top up', writes };
        if (shop.settings.underpaidAtExpiry === 'review') {
          await this.#payments.sendToReview(payment.id, 'underpaid at expiry; shop policy sends shortfalls to review');
          return { outcome: 'nothing-to-do', reason: 'shortfall at expiry handed to review (its own write-back follows)', writes };
        }
        const received = receivedFiat(payment);
        if (!received) {
          await this.#payments.sendToReview(payment.id, 'underpaid at expiry, but the gateway gave no amounts to capture a part of');
          return { outcome: 'nothing-to-do', reason: 'no amounts for a partial capture; handed to review', writes };
        }
        const order = await this.#order(shop, payment);
        if (order.cancelledAt) return { outcome: 'nothing-to-do', reason: 'order cancelled in Shopify; nothing captured', writes };
        await this.#captureUpTo(shop, order, received, writes);
        await this.#mark(shop, order, payment, 'underpaid', writes);
        return { outcome: 'written', reason: `partial capture of ${formatAmount(received)} ${received.currency} at expiry`, writes };
      }
      case 'review': {
        const order = await this.#order(shop, payment);
        await this.#mark(shop, order, payment, 'review', writes);
        return { outcome: 'written', reason: 'tagged for review', writes };
      }
      case 'expired': {
        if (!shop.settings.cancelOnExpiry) return { outcome: 'nothing-to-do', reason: 'expired; the shop does not cancel expired orders', writes };
        const order = await this.#order(shop, payment);
        if (order.cancelledAt) return { outcome: 'nothing-to-do', reason: 'order already cancelled', writes };
        if (capturedOn(order) > 0n) return { outcome: 'nothing-to-do', reason: 'order has captured money; not cancelled', writes };
        await this.#cancel(shop, order, payment, writes);
        return { outcome: 'written', reason: 'cancelled the expired order (restocked, no refund)', writes };
      }
      default:
        return assertUnreachable(status, 'payment status');
    }
  }

  async #order(shop: ShopRecord, payment: PaymentRow): Promise<AdminOrder> {
    const data = await this.#admin.graphql<{ order: AdminOrder | null }>(shop.domain, ORDER_QUERY, { id: payment.orderId });
    if (!data.order) throw new UpstreamRefusal('shopify_order_missing', `Order ${payment.orderId} no longer exists in ${shop.domain}.`);
    return data.order;
  }

  async #captureUpTo(shop: ShopRecord, order: AdminOrder, target: Money, writes: StoreWrite[]): Promise<void> {
    const parent = order.transactions.find((t) => (t.kind === 'SALE' || t.kind === 'AUTHORIZATION') && !t.parentTransaction && t.amountSet.shopMoney.currencyCode === target.currency);
    if (!parent) throw new UpstreamRefusal('shopify_no_capturable_transaction', `Order ${order.name} has no ${target.currency} sale to capture; was it paid by another method?`);
    const parentAmount = toMoney(parent.amountSet.shopMoney.amount, target.currency);
    const captured = capturedOn(order, parent.id);
    const wanted = target.minor < parentAmount ? target.minor : parentAmount;
    const missing = wanted - captured;
    if (missing <= 0n) {
      writes.push({ operation: 'orderCapture', request: { parentTransactionId: parent.id }, outcome: 'ok', response: { skipped: 'already captured', captured: formatAmount({ minor: captured, currency: target.currency }) } });
      return;
    }
    if (!parent.manuallyCapturable) throw new UpstreamRefusal('shopify_not_capturable', `Order ${order.name}: the sale is no longer capturable in Shopify.`);
    const amount = formatAmount({ minor: missing, currency: target.currency });
    const input = { id: order.id, parentTransactionId: parent.id, amount, currency: target.currency };
    const data = await this.#admin.graphql<{ orderCapture: { transaction: { id: string } | null; userErrors: { message: string }[] } }>(shop.domain, CAPTURE, { input });
    refuseOnUserErrors('orderCapture', order, data.orderCapture.userErrors, writes, input);
    writes.push({ operation: 'orderCapture', request: input, outcome: 'ok', response: { transactionId: data.orderCapture.transaction?.id ?? null } });
  }

  async #cancel(shop: ShopRecord, order: AdminOrder, payment: PaymentRow, writes: StoreWrite[]): Promise<void> {
    const vars = { orderId: order.id, reason: 'DECLINED', restock: true, refund: false, notifyCustomer: false, staffNote: `Crypto payment ${payment.ref} expired unpaid (Coinbridge).` };
    const data = await this.#admin.graphql<{ orderCancel: { job: { id: string } | null; orderCancelUserErrors: { message: string }[] } }>(shop.domain, CANCEL, vars);
    refuseOnUserErrors('orderCancel', order, data.orderCancel.orderCancelUserErrors, writes, vars);
    writes.push({ operation: 'orderCancel', request: vars, outcome: 'ok', response: { job: data.orderCancel.job?.id ?? null } });
  }

  /** Metafields (payment id, pay URL, tx hash, status) and a `coinbridge-{state}` tag. */
  async #mark(shop: ShopRecord, order: AdminOrder, payment: PaymentRow, state: 'paid' | 'underpaid' | 'review', writes: StoreWrite[]): Promise<void> {
    const fields: Record<string, string> = { payment_id: payment.id, pay_url: this.#payments.payUrl(payment), status: payment.status };
    if (payment.txHash) fields.tx_hash = payment.txHash;
    const metafields = Object.entries(fields).map(([key, value]) => ({ ownerId: order.id, namespace: METAFIELD_NAMESPACE, key, type: 'single_line_text_field', value }));
    const m = await this.#admin.graphql<{ metafieldsSet: { userErrors: { message: string }[] } }>(shop.domain, METAFIELDS, { metafields });
    refuseOnUserErrors('metafieldsSet', order, m.metafieldsSet.userErrors, writes, { keys: Object.keys(fields) });
    writes.push({ operation: 'metafieldsSet', request: { keys: Object.keys(fields) }, outcome: 'ok' });
    const tag = `coinbridge-${state}`;
    if (order.tags.includes(tag)) return;
    const t = await this.#admin.graphql<{ tagsAdd: { userErrors: { message: string }[] } }>(shop.domain, TAGS, { id: order.id, tags: [tag] });
    refuseOnUserErrors('tagsAdd', order, t.tagsAdd.userErrors, writes, { tags: [tag] });
    writes.push({ operation: 'tagsAdd', request: { tags: [tag] }, outcome: 'ok' });
  }
}

function refuseOnUserErrors(operation: string, order: AdminOrder, errors: { message: string }[] | undefined, writes: StoreWrite[], request: Record<string, unknown>): void {
  if (!errors?.length) return;
  writes.push({ operation, request, outcome: 'refused', response: { userErrors: errors.map((e) => e.message) } });
  throw new UpstreamRefusal('shopify_refused_write', `Shopify refused ${operation} on order ${order.name}: ${errors.map((e) => e.message).join('; ')}`, { writes });
}

function toMoney(amount: string, currency: Money['currency']): bigint {
  const parsed = parseAmount(amount, currency);
  if (!parsed.ok) throw new UpstreamRefusal('shopify_bad_amount', `Shopify reported amount "${amount}": ${parsed.reason}`);
  return parsed.value.minor;
}

/** Money Shopify shows captured (on one parent transaction, or on the whole order). */
function capturedOn(order: AdminOrder, parentId?: string): bigint {
  return order.transactions
    .filter((t) => t.kind === 'CAPTURE' && t.status === 'SUCCESS' && (parentId === undefined || t.parentTransaction?.id === parentId))
    .reduce((sum, t) => {
      const parsed = parseAmount(t.amountSet.shopMoney.amount, t.amountSet.shopMoney.currencyCode as Money['currency']);
      return sum + (parsed.ok ? parsed.value.minor : 0n);
    }, 0n);
}

/** The order value of what arrived: amount × received/expected crypto, rounded down to minor units. */
export function receivedFiat(payment: PaymentRow): Money | undefined {
  const expected = parseDecimal(payment.cryptoExpected);
  const received = parseDecimal(payment.cryptoReceived);
  if (!expected || !received || expected.units === 0n) return undefined;
  const minor = shareOfAmount(payment.amount, received, expected);
  return minor > 0n ? { minor, currency: payment.amount.currency } : undefined;
}
