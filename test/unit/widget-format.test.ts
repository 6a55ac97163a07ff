/** The storefront widget's formatting helpers (storefront-widget/src/format.js). */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

interface Format {
  money(amount: string, currency: string, tag: string): string;
  coins(amount: string, coin: string, tag: string): string;
  clock(ms: number): string;
}
const F = (await import(new URL('../../storefront-widget/src/format.js', import.meta.url).href)) as Format;
/** Intl uses no-break and narrow no-break spaces; compare with plain ones. */
const sp = (s: string): string => s.replace(/\s/g, ' ');

describe('widget formatting', () => {
  it('formats money in the shopper’s locale', () => {
    assert.equal(F.money('25.00', 'USD', 'en'), '$25.00');
    assert.equal(F.money('25', 'USD', 'en-US'), '$25.00');
    assert.equal(sp(F.money('1234.5', 'EUR', 'de')), '1.234,50 €');
    assert.equal(sp(F.money('1234.5', 'EUR', 'fr')), '1 234,50 €');
    assert.equal(sp(F.money('25.00', 'USD', 'es')), '25,00 US$');
    assert.equal(sp(F.money('25.00', 'BRL', 'pt-BR')), 'R$ 25,00');
    assert.equal(F.money('1000', 'JPY', 'en'), '¥1,000');
  });

  it('keeps every digit of large amounts (no float rounding)', () => {
    assert.equal(F.money('12345678901234567.89', 'USD', 'en'), '$12,345,678,901,234,567.89');
    assert.equal(F.coins('0.123456789012345678', 'ETH', 'en'), '0.123456789012345678 ETH');
    assert.equal(sp(F.coins('1234.5', 'USDT', 'de')), '1.234,5 USDT');
    assert.equal(F.coins('25.10', 'USDT', 'en'), '25.1 USDT');
  });

  it('shows odd input as given instead of NaN', () => {
    assert.equal(F.money('12.5', 'NOT A CODE', 'en'), '12.5 NOT A CODE');
    assert.equal(F.money('about 5', 'USD', 'en'), 'about 5 USD');
    assert.equal(F.coins('1e-7', 'BTC', 'en'), '1e-7 BTC');
  });

  it('counts down as mm:ss, rounding up, never below zero', () => {
    assert.equal(F.clock(15 * 60_000), '15:00');
    assert.equal(F.clock(61_000), '01:01');
    assert.equal(F.clock(60_001), '01:01', 'a started second still counts');
    assert.equal(F.clock(999), '00:01');
    assert.equal(F.clock(0), '00:00');
    assert.equal(F.clock(-5000), '00:00');
    assert.equal(F.clock(100 * 60_000), '100:00');
    assert.equal(F.clock(Number.NaN), '00:00');
  });
});
