import pg from 'pg';
import type { Database } from '../db/database.ts';
import type { Logger } from '../observability/log.ts';

/** Raised by 005_checkout.sql whenever what a payment's shopper sees changes; payload: its ref. */
export const CHECKOUT_CHANNEL = 'coinbridge_checkout';

const RECONNECT_MIN_MS = 250;
const RECONNECT_MAX_MS = 15_000;

type Listener = () => void;

/**
 * "This payment changed", fanned out to every process through PostgreSQL LISTEN/NOTIFY and,
 * inside a process, to the live views (SSE streams) of that payment. Subscribers are told only
 * *that* something changed; they re-read the payment themselves, so a notification that arrives
 * twice, late, or coalesced with another costs a read and never shows stale data.
 *
 * - PostgreSQL server: one dedicated connection per process (a `pg.Client` outside the pool)
 *   that LISTENs; after an error it reconnects with backoff, and then tells every subscriber to
 *   re-read, since changes committed while it was away were not heard.
 * - Embedded PGlite: the database's own hook (`Database.listenEmbedded`), which hears the NOTIFYs
 *   raised by this process's statements; the embedded database serves one process only.
 */
export class LiveUpdates {
  readonly #subscribers = new Map<string, Set<Listener>>();
  readonly #log: Logger;
  readonly #source: { start(): Promise<void>; close(): Promise<void> };

  constructor(db: Database, opts: { databaseUrl: string | undefined; log: Logger }) {
    this.#log = opts.log;
    const onRef = (ref: string) => this.#dispatch(ref);
    if (db.embedded) {
      if (!db.listenEmbedded) throw new Error('the embedded database has no notification hook');
      const listen = db.listenEmbedded;
      let stop: (() => void) | undefined;
      this.#source = {
        start: async () => { stop = await listen(CHECKOUT_CHANNEL, onRef); },
        close: async () => { stop?.(); },
      };
    } else {
      if (!opts.databaseUrl) throw new Error('LiveUpdates needs the database URL for its listening connection');
      this.#source = new ChannelListener(opts.databaseUrl, CHECKOUT_CHANNEL, this.#log, onRef, () => this.#resyncAll());
    }
  }

  start(): Promise<void> {
    return this.#source.start();
  }

  close(): Promise<void> {
    this.#subscribers.clear();
    return this.#source.close();
  }

  /** Calls `fn` (asynchronously) after each committed change of payment `ref`; returns the unsubscribe. */
  subscribe(ref: string, fn: Listener): () => void {
    let set = this.#subscribers.get(ref);
    if (!set) this.#subscribers.set(ref, (set = new Set()));
    set.add(fn);
    let done = false;
    return () => {
      if (done) return;
      done = true;
      set.delete(fn);
      if (set.size === 0 && this.#subscribers.get(ref) === set) this.#subscribers.delete(ref);
    };
  }

  /** Open subscriptions, for one payment or all of them. */
  subscriberCount(ref?: string): number {
    if (ref !== undefined) return this.#subscribers.get(ref)?.size ?? 0;
    let n = 0;
    for (const set of this.#subscribers.values()) n += set.size;
    return n;
  }

  #dispatch(ref: string): void {
    const set = this.#subscribers.get(ref);
    if (!set) return;
    // Not inside the driver's message handler: subscribers go on to query the database.
    for (const fn of [...set]) {
      setImmediate(() => {
        try { fn(); } catch (err) { this.#log.error({ err: (err as Error).message }, 'live update subscriber failed'); }
      });
    }
  }

  #resyncAll(): void {
    for (const ref of this.#subscribers.keys()) this.#dispatch(ref);
  }
}

/** One LISTENing connection that comes back after errors (database restart, failover, network). */
class ChannelListener {
  readonly #url: string;
  readonly #channel: string;
  readonly #log: Logger;
  readonly #onPayload: (payload: string) => void;
  readonly #onReconnected: () => void;
  #client: pg.Client | undefined;
  #closed = false;
  #failures = 0;
  #everConnected = false;
  #timer: NodeJS.Timeout | undefined;
  readonly #lost = new WeakSet<pg.Client>();

  constructor(url: string, channel: string, log: Logger, onPayload: (payload: string) => void, onReconnected: () => void) {
    this.#url = url;
    this.#channel = channel;
    this.#log = log;
    this.#onPayload = onPayload;
    this.#onReconnected = onReconnected;
  }

  /** Connects once; if that fails, keeps retrying in the background rather than failing start-up. */
  start(): Promise<void> {
    return this.#connect();
  }

  async close(): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#timer);
    const client = this.#client;
    this.#client = undefined;
    if (client) {
      this.#lost.add(client);
      await client.end().catch(() => undefined);
    }
  }

  async #connect(): Promise<void> {
    if (this.#closed) return;
    const client = new pg.Client({ connectionString: this.#url, connectionTimeoutMillis: 5000, keepAlive: true, application_name: 'coinbridge-live-updates' });
    client.on('error', (err) => this.#lose(client, err));
    client.on('end', () => this.#lose(client, new Error('connection closed')));
    client.on('notification', (n) => {
      if (n.channel === this.#channel && n.payload) this.#onPayload(n.payload);
    });
    try {
      await client.connect();
      await client.query(`LISTEN ${this.#channel}`);
    } catch (err) {
      this.#lose(client, err as Error);
      return;
    }
    if (this.#closed || this.#lost.has(client)) {
      this.#lost.add(client);
      await client.end().catch(() => undefined);
      return;
    }
    this.#client = client;
    const reconnected = this.#everConnected;
    this.#everConnected = true;
    this.#failures = 0;
    if (reconnected) {
      this.#log.info({ channel: this.#channel }, 'live updates: listening again; refreshing open checkout views');
      this.#onReconnected();
    }
  }

  #lose(client: pg.Client, err: Error): void {
    if (this.#lost.has(client)) return;
    this.#lost.add(client);
    if (this.#client === client) this.#client = undefined;
    client.end().catch(() => undefined);
    if (this.#closed) return;
    const delay = Math.min(RECONNECT_MIN_MS * 2 ** this.#failures, RECONNECT_MAX_MS);
    this.#failures++;
    this.#log.warn({ channel: this.#channel, err: err.message, retryInMs: delay }, 'live updates: listening connection lost; reconnecting');
    this.#timer = setTimeout(() => void this.#connect(), delay + Math.floor(Math.random() * delay * 0.2));
  }
}
