/**
 * The storefront widget's state logic (storefront-widget/src/state.js) and live updates
 * (storefront-widget/src/live.js) driven with a fake EventSource, fetch and timers.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

interface Checkout { ref?: string; status: string; version: number; canTopUp?: boolean; [k: string]: unknown }
interface View { msg: string; tone: string; pay: string; qr: boolean; clock: boolean; back: string; missing: boolean; contact: boolean; redirect: boolean }
interface State {
  SETTLED: string[]; PAID: string[];
  isNewer(shown: Checkout | null, next: unknown): boolean;
  view(c: Checkout, timeUp: boolean): View;
  safeUrl(u: unknown, base?: string): string | null;
  remaining(expiresAt: string | undefined, now: number, skew: number): number;
  skewOf(serverTime: string | undefined, now: number): number;
}
interface Live {
  POLL_MIN: number; POLL_MAX: number;
  nextDelay(prev: number, changed: boolean, failed: boolean): number;
  live(base: string, ref: string, onData: (d: Checkout) => void, env: unknown): () => void;
}
const load = async <T>(f: string): Promise<T> => (await import(new URL(`../../storefront-widget/src/${f}`, import.meta.url).href)) as T;
const S = await load<State>('state.js');
const L = await load<Live>('live.js');

const c = (status: string, version: number, extra: Partial<Checkout> = {}): Checkout => ({ status, version, ...extra });

describe('widget state: never older', () => {
  it('accepts only strictly newer versions', () => {
    assert.equal(S.isNewer(null, c('pending', 1)), true);
    assert.equal(S.isNewer(c('pending', 5), c('confirming', 6)), true);
    assert.equal(S.isNewer(c('paid', 6), c('pending', 6)), false, 'same version');
    assert.equal(S.isNewer(c('paid', 7), c('confirming', 6)), false, 'older version');
    assert.equal(S.isNewer(null, { status: 'paid' }), false, 'no version');
    assert.equal(S.isNewer(null, { status: 'paid', version: '7' }), false, 'version must be a number');
    assert.equal(S.isNewer(null, { version: 3 }), false, 'no status');
    assert.equal(S.isNewer(null, null), false);
  });

  it('shows a shuffled stream of states as a sequence of increasing versions', () => {
    let shown: Checkout | null = null;
    const seen: number[] = [];
    for (const v of [3, 1, 2, 5, 4, 5, 7, 6]) {
      const next = c('pending', v);
      if (S.isNewer(shown, next)) { shown = next; seen.push(v); }
    }
    assert.deepEqual(seen, [3, 5, 7]);
  });
});

describe('widget state: what the shopper sees', () => {
  const V = (status: string, timeUp = false, extra: Partial<Checkout> = {}): View => S.view(c(status, 1, extra), timeUp);

  it('waiting: pay, QR and countdown; when time is up, only the countdown and a waiting text', () => {
    for (const s of ['created', 'pending']) assert.deepEqual(V(s), { msg: 'waiting', tone: 'wait', pay: 'pay', qr: true, clock: true, back: '', missing: false, contact: false, redirect: false });
    assert.deepEqual(V('pending', true), { msg: 'timeUp', tone: 'wait', pay: '', qr: false, clock: true, back: '', missing: false, contact: false, redirect: false });
  });

  it('confirming, paid, overpaid, paid late', () => {
    assert.equal(V('confirming').msg, 'confirming');
    assert.equal(V('confirming').pay, '', 'no second payment while confirming');
    for (const s of ['paid', 'paid_late', 'overpaid']) {
      const v = V(s);
      assert.equal(v.msg, s === 'overpaid' ? 'overpaid' : 'paid');
      assert.equal(v.tone, 'ok');
      assert.equal(v.back, 'back');
      assert.equal(v.redirect, true);
      assert.equal(v.pay, '');
    }
  });

  it('underpaid: what is missing, and "pay the rest" or "contact the store"', () => {
    const top = V('underpaid', false, { canTopUp: true });
    assert.equal(top.msg, 'underpaid'); assert.equal(top.missing, true); assert.equal(top.pay, 'payRest'); assert.equal(top.qr, true); assert.equal(top.contact, false);
    const no = V('underpaid', false, { canTopUp: false });
    assert.equal(no.pay, ''); assert.equal(no.qr, false); assert.equal(no.contact, true); assert.equal(no.missing, true);
    const late = V('underpaid', true, { canTopUp: true });
    assert.equal(late.pay, '', 'no top-up after the countdown ran out'); assert.equal(late.contact, true);
  });

  it('expired, cancelled, review, failed', () => {
    assert.deepEqual([V('expired').msg, V('expired').back], ['expired', 'again']);
    assert.deepEqual([V('cancelled').msg, V('cancelled').back], ['cancelled', 'back']);
    assert.deepEqual([V('review').msg, V('review').back, V('review').tone], ['review', 'back', 'warn']);
    assert.deepEqual([V('failed').msg, V('failed').back, V('failed').tone], ['failed', 'back', 'bad']);
    for (const s of ['expired', 'cancelled', 'review', 'failed']) { assert.equal(V(s).pay, ''); assert.equal(V(s).redirect, false); }
  });

  it('settled statuses are the ones after which the server closes the stream', () => {
    assert.deepEqual([...S.SETTLED].sort(), ['failed', 'overpaid', 'paid', 'paid_late']);
  });

  it('accepts only http(s) URLs', () => {
    assert.equal(S.safeUrl('https://shop.example/thanks?o=1'), 'https://shop.example/thanks?o=1');
    assert.equal(S.safeUrl('/logo.png', 'https://pay.example'), 'https://pay.example/logo.png');
    for (const bad of ['javascript:alert(1)', 'data:text/html,x', ' ', '', null, 42, 'https://', 'vbscript:x']) assert.equal(S.safeUrl(bad), null, String(bad));
  });

  it('counts down by the server clock', () => {
    const now = Date.parse('2030-01-01T12:00:00Z');
    const skew = S.skewOf('2030-01-01T12:00:30Z', now); // server 30 s ahead
    assert.equal(skew, 30_000);
    assert.equal(S.remaining('2030-01-01T12:10:00Z', now, skew), 570_000);
    assert.equal(S.remaining(undefined, now, 0), Infinity);
    assert.equal(S.skewOf(undefined, now), 0);
  });
});

// ---- live updates --------------------------------------------------------------------------

class FakeES {
  static all: FakeES[] = [];
  readyState = 0;
  closed = false;
  listeners = new Map<string, ((e: { data?: string }) => void)[]>();
  url: string;
  constructor(url: string) { this.url = url; FakeES.all.push(this); }
  addEventListener(type: string, fn: (e: { data?: string }) => void): void { this.listeners.set(type, [...(this.listeners.get(type) ?? []), fn]); }
  close(): void { this.closed = true; this.readyState = 2; }
  emit(type: string, data?: unknown): void { for (const fn of this.listeners.get(type) ?? []) fn(data === undefined ? {} : { data: typeof data === 'string' ? data : JSON.stringify(data) }); }
}

function env(opts: { es?: boolean; responses?: (Checkout | number | Error)[] } = {}) {
  const timers: { fn: () => void; ms: number }[] = [];
  const fetched: string[] = [];
  const responses = [...(opts.responses ?? [])];
  return {
    timers, fetched,
    EventSource: opts.es === false ? undefined : FakeES,
    fetch: async (url: string) => {
      fetched.push(url);
      const r = responses.shift() ?? 500;
      if (r instanceof Error) throw r;
      if (typeof r === 'number') return { ok: false, status: r, json: async () => ({}) };
      return { ok: true, status: 200, json: async () => r };
    },
    setTimeout: (fn: () => void, ms: number) => { timers.push({ fn, ms }); return timers.length; },
    clearTimeout: (id: number) => { const t = timers[id - 1]; if (t) t.fn = () => {}; },
    /** Runs the last scheduled timer and waits for the poll it starts. */
    async fire() { const t = timers[timers.length - 1]!; await t.fn(); await new Promise((r) => setImmediate(r)); },
  };
}
const tick = (): Promise<void> => new Promise((r) => setImmediate(r));

describe('widget live updates', () => {
  it('backs off polling from 3 s to 15 s, and returns to 3 s after a change', () => {
    assert.equal(L.POLL_MIN, 3000); assert.equal(L.POLL_MAX, 15000);
    assert.equal(L.nextDelay(3000, false, false), 4500);
    assert.equal(L.nextDelay(4500, false, true), 9000);
    assert.equal(L.nextDelay(12000, false, false), 15000);
    assert.equal(L.nextDelay(15000, false, true), 15000);
    assert.equal(L.nextDelay(15000, true, false), 3000);
  });

  it('follows the event stream and closes it on a settled status', () => {
    FakeES.all = [];
    const e = env(), got: Checkout[] = [];
    L.live('https://cb.example', 'ref/1', (d) => got.push(d), e);
    const es = FakeES.all[0]!;
    assert.equal(es.url, 'https://cb.example/v1/checkout/ref%2F1/events');
    es.emit('status', c('pending', 1));
    es.emit('status', 'not json');
    es.emit('status', c('confirming', 2));
    assert.equal(es.closed, false);
    es.emit('status', c('paid', 3));
    assert.deepEqual(got.map((d) => d.status), ['pending', 'confirming', 'paid']);
    assert.equal(es.closed, true);
    assert.equal(e.fetched.length, 0, 'no polling');
  });

  it('falls back to polling after 3 errors in a row (a message in between resets the count)', async () => {
    FakeES.all = [];
    const e = env({ responses: [c('pending', 4), c('pending', 4), new Error('offline'), c('confirming', 5), c('paid', 6)] });
    const got: Checkout[] = [];
    L.live('https://cb.example', 'r', (d) => got.push(d), e);
    const es = FakeES.all[0]!;
    es.emit('error'); es.emit('error');
    es.emit('status', c('pending', 3));
    es.emit('error'); es.emit('error');
    assert.equal(es.closed, false, 'two errors since the last message');
    es.emit('error');
    assert.equal(es.closed, true, 'third error in a row');
    await tick();
    assert.deepEqual(e.fetched, ['https://cb.example/v1/checkout/r'], 'polls at once');
    assert.deepEqual(e.timers.map((t) => t.ms), [3000], 'new version: next poll in 3 s');
    await e.fire(); // same version again
    assert.equal(e.timers.at(-1)!.ms, 4500);
    await e.fire(); // network error
    assert.equal(e.timers.at(-1)!.ms, 9000);
    await e.fire(); // confirming
    assert.equal(e.timers.at(-1)!.ms, 3000);
    const before = e.timers.length;
    await e.fire(); // paid: stops
    assert.equal(e.timers.length, before, 'no poll after a settled status');
    assert.deepEqual(got.map((d) => `${d.status}@${d.version}`), ['pending@3', 'pending@4', 'pending@4', 'confirming@5', 'paid@6']);
    es.emit('error');
    assert.equal(e.fetched.length, 5, 'a late event-stream error starts nothing');
  });

  it('polls at once when the event stream gave up (readyState CLOSED) or is missing', async () => {
    FakeES.all = [];
    const e1 = env({ responses: [c('pending', 1)] });
    L.live('https://cb.example', 'a', () => {}, e1);
    FakeES.all[0]!.readyState = 2;
    FakeES.all[0]!.emit('error');
    await tick();
    assert.equal(e1.fetched.length, 1);

    const e2 = env({ es: false, responses: [404] });
    L.live('https://cb.example', 'b', () => {}, e2);
    await tick();
    assert.deepEqual(e2.fetched, ['https://cb.example/v1/checkout/b']);
    assert.equal(e2.timers.at(-1)!.ms, 6000, 'HTTP error: doubled delay');
  });

  it('stop() closes the stream and cancels the next poll', async () => {
    FakeES.all = [];
    const e = env({ es: false, responses: [c('pending', 1), c('paid', 2)] });
    const got: Checkout[] = [];
    const stop = L.live('https://cb.example', 'r', (d) => got.push(d), e);
    await tick();
    stop();
    await e.fire();
    assert.equal(e.fetched.length, 1);
    assert.equal(got.length, 1);

    const e2 = env();
    const stop2 = L.live('https://cb.example', 'r', () => {}, e2);
    stop2();
    assert.equal(FakeES.all.at(-1)!.closed, true);
  });
});
