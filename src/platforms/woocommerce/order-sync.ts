import type { SecretBox } from '../../crypto/secret-box.ts';
import type { Database } from '../../db/database.ts';
import type { PaymentRow } from '../../db/payments-repo.ts';
import type { Store } from '../../db/stores-repo.ts';
import { formatAmount } from '../../core/money.ts';
import { isPaid } from '../../core/status.ts';
import type { PlatformAdapter, StoreWrite, SyncResult } from '../types.ts';
import type { WooOrder } from './client.ts';
import { clientFor, findWooStore, mappedStatus } from './stores.ts';

interface WooNote { id: number; note: string }

/**
 * How far along each status is; a write never moves an order to a lower rank, so an order that
 * is processing, completed or refunded (money taken, or done) never moves back.
 */
const RANK: Record<string, number> = { pending: 0, failed: 0, 'on-hold': 1, cancelled: 2, processing: 3, completed: 4, refunded: 5 };

/**
 * WooCommerce write-back over REST: the store's status map decides the order status; paid goes
 * through `set_paid` + `transaction_id` (WooCommerce's payment_complete); each status change
 * gets one order note (marked, so a re-run does not repeat it). REST status writes have no guard
 * in WooCommerce, so the guard is here: an order that is processing, completed or refunded never
 * moves back, and an order the store cancelled is never marked paid.
 */
export class WooOrderSync implements PlatformAdapter {
  readonly platform = 'woocommerce' as const;
  readonly #db: Database;
  readonly #box: SecretBox;
  readonly #opts: { allowPrivate: boolean; timeoutMs: number };
  readonly #payUrl: (p: PaymentRow) => string;

  constructor(deps: { db: Database; box: SecretBox; allowPrivate: boolean; timeoutMs: number; payUrl: (p: PaymentRow) => string }) {
    this.#db = deps.db;
    this.#box = deps.box;
    this.#opts = { allowPrivate: deps.allowPrivate, timeoutMs: deps.timeoutMs };
    this.#payUrl = deps.payUrl;
  }

  async syncOrder(payment: PaymentRow, store: Store): Promise<SyncResult> {
    const woo = await findWooStore(this.#db.pool, this.#box, store.id);
    if (woo?.status !== 'connected') return { outcome: 'skipped', reason: 'the store is not connected; nothing written', writes: [] };
    const status = mappedStatus(payment.status);
    if (!status) return { outcome: 'nothing-to-do', reason: `nothing to write for ${payment.status}`, writes: [] };
    const client = clientFor(woo, this.#opts);
    const writes: StoreWrite[] = [];
    const { data: order } = await client.get<WooOrder>(`orders/${payment.orderId}`);
    const marker = `[coinbridge:${payment.ref}:${payment.status}]`;

    if (isPaid(payment.status) && order.status === 'cancelled') {
      await this.#note(client, order, marker, `Crypto payment ${payment.ref} arrived for this cancelled order; it was not marked paid. Refund the shopper or re-open the order. ${marker}`, false, writes);
      return { outcome: 'written', reason: 'paid, but the order was cancelled in the store: left cancelled, noted for review', writes };
    }
    const target = woo.settings.statusMap[status];
    const update: Record<string, unknown> = {};
    const rank = (st: string) => RANK[st] ?? 0;
    const backwards = rank(target) < rank(order.status);
    if (order.status !== target && !backwards) update.status = target;
    if (isPaid(payment.status) && !order.date_paid) {
      update.transaction_id = payment.txHash ?? payment.gatewayPaymentId ?? payment.ref;
      // `set_paid` runs payment_complete(), which WooCommerce applies only to orders still needing
      // payment (pending, failed); an on-hold order is paid by the status write itself, which
      // sets date_paid and reduces stock the same way.
      if (order.status === 'pending' || order.status === 'failed') update.set_paid = true;
    }
    if (Object.keys(update).length > 0) {
      await client.put(`orders/${order.id}`, update);
      writes.push({ operation: 'PUT order', request: update, outcome: 'ok', response: { from: order.status } });
    }
    await this.#note(client, order, marker, noteFor(payment, this.#payUrl(payment)) + ` ${marker}`, woo.settings.customerNotes && isPaid(payment.status), writes);
    const reason = backwards ? `order is ${order.status}; not moved back to ${target}` : update.status ? `order moved to ${target}` : `order already ${order.status}`;
    return { outcome: writes.length ? 'written' : 'nothing-to-do', reason, writes };
  }

  async #note(client: ReturnType<typeof clientFor>, order: WooOrder, marker: string, text: string, customer: boolean, writes: StoreWrite[]): Promise<void> {
    const { data: notes } = await client.get<WooNote[]>(`orders/${order.id}/notes`, { type: 'internal' });
    const { data: customerNotes } = customer ? await client.get<WooNote[]>(`orders/${order.id}/notes`, { type: 'customer' }) : { data: [] as WooNote[] };
    if ([...notes, ...customerNotes].some((n) => n.note.includes(marker))) return;
    await client.post(`orders/${order.id}/notes`, { note: text, customer_note: customer });
    writes.push({ operation: 'POST note', request: { customer_note: customer }, outcome: 'ok' });
  }
}

function noteFor(p: PaymentRow, payUrl: string): string {
  const fiat = `${formatAmount(p.amount)} ${p.amount.currency}`;
  const crypto = p.cryptoReceived ? ` — received ${p.cryptoReceived}${p.cryptoCoin ? ` ${p.cryptoCoin}` : ''}${p.cryptoExpected ? ` of ${p.cryptoExpected} expected` : ''}` : '';
  const tx = p.txHash ? `, tx ${p.txHash}` : '';
  switch (p.status) {
    case 'paid': case 'overpaid': case 'paid_late': return `Crypto payment received (${p.status}) for ${fiat}${crypto}${tx}. Coinbridge payment ${p.ref}.`;
    case 'underpaid': return `Crypto payment short for ${fiat}${crypto}${tx}. The shopper can complete it at ${payUrl}.`;
    case 'review': return `Crypto payment ${p.ref} needs a review in Coinbridge${crypto}${tx}.`;
    case 'expired': return `Crypto payment ${p.ref} expired unpaid.`;
    case 'cancelled': return `Crypto payment ${p.ref} was cancelled.`;
    default: return `Crypto payment ${p.ref} is ${p.status} (${fiat}).`;
  }
}
