/**
 * The inbox's group commit: callbacks arriving together share one statement, yet each keeps its
 * own answer — new, duplicate (already stored, or earlier in the same batch) or its own error.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { InboxWriter, type InboxItem } from '../../src/core/inbox-writer.ts';
import { api, createTestStore, paymentBody, sandboxToken, startTestApp, type TestApp, type TestStore } from '../support/harness.ts';

describe('InboxWriter', () => {
  let t: TestApp;
  let shop: TestStore;
  let token: string;
  let writer: InboxWriter;
  before(async () => {
    t = await startTestApp();
    shop = await createTestStore(t);
    const created = await api(t, 'POST', '/v1/payments', { key: shop.apiKey, body: paymentBody('IW-1') });
    token = await sandboxToken(t, created.body.id);
    writer = new InboxWriter(t.app.db, { verifyDueAt: () => undefined });
  });
  after(() => t?.close());

  const item = (dedupeKey: string, over: Partial<InboxItem> = {}): InboxItem => ({
    source: 'paymento', connectionId: shop.connection.id, gatewayPaymentId: token, dedupeKey, rawBody: Buffer.from(`{"k":"${dedupeKey}"}`),
    gatewayStatus: '1', reported: 'pending', ...over,
  });

  it('writes a batch at once: new ones get rows, in-batch and stored duplicates get undefined', async () => {
    const first = await writer.write(item('a'));
    assert.ok(first?.inboxId);
    const results = await Promise.all([writer.write(item('b')), writer.write(item('b')), writer.write(item('a')), writer.write(item('c'))]);
    assert.ok(results[0]?.inboxId, 'b is new');
    assert.equal(results[1], undefined, 'the second b in the same batch is a duplicate');
    assert.equal(results[2], undefined, 'a was stored before');
    assert.ok(results[3]?.inboxId, 'c is new');
    assert.ok(results[0]!.paymentId, 'matched to the payment');
    const { rows } = await t.app.db.pool.query("SELECT dedupe_key FROM inbox WHERE dedupe_key = ANY($1) ORDER BY id", [['a', 'b', 'c']]);
    assert.deepEqual(rows.map((r) => r.dedupe_key), ['a', 'b', 'c']);
    const jobs = await t.app.db.pool.query("SELECT count(*)::int AS n FROM payment_events WHERE type = 'callback.received' AND data->>'inboxId' = ANY($1)",
      [[first!.inboxId, results[0]!.inboxId, results[3]!.inboxId]]);
    assert.equal(jobs.rows[0].n, 3, 'one event per stored callback');
  });

  it('an item the database refuses fails alone; the rest of its batch is written', async () => {
    const results = await Promise.allSettled([writer.write(item('d')), writer.write(item('e', { connectionId: 'not-a-uuid' })), writer.write(item('f'))]);
    assert.equal(results[0].status, 'fulfilled');
    assert.equal(results[1].status, 'rejected');
    assert.equal(results[2].status, 'fulfilled');
    const { rows } = await t.app.db.pool.query("SELECT dedupe_key FROM inbox WHERE dedupe_key IN ('d', 'e', 'f') ORDER BY dedupe_key");
    assert.deepEqual(rows.map((r) => r.dedupe_key), ['d', 'f']);
  });

  it('a callback for no known payment is stored as unmatched, with no job', async () => {
    const r = await writer.write(item('g', { gatewayPaymentId: 'unknown-token' }));
    assert.equal(r?.paymentId, null);
    const { rows } = await t.app.db.pool.query('SELECT outcome, processed_at FROM inbox WHERE id = $1', [r!.inboxId]);
    assert.match(rows[0].outcome, /^unmatched/);
    assert.ok(rows[0].processed_at);
  });
});
