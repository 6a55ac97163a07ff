import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { canTransition, STORED_STATUSES, type StoredStatus } from '../../src/core/status.ts';

// The expected table, written out independently of src/core/status.ts: row = from, columns = to,
// in the order of COLUMNS. 'x' = allowed, '.' = refused.
const COLUMNS: StoredStatus[] = ['initiating', 'created', 'pending', 'confirming', 'underpaid', 'paid', 'overpaid', 'paid_late', 'expired', 'cancelled', 'review', 'failed'];
const EXPECTED: Record<StoredStatus, string> = {
  //            init cre pen con und pai ove lat exp can rev fai
  initiating: ' .   x   .   .   .   .   .   .   .   .   .   x ',
  created:    ' .   .   x   x   x   x   x   x   x   x   x   . ',
  pending:    ' .   .   .   x   x   x   x   x   x   x   x   . ',
  confirming: ' .   .   .   .   x   x   x   x   .   .   x   . ',
  underpaid:  ' .   .   .   x   .   x   x   x   .   .   x   . ',
  paid:       ' .   .   .   .   .   .   .   .   .   .   .   . ',
  overpaid:   ' .   .   .   .   .   .   .   .   .   .   .   . ',
  paid_late:  ' .   .   .   .   .   .   .   .   .   .   .   . ',
  expired:    ' .   .   .   .   .   .   .   x   .   .   x   . ',
  cancelled:  ' .   .   .   .   .   .   .   x   .   .   x   . ',
  review:     ' .   .   .   .   .   x   x   x   x   x   .   . ',
  failed:     ' .   .   .   .   .   .   .   .   .   .   .   . ',
};

describe('payment transition table', () => {
  it('covers every stored status', () => {
    assert.deepEqual([...STORED_STATUSES].sort(), [...COLUMNS].sort());
  });

  for (const from of COLUMNS) {
    const marks = EXPECTED[from].trim().split(/\s+/);
    assert.equal(marks.length, COLUMNS.length, `row ${from} has ${marks.length} marks`);
    for (const [i, to] of COLUMNS.entries()) {
      const allowed = marks[i] === 'x';
      it(`${from} → ${to} is ${allowed ? 'allowed' : 'refused'}`, () => {
        assert.equal(canTransition(from, to), allowed);
      });
    }
  }

  it('never leaves a paid status', () => {
    for (const from of ['paid', 'overpaid', 'paid_late'] as const) {
      for (const to of COLUMNS) assert.equal(canTransition(from, to), false, `${from} → ${to}`);
    }
  });
});
