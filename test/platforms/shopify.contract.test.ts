import { platformContract, type PlatformDriver } from './contract.ts';
import { capturesOf, embedded, installShop, paymentForOrder, placeOrder, startWithShopify, type WithShopify } from '../support/shopify.ts';

const SHOP = 'contract-shop.myshopify.com';

platformContract('Shopify', () => {
  let s: WithShopify;
  const driver: PlatformDriver = {
    get t() { return s.t; },
    async start() {
      s = await startWithShopify();
      await installShop(s, SHOP);
    },
    async stop() { await s?.close(); },
    async placeOrder(total) {
      const order = await placeOrder(s, SHOP, { total });
      const payment = await paymentForOrder(s, order.id, 'created');
      return { order: order.id, paymentId: payment.id };
    },
    async cancelInStore(order) {
      s.emu.cancelOrder(order);
      await s.emu.emit(SHOP, 'orders/cancelled', s.emu.orderPayload(order));
    },
    storeOrder(order) {
      const captures = capturesOf(s.emu, order);
      const paid = captures.reduce((sum, a) => sum + Number(a), 0);
      return { paid: String(paid), paymentWrites: captures.length, cancelled: s.emu.order(order).cancelledAt !== null };
    },
    troubleNext(n) {
      s.emu.throttleNext(n - 1);
      s.emu.failNext(1, 503);
    },
    async setCancelOnExpiry(on) {
      const res = await embedded(s, s.app, SHOP, 'PUT', '/settings', { cancelOnExpiry: on });
      if (res.status !== 200) throw new Error(JSON.stringify(res.body));
    },
  };
  return driver;
});
