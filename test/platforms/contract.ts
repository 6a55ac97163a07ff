/**
 * The contract every store platform's write-back must meet (Shopify now, WooCommerce next),
 * run against that platform's emulator through a small driver. Same idea as the gateway
 * conformance suite: one set of promises, many platforms.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { enqueueJob } from '../../src/jobs/queue.ts';
import { eventsOf, sandboxAction, sandboxToken, waitFor, waitForStatus, type TestApp } from '../support/harness.ts';

export interface StoreOrderView {
  /** Money the store shows as received for the order, as a decimal string ('0' when none). */
  paid: string;
  /** How many separate payment writes (captures, set_paid) the store recorded. */
  paymentWrites: number;
  cancelled: boolean;
}

export interface PlatformDriver {
  readonly t: TestApp;
  start(): Promise<void>;
  stop(): Promise<void>;
  /** A crypto-method store order announced to Coinbridge; resolves once its payment exists. */
  placeOrder(total: string): Promise<{ order: string; paymentId: string }>;
  /** The merchant cancels the order in the store, and the store tells Coinbridge. */
  cancelInStore(order: string): Promise<void>;
  storeOrder(order: string): StoreOrderView;
  /** The store's API refuses the next `n` calls as it does under load (throttling, then 5xx). */
  troubleNext(n: number): void;
  setCancelOnExpiry(on: boolean): Promise<void>;
}

export function platformContract(name: string, makeDriver: () => PlatformDriver): void {
  describe(`platform write-back contract: ${name}`, () => {
    const d = makeDriver();
    before(() => d.start());
    after(() => d.stop());

    const pay = async (paymentId: string, action = 'pay') => sandboxAction(d.t, await sandboxToken(d.t, paymentId), action);
    const storeWrites = async (paymentId: string) => (await eventsOf(d.t, paymentId)).filter((e) => e.type === 'store.write');

    it('a verified payment marks the store order paid with the order amount', async () => {
      const { order, paymentId } = await d.placeOrder('40.00');
      await pay(paymentId);
      await waitForStatus(d.t, paymentId, 'paid');
      const view = await waitFor('the store to show the payment', async () => (d.storeOrder(order).paid !== '0' ? d.storeOrder(order) : undefined));
      assert.equal(view.paid, '40');
      assert.equal(view.paymentWrites, 1);
      await waitFor('the write-back in the event log', async () => (await storeWrites(paymentId)).some((e) => e.data.outcome === 'written'));
    });

    it('running the write-back again writes nothing twice', async () => {
      const { order, paymentId } = await d.placeOrder('12.50');
      await pay(paymentId);
      await waitFor('the first write-back', async () => d.storeOrder(order).paymentWrites === 1);
      await enqueueJob(d.t.app.db.pool, { name: 'store.sync', data: { paymentId } });
      await enqueueJob(d.t.app.db.pool, { name: 'store.sync', data: { paymentId } });
      await waitFor('both extra write-backs to finish', async () => (await storeWrites(paymentId)).length >= 3);
      assert.equal(d.storeOrder(order).paymentWrites, 1);
      assert.equal(d.storeOrder(order).paid, '12.5');
    });

    it('an order the store cancelled is never marked paid: the payment goes to review', async () => {
      const { order, paymentId } = await d.placeOrder('30.00');
      await d.cancelInStore(order);
      await waitForStatus(d.t, paymentId, 'cancelled');
      await pay(paymentId);
      await waitForStatus(d.t, paymentId, 'review');
      await waitFor('the review write-back', async () => (await storeWrites(paymentId)).length >= 1);
      assert.equal(d.storeOrder(order).paid, '0');
      assert.equal(d.storeOrder(order).paymentWrites, 0);
    });

    it('a store that throttles or fails is retried until the one write lands', async () => {
      const { order, paymentId } = await d.placeOrder('21.00');
      d.troubleNext(3);
      await pay(paymentId);
      await waitFor('the write-back to get through', async () => d.storeOrder(order).paymentWrites === 1, 30_000);
      assert.equal(d.storeOrder(order).paid, '21');
      assert.ok((await storeWrites(paymentId)).some((e) => e.data.outcome === 'error' && e.data.retryable), 'the failed attempts are in the log');
    });

    it('an expired unpaid payment cancels the order when the shop asks for it', async () => {
      await d.setCancelOnExpiry(true);
      try {
        const { order, paymentId } = await d.placeOrder('9.99');
        await pay(paymentId, 'expire');
        await waitForStatus(d.t, paymentId, 'expired');
        await waitFor('the store order to be cancelled', async () => d.storeOrder(order).cancelled);
        assert.equal(d.storeOrder(order).paid, '0');
      } finally {
        await d.setCancelOnExpiry(false);
      }
    });
  });
}
