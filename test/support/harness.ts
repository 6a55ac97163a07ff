import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { startCoinbridge, type Coinbridge } from '../../src/app.ts';
import { loadConfig } from '../../src/config.ts';
import { connectGateway } from '../../src/core/connections.ts';
import type { MerchantSettings } from '../../src/core/settings.ts';
import { createStore, issueApiKey, type Store } from '../../src/db/stores-repo.ts';
import type { GatewayConnection, GatewayCredentials, GatewayName } from '../../src/gateways/types.ts';
import { freshDatabaseUrl } from './database.ts';
import { freePort } from './free-port.ts';

export { freePort };

export const TEST_ENCRYPTION_KEY = Buffer.alloc(32, 7).toString('base64');

export interface TestApp {
  app: Coinbridge;
  url: string;
  env: Record<string, string>;
  logs: string[];
  close(): Promise<void>;
}

/** A real Coinbridge on a real database (server or embedded), listening on loopback. */
export async function startTestApp(env: Record<string, string> = {}): Promise<TestApp> {
  // A free port can be taken by someone else before we listen on it; try a few.
  for (let attempt = 1; ; attempt++) {
    try {
      return await startTestAppOnce(env);
    } catch (err) {
      if ((err as { code?: string }).code !== 'EADDRINUSE' || attempt >= 5) throw err;
    }
  }
}

async function startTestAppOnce(env: Record<string, string>): Promise<TestApp> {
  const db = await freshDatabaseUrl();
  const dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'cbt-'));
  const port = await freePort();
  const fullEnv: Record<string, string> = {
    NODE_ENV: 'test', PORT: String(port), HOST: '127.0.0.1', PUBLIC_URL: `http://127.0.0.1:${port}`, DATA_DIR: dataDir,
    ENCRYPTION_KEY: TEST_ENCRYPTION_KEY, LOG_LEVEL: 'info', SEED_DEMO: 'false', JOB_POLL_MS: '200', ALLOW_PRIVATE_URLS: 'true',
    // Agenda keeps a timer of half the lock lifetime after each job, which holds a finished test
    // file's process open that long; jobs here take well under a second.
    JOB_LOCK_LIFETIME_MS: '4000',
    ...(db.url ? { DATABASE_URL: db.url } : {}),
    ...env,
  };
  const logs: string[] = [];
  const sink = new Writable({ write(chunk, _enc, cb) { logs.push(chunk.toString()); cb(); } });
  let app: Coinbridge;
  try {
    app = await startCoinbridge(loadConfig(fullEnv), { logDestination: sink });
  } catch (err) {
    await db.drop();
    await fs.rm(dataDir, { recursive: true, force: true });
    throw err;
  }
  return {
    app, url: app.url, env: fullEnv, logs,
    async close() {
      await app.close();
      await db.drop();
      await fs.rm(dataDir, { recursive: true, force: true });
    },
  };
}

export interface TestStore {
  store: Store;
  apiKey: string;
  connection: GatewayConnection;
}

/** A direct (custom) store with one gateway connection: the sandbox, or live credentials. */
export async function createTestStore(t: TestApp, opts: { settings?: Partial<MerchantSettings>; live?: GatewayCredentials; name?: string; gateway?: GatewayName } = {}): Promise<TestStore> {
  const { db, box, gateways, config } = t.app;
  const store = await createStore(db.pool, { name: opts.name ?? 'Test store', settings: opts.settings ?? {} });
  const connection = await connectGateway({ db, box, gateways, publicUrl: config.publicUrl, allowPrivateUrls: config.allowPrivateUrls }, {
    storeId: store.id, gateway: opts.gateway ?? 'paymento', mode: opts.live ? 'live' : 'sandbox', ...(opts.live ? { credentials: opts.live } : {}),
  });
  const apiKey = await issueApiKey(db.pool, store.id);
  return { store, apiKey, connection };
}

export async function waitFor<T>(what: string, fn: () => Promise<T | undefined | null | false>, timeoutMs = 15_000, everyMs = 50): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await fn();
      if (value !== undefined && value !== null && value !== false) return value as T;
    } catch (err) {
      last = err;
    }
    await new Promise((r) => setTimeout(r, everyMs));
  }
  throw new Error(`timed out waiting for ${what}${last ? `: ${(last as Error).message}` : ''}`);
}

export interface ApiResponse<T = any> {
  status: number;
  body: T;
  headers: Headers;
}

export async function api<T = any>(t: { url: string }, method: string, pathname: string, opts: { key?: string; body?: unknown; raw?: string | Buffer; headers?: Record<string, string> } = {}): Promise<ApiResponse<T>> {
  const headers: Record<string, string> = { ...(opts.key ? { authorization: `Bearer ${opts.key}` } : {}), ...opts.headers };
  let body: string | Buffer | undefined;
  if (opts.raw !== undefined) body = opts.raw;
  else if (opts.body !== undefined) {
    body = JSON.stringify(opts.body);
    headers['content-type'] ??= 'application/json';
  }
  const res = await fetch(`${t.url}${pathname}`, { method, headers, body: body as BodyInit | undefined, redirect: "manual" });
  const text = await res.text();
  let parsed: unknown = text;
  try { parsed = JSON.parse(text); } catch { /* not JSON */ }
  return { status: res.status, body: parsed as T, headers: res.headers };
}

export function paymentBody(orderId: string, overrides: Record<string, unknown> = {}) {
  return { orderId, amount: '25.00', currency: 'USD', returnUrl: 'https://shop.example/thanks', customerEmail: 'shopper@example.com', ...overrides };
}

/** The sandbox gateway token behind a payment (what the shopper's pay link leads to). */
export async function sandboxToken(t: TestApp, paymentId: string): Promise<string> {
  const { rows } = await t.app.db.pool.query('SELECT gateway_payment_id FROM payments WHERE id = $1', [paymentId]);
  return rows[0].gateway_payment_id;
}

/** Presses a button on the sandbox pay page, as a shopper would. */
export async function sandboxAction(t: TestApp, token: string, action: string, gateway: GatewayName = 'paymento'): Promise<void> {
  const res = await fetch(`${t.url}/sandbox/${gateway}/gateway/${encodeURIComponent(token)}/${action}`, { method: 'POST', headers: { accept: 'application/json' } });
  if (res.status !== 200) throw new Error(`sandbox ${action} answered ${res.status}`);
}

export async function paymentStatus(t: TestApp, paymentId: string): Promise<string> {
  const { rows } = await t.app.db.pool.query('SELECT status FROM payments WHERE id = $1', [paymentId]);
  return rows[0]?.status;
}

export async function waitForStatus(t: TestApp, paymentId: string, status: string, timeoutMs = 15_000): Promise<void> {
  await waitFor(`payment ${paymentId} to be ${status}`, async () => (await paymentStatus(t, paymentId)) === status, timeoutMs);
}

export async function eventsOf(t: TestApp, paymentId: string): Promise<{ type: string; from_status: string | null; to_status: string | null; cause: string; data: any }[]> {
  const { rows } = await t.app.db.pool.query('SELECT type, from_status, to_status, cause, data FROM payment_events WHERE payment_id = $1 ORDER BY id', [paymentId]);
  return rows;
}
