// Support console first-load benchmark (issue 6: "first load under 1.5 s on the loopback with
// 10,000 payments in the database"). Seeds 10,000 payments with their event logs, callbacks and a
// few failed jobs into a fresh PostgreSQL database, starts Coinbridge as its own process, signs in
// as an operator and times what a browser does to open /admin, 20 times, beside a baseline
// (GET /healthz) measured the same way in the same run. Prints figures; asserts nothing.
//
//   node_modules/.bin/node bench/console-load.ts        (BENCH_DATABASE_URL, BENCH_RUNS, BENCH_PAYMENTS)
//
// One run = a new HTTP agent (new TCP connections, as a first visit), then, like the console's
// page script: GET /admin (HTML) → its assets in parallel (console.js, console.css, gzip) → in
// parallel GET /v1/admin/me, /v1/admin/health, /v1/admin/stores and /v1/admin/search?limit=50
// (the default page). Browser parse/render time is not included (see test/browser for that).
import crypto from 'node:crypto';
import http from 'node:http';
import pg from 'pg';
import { SecretBox } from '../src/crypto/secret-box.ts';
import { createStore, insertConnection } from '../src/db/stores-repo.ts';
import { startCoinbridge, tempDir } from './lib/children.ts';
import { freshDatabase, SERVER_URL, withAdmin } from './lib/postgres.ts';
import { positive, progress, runBench, say } from './lib/run.ts';

const RUNS = positive('BENCH_RUNS', 20, { integer: true });
const PAYMENTS = positive('BENCH_PAYMENTS', 10_000, { integer: true });
const GOAL_MS = 1500;
const BROWSER_CONNECTIONS = 6;

// --- seed ------------------------------------------------------------------------------------

/**
 * A realistic console database: three stores (Shopify, WooCommerce, direct), PAYMENTS payments
 * over the last 90 days in a mix of statuses, each with its event log (requested, gateway create,
 * transitions, callback received, verify, store write) and its stored IPN, plus a few failed jobs.
 */
async function seed(url: string, encryptionKey: string): Promise<{ events: number }> {
  const pool = new pg.Pool({ connectionString: url, max: 2 });
  try {
    const box = new SecretBox([Buffer.from(encryptionKey, 'base64')]);
    const stores = [];
    for (const [name, platform] of [['bench-shop.myshopify.com', 'shopify'], ['Bench Woo', 'woocommerce'], ['Bench Direct', 'direct']] as const) {
      const store = await createStore(pool, { name, platform });
      const conn = await insertConnection(pool, box, { storeId: store.id, gateway: 'paymento', mode: 'sandbox', credentials: { apiKey: 'bench', ipnSecret: 'bench' } });
      stores.push({ id: store.id, conn: conn.id, platform });
    }
    await pool.query(
      `INSERT INTO shopify_shops (shop_domain, store_id, installed_at, access_token) VALUES ('bench-shop.myshopify.com', $1, now(), 'sealed-token-placeholder')`, [stores[0]!.id]);
    await pool.query('BEGIN');
    await pool.query(
      `WITH s AS (SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::text[]) WITH ORDINALITY AS s(store_id, connection_id, platform, k))
       INSERT INTO payments (ref, store_id, connection_id, order_id, status, amount_minor, currency, return_url, customer_email, metadata, request_hash,
         gateway_payment_id, checkout_url, crypto_expected, crypto_received, crypto_coin, tx_hash, network, expires_at, last_verified_at, created_at, updated_at)
       SELECT substr(md5(random()::text || i), 1, 22), s.store_id, s.connection_id,
              CASE s.platform WHEN 'shopify' THEN 'gid://shopify/Order/' || (5000000000 + i) ELSE (100000 + i)::text END,
              (ARRAY['paid','paid','paid','paid','overpaid','paid_late','created','pending','confirming','underpaid','expired','cancelled','review','failed'])[1 + i % 14],
              1000 + (i * 37) % 90000, 'USD', 'https://shop.example/thanks/' || i, 'customer' || i || '@example.com',
              CASE s.platform WHEN 'shopify' THEN jsonb_build_object('shopifyOrder', '#' || (1000 + i)) WHEN 'woocommerce' THEN jsonb_build_object('orderNumber', (1000 + i)::text, 'orderKey', 'wc_order_' || i) ELSE '{}'::jsonb END,
              md5(i::text), 'tok' || md5('g' || i), 'https://gateway.example/pay/' || i, '25.5', '25.5', 'USDT', '0x' || md5('tx' || i) || md5('tx2' || i), 'TRC20',
              t + interval '30 minutes', t + interval '2 minutes', t, t + interval '2 minutes'
       FROM generate_series(1, $4::int) AS i
       JOIN s ON s.k = 1 + i % 3
       CROSS JOIN LATERAL (SELECT now() - (i * interval '90 days') / $4::int AS t) ts`,
      [stores.map((s) => s.id), stores.map((s) => s.conn), stores.map((s) => s.platform), PAYMENTS],
    );
    const events = await pool.query(
      `INSERT INTO payment_events (payment_id, store_id, type, from_status, to_status, cause, data, created_at)
       SELECT p.id, p.store_id, e.type, e.from_status, e.to_status, e.cause, e.data, p.created_at + e.offset_s * interval '1 second'
       FROM payments p
       CROSS JOIN LATERAL (VALUES
         ('payment.requested', NULL, 'initiating', 'POST /v1/payments', jsonb_build_object('orderId', p.order_id), 0),
         ('gateway.create', NULL, NULL, 'create payment at gateway', '{"gateway":"paymento","mode":"sandbox","outcome":"ok","ms":180}'::jsonb, 1),
         ('transition', 'initiating', 'created', 'gateway accepted the payment', '{}'::jsonb, 1),
         ('callback.received', NULL, NULL, 'gateway callback', '{"gatewayStatus":7}'::jsonb, 60),
         ('gateway.verify', NULL, NULL, 'callback #1', '{"outcome":"ok","ms":120,"gatewayStatus":7,"reported":"paid"}'::jsonb, 61),
         ('transition', 'created', p.status, 'confirmed by the gateway', '{}'::jsonb, 61),
         ('store.write', NULL, NULL, 'sync ' || p.status || ' to shopify',
            jsonb_build_object('outcome', 'written', 'reason', 'captured the verified amount', 'writes', jsonb_build_array(
              jsonb_build_object('operation', 'orderCapture', 'outcome', 'ok', 'request', jsonb_build_object('amount', (p.amount_minor / 100.0)::numeric(12,2)::text, 'currency', 'USD')))), 62)
       ) AS e(type, from_status, to_status, cause, data, offset_s)
       WHERE p.status NOT IN ('created', 'failed') OR e.offset_s < 60`,
    );
    await pool.query(
      `INSERT INTO inbox (source, connection_id, dedupe_key, payment_id, raw_body, received_at, processed_at, outcome)
       SELECT 'paymento', p.connection_id, p.gateway_payment_id || ':7', p.id,
              convert_to(json_build_object('Token', p.gateway_payment_id, 'PaymentId', 1, 'OrderId', p.order_id, 'OrderStatus', 7, 'AdditionalData', '[]'::json)::text, 'UTF8'),
              p.created_at + interval '60 seconds', p.created_at + interval '61 seconds', 'created → ' || p.status
       FROM payments p WHERE p.status NOT IN ('created', 'failed')`,
    );
    await pool.query(
      `INSERT INTO agenda_jobs (name, data, next_run_at, priority, type, failed_at, fail_count, fail_reason, last_run_at)
       SELECT 'store.sync', jsonb_build_object('paymentId', p.id), NULL, 0, 'normal', now(), 12, 'Shopify answered 503', now()
       FROM payments p WHERE p.status = 'paid' ORDER BY p.created_at DESC LIMIT 20`,
    );
    await pool.query('COMMIT');
    await pool.query('ANALYZE');
    return { events: events.rowCount ?? 0 };
  } finally {
    await pool.end();
  }
}

// --- HTTP as a browser's first visit does it ---------------------------------------------------

interface Timed { ms: number; status: number; bytes: number; body: Buffer; headers: http.IncomingHttpHeaders }

function get(agent: http.Agent, base: string, pathname: string, headers: Record<string, string>): Promise<Timed> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const req = http.request(`${base}${pathname}`, { agent, headers: { 'accept-encoding': 'gzip, deflate, br', ...headers } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const body = Buffer.concat(chunks);
        resolve({ ms: performance.now() - started, status: res.statusCode ?? 0, bytes: body.length, body, headers: res.headers });
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

const API_CALLS = ['/v1/admin/me', '/v1/admin/health', '/v1/admin/stores', '/v1/admin/search?limit=50'] as const;

interface LoadTiming { total: number; html: number; assets: number; api: number; parts: Record<string, number>; bytes: number }

async function firstLoad(base: string, cookie: string): Promise<LoadTiming> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: BROWSER_CONNECTIONS });
  try {
    const headers = { cookie, accept: 'text/html,application/json,*/*' };
    const started = performance.now();
    const html = await get(agent, base, '/admin', headers);
    if (html.status !== 200) throw new Error(`GET /admin answered ${html.status}`);
    const assetPaths = [...html.body.toString('utf8').matchAll(/(?:src|href)="(\/admin\/assets\/[^"]+)"/g)].map((m) => m[1]!.replaceAll('&amp;', '&'));
    const t1 = performance.now();
    const assets = await Promise.all(assetPaths.map((p) => get(agent, base, p, headers)));
    for (const [i, a] of assets.entries()) if (a.status !== 200) throw new Error(`GET ${assetPaths[i]} answered ${a.status}`);
    const t2 = performance.now();
    const calls = await Promise.all(API_CALLS.map((p) => get(agent, base, p, { ...headers, accept: 'application/json' })));
    for (const [i, c] of calls.entries()) if (c.status !== 200) throw new Error(`GET ${API_CALLS[i]} answered ${c.status}: ${c.body.toString().slice(0, 300)}`);
    const done = performance.now();
    const parts: Record<string, number> = { 'GET /admin': html.ms };
    assets.forEach((a, i) => { parts[`GET ${assetPaths[i]!.replace(/\?.*$/, '')}`] = a.ms; });
    calls.forEach((c, i) => { parts[`GET ${API_CALLS[i]}`] = c.ms; });
    return { total: done - started, html: t1 - started, assets: t2 - t1, api: done - t2, parts, bytes: [html, ...assets, ...calls].reduce((n, r) => n + r.bytes, 0) };
  } finally {
    agent.destroy();
  }
}

async function baseline(base: string): Promise<number> {
  const agent = new http.Agent({ keepAlive: true });
  try {
    const res = await get(agent, base, '/healthz', {});
    if (res.status !== 200) throw new Error(`GET /healthz answered ${res.status}`);
    return res.ms;
  } finally {
    agent.destroy();
  }
}

function pct(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

const f1 = (n: number) => n.toFixed(1).padStart(8);

// --- main --------------------------------------------------------------------------------------

async function main(): Promise<void> {
  const encryptionKey = crypto.randomBytes(32).toString('base64');
  const setupToken = crypto.randomBytes(24).toString('base64url');
  progress(`fresh database on ${new URL(SERVER_URL).host}`);
  const { url } = await freshDatabase('cbbench');
  const dataDir = await tempDir('cbbench-console-');
  const child = await startCoinbridge('coinbridge', { databaseUrl: url, dataDir, encryptionKey, env: { COINBRIDGE_ROLE: 'web', ADMIN_SETUP_TOKEN: setupToken } });
  const base = child.origin;
  progress(`seeding ${PAYMENTS} payments`);
  const seeded = await seed(url, encryptionKey);
  progress(`seeded ${PAYMENTS} payments, ${seeded.events} events`);

  const email = 'bench-operator@example.com';
  const password = crypto.randomBytes(18).toString('base64url');
  const setup = await fetch(`${base}/v1/admin/setup`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ token: setupToken, email, password }) });
  if (setup.status !== 201) throw new Error(`setup answered ${setup.status}: ${await setup.text()}`);
  const signIn = await fetch(`${base}/v1/admin/session`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ email, password }) });
  if (signIn.status !== 200) throw new Error(`sign-in answered ${signIn.status}: ${await signIn.text()}`);
  const cookie = signIn.headers.getSetCookie().map((c) => c.split(';')[0]).join('; ');
  const search = await (await fetch(`${base}/v1/admin/search?limit=50`, { headers: { cookie } })).json() as { items: unknown[] };
  progress(`signed in as an operator; the default search page has ${search.items.length} payments`);

  const cold = await firstLoad(base, cookie);
  const loads: LoadTiming[] = [];
  const bases: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    bases.push(await baseline(base));
    loads.push(await firstLoad(base, cookie));
  }

  const { rows } = await withAdmin((c) => c.query('SELECT version()'));
  say(`Support console first load — ${PAYMENTS} payments, ${seeded.events} events, PostgreSQL ${String(rows[0].version).split(' ')[1]}, Node ${process.versions.node}, ${RUNS} runs`);
  say('(each run: new connections; HTML → assets in parallel → /me, /health, /stores, /search?limit=50 in parallel; loopback)');
  say('');
  say(`${'measure'.padEnd(42)}${'p50 ms'.padStart(8)}${'p95 ms'.padStart(8)}`);
  const row = (name: string, values: number[]) => say(`${name.padEnd(42)}${f1(pct(values, 50))}${f1(pct(values, 95))}`);
  row('first load, total', loads.map((l) => l.total));
  row('  HTML', loads.map((l) => l.html));
  row('  assets (parallel)', loads.map((l) => l.assets));
  row('  API calls (parallel)', loads.map((l) => l.api));
  for (const name of Object.keys(loads[0]!.parts)) row(`    ${name}`, loads.map((l) => l.parts[name] ?? NaN));
  row('baseline GET /healthz (new connection)', bases);
  say('');
  say(`cold first load right after start: ${cold.total.toFixed(1)} ms; bytes per load: ${loads[0]!.bytes}`);
  const p95 = pct(loads.map((l) => l.total), 95);
  say(`goal: first load ≤ ${GOAL_MS} ms → p95 ${p95.toFixed(1)} ms: ${p95 <= GOAL_MS ? 'met' : 'NOT met'}`);
}

await runBench(main);
