import fs from 'node:fs/promises';
import path from 'node:path';
import pg from 'pg';
import type { Logger } from '../observability/log.ts';

export type Queryable = Pick<pg.Pool, 'query'> | pg.PoolClient;

export interface Database {
  pool: pg.Pool;
  /** Embedded PGlite: one process only; a NOTIFY reaches only the connection that committed it (listenEmbedded). */
  embedded: boolean;
  /**
   * Embedded database only: hears NOTIFYs on `channel` raised by this process's own statements
   * (see openDatabase). A server has no such hook: listen there on a dedicated connection.
   */
  listenEmbedded?: (channel: string, fn: (payload: string) => void) => Promise<() => void>;
  close(): Promise<void>;
}

// int8 columns (minor units, counters) arrive as strings; callers convert with BigInt/Number on purpose.
pg.types.setTypeParser(pg.types.builtins.INT8, (v) => v);

/**
 * Opens the configured PostgreSQL: a server when `DATABASE_URL` is set, otherwise an embedded
 * PGlite under `DATA_DIR` served on a private loopback port, so the rest of the code speaks to
 * one kind of database through one driver either way.
 */
export async function openDatabase(opts: { url: string | undefined; dataDir: string; poolSize: number; log: Logger }): Promise<Database> {
  if (opts.url) {
    const pool = new pg.Pool({ connectionString: opts.url, max: opts.poolSize, connectionTimeoutMillis: 5000 });
    pool.on('error', (err) => opts.log.warn({ err: err.message }, 'idle database connection failed'));
    // The pool listens for errors only on idle clients: a server restart while a client is checked
    // out would otherwise be an unhandled 'error' event and kill the process. The query in flight
    // still fails, and its caller answers or retries as it would for any database error.
    pool.on('connect', (client) => client.on('error', (err) => opts.log.warn({ err: err.message }, 'database connection in use failed')));
    return { pool, embedded: false, close: () => pool.end() };
  }
  const { PGlite } = await import('@electric-sql/pglite');
  const { PGLiteSocketServer } = await import('@electric-sql/pglite-socket');
  const dir = path.join(opts.dataDir, 'pglite');
  await fs.mkdir(dir, { recursive: true });
  const db = await PGlite.create(dir);
  const server = new PGLiteSocketServer({ db, host: '127.0.0.1', port: 0, maxConnections: 2 });
  await server.start();
  const address = server.getServerConn();
  opts.log.info({ dir }, 'embedded PostgreSQL (PGlite) started');
  // PGlite is one backend: the socket server multiplexes connections message by message, so two
  // clients' extended-protocol queries (Parse/Bind/Execute) can interleave and swap results.
  // One connection serialises everything; code must then never await a second connection while
  // holding one (withTransaction passes its client down for exactly that reason).
  const pool = new pg.Pool({ connectionString: `postgresql://postgres@${address}/postgres`, max: 1 });
  pool.on('error', (err) => opts.log.warn({ err: err.message }, 'idle embedded database connection failed'));
  // LISTEN/NOTIFY here: PGlite's own listen() never hears a NOTIFY committed through the socket
  // (the socket server streams the backend's raw protocol bytes and skips PGlite's parser). But
  // PGlite is one backend, so once it LISTENs, the NotificationResponse of a committed NOTIFY is
  // written into the answer to the committing statement, on the socket that sent it, which is
  // always this pool's connection: node-postgres emits it there as 'notification'. The LISTEN is
  // repeated on every new pool connection in case a reconnect resets the session.
  const channels = new Map<string, Set<(payload: string) => void>>();
  const listenSql = (channel: string) => `LISTEN "${channel.replaceAll('"', '""')}"`;
  pool.on('connect', (client) => {
    client.on('notification', (n) => {
      for (const fn of channels.get(n.channel) ?? []) {
        try { fn(n.payload ?? ''); } catch (err) { opts.log.error({ channel: n.channel, err: (err as Error).message }, 'notification handler failed'); }
      }
    });
    for (const channel of channels.keys()) {
      client.query(listenSql(channel)).catch((err: Error) => opts.log.warn({ channel, err: err.message }, 'embedded LISTEN failed'));
    }
  });
  return {
    pool,
    embedded: true,
    async listenEmbedded(channel, fn) {
      let set = channels.get(channel);
      if (!set) {
        channels.set(channel, (set = new Set()));
        await pool.query(listenSql(channel));
      }
      set.add(fn);
      return () => { set.delete(fn); };
    },
    async close() {
      await pool.end();
      await server.stop();
      await db.close();
    },
  };
}

/**
 * Part of a statement (a data-modifying CTE, say) whose parameters are numbered from the one it is
 * given, so several parts can share one statement and one round trip (combine).
 */
export interface SqlPart {
  text(firstParam: number): string;
  values: unknown[];
}

/** One statement from parts: `build` gets each part's text, its parameters numbered after the previous parts'. */
export function combine(parts: SqlPart[], build: (texts: string[]) => string): { text: string; values: unknown[] } {
  const texts: string[] = [];
  const values: unknown[] = [];
  for (const part of parts) {
    texts.push(part.text(values.length + 1));
    values.push(...part.values);
  }
  return { text: build(texts), values };
}

/** Runs `fn` in one transaction on one connection; never await another connection inside it. */
export async function withTransaction<T>(pool: pg.Pool, fn: (tx: pg.PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    const result = await fn(client);
    await client.query('COMMIT');
    return result;
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  } finally {
    client.release();
  }
}
