import crypto from 'node:crypto';
import Router from '@koa/router';
import type pg from 'pg';
import { formatAmount, parseAmount, parseCurrency } from '../core/money.ts';
import type { PaymentService } from '../core/payment-service.ts';
import { findLivePaymentForOrder, listEvents } from '../db/payments-repo.ts';
import { findStore } from '../db/stores-repo.ts';

const esc = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

function page(title: string, body: string): string {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${esc(title)}</title><style>
body{font:16px/1.5 system-ui,sans-serif;max-width:46rem;margin:2rem auto;padding:0 1rem;color:#1a1a1a}
button{font:inherit;padding:.6rem 1.2rem;border-radius:6px;border:0;background:#123d6b;color:#fff;cursor:pointer}
button:focus-visible,a:focus-visible{outline:3px solid #f5a623;outline-offset:2px}
table{border-collapse:collapse;width:100%;font-size:.9rem}td,th{border-bottom:1px solid #ddd;padding:.3rem;text-align:left;vertical-align:top}
.status{font-weight:700}
</style></head><body>${body}</body></html>`;
}

/** A pretend shop on the demo store, so the whole flow can be clicked through offline. */
export function demoRoutes(deps: { pool: pg.Pool; payments: PaymentService; storeId: () => string | undefined; publicUrl: string }): Router {
  const router = new Router({ prefix: '/demo' });
  router.get('/', (ctx) => {
    ctx.type = 'html';
    ctx.body = page('Coinbridge demo store', `<h1>Coinbridge demo store</h1>
<p>A pretend shop wired to Coinbridge's sandbox gateway. No real money moves.</p>
<form method="post" action="/demo/checkout"><p>One Coinbridge T-shirt — <strong>25.00 USD</strong></p>
<button type="submit">Pay with crypto</button></form>`);
  });
  router.post('/checkout', async (ctx) => {
    const store = await findStore(deps.pool, deps.storeId() ?? '');
    if (!store) { ctx.status = 503; ctx.body = 'The demo store is not set up.'; return; }
    const currency = parseCurrency('USD');
    const amount = currency.ok ? parseAmount('25.00', currency.value) : undefined;
    if (!amount?.ok) throw new Error('demo amount');
    const orderId = `demo-${Date.now().toString(36)}-${crypto.randomBytes(2).toString('hex')}`;
    const { payment } = await deps.payments.create(store, { orderId, amount: amount.value, returnUrl: `${deps.publicUrl}/demo/orders/${orderId}` }, undefined);
    ctx.redirect(deps.payments.payUrl(payment));
  });
  router.get('/orders/:orderId', async (ctx) => {
    const store = await findStore(deps.pool, deps.storeId() ?? '');
    const payment = store ? await findLivePaymentForOrder(deps.pool, store.id, ctx.params.orderId!) : undefined;
    ctx.type = 'html';
    if (!payment) { ctx.status = 404; ctx.body = page('Order not found', '<h1>Order not found</h1>'); return; }
    const events = await listEvents(deps.pool, payment.id);
    ctx.set('Refresh', '2');
    ctx.body = page(`Order ${payment.orderId}`, `<h1>Order ${esc(payment.orderId)}</h1>
<p>${esc(formatAmount(payment.amount))} ${esc(payment.amount.currency)} · payment status: <span class="status">${esc(payment.status)}</span> (refreshes every 2 s)</p>
<p><a href="/demo/">Back to the shop</a> · <a href="${esc(deps.payments.payUrl(payment))}">Payment page</a></p>
<h2>Event log</h2><table><tr><th>#</th><th>type</th><th>change</th><th>cause</th></tr>
${events.map((e) => `<tr><td>${esc(e.id)}</td><td>${esc(e.type)}</td><td>${e.toStatus ? `${esc(e.fromStatus ?? '')} → ${esc(e.toStatus)}` : ''}</td><td>${esc(e.cause)}</td></tr>`).join('')}
</table>`);
  });
  return router;
}
