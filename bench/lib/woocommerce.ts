// WooCommerce as the store of a benchmark: the test suite's emulator (real HTTP, OAuth 1.0a,
// webhooks) in this process, connected to a Coinbridge child the way the plugin connects it.
import crypto from 'node:crypto';
import { startWooCommerceEmulator, type WooCommerceEmulator, type WooOrder } from '../../test/emulators/woocommerce/server.ts';
import { onCleanup, sleep } from './run.ts';

export type { WooCommerceEmulator, WooOrder };

export async function startWooCommerce(): Promise<WooCommerceEmulator> {
  const emu = await startWooCommerceEmulator({ allowInsecureCallback: true });
  onCleanup('close the WooCommerce emulator', () => emu.close());
  return emu;
}

/**
 * The plugin's Connect button end to end (the child needs ALLOW_PRIVATE_URLS=true for a loopback
 * store): Coinbridge's redirect, the merchant's approval in WooCommerce, Coinbridge's connect job
 * (key check, webhooks), and the plugin's one-time claim of its Coinbridge API key.
 */
export async function connectWooStore(cbOrigin: string, emu: WooCommerceEmulator): Promise<{ storeId: string; apiKey: string }> {
  const claimSecret = crypto.randomBytes(32).toString('hex');
  const claimHash = crypto.createHash('sha256').update(claimSecret).digest('hex');
  const res = await fetch(`${cbOrigin}/woocommerce/connect?store_url=${encodeURIComponent(emu.origin)}&claim_hash=${claimHash}`, { redirect: 'manual' });
  if (res.status !== 302) throw new Error(`GET /woocommerce/connect answered ${res.status}: ${await res.text()}`);
  const approval = await emu.approve(res.headers.get('location')!);
  if (approval.callbackStatus !== 200) throw new Error(`the WooCommerce key callback answered ${approval.callbackStatus}: ${approval.error}`);
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    const claim = await fetch(`${cbOrigin}/woocommerce/claim`, {
      method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ storeUrl: emu.origin, claimSecret }),
    });
    const body = await claim.json() as { storeId?: string; apiKey?: string };
    if (claim.status === 200 && body.storeId && body.apiKey) return { storeId: body.storeId, apiKey: body.apiKey };
    if (claim.status !== 202) throw new Error(`POST /woocommerce/claim answered ${claim.status}: ${JSON.stringify(body)}`);
    await sleep(100);
  }
  throw new Error('the WooCommerce store did not finish connecting within 30 s');
}

/** What the plugin's process_payment sends to POST /v1/payments for an order (plugins/woocommerce). */
export function pluginPaymentRequest(emu: WooCommerceEmulator, order: WooOrder): Record<string, unknown> {
  return {
    orderId: String(order.id), amount: order.total, currency: order.currency,
    returnUrl: `${emu.origin}/checkout/order-received/${order.id}/?key=${order.order_key}`,
    customerEmail: order.billing.email, metadata: { orderKey: order.order_key, orderNumber: order.number },
  };
}
