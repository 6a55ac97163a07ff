import type { SandboxPayment } from './sandbox-store.ts';

const esc = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

const BUTTONS: [string, string, string][] = [
  ['pay', 'Pay in full', 'Sends WaitingToConfirm, then Paid.'],
  ['underpay', 'Pay half (underpay)', 'Sends PartialPaid with 50 % received; pay in full afterwards to top up.'],
  ['overpay', 'Pay 120 % (overpay)', 'Sends WaitingToConfirm, then Paid with 120 % received.'],
  ['pay_late', 'Pay after expiry', 'Sends Timeout, then Paid a few seconds later.'],
  ['expire', 'Let it expire', 'Sends Timeout.'],
  ['cancel', 'Cancel', 'Sends UserCanceled.'],
];

/** The sandbox's hosted pay page: one form button per scenario, no script needed. */
export function renderSandboxPage(payment: SandboxPayment | undefined, statusNames: Record<number, string>): string {
  const body = !payment
    ? '<h1>Payment not found</h1><p>This sandbox payment link is not valid.</p>'
    : `<h1>Sandbox payment</h1>
  <p class="amount">${esc(payment.fiatAmount ?? '')} ${esc(payment.fiatCurrency ?? '')} <span>= ${esc(payment.expectedCrypto)} ${esc(payment.coin)} (test coins)</span></p>
  <p>Order <strong>${esc(payment.orderId ?? '')}</strong> · gateway status: <strong id="status">${esc(statusNames[payment.status] ?? String(payment.status))}</strong> · received ${esc(payment.receivedCrypto)} ${esc(payment.coin)}</p>
  <p class="note">This is Coinbridge's built-in sandbox. No real money moves. Each button sends the signed callbacks Paymento would send.</p>
  <div class="actions">${BUTTONS.map(([action, label, help]) => `
    <form method="post" action="/sandbox/paymento/gateway/${esc(payment.token)}/${action}">
      <button type="submit" name="action" value="${action}">${esc(label)}</button><small>${esc(help)}</small>
    </form>`).join('')}
  </div>
  ${payment.returnUrl ? `<p><a href="${esc(payment.returnUrl)}">Return to the store</a></p>` : ''}`;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Coinbridge sandbox gateway</title>
<style>
  body { font: 16px/1.5 system-ui, sans-serif; max-width: 40rem; margin: 2rem auto; padding: 0 1rem; color: #1a1a1a; }
  .amount { font-size: 1.6rem; font-weight: 600; } .amount span { font-size: 1rem; color: #444; font-weight: 400; }
  .note { background: #fff6d6; padding: .5rem .75rem; border-radius: 6px; }
  .actions form { display: flex; gap: .75rem; align-items: center; margin: .5rem 0; }
  button { font: inherit; padding: .5rem 1rem; border: 1px solid #234; border-radius: 6px; background: #123d6b; color: #fff; min-width: 13rem; cursor: pointer; }
  button:focus-visible { outline: 3px solid #f5a623; outline-offset: 2px; }
  small { color: #444; }
</style></head>
<body>${body}</body></html>`;
}
