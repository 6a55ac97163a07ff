// What to show for a checkout, and which updates to accept. No DOM: also imported by Node unit tests.

/** Statuses after which nothing more will change for the shopper: the server closes the stream, polling stops. */
export const SETTLED = ['paid', 'overpaid', 'paid_late', 'failed'];
export const PAID = ['paid', 'overpaid', 'paid_late'];

/** Whether `next` may replace `shown`: only a strictly higher version, so the shopper never sees an older state. */
export const isNewer = (shown, next) =>
  !!next && typeof next.status === 'string' && Number.isFinite(next.version) && (!shown || next.version > shown.version);

/** An http(s) URL as an absolute string, or null (no `javascript:`, `data:`, …). */
export function safeUrl(u, base) {
  if (typeof u !== 'string' || !u) return null;
  try {
    const url = new URL(u, base);
    return url.protocol === 'https:' || url.protocol === 'http:' ? url.href : null;
  } catch { return null; }
}

/**
 * What the shopper sees for checkout `c`; `timeUp`: the countdown reached zero (the server has not
 * said "expired" yet). msg: i18n key of the status sentence; pay/back: i18n key of the Pay action /
 * link back to the store, '' for none; qr, clock (countdown), missing (amount still missing),
 * contact ("contact the store"), redirect (back to the store by itself).
 */
export function view(c, timeUp) {
  const v = { msg: 'waiting', tone: 'wait', pay: '', qr: false, clock: false, back: '', missing: false, contact: false, redirect: false };
  const topUp = !!c.canTopUp && !timeUp;
  switch (c.status) {
    case 'created': case 'pending':
      return timeUp ? { ...v, msg: 'timeUp', clock: true } : { ...v, pay: 'pay', qr: true, clock: true };
    case 'confirming': return { ...v, msg: 'confirming' };
    case 'paid': case 'paid_late': return { ...v, msg: 'paid', tone: 'ok', back: 'back', redirect: true };
    case 'overpaid': return { ...v, msg: 'overpaid', tone: 'ok', back: 'back', redirect: true };
    case 'underpaid':
      return { ...v, msg: 'underpaid', tone: 'warn', missing: true, pay: topUp ? 'payRest' : '', qr: topUp, clock: !!c.canTopUp, contact: !topUp };
    case 'expired': return { ...v, msg: 'expired', tone: 'bad', back: 'again' };
    case 'cancelled': return { ...v, msg: 'cancelled', tone: 'bad', back: 'back' };
    case 'review': return { ...v, msg: 'review', tone: 'warn', back: 'back' };
    case 'failed': return { ...v, msg: 'failed', tone: 'bad', back: 'back' };
    default: return v;
  }
}

/** Milliseconds until `expiresAt` by the server's clock (`skew` = server − local time); Infinity if none. */
export function remaining(expiresAt, now, skew) {
  const end = Date.parse(String(expiresAt));
  return Number.isFinite(end) ? end - (now + skew) : Infinity;
}

/** Server time minus local time, from a checkout's `serverTime` (0 if absent). */
export function skewOf(serverTime, now) {
  const s = Date.parse(String(serverTime));
  return Number.isFinite(s) ? s - now : 0;
}
