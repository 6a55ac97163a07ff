// Number, money and time formatting for the shopper's locale. No DOM: also imported by Node unit tests.

const DECIMAL = /^-?\d+(\.\d+)?$/;

/** Fiat amount in locale `tag`: money('25.00', 'USD', 'de') → '25,00 $'. Exact (no float); odd input as given. */
export function money(amount, currency, tag) {
  try {
    if (DECIMAL.test(amount)) return new Intl.NumberFormat(tag, { style: 'currency', currency }).format(/** @type {any} */ (amount));
  } catch { /* unknown currency code */ }
  return `${amount} ${currency}`;
}

/** Crypto amount with all its digits: coins('1234.5', 'USDT', 'de') → '1.234,5 USDT'. */
export function coins(amount, coin, tag) {
  let n = amount;
  try {
    if (DECIMAL.test(amount)) n = new Intl.NumberFormat(tag, { maximumFractionDigits: 20 }).format(/** @type {any} */ (amount));
  } catch { /* keep as given */ }
  return `${n} ${coin}`;
}

/** Milliseconds left as mm:ss (minutes may pass 59), never negative: clock(61_000) → '01:01'. */
export function clock(ms) {
  const s = Math.max(0, Math.ceil(ms / 1000)) || 0;
  const pad = (n) => String(n).padStart(2, '0');
  return `${pad(Math.floor(s / 60))}:${pad(s % 60)}`;
}
