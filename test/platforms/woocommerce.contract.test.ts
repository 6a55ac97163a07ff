import { api } from '../support/harness.ts';
import { checkout, connectStore, startWithWoo, type WithWoo } from '../support/woocommerce.ts';
import { platformContract, type PlatformDriver } from './contract.ts';

platformContract('WooCommerce', () => {
  let w: WithWoo;
  let apiKey: string;
  const driver: PlatformDriver = {
    get t() { return w.t; },
    async start() {
      w = await startWithWoo();
      ({ apiKey } = await connectStore(w));
    },
    async stop() { await w?.close(); },
    async placeOrder(total) {
      const { order, paymentId } = await checkout(w, apiKey, total);
      return { order: String(order.id), paymentId };
    },
    async cancelInStore(order) {
      w.emu.updateOrder(Number(order), { status: 'cancelled' });
      await w.emu.settle();
    },
    storeOrder(order) {
      const o = w.emu.order(Number(order));
      // A payment write is the order entering a paid status (WooCommerce notes each status change).
      const paidTransitions = o.notes.filter((n) => /^Order status changed from .+ to (Processing|Completed)\.$/.test(n.note)).length;
      return { paid: o.date_paid ? String(Number(o.total)) : '0', paymentWrites: paidTransitions, cancelled: o.status === 'cancelled' };
    },
    troubleNext(n) {
      w.emu.failNext(n - 1, 429, { retryAfterS: 1 });
      w.emu.failNext(1, 500);
    },
    async setCancelOnExpiry(on) {
      const res = await api(w.t, 'PUT', '/v1/woocommerce/settings', { key: apiKey, body: { statusMap: { expired: on ? 'cancelled' : 'pending' } } });
      if (res.status !== 200) throw new Error(JSON.stringify(res.body));
    },
  };
  return driver;
});
