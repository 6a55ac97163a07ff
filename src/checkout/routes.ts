import Router from '@koa/router';
import type Koa from 'koa';
import type pg from 'pg';
import { CoinbridgeError, InputError } from '../errors.ts';
import type { Logger } from '../observability/log.ts';
import type { LiveUpdates } from './live-updates.ts';
import { loadCheckout, REF, type CheckoutSnapshot } from './view.ts';

const PING_MS = 15_000;
const RETRY_MS = 2000;
/** A stream whose client stopped reading is dropped rather than buffered without end. */
const MAX_BUFFERED_BYTES = 256 * 1024;

export interface CheckoutRoutesOptions {
  pool: pg.Pool;
  live: LiveUpdates;
  log: Logger;
  /** Concurrent event streams one client IP may hold. */
  maxStreamsPerIp?: number;
}

function notFound(): InputError {
  return new InputError('payment_not_found', 'This payment link is not valid. Ask the store for a new one.', 404);
}

/** Anyone may read these answers from any page (the widget runs on store pages); they hold nothing private. */
const cors: Koa.Middleware = async (ctx, next) => {
  ctx.set('Access-Control-Allow-Origin', '*');
  ctx.set('Cache-Control', 'no-store');
  ctx.set('X-Content-Type-Options', 'nosniff');
  await next();
};

const preflight: Koa.Middleware = (ctx) => {
  // EventSource reconnects send Last-Event-ID, which is not a CORS-safelisted header.
  ctx.set('Access-Control-Allow-Methods', 'GET, OPTIONS');
  ctx.set('Access-Control-Allow-Headers', 'Last-Event-ID, Cache-Control, Accept');
  ctx.set('Access-Control-Max-Age', '600');
  ctx.status = 204;
};

/** An SSE event id a client says it has: a non-negative integer, else nothing. */
function lastEventId(ctx: Koa.Context): number | undefined {
  const raw = ctx.get('last-event-id') || (typeof ctx.query.lastEventId === 'string' ? ctx.query.lastEventId : '');
  if (!/^\d{1,15}$/.test(raw.trim())) return undefined;
  return Number(raw.trim());
}

/** `GET /v1/checkout/{ref}` and its live feed `GET /v1/checkout/{ref}/events` (SSE). */
export function checkoutRoutes(opts: CheckoutRoutesOptions): Router {
  const router = new Router({ prefix: '/v1/checkout' });
  const maxStreams = opts.maxStreamsPerIp ?? 20;
  const streamsByIp = new Map<string, number>();

  router.options('/:ref', cors, preflight);
  router.options('/:ref/events', cors, preflight);

  router.get('/:ref', cors, async (ctx) => {
    const snapshot = await loadCheckout(opts.pool, ctx.params.ref!);
    if (!snapshot) throw notFound();
    ctx.body = snapshot.view;
  });

  router.get('/:ref/events', cors, async (ctx) => {
    const ref = ctx.params.ref!;
    if (!REF.test(ref)) throw notFound();
    const ip = ctx.ip;
    if ((streamsByIp.get(ip) ?? 0) >= maxStreams) {
      ctx.set('Retry-After', '10');
      throw new CoinbridgeError('too_many_streams', `At most ${maxStreams} live payment views may be open from one address; close some and retry.`, { status: 429 });
    }
    let lastSent = lastEventId(ctx) ?? -1;
    // Subscribed before the first read, so a change committed in between is not missed.
    let open = false;
    let missed = false;
    let ended = false;
    let pumping = false;
    let again = false;
    const unsubscribe = opts.live.subscribe(ref, () => {
      if (open) void pump();
      else missed = true;
    });
    let first: CheckoutSnapshot | undefined;
    try {
      first = await loadCheckout(opts.pool, ref);
    } catch (err) {
      unsubscribe();
      throw err;
    }
    if (!first) {
      unsubscribe();
      throw notFound();
    }
    if (first.settled && lastSent >= first.view.version) {
      // The client has the final state; 204 tells an EventSource to stop reconnecting.
      unsubscribe();
      ctx.status = 204;
      return;
    }

    streamsByIp.set(ip, (streamsByIp.get(ip) ?? 0) + 1);
    const { req, res } = ctx;
    ctx.respond = false;
    req.socket.setTimeout(0);
    req.socket.setNoDelay(true);
    req.socket.setKeepAlive(true);
    res.writeHead(200, {
      'Content-Type': 'text/event-stream; charset=utf-8',
      'Cache-Control': 'no-store, no-transform',
      Connection: 'keep-alive',
      // No buffering by a reverse proxy (nginx honours this); nothing compresses this route.
      'X-Accel-Buffering': 'no',
    });
    res.flushHeaders();
    // A keep-alive for the client, never a reason for this process to stay up.
    const ping = setInterval(() => write(': ping\n\n'), PING_MS).unref();

    const finish = () => {
      if (ended) return;
      ended = true;
      clearInterval(ping);
      unsubscribe();
      const n = (streamsByIp.get(ip) ?? 1) - 1;
      if (n <= 0) streamsByIp.delete(ip);
      else streamsByIp.set(ip, n);
      if (!res.writableEnded) res.end();
    };
    req.on('close', finish);
    res.on('close', finish);
    res.on('error', finish);
    // The connection may have gone while the first read was awaited (the shopper left, or the
    // server is shutting down): its 'close' has fired already and will not fire again.
    if (req.destroyed || res.destroyed || req.socket.destroyed) finish();

    function write(chunk: string): void {
      if (ended) return;
      res.write(chunk);
      if (res.writableLength > MAX_BUFFERED_BYTES) {
        opts.log.warn({ ref }, 'checkout stream dropped: the client is not reading');
        finish();
        res.destroy();
      }
    }

    function send(snapshot: CheckoutSnapshot): void {
      const { view } = snapshot;
      if (view.version > lastSent) {
        write(`event: status\nid: ${view.version}\ndata: ${JSON.stringify(view)}\n\n`);
        lastSent = view.version;
      }
      if (snapshot.settled && lastSent >= view.version) finish();
    }

    async function pump(): Promise<void> {
      if (ended) return;
      if (pumping) { again = true; return; }
      pumping = true;
      try {
        do {
          again = false;
          const snapshot = await loadCheckout(opts.pool, ref);
          if (!snapshot || ended) return;
          send(snapshot);
        } while (again && !ended);
      } catch (err) {
        // The next change (or the client's reconnect) tries again.
        opts.log.warn({ ref, err: (err as Error).message }, 'checkout stream could not read the payment');
      } finally {
        pumping = false;
      }
    }

    write(`retry: ${RETRY_MS}\n\n`);
    send(first);
    open = true;
    if (missed && !ended) void pump();
  });

  return router;
}
