import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decide, type PaymentSnapshot } from '../../src/core/decide.ts';
import type { GatewayFact } from '../../src/core/gateway-facts.ts';
import { parseDecimal, type CurrencyCode } from '../../src/core/money.ts';
import { DEFAULT_SETTINGS } from '../../src/core/settings.ts';

const expiresAt = new Date('2026-01-01T12:00:00Z');
const before = new Date('2026-01-01T11:50:00Z');
const after = new Date('2026-01-01T12:10:00Z');
const wayAfter = new Date('2026-01-01T15:00:00Z');
const base: PaymentSnapshot = { status: 'created', orderId: 'A-1', amount: { minor: 2500n, currency: 'USD' as CurrencyCode }, expiresAt };

function fact(reported: GatewayFact['reported'], extra: Partial<GatewayFact> = {}): GatewayFact {
  return { reported, gatewayStatus: reported, verified: true, orderId: 'A-1', ...extra };
}
const amounts = (expected: string, received: string) => ({ crypto: { expected: parseDecimal(expected), received: parseDecimal(received) } });

describe('decide: what a verified gateway fact does to a payment', () => {
  it('marks paid only when verified', () => {
    assert.deepEqual(decide(base, fact('paid'), DEFAULT_SETTINGS, before).kind, 'transition');
    assert.equal(decide(base, { ...fact('paid'), verified: false }, DEFAULT_SETTINGS, before).kind, 'ignore');
  });

  it('records when the amount was confirmed by status only', () => {
    const d = decide(base, fact('paid'), DEFAULT_SETTINGS, before);
    assert.equal(d.kind === 'transition' && d.to, 'paid');
    assert.ok(d.notes.some((n) => n.includes('status only')));
  });

  it('sends order, currency and requested-amount mismatches to review', () => {
    for (const f of [fact('paid', { orderId: 'B-2' }), fact('paid', { fiat: { currency: 'EUR' } }), fact('paid', { fiat: { amount: '24.99', currency: 'USD' } })]) {
      const d = decide(base, f, DEFAULT_SETTINGS, before);
      assert.equal(d.kind === 'transition' && d.to, 'review', JSON.stringify(d));
    }
    assert.equal((decide(base, fact('paid', { fiat: { amount: '25.0', currency: 'usd' } }), DEFAULT_SETTINGS, before) as { to?: string }).to, 'paid');
  });

  it('judges amounts against the tolerance', () => {
    const to = (received: string) => (decide(base, fact('paid', amounts('100', received)), DEFAULT_SETTINGS, before) as { to?: string }).to;
    assert.equal(to('100'), 'paid');
    assert.equal(to('99.5'), 'paid'); // inside the default 0.5 % tolerance
    assert.equal(to('99.4'), 'underpaid');
    assert.equal(to('100.01'), 'overpaid');
  });

  it('applies the late-payment policy', () => {
    const expired = { ...base, status: 'expired' as const };
    assert.equal((decide(expired, fact('paid'), DEFAULT_SETTINGS, after) as { to?: string }).to, 'paid_late');
    assert.equal((decide(expired, fact('paid'), { ...DEFAULT_SETTINGS, latePaymentPolicy: 'review' }, after) as { to?: string }).to, 'review');
    assert.equal((decide(expired, fact('paid'), DEFAULT_SETTINGS, wayAfter) as { to?: string }).to, 'review');
    // Paid before expiry, verified after: not late.
    assert.equal((decide(base, fact('paid'), DEFAULT_SETTINGS, before) as { to?: string }).to, 'paid');
  });

  it('never moves backwards', () => {
    for (const status of ['paid', 'overpaid', 'paid_late'] as const) {
      for (const reported of ['created', 'pending', 'confirming', 'underpaid', 'expired', 'cancelled', 'rejected', 'paid'] as const) {
        assert.equal(decide({ ...base, status }, fact(reported), DEFAULT_SETTINGS, before).kind, 'ignore', `${status} + ${reported}`);
      }
    }
  });

  it('sends a closed window with money moving to review', () => {
    assert.equal((decide({ ...base, status: 'underpaid' }, fact('expired'), DEFAULT_SETTINGS, after) as { to?: string }).to, 'review');
    assert.equal((decide({ ...base, status: 'expired' }, fact('underpaid'), DEFAULT_SETTINGS, after) as { to?: string }).to, 'review');
  });

  it('ignores unknown gateway statuses', () => {
    assert.equal(decide(base, fact('unknown'), DEFAULT_SETTINGS, before).kind, 'ignore');
  });

  it('expires at the store deadline when the gateway still only waits', () => {
    assert.equal((decide(base, fact('pending'), DEFAULT_SETTINGS, after) as { to?: string }).to, 'expired');
    assert.equal((decide(base, fact('pending'), DEFAULT_SETTINGS, before) as { to?: string }).to, 'pending');
  });
});
