// A plain keep-alive HTTP client (node:http, so nothing but the socket sits between the clock and
// the server), an open-loop pacer, and a hook on the HTTP servers of this process (the emulators)
// that says when each request arrived and when its answer was written.
import diagnostics from 'node:diagnostics_channel';
import http from 'node:http';
import { sleep } from './run.ts';

export interface Answer {
  status: number;
  body: string;
  /** From just before the request was written to the end of the answer. */
  ms: number;
  /** performance.now() at the end of the answer. */
  at: number;
}

export function keepAliveAgent(maxSockets: number): http.Agent {
  return new http.Agent({ keepAlive: true, maxSockets });
}

export function send(agent: http.Agent, url: string, opts: { method?: string; headers?: Record<string, string>; body?: string | Buffer; timeoutMs?: number } = {}): Promise<Answer> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const req = http.request(url, { agent, method: opts.method ?? (opts.body === undefined ? 'GET' : 'POST'), headers: opts.headers, timeout: opts.timeoutMs ?? 30_000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const at = performance.now();
        resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8'), ms: at - started, at });
      });
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`no answer from ${url} within ${opts.timeoutMs ?? 30_000} ms`)));
    req.on('error', reject);
    req.end(opts.body);
  });
}

/**
 * Open loop: starts `fn(i)` for i = 0..count-1 at `rate` per second whatever the earlier calls are
 * doing (a slow server is not allowed to slow the offered load down), then waits for all of them.
 * Returns how late the pacer itself started calls (this process being too busy), p99 in ms.
 */
export async function paced(count: number, rate: number, fn: (i: number) => Promise<void>): Promise<{ lateP99Ms: number; seconds: number }> {
  const start = performance.now();
  const running: Promise<void>[] = [];
  const late: number[] = [];
  for (let i = 0; i < count; i++) {
    const due = start + (i * 1000) / rate;
    const wait = due - performance.now();
    if (wait > 1) await sleep(wait);
    late.push(Math.max(0, performance.now() - due));
    running.push(fn(i));
  }
  const seconds = (performance.now() - start) / 1000;
  await Promise.all(running);
  late.sort((a, b) => a - b);
  return { lateP99Ms: late[Math.min(late.length - 1, Math.ceil(late.length * 0.99) - 1)] ?? 0, seconds };
}

/**
 * A throughput run: offers `rate` per second for `seconds`, except that no more than
 * `maxInFlight` items may be unfinished (`inFlight()`, counted by the caller): once a system
 * falls behind, the offered load follows what it finishes instead of piling up a backlog that
 * would take minutes to drain. Either way, finishes per second measure its capacity up to `rate`.
 * Returns when the last item has been started (not finished).
 */
export async function offer(opts: { rate: number; seconds: number; maxInFlight: number; inFlight: () => number; fn: (i: number) => void }): Promise<{ sent: number; start: number; end: number; throttled: boolean }> {
  const start = performance.now();
  const end = start + opts.seconds * 1000;
  let due = start;
  let sent = 0;
  let throttled = false;
  for (;;) {
    const now = performance.now();
    if (now >= end) break;
    if (opts.inFlight() >= opts.maxInFlight) {
      throttled = true;
      await sleep(2);
      due = Math.max(due, performance.now()); // no burst to catch up once there is room again
      continue;
    }
    if (due - now > 1) {
      await sleep(Math.min(due - now, end - now));
      continue;
    }
    opts.fn(sent++);
    due += 1000 / opts.rate;
    // Behind schedule (this process was busy): catch up, but let the sends just started go out.
    if (due < performance.now()) await new Promise((r) => setImmediate(r));
  }
  return { sent, start, end: performance.now(), throttled };
}

/** How many of `times` fall in [from, to), per second. */
export function ratePerSecond(times: number[], from: number, to: number): number {
  return times.filter((t) => t >= from && t < to).length / ((to - from) / 1000);
}

export interface ServedRequest {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  status: number;
  /** performance.now() when the request's headers were parsed, and when its answer was written. */
  start: number;
  end: number;
}

/**
 * Calls `fn` for every request an HTTP server in THIS process answered (the emulators), through
 * node:http's diagnostics channels: no change to the emulators, and the times are the server's own.
 * Returns the unsubscribe.
 */
export function onServed(fn: (r: ServedRequest) => void): () => void {
  const starts = new WeakMap<object, number>();
  const onStart = (msg: unknown) => {
    starts.set((msg as { request: object }).request, performance.now());
  };
  const onFinish = (msg: unknown) => {
    const end = performance.now();
    const { request, response } = msg as { request: http.IncomingMessage; response: http.ServerResponse };
    const start = starts.get(request);
    if (start === undefined) return;
    fn({ method: request.method ?? 'GET', url: request.url ?? '/', headers: request.headers, status: response.statusCode, start, end });
  };
  diagnostics.subscribe('http.server.request.start', onStart);
  diagnostics.subscribe('http.server.response.finish', onFinish);
  return () => {
    diagnostics.unsubscribe('http.server.request.start', onStart);
    diagnostics.unsubscribe('http.server.response.finish', onFinish);
  };
}
