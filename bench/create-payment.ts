// Create-payment overhead: how long POST /v1/payments takes minus the time the gateway itself
// spent answering, beside a bare Koa handler's round trip measured in the same run. Prints
// figures; asserts nothing. See bench/README.md.
//
//   npm run bench:create-payment      (BENCH_DATABASE_URL, BENCH_SECONDS, BENCH_CONNECTIONS)
//
// Coinbridge runs as its own process on a fresh database on the PostgreSQL server; the Paymento
// emulator runs in this process, where node:http's diagnostics channels time each of its requests
// from "headers parsed" to "answer written". Every client has a store of its own whose connection
// belongs to its own emulated merchant, and sends one request at a time, so each emulator request
// (named by its Api-Key header) belongs to exactly one POST /v1/payments: overhead is subtracted
// per request, not as a difference of percentiles.
import crypto from 'node:crypto';
import path from 'node:path';
import pg from 'pg';
import { freePort } from '../test/support/free-port.ts';
import { baseEnv, newEncryptionKey, startChild, startCoinbridge, tempDir, waitUntilServing, warningLines } from './lib/children.ts';
import { cpuSample, cpuUse, type CpuUse, sayRunHeader } from './lib/machine.ts';
import { keepAliveAgent, onServed, send } from './lib/http.ts';
import { liveStore, paymentoEnv, startPaymento, type BenchStore } from './lib/paymento.ts';
import { commitsIn, freshDatabase } from './lib/postgres.ts';
import { fmt, ms, percentile, table, verdict } from './lib/report.ts';
import { onCleanup, positive, positiveList, progress, ROOT, runBench, say, sleep } from './lib/run.ts';

const SECONDS = positive('BENCH_SECONDS', 10);
const CONNECTIONS = positiveList('BENCH_CONNECTIONS', [1, 10]);
const WARMUP_SECONDS = 2;
const GOAL_P99_MS = 20;

interface Sample {
  totalMs: number;
  gatewayMs: number;
}

interface Result {
  connections: number;
  ok: number;
  failed: Record<string, number>;
  seconds: number;
  samples: Sample[];
  cpu?: CpuUse | undefined;
}

/**
 * `connections` clients, each sending one request after the other for `seconds`; only answers
 * with status `okStatus` become samples.
 */
let seq = 0; // across runs: every request names a new order

async function closedLoop(connections: number, seconds: number, okStatus: number, serverPid: number | undefined,
  one: (client: number, seq: number) => Promise<{ status: number; body: string; sample: Sample }>): Promise<Result> {
  const before = await cpuSample(serverPid);
  const samples: Sample[] = [];
  const failed: Record<string, number> = {};
  const started = performance.now();
  const deadline = started + seconds * 1000;
  await Promise.all(Array.from({ length: connections }, async (_, client) => {
    while (performance.now() < deadline) {
      const r = await one(client, seq++);
      if (r.status === okStatus) samples.push(r.sample);
      else {
        const key = `${r.status} ${/"code":"([^"]+)"/.exec(r.body)?.[1] ?? r.body.slice(0, 60)}`;
        failed[key] = (failed[key] ?? 0) + 1;
      }
    }
  }));
  const elapsed = (performance.now() - started) / 1000;
  return { connections, ok: samples.length, failed, seconds: elapsed, samples, cpu: cpuUse(before, await cpuSample(serverPid), samples.length) };
}

function describe(label: string, r: Result): void {
  const total = r.samples.map((s) => s.totalMs);
  const over = r.samples.map((s) => s.totalMs - s.gatewayMs);
  progress(`${label} c=${r.connections}: ${r.ok} answers in ${r.seconds.toFixed(1)} s = ${(r.ok / r.seconds).toFixed(0)}/s, total p50 ${ms(percentile(total, 50))} p99 ${ms(percentile(total, 99))}` +
    `, overhead p50 ${ms(percentile(over, 50))} p99 ${ms(percentile(over, 99))}${Object.keys(r.failed).length ? `, FAILED ${JSON.stringify(r.failed)}` : ''}` +
    (r.cpu ? `; CPU/request: server ${r.cpu.serverUs.toFixed(0)} µs, postgres ${r.cpu.postgresUs.toFixed(0)} µs, this process ${r.cpu.loadUs.toFixed(0)} µs, machine ${r.cpu.busyPct.toFixed(0)} % busy` : ''));
}

async function main(): Promise<void> {
  const started = Date.now();
  await sayRunHeader('Coinbridge create-payment overhead benchmark');
  say(`setup      : Coinbridge in its own process (COINBRIDGE_ROLE=all, LOG_LEVEL=warn) on a fresh database; the Paymento emulator and the load in this process;`);
  say(`             ${SECONDS} s per measurement after ${WARMUP_SECONDS} s of warm-up; clients ${CONNECTIONS.join(', ')}, one request in flight each`);
  say('');

  const db = await freshDatabase('cbbench');
  const emu = await startPaymento();
  const encryptionKey = newEncryptionKey();
  progress(`starting Coinbridge (database ${db.name})`);
  const cb = await startCoinbridge('coinbridge', { databaseUrl: db.url, dataDir: await tempDir('cbbench-'), encryptionKey, env: paymentoEnv(emu) });
  const pool = new pg.Pool({ connectionString: db.url, max: 2 });
  onCleanup('close bench pool', () => pool.end());
  const stores: BenchStore[] = [];
  for (let i = 0; i < Math.max(...CONNECTIONS); i++) stores.push(await liveStore(pool, encryptionKey, emu, { name: `Bench store ${i + 1}` }));

  const koaPort = await freePort();
  const koa = startChild('bare-koa', [path.join(ROOT, 'bench', 'bare-koa.ts')], { ...baseEnv, PORT: String(koaPort), NODE_ENV: 'test' });
  const koaUrl = `http://127.0.0.1:${koaPort}/v1/payments`;
  await waitUntilServing(koa, koaUrl, (s) => s === 404);

  // Time the emulator spent on each client's current request (all its calls to the emulator).
  const gatewayMs = new Map<string, number>();
  const stop = onServed((r) => {
    const key = r.headers['api-key'];
    if (typeof key === 'string' && gatewayMs.has(key)) gatewayMs.set(key, gatewayMs.get(key)! + (r.end - r.start));
  });
  onCleanup('stop timing the emulator', async () => stop());

  const run = `${crypto.randomBytes(3).toString('hex')}`;
  const body = (seq: number) => JSON.stringify({
    orderId: `bench-${run}-${seq}`, amount: '25.00', currency: 'USD', returnUrl: 'https://shop.example/thanks', customerEmail: 'shopper@example.com',
  });
  let created = 0;
  const agent = keepAliveAgent(Math.max(...CONNECTIONS));
  const createOne = async (client: number, seq: number) => {
    const store = stores[client]!;
    gatewayMs.set(store.merchant.apiKey, 0);
    const a = await send(agent, `${cb.origin}/v1/payments`, {
      body: body(seq), headers: { 'content-type': 'application/json', authorization: `Bearer ${store.apiKey}`, 'idempotency-key': `bench-${run}-${seq}` },
    });
    if (a.status === 201) created++;
    return { status: a.status, body: a.body, sample: { totalMs: a.ms, gatewayMs: gatewayMs.get(store.merchant.apiKey)! } };
  };
  const koaOne = async (client: number, seq: number) => {
    const a = await send(agent, koaUrl, { body: body(seq), headers: { 'content-type': 'application/json', authorization: `Bearer ${stores[client]!.apiKey}`, 'idempotency-key': `k-${seq}` } });
    return { status: a.status, body: a.body, sample: { totalMs: a.ms, gatewayMs: 0 } };
  };

  const rows: { c: number; cb: Result; koa: Result; commits: number }[] = [];
  for (const c of CONNECTIONS) {
    await closedLoop(c, WARMUP_SECONDS, 200, undefined, koaOne);
    const koaResult = await closedLoop(c, SECONDS, 200, koa.proc.pid, koaOne);
    describe('bare Koa', koaResult);
    await closedLoop(c, WARMUP_SECONDS, 201, undefined, createOne);
    await sleep(1200);
    const commitsBefore = await commitsIn(db.name);
    const cbResult = await closedLoop(c, SECONDS, 201, cb.proc.pid, createOne);
    describe('Coinbridge', cbResult);
    await sleep(1200);
    rows.push({ c, cb: cbResult, koa: koaResult, commits: (await commitsIn(db.name) - commitsBefore) / cbResult.ok });
  }

  const { rows: [count] } = await pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM payments WHERE status = 'created' AND gateway_payment_id IS NOT NULL`);

  say('');
  table(
    ['clients', 'creates/s', 'total p50', 'total p99', 'gateway p50', 'overhead p50', 'overhead p99', 'goal (overhead p99)', 'bare Koa p50', 'bare Koa p99', 'p99 ÷ Koa p99'],
    rows.map(({ c, cb: r, koa: k }) => {
      const total = r.samples.map((s) => s.totalMs);
      const over = r.samples.map((s) => s.totalMs - s.gatewayMs);
      const koaTotal = k.samples.map((s) => s.totalMs);
      const p99 = percentile(over, 99);
      return [String(c), fmt(r.ok / r.seconds), ms(percentile(total, 50)), ms(percentile(total, 99)), ms(percentile(r.samples.map((s) => s.gatewayMs), 50)),
        ms(percentile(over, 50)), ms(p99), verdict(p99, GOAL_P99_MS, 'max', ' ms'), ms(percentile(koaTotal, 50)), ms(percentile(koaTotal, 99)),
        `${fmt(p99 / percentile(koaTotal, 99), 1)}×`];
    }),
    [0, 7],
  );
  say('');
  say('total    = POST /v1/payments as this client saw it (request written → 201 read), store API key, Idempotency-Key, a new order each time');
  say('gateway  = time the Paymento emulator spent on that request\'s calls (headers parsed → answer written), measured in the emulator');
  say('overhead = total − gateway, per request: Coinbridge\'s own work (auth, validation, the claim and the result transactions, its HTTP client)');
  say('bare Koa = bench/bare-koa.ts (node:http + Koa + raw-body, no router, no database) answering the same request: the HTTP floor on this machine');
  for (const { c, cb: r, commits } of rows) {
    say(`work c=${c}: ${fmt(commits, 1)} PostgreSQL transactions committed per created payment (pg_stat_database, background polling included)` +
      (r.cpu ? `; CPU: Coinbridge ${fmt(r.cpu.serverUs)} µs, postgres ${fmt(r.cpu.postgresUs)} µs, emulator and load ${fmt(r.cpu.loadUs)} µs per payment; machine ${fmt(r.cpu.busyPct)} % busy` : ''));
  }
  for (const { c, cb: r, koa: k } of rows) {
    if (Object.keys(r.failed).length || Object.keys(k.failed).length) say(`FAILED c=${c}: Coinbridge ${JSON.stringify(r.failed)}; bare Koa ${JSON.stringify(k.failed)}`);
  }
  say(`integrity  : ${created} × 201 (warm-ups included) → ${count!.n} payments created at the gateway in the database ${count!.n === created ? 'OK' : 'MISMATCH'}`);
  const warnings = warningLines(cb);
  if (warnings.length > 0) say(`coinbridge : ${warnings.length} warn/error log line(s), last: ${warnings.at(-1)!.slice(0, 300)}`);
  say(`took       : ${((Date.now() - started) / 1000).toFixed(0)} s`);
}

await runBench(main);
