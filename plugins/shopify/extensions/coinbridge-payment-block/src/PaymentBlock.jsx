import {useEffect, useState} from 'preact/hooks';

// API 2025-10 has no React bindings (2025-07 was the last), so this uses Preact and Polaris web
// components. Built by Shopify CLI (`shopify app deploy`), not by Coinbridge.

const RETRY_MS = 10_000;
const MAX_RETRIES = 3;
const POLL_MS = 15_000;
const PAYABLE = ['created', 'pending', 'underpaid'];
const PAID = ['paid', 'overpaid', 'paid_late'];
// Only these can still change on their own; created/underpaid wait for the buyer to act.
const POLLED = ['pending', 'confirming'];

/** Payment state of one order from Coinbridge; renders nothing unless it was a crypto order. */
export function PaymentBlock({orderId}) {
  const base = String(shopify.settings.value.coinbridge_url ?? '').trim().replace(/\/+$/, '');
  const [payment, setPayment] = useState(null);
  const [failed, setFailed] = useState(false);

  useEffect(() => {
    if (!orderId || !base) return undefined;
    let timer;
    let stopped = false;
    let retries = 0;
    const load = async () => {
      try {
        const next = await fetchPayment(base, orderId);
        if (stopped) return;
        retries = 0;
        setFailed(false);
        setPayment(next);
        if (next.show && POLLED.includes(next.status)) timer = setTimeout(load, POLL_MS);
      } catch {
        if (stopped) return;
        setFailed(true);
        if (retries++ < MAX_RETRIES) timer = setTimeout(load, RETRY_MS);
      }
    };
    load();
    return () => {
      stopped = true;
      clearTimeout(timer);
    };
  }, [orderId, base]);

  // No URL configured: stay invisible rather than warn every buyer, crypto or not.
  if (!orderId || !base) return null;
  const notice = failed ? <s-banner tone="info">Payment status is not available right now</s-banner> : null;
  if (!payment?.show) return notice;
  return (
    <s-stack gap="base">
      {notice}
      <PaymentView payment={payment} />
    </s-stack>
  );
}

function PaymentView({payment}) {
  const {status, statusText, payUrl} = payment;
  if (PAYABLE.includes(status)) {
    return (
      <s-stack gap="base">
        <s-heading>Complete payment</s-heading>
        <s-text>{statusText}</s-text>
        <s-button variant="primary" href={payUrl} target="_blank">
          Complete payment
        </s-button>
      </s-stack>
    );
  }
  if (PAID.includes(status)) {
    return (
      <s-banner tone="success" heading="Payment received">
        {statusText}
      </s-banner>
    );
  }
  // confirming, expired, cancelled, review and anything newer: the server's wording says it best.
  return <s-banner tone={status === 'confirming' ? 'info' : 'warning'}>{statusText}</s-banner>;
}

async function fetchPayment(base, orderId) {
  // get() caches, and renews the short-lived token when needed, so call it per request.
  const token = await shopify.sessionToken.get();
  const res = await fetch(`${base}/shopify/extension/payment?order_id=${encodeURIComponent(orderId)}`, {
    headers: {Authorization: `Bearer ${token}`},
  });
  if (!res.ok) throw new Error(`Coinbridge answered ${res.status}`);
  return res.json();
}
