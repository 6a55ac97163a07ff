import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { compareRatio, decimalToString, formatAmount, parseAmount, parseCurrency, parseDecimal, type CurrencyCode } from '../../src/core/money.ts';

const USD = 'USD' as CurrencyCode;
const JPY = 'JPY' as CurrencyCode;

describe('money', () => {
  it('parses decimal strings into exact minor units', () => {
    assert.deepEqual(parseAmount('12.50', USD), { ok: true, value: { minor: 1250n, currency: USD } });
    assert.deepEqual(parseAmount('0.1', USD), { ok: true, value: { minor: 10n, currency: USD } });
    assert.deepEqual(parseAmount(19.99, USD), { ok: true, value: { minor: 1999n, currency: USD } });
    assert.deepEqual(parseAmount('1500', JPY), { ok: true, value: { minor: 1500n, currency: JPY } });
    assert.deepEqual(parseAmount('12.500', USD), { ok: true, value: { minor: 1250n, currency: USD } });
  });

  it('refuses negative, zero, over-precise, absurd and non-numeric amounts with a reason', () => {
    for (const bad of ['-1', '0', '0.00', '12.345', '1e5', 'abc', '', '100000000', Number.NaN, null, {}]) {
      const r = parseAmount(bad, USD);
      assert.equal(r.ok, false, `accepted ${String(bad)}`);
      if (!r.ok) assert.ok(r.reason.length > 10);
    }
    assert.equal(parseAmount('1.5', JPY).ok, false);
  });

  it('formats minor units back without floats', () => {
    assert.equal(formatAmount({ minor: 1250n, currency: USD }), '12.50');
    assert.equal(formatAmount({ minor: 5n, currency: USD }), '0.05');
    assert.equal(formatAmount({ minor: 1500n, currency: JPY }), '1500');
    assert.equal(formatAmount({ minor: 1_000_000_000n, currency: USD }), '10000000.00');
  });

  it('knows which currencies it supports', () => {
    assert.equal(parseCurrency('usd').ok, true);
    assert.equal(parseCurrency('XYZ').ok, false);
    assert.equal(parseCurrency('dollars').ok, false);
  });

  it('reads JSON numbers as the decimals they were written as, exponent forms included', () => {
    for (const [n, text] of [[5e-7, '0.0000005'], [1.5e-10, '0.00000000015'], [0.1, '0.1'], [123.456, '123.456'], [1e21, '1000000000000000000000']] as const) {
      assert.equal(decimalToString(parseDecimal(n)!), text);
    }
  });

  it('compares crypto ratios exactly', () => {
    const expected = parseDecimal('0.00012345')!;
    assert.equal(compareRatio(parseDecimal('0.00012345')!, expected, 1n, 1n), 0);
    assert.equal(compareRatio(parseDecimal('0.000123449')!, expected, 1n, 1n), -1);
    assert.equal(compareRatio(parseDecimal('0.0001234501')!, expected, 1n, 1n), 1);
    // 99.5 % of expected, against a 0.5 % tolerance: exactly on the line counts as enough.
    assert.equal(compareRatio(parseDecimal('995')!, parseDecimal('1000')!, 9950n, 10_000n), 0);
    assert.equal(compareRatio(parseDecimal('994.9')!, parseDecimal('1000')!, 9950n, 10_000n), -1);
  });
});
