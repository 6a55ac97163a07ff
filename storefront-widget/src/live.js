// Live checkout updates: Server-Sent Events, else polling. No DOM: the environment is passed in (unit tests).
import { SETTLED } from './state.js';

export const POLL_MIN = 3000;
export const POLL_MAX = 15000;

/** Next polling delay: back to 3 s after a change, ×1.5 while nothing changes, ×2 after a failure, at most 15 s. */
export const nextDelay = (prev, changed, failed) =>
  changed ? POLL_MIN : Math.min(POLL_MAX, Math.round(prev * (failed ? 2 : 1.5)));

/**
 * Passes every state of checkout `ref` to `onData` (which drops older versions) until a settled
 * status; returns stop(). EventSource on …/events (it resends Last-Event-ID itself); polling when
 * there is none, or it failed 3 times in a row, or gave up.
 */
export function live(base, ref, onData, env = /** @type {any} */ (globalThis)) {
  const url = `${base}/v1/checkout/${encodeURIComponent(ref)}`;
  let es = null, timer = 0, delay = POLL_MIN, errors = 0, last = -Infinity, stopped = false, polling = false;
  const stop = () => { stopped = true; if (es) es.close(); es = null; env.clearTimeout(timer); };
  const got = (d) => {
    const changed = !!d && d.version > last;
    if (changed) last = d.version;
    onData(d);
    if (d && SETTLED.includes(d.status)) stop();
    return changed;
  };
  const poll = async () => {
    let changed = false, failed = false;
    try {
      const r = await env.fetch(url, { headers: { accept: 'application/json' }, cache: 'no-store' });
      if (!r.ok) throw new Error(`HTTP ${r.status}`);
      changed = got(await r.json());
    } catch { failed = true; }
    if (!stopped) timer = env.setTimeout(poll, (delay = nextDelay(delay, changed, failed)));
  };
  const fallback = () => {
    if (es) es.close();
    es = null;
    if (!polling && !stopped) { polling = true; poll(); }
  };
  if (env.EventSource) {
    es = new env.EventSource(`${url}/events`);
    es.addEventListener('status', (e) => {
      errors = 0;
      let d;
      try { d = JSON.parse(e.data); } catch { return; }
      got(d);
    });
    es.addEventListener('error', () => {
      if (!stopped && es && (++errors >= 3 || es.readyState === 2)) fallback();
    });
  } else fallback();
  return stop;
}
