import type { SandboxPayment } from './sandbox-store.ts';
import type { SandboxAction } from './scenarios.ts';
import type { SandboxSkin } from './skin.ts';

const esc = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

const BUTTONS: [SandboxAction, string, string][] = [
  ['pay', 'Pay in full', 'A transaction is seen, then confirmed.'],
  ['underpay', 'Pay half (underpay)', 'Half the amount arrives; pay in full afterwards to top up where the gateway allows it.'],
  ['overpay', 'Pay 120 % (overpay)', 'A transaction for 120 % is seen, then confirmed.'],
  ['pay_late', 'Pay after expiry', 'The payment expires, then money arrives a few seconds later.'],
  ['expire', 'Let it expire', 'The payment window closes with nothing paid.'],
  ['cancel', 'Cancel', 'The shopper cancels at the gateway.'],
];

const GATEWAY_TITLES: Record<SandboxSkin['gateway'], string> = { paymento: 'Paymento', 'crypto-checkout': 'Crypto Checkout', cryptonow: 'CryptoNow' };

/** The sandbox's hosted pay page: one form button per scenario, no script needed. */
export function renderSandboxPage(skin: SandboxSkin, payment: SandboxPayment | undefined): string {
  const title = GATEWAY_TITLES[skin.gateway];
  const body = !payment
    ? '<h1>Payment not found</h1><p>This sandbox payment link is not valid.</p>'
    : `<h1>Sandbox payment <small>(${esc(title)})</small></h1>
  <p class="amount">${esc(payment.fiatAmount ?? '')} ${esc(payment.fiatCurrency ?? '')} <span>= ${esc(payment.expectedCrypto)} ${esc(payment.coin)} (test coins)</span></p>
  <p>Order <strong>${esc(payment.orderId ?? '')}</strong> · gateway status: <strong id="status">${esc(skin.statusName(payment))}</strong> · received ${esc(payment.receivedCrypto)} ${esc(payment.coin)}</p>
  <p class="note">This is Coinbridge's built-in sandbox. No real money moves. Each button sends the signed callbacks ${esc(title)} would send.</p>
  <div class="actions">${BUTTONS.filter(([action]) => skin.actions.includes(action)).map(([action, label, help]) => `
    <form method="post" action="/sandbox/${skin.gateway}/gateway/${encodeURIComponent(payment.token)}/${action}">
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
