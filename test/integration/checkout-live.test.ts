/**
 * Live checkout updates over Server-Sent Events on one Coinbridge (embedded PGlite or a server,
 * whichever the suite runs on): the current state first, then each change, never an old one.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { CHECKOUT_VIEW_KEYS } from '../../src/checkout/view.ts';
import { api, createTestStore, paymentBody, sandboxAction, sandboxToken, startTestApp, waitFor, waitForStatus, type TestApp, type TestStore } from '../support/harness.ts';
import { SseStream, type SseEvent } from '../support/sse.ts';

const view = (e: SseEvent) => JSON.parse(e.data);

describe('checkout events (SSE)', () => {
  let t: TestApp;
  let shop: TestStore;
  before(async () => {
    t = await startTestApp();
    shop = await createTestStore(t);
  });
  after(() => t?.close());

  async function newPayment(orderId: string) {
    const created = await api(t, 'POST', '/v1/payments', { key: shop.apiKey, body: paymentBody(orderId) });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    return created.body as { id: string; ref: string };
  }

  it('sends the current state, then each change up to paid, with growing versions, then ends', async () => {
    const p = await newPayment('SSE-1');
    const stream = await SseStream.open(`${t.url}/v1/checkout/${p.ref}/events`);
    try {
      assert.equal(stream.status, 200);
      assert.match(stream.headers.get('content-type') ?? '', /^text\/event-stream/);
      assert.equal(stream.headers.get('access-control-allow-origin'), '*');
      assert.match(stream.headers.get('cache-control') ?? '', /no-store/);
      assert.equal(stream.headers.get('x-accel-buffering'), 'no');
      assert.equal(stream.headers.get('content-encoding'), null);
      const first = await stream.waitFor('the current state', () => true);
      assert.equal(stream.retry, 2000, 'retry: 2000 before the first event');
      assert.equal(view(first).status, 'created');
      await sandboxAction(t, await sandboxToken(t, p.id), 'pay');
      await stream.waitFor('paid', (e) => view(e).status === 'paid');
      await stream.untilEnded(); // the server closes the stream after a settled status
      assert.ok(stream.isEnded);
      const statuses = stream.events.map((e) => view(e).status);
      assert.equal(statuses.at(-1), 'paid');
      assert.equal(statuses.filter((s) => s === 'paid').length, 1);
      let previous = -1;
      for (const e of stream.events) {
        const v = view(e);
        assert.equal(e.event, 'status');
        assert.equal(e.id, String(v.version), 'the event id is the version');
        assert.ok(v.version > previous, `versions grow: ${stream.events.map((x) => x.id).join(',')}`);
        previous = v.version;
        assert.deepEqual(Object.keys(v).sort(), [...CHECKOUT_VIEW_KEYS].sort());
      }
      const final = (await api(t, 'GET', `/v1/checkout/${p.ref}`)).body;
      assert.equal(final.version, previous, 'the last event carries the current version');
    } finally {
      stream.close();
    }
  });

  it('a reconnect with Last-Event-ID = the current version gets nothing old, only what changes next', async () => {
    const p = await newPayment('SSE-2');
    const current = (await api(t, 'GET', `/v1/checkout/${p.ref}`)).body;
    const byHeader = await SseStream.open(`${t.url}/v1/checkout/${p.ref}/events`, { 'last-event-id': String(current.version) });
    const byQuery = await SseStream.open(`${t.url}/v1/checkout/${p.ref}/events?lastEventId=${current.version}`);
    const older = await SseStream.open(`${t.url}/v1/checkout/${p.ref}/events`, { 'last-event-id': String(current.version - 1) });
    try {
      assert.equal(byHeader.status, 200);
      // A client one version behind is sent the current state at once (proves the stream is live before the change).
      assert.equal(view(await older.waitFor('the current state', () => true)).version, current.version);
      await sandboxAction(t, await sandboxToken(t, p.id), 'underpay');
      for (const stream of [byHeader, byQuery]) {
        const first = await stream.waitFor('the next change', () => true);
        assert.equal(view(first).status, 'underpaid', 'the first event is the change, not the state the client had');
        assert.ok(Number(first.id) > current.version);
        assert.ok(stream.events.every((e) => Number(e.id) > current.version));
      }
    } finally {
      byHeader.close();
      byQuery.close();
      older.close();
    }
  });

  it('once settled: a caught-up client gets 204 (EventSource stops), a new one gets the final state and the end', async () => {
    const p = await newPayment('SSE-3');
    await sandboxAction(t, await sandboxToken(t, p.id), 'pay');
    await waitForStatus(t, p.id, 'paid');
    const final = (await api(t, 'GET', `/v1/checkout/${p.ref}`)).body;
    const caughtUp = await fetch(`${t.url}/v1/checkout/${p.ref}/events`, { headers: { 'last-event-id': String(final.version) } });
    assert.equal(caughtUp.status, 204);
    const fresh = await SseStream.open(`${t.url}/v1/checkout/${p.ref}/events`);
    try {
      await fresh.untilEnded();
      assert.deepEqual(fresh.events.map((e) => [view(e).status, Number(e.id)]), [['paid', final.version]]);
    } finally {
      fresh.close();
    }
  });

  it('expired stays open (a late payment may still come) and then shows paid_late', async () => {
    const p = await newPayment('SSE-4');
    const stream = await SseStream.open(`${t.url}/v1/checkout/${p.ref}/events`);
    try {
      await stream.waitFor('the current state', () => true);
      const token = await sandboxToken(t, p.id);
      await sandboxAction(t, token, 'expire');
      await stream.waitFor('expired', (e) => view(e).status === 'expired');
      await sandboxAction(t, token, 'pay');
      // Received on the same stream: expired did not end it.
      await stream.waitFor('paid_late', (e) => view(e).status === 'paid_late');
      // (expired may come twice: money seen before the verdict changes `crypto.received`, a change of its own)
      const statuses = stream.events.map((e) => view(e).status).filter((s, i, all) => s !== all[i - 1]);
      assert.deepEqual(statuses, ['created', 'expired', 'paid_late']);
      await stream.untilEnded();
    } finally {
      stream.close();
    }
  });

  it('a closed stream leaves no listener behind', async () => {
    const p = await newPayment('SSE-5');
    const streams = await Promise.all([1, 2, 3].map(() => SseStream.open(`${t.url}/v1/checkout/${p.ref}/events`)));
    await Promise.all(streams.map((s) => s.waitFor('the current state', () => true)));
    assert.equal(t.app.live.subscriberCount(p.ref), 3);
    for (const s of streams) s.close();
    await waitFor('listeners to be removed', async () => t.app.live.subscriberCount(p.ref) === 0);
  });

  it('a client that leaves before the stream starts leaves no listener or timer behind', async () => {
    const p = await newPayment('SSE-5b');
    // Requests aborted at once: the connection is often gone before the first read returns.
    for (let i = 0; i < 20; i++) {
      const controller = new AbortController();
      const pending = fetch(`${t.url}/v1/checkout/${p.ref}/events`, { signal: controller.signal }).catch(() => undefined);
      controller.abort();
      await pending;
    }
    await waitFor('every aborted stream to be cleaned up', async () => t.app.live.subscriberCount(p.ref) === 0);
    // Each stream that never ran its clean-up would still hold one of this address's 20 slots.
    const streams = await Promise.all(Array.from({ length: 20 }, () => SseStream.open(`${t.url}/v1/checkout/${p.ref}/events`)));
    try {
      await Promise.all(streams.map((s) => s.waitFor('the current state', () => true)));
    } finally {
      for (const s of streams) s.close();
    }
  });

  it('limits concurrent streams per client address (429), and frees a slot when one closes', async () => {
    const p = await newPayment('SSE-6');
    const open: SseStream[] = [];
    try {
      for (let i = 0; i < 20; i++) {
        const s = await SseStream.open(`${t.url}/v1/checkout/${p.ref}/events`);
        assert.equal(s.status, 200, `stream ${i + 1}`);
        open.push(s);
      }
      const refused = await api(t, 'GET', `/v1/checkout/${p.ref}/events`);
      assert.equal(refused.status, 429);
      assert.equal(refused.body.error.code, 'too_many_streams');
      assert.ok(Number(refused.headers.get('retry-after')) > 0);
      open.pop()!.close();
      await waitFor('a slot to free up', async () => {
        const s = await SseStream.open(`${t.url}/v1/checkout/${p.ref}/events`);
        if (s.status === 200) { open.push(s); return true; }
        return false;
      });
    } finally {
      for (const s of open) s.close();
    }
  });

  it('answers a CORS preflight for the stream (Last-Event-ID is not a safelisted header)', async () => {
    const p = await newPayment('SSE-7');
    const res = await fetch(`${t.url}/v1/checkout/${p.ref}/events`, { method: 'OPTIONS', headers: { origin: 'https://shop.example.com', 'access-control-request-method': 'GET', 'access-control-request-headers': 'last-event-id' } });
    assert.equal(res.status, 204);
    assert.equal(res.headers.get('access-control-allow-origin'), '*');
    assert.match(res.headers.get('access-control-allow-headers') ?? '', /Last-Event-ID/i);
  });
});
