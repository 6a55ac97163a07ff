/**
 * Exact money. Fiat amounts live as integer minor units (bigint) beside an ISO 4217 code; crypto
 * amounts as decimal strings compared with integer arithmetic. No floats anywhere.
 */
declare const brand: unique symbol;
export type CurrencyCode = string & { readonly [brand]: 'CurrencyCode' };

/** Fiat currencies Coinbridge accepts for orders, with their minor-unit exponents. */
const EXPONENTS: Record<string, number> = {
  USD: 2, EUR: 2, GBP: 2, CAD: 2, AUD: 2, NZD: 2, CHF: 2, SEK: 2, NOK: 2, DKK: 2, PLN: 2, CZK: 2,
  BRL: 2, MXN: 2, INR: 2, SGD: 2, HKD: 2, ZAR: 2, TRY: 2, AED: 2, JPY: 0, KRW: 0,
};

export const SUPPORTED_CURRENCIES = Object.freeze(Object.keys(EXPONENTS));

/** Orders above this many major units are refused as absurd (a typo, not a sale). */
export const MAX_MAJOR_UNITS = 10_000_000n;

export interface Money {
  readonly minor: bigint;
  readonly currency: CurrencyCode;
}

export type ParseResult<T> = { ok: true; value: T } | { ok: false; reason: string };

export function parseCurrency(input: string): ParseResult<CurrencyCode> {
  const code = input.trim().toUpperCase();
  if (!/^[A-Z]{3}$/.test(code)) return { ok: false, reason: `"${input}" is not a three-letter ISO 4217 currency code` };
  if (!(code in EXPONENTS)) return { ok: false, reason: `currency ${code} is not supported; use one of ${SUPPORTED_CURRENCIES.join(', ')}` };
  return { ok: true, value: code as CurrencyCode };
}

export function exponentOf(currency: CurrencyCode): number {
  const exp = EXPONENTS[currency];
  if (exp === undefined) throw new Error(`unknown currency ${currency}`);
  return exp;
}

/** Parses a positive decimal amount ("29.99", 29.99) into minor units, refusing excess precision. */
export function parseAmount(input: unknown, currency: CurrencyCode): ParseResult<Money> {
  const text = typeof input === 'number' && Number.isFinite(input) ? String(input) : typeof input === 'string' ? input.trim() : undefined;
  if (text === undefined) return { ok: false, reason: 'amount must be a decimal string such as "29.99"' };
  const match = /^(\d{1,15})(?:\.(\d+))?$/.exec(text);
  if (!match) return { ok: false, reason: `amount "${text}" is not a positive decimal number` };
  const exp = exponentOf(currency);
  const fraction = match[2] ?? '';
  if (fraction.replace(/0+$/, '').length > exp) {
    return { ok: false, reason: `${currency} has ${exp} decimal places; "${text}" has more` };
  }
  const minor = BigInt(match[1]!) * 10n ** BigInt(exp) + BigInt((fraction + '0'.repeat(exp)).slice(0, exp) || '0');
  if (minor <= 0n) return { ok: false, reason: 'amount must be greater than zero' };
  if (minor > MAX_MAJOR_UNITS * 10n ** BigInt(exp)) return { ok: false, reason: `amount exceeds the maximum of ${MAX_MAJOR_UNITS} ${currency}` };
  return { ok: true, value: { minor, currency } };
}

export function formatAmount(money: Money): string {
  const negative = money.minor < 0n;
  return `${negative ? '-' : ''}${decimalToString({ units: negative ? -money.minor : money.minor, scale: exponentOf(money.currency) })}`;
}

/** An exact non-negative decimal: value = units / 10^scale. */
export interface Decimal {
  readonly units: bigint;
  readonly scale: number;
}

export function parseDecimal(input: unknown): Decimal | undefined {
  const text = typeof input === 'number' && Number.isFinite(input) ? plainNumber(input) : typeof input === 'string' ? input.trim() : undefined;
  if (text === undefined) return undefined;
  const match = /^(\d{1,30})(?:\.(\d{1,30}))?$/.exec(text);
  if (!match) return undefined;
  const fraction = match[2] ?? '';
  return { units: BigInt(match[1]! + fraction), scale: fraction.length };
}

/** Compares a/b with the fraction num/den: returns -1, 0 or 1. Exact. */
export function compareRatio(a: Decimal, b: Decimal, num: bigint, den: bigint): -1 | 0 | 1 {
  // a/b ? num/den  <=>  a.units * 10^b.scale * den ? b.units * 10^a.scale * num
  const left = a.units * 10n ** BigInt(b.scale) * den;
  const right = b.units * 10n ** BigInt(a.scale) * num;
  return left < right ? -1 : left > right ? 1 : 0;
}

/**
 * The part of `amount` (in minor units) that `part` out of `whole` pays for — received crypto out
 * of expected crypto — rounded down and never more than the amount. Exact: integers only.
 */
export function shareOfAmount(amount: Money, part: Decimal, whole: Decimal): bigint {
  // amount × (pu / 10^ps) / (wu / 10^ws)
  const share = (amount.minor * part.units * 10n ** BigInt(whole.scale)) / (whole.units * 10n ** BigInt(part.scale));
  return share > amount.minor ? amount.minor : share;
}

export function decimalToString(d: Decimal): string {
  if (d.scale === 0) return d.units.toString();
  const digits = d.units.toString().padStart(d.scale + 1, '0');
  return `${digits.slice(0, -d.scale)}.${digits.slice(-d.scale)}`;
}

/**
 * A JSON number as the decimal it was written as: String() gives the shortest round-trip form,
 * which uses exponents below 1e-6 ("5e-7"); expand those digit by digit instead of via floats.
 */
function plainNumber(n: number): string {
  const text = String(n);
  const m = /^(-?)(\d+)(?:\.(\d+))?e([+-]\d+)$/.exec(text);
  if (!m) return text;
  const digits = m[2]! + (m[3] ?? '');
  const point = m[2]!.length + Number(m[4]);
  const body = point <= 0 ? `0.${'0'.repeat(-point)}${digits}` : point >= digits.length ? digits + '0'.repeat(point - digits.length) : `${digits.slice(0, point)}.${digits.slice(point)}`;
  return m[1] + body;
}
