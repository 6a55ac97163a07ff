/**
 * Coinbridge beside the WooCommerce emulator: connect a store the way the plugin and the
 * merchant do (wc-auth approval, then the plugin's one-time key claim), and check out orders
 * through the same API call the plugin makes.
 */
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { connectGateway } from '../../src/core/connections.ts';
import { startWooCommerceEmulator, type WooCommerceEmulator, type WooOrder } from '../emulators/woocommerce/server.ts';
import { api, startTestApp, waitFor, type TestApp } from './harness.ts';

export interface WithWoo {
  emu: WooCommerceEmulator;
  t: TestApp;
  close(): Promise<void>;
}

export async function startWithWoo(env: Record<string, string> = {}): Promise<WithWoo> {
  const emu = await startWooCommerceEmulator({ allowInsecureCallback: true });
  let t: TestApp;
  try {
    t = await startTestApp(env);
  } catch (err) {
    await emu.close();
    throw err;
  }
  return { emu, t, async close() { try { await t.close(); } finally { await emu.close(); } } };
}

/** The plugin's Connect button: a claim secret, Coinbridge's redirect, WooCommerce's approval. */
export async function beginConnect(w: WithWoo, storeUrl = w.emu.origin): Promise<{ claimSecret: string; res: Response }> {
  const claimSecret = crypto.randomBytes(32).toString('hex');
  const claimHash = crypto.createHash('sha256').update(claimSecret).digest('hex');
  const res = await fetch(`${w.t.url}/woocommerce/connect?store_url=${encodeURIComponent(storeUrl)}&claim_hash=${claimHash}`, { redirect: 'manual' });
  return { claimSecret, res };
}

export async function claim(w: WithWoo, claimSecret: string, storeUrl = w.emu.origin) {
  return api(w.t, 'POST', '/woocommerce/claim', { body: { storeUrl, claimSecret } });
}

/** Connects the emulated store end to end and gives it a sandbox gateway; returns the plugin's API key. */
export async function connectStore(w: WithWoo): Promise<{ storeId: string; apiKey: string }> {
  const { claimSecret, res } = await beginConnect(w);
  assert.equal(res.status, 302, await res.text());
  const approval = await w.emu.approve(res.headers.get('location')!);
  assert.equal(approval.callbackStatus, 200);
  const claimed = await waitFor('the plugin\'s key claim', async () => {
    const r = await claim(w, claimSecret);
    return r.status === 202 ? undefined : r;
  });
  assert.equal(claimed.status, 200, JSON.stringify(claimed.body));
  await connectGateway({ db: w.t.app.db, box: w.t.app.box, gateways: w.t.app.gateways, publicUrl: w.t.app.config.publicUrl }, { storeId: claimed.body.storeId, gateway: 'paymento', mode: 'sandbox' });
  return claimed.body;
}

/** What the plugin's process_payment sends for an order (see plugins/woocommerce). */
export function pluginPaymentRequest(w: WithWoo, order: WooOrder) {
  return {
    orderId: String(order.id), amount: order.total, currency: order.currency,
    returnUrl: `${w.emu.origin}/checkout/order-received/${order.id}/?key=${order.order_key}`,
    customerEmail: order.billing.email, metadata: { orderKey: order.order_key, orderNumber: order.number },
  };
}

/** Checkout with the crypto method: the order in WooCommerce, then the plugin's call to Coinbridge. */
export async function checkout(w: WithWoo, apiKey: string, total: string): Promise<{ order: WooOrder; paymentId: string }> {
  const order = w.emu.createOrder({ total, email: 'shopper@example.com' });
  const res = await api(w.t, 'POST', '/v1/payments', { key: apiKey, body: pluginPaymentRequest(w, order), headers: { 'idempotency-key': order.order_key } });
  assert.ok(res.status === 201 || res.status === 200, JSON.stringify(res.body));
  return { order, paymentId: res.body.id };
}
