// Footprint: start-up time to /readyz and resident memory idle, under load and after it, beside
// baselines measured in the same run (a bare `node` process, and bench/bare-koa.ts started and
// loaded the same way). Prints figures; asserts nothing. See bench/README.md.
//
//   npm run bench:footprint      (BENCH_DATABASE_URL, BENCH_SECONDS, BENCH_STARTS)
//
// Coinbridge runs as its own process (COINBRIDGE_ROLE=all) on a fresh database on the PostgreSQL
// server; start-up is timed from spawn() to the first 200 of /readyz (polled every 10 ms), first
// on the empty database (migrations run), then on restarts. The load mixes what a busy shop does:
// payments created through the API against the Paymento emulator (in this process), their "Paid"
// callbacks and the verify jobs they start, shoppers' checkout reads and live SSE views.
import crypto from 'node:crypto';
import path from 'node:path';
import pg from 'pg';
import { SseStream } from '../test/support/sse.ts';
import { freePort } from '../test/support/free-port.ts';
import { baseEnv, coinbridgeNodeArgs, newEncryptionKey, startChild, startCoinbridge, stopChild, tempDir, waitUntilServing, type Child, warningLines } from './lib/children.ts';
import { keepAliveAgent, send } from './lib/http.ts';
import { memoryOf, sayRunHeader } from './lib/machine.ts';
import { ipnHeaders, liveStore, paidIpn, paymentoEnv, startPaymento } from './lib/paymento.ts';
import { freshDatabase } from './lib/postgres.ts';
import { fmt, ms, percentile, table, verdict } from './lib/report.ts';
import { onCleanup, positive, progress, ROOT, runBench, say, sleep } from './lib/run.ts';

const SECONDS = positive('BENCH_SECONDS', 20);
const STARTS = positive('BENCH_STARTS', 3, { integer: true });
/** Extra node flags for the Coinbridge child, e.g. "--max-old-space-size=64", to see what a heap cap does. */
const SETTLE_MS = 3000;
const GOAL_RSS_MIB = 120;
const GOAL_STARTUP_MS = 1500;

const mib = (n: number | undefined) => (n === undefined || !Number.isFinite(n) ? '—' : `${n.toFixed(1)} MB`);

/** RSS every 100 ms while `during` runs; the peak and the median. */
async function sampleRss(pid: number, during: Promise<unknown>): Promise<{ peak: number; p50: number }> {
  const values: number[] = [];
  let running = true;
  void during.finally(() => { running = false; });
  while (running) {
    const m = await memoryOf(pid);
    if (m) values.push(m.rssMiB);
    await sleep(100);
  }
  return { peak: Math.max(...values), p50: percentile(values, 50) };
}

/** V8 heap used / total and external memory, from Coinbridge's own /metrics (prom-client defaults). */
async function heapOf(origin: string): Promise<string> {
  const text = await (await fetch(`${origin}/metrics`)).text();
  const get = (name: string) => Number(new RegExp(`^coinbridge_${name}(?:\\{[^}]*\\})? ([\\d.e+]+)$`, 'm').exec(text)?.[1] ?? NaN) / 2 ** 20;
  return `heap used ${fmt(get('nodejs_heap_size_used_bytes'), 1)} of ${fmt(get('nodejs_heap_size_total_bytes'), 1)} MB, external ${fmt(get('nodejs_external_memory_bytes'), 1)} MB`;
}

async function bareKoa(): Promise<{ child: Child; url: string; startupMs: number }> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}/`;
  const t0 = performance.now();
  const child = startChild('bare-koa', [path.join(ROOT, 'bench', 'bare-koa.ts')], { ...baseEnv, PORT: String(port), NODE_ENV: 'test' });
  await waitUntilServing(child, url, (s) => s === 404, 30_000, 10);
  return { child, url, startupMs: performance.now() - t0 };
}

interface LoadCounts { created: number; ipns: number; reads: number; streams: number; errors: string[] }

/** A busy shop for `seconds`: creates, callbacks (→ verify jobs), checkout reads, live views. */
async function shopLoad(origin: string, pool: pg.Pool, store: Awaited<ReturnType<typeof liveStore>>, paymento: Awaited<ReturnType<typeof startPaymento>>, seconds: number): Promise<LoadCounts> {
  const agent = keepAliveAgent(32);
  const counts: LoadCounts = { created: 0, ipns: 0, reads: 0, streams: 0, errors: [] };
  const deadline = performance.now() + seconds * 1000;
  const refs: string[] = [];
  const unpaid: string[] = [];
  const open = new Set<SseStream>();
  let watching = 0;
  const run = crypto.randomBytes(3).toString('hex');
  let seq = 0;
  const fail = (what: string) => { if (counts.errors.length < 5) counts.errors.push(what); };
  const creator = async () => {
    while (performance.now() < deadline) {
      const r = await send(agent, `${origin}/v1/payments`, {
        headers: { 'content-type': 'application/json', authorization: `Bearer ${store.apiKey}` },
        body: JSON.stringify({ orderId: `fp-${run}-${seq++}`, amount: '25.00', currency: 'USD', returnUrl: 'https://shop.example/thanks', customerEmail: 'shopper@example.com' }),
      });
      if (r.status !== 201) { fail(`create ${r.status}`); continue; }
      const p = JSON.parse(r.body) as { id: string; ref: string };
      counts.created++;
      refs.push(p.ref);
      unpaid.push(p.id);
      if (watching < 16) {
        // A shopper watching the widget until the payment settles (the server then ends the stream).
        watching++;
        void SseStream.open(`${origin}/v1/checkout/${p.ref}/events`).then((s) => {
          if (s.status !== 200) fail(`stream ${s.status}`);
          counts.streams++;
          open.add(s);
          void s.ended.finally(() => { open.delete(s); watching--; });
        }, () => { watching--; fail('stream open'); });
      }
    }
  };
  const payer = async () => {
    while (performance.now() < deadline) {
      const ids = unpaid.splice(0, 20);
      if (ids.length === 0) { await sleep(50); continue; }
      const { rows } = await pool.query<{ gateway_payment_id: string }>('SELECT gateway_payment_id FROM payments WHERE id = ANY($1::uuid[])', [ids]);
      for (const row of rows) {
        const ipn = await paidIpn(paymento, store.merchant.apiKey, row.gateway_payment_id);
        const r = await send(agent, `${origin}/ipn/paymento/${store.connectionId}`, { body: ipn.body, headers: ipnHeaders(ipn.signature) });
        if (r.status === 200) counts.ipns++;
        else fail(`ipn ${r.status}`);
      }
    }
  };
  const reader = async () => {
    while (performance.now() < deadline) {
      const ref = refs[Math.floor(Math.random() * refs.length)];
      if (!ref) { await sleep(50); continue; }
      const r = await send(agent, `${origin}/v1/checkout/${ref}`);
      if (r.status === 200) counts.reads++;
      else fail(`read ${r.status}`);
    }
  };
  await Promise.all([creator(), creator(), creator(), creator(), payer(), payer(), reader(), reader()]);
  for (const s of open) s.close();
  agent.destroy();
  return counts;
}

/** The same number of workers, posting an IPN-sized body, for the bare Koa baseline. */
async function koaLoad(url: string, seconds: number): Promise<number> {
  const agent = keepAliveAgent(8);
  const deadline = performance.now() + seconds * 1000;
  let n = 0;
  const body = JSON.stringify({ Token: 'x'.repeat(32), PaymentId: 1, OrderId: 'order-1', OrderStatus: 7, AdditionalData: [] });
  await Promise.all(Array.from({ length: 8 }, async () => {
    while (performance.now() < deadline) {
      if ((await send(agent, url, { body, headers: { 'content-type': 'application/json' } })).status === 200) n++;
    }
  }));
  agent.destroy();
  return n;
}

async function main(): Promise<void> {
  const started = Date.now();
  await sayRunHeader('Coinbridge footprint benchmark: start-up to /readyz and resident memory');
  say(`setup      : Coinbridge in its own process (COINBRIDGE_ROLE=all, LOG_LEVEL=warn) on a fresh database; ${STARTS} restarts after the first start;`);
  say(`             ${SECONDS} s of mixed load from this process (with the Paymento emulator); RSS sampled every 100 ms from /proc` +
    `; Coinbridge started with node ${coinbridgeNodeArgs.join(' ') || '(no options)'}`);
  say('');

  // Baselines: a bare node process, and bare Koa started, idle and loaded the same way.
  progress('baseline: bare node process');
  const bareNode = startChild('bare-node', ['-e', 'setInterval(() => {}, 1 << 30)'], { ...baseEnv });
  await sleep(SETTLE_MS);
  const bareNodeRss = (await memoryOf(bareNode.proc.pid!))?.rssMiB;
  await stopChild(bareNode);
  // The same with Node's TypeScript stripper loaded, as it is for every `.ts` entry point.
  const bareTs = startChild('bare-node-ts', ['--input-type=module-typescript', '-e', 'const forever: number = 1 << 30; setInterval(() => {}, forever);'], { ...baseEnv });
  await sleep(SETTLE_MS);
  const bareTsRss = (await memoryOf(bareTs.proc.pid!))?.rssMiB;
  await stopChild(bareTs);
  progress('baseline: bare Koa start-ups, idle and loaded');
  const koaStarts: number[] = [];
  let koa = await bareKoa();
  koaStarts.push(koa.startupMs);
  for (let i = 0; i < STARTS; i++) {
    await stopChild(koa.child);
    koa = await bareKoa();
    koaStarts.push(koa.startupMs);
  }
  await sleep(SETTLE_MS);
  const koaIdle = (await memoryOf(koa.child.proc.pid!))?.rssMiB;
  const koaRequests = koaLoad(koa.url, SECONDS);
  const koaLoaded = await sampleRss(koa.child.proc.pid!, koaRequests);
  const koaAnswered = await koaRequests;
  await stopChild(koa.child);

  // Coinbridge: first start on an empty database, then restarts.
  const db = await freshDatabase('cbbench');
  const paymento = await startPaymento();
  const encryptionKey = newEncryptionKey();
  const dataDir = await tempDir('cbbench-');
  // Every client here is one loopback address; the per-IP limit of the public checkout routes
  // (600/min) would turn the shoppers' reads into 429s, which real shoppers on their own
  // addresses never share.
  const opts = { databaseUrl: db.url, dataDir, encryptionKey, env: { ...paymentoEnv(paymento), RATE_LIMIT_PER_MINUTE: '1000000' } };
  progress(`Coinbridge: first start on ${db.name}, then ${STARTS} restarts`);
  let cb = await startCoinbridge('coinbridge', opts);
  const firstStart = cb.startupMs;
  const restarts: number[] = [];
  for (let i = 0; i < STARTS; i++) {
    await stopChild(cb);
    cb = await startCoinbridge('coinbridge', opts);
    restarts.push(cb.startupMs);
  }
  await sleep(SETTLE_MS);
  const idle = await memoryOf(cb.proc.pid!);
  const idleHeap = await heapOf(cb.origin);

  progress(`Coinbridge: ${SECONDS} s of mixed load`);
  const pool = new pg.Pool({ connectionString: db.url, max: 2 });
  onCleanup('close bench pool', () => pool.end());
  const store = await liveStore(pool, encryptionKey, paymento, { name: 'Footprint shop' });
  const load = shopLoad(cb.origin, pool, store, paymento, SECONDS);
  const loaded = await sampleRss(cb.proc.pid!, load);
  const counts = await load;
  const hwm = (await memoryOf(cb.proc.pid!))?.hwmMiB;
  await sleep(5000);
  const after = await memoryOf(cb.proc.pid!);
  const afterHeap = await heapOf(cb.origin);
  const { rows: [paid] } = await pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM payments WHERE status = 'paid'`);

  // Embedded PGlite, for information: what a trial install without a server costs.
  progress('Coinbridge on embedded PGlite: first start and a restart');
  const liteDir = await tempDir('cbbench-pglite-');
  const liteOpts = { databaseUrl: undefined, dataDir: liteDir, encryptionKey };
  let lite = await startCoinbridge('coinbridge-pglite', liteOpts);
  const liteFirst = lite.startupMs;
  await stopChild(lite);
  lite = await startCoinbridge('coinbridge-pglite', liteOpts);
  const liteRestart = lite.startupMs;
  await sleep(SETTLE_MS);
  const liteIdle = (await memoryOf(lite.proc.pid!))?.rssMiB;
  await stopChild(lite);

  const koaStartP50 = percentile(koaStarts.slice(1), 50);
  const restartP50 = percentile(restarts, 50);
  say('');
  table(['figure', 'Coinbridge', 'baseline (same run)', 'ratio', 'goal'], [
    ['start-up to /readyz, empty database (migrations)', ms(firstStart), `bare Koa first start ${ms(koaStarts[0]!)}`, `${fmt(firstStart / koaStarts[0]!, 1)}×`, verdict(firstStart, GOAL_STARTUP_MS, 'max', ' ms')],
    [`start-up to /readyz, restart (median of ${STARTS})`, ms(restartP50), `bare Koa ${ms(koaStartP50)}`, `${fmt(restartP50 / koaStartP50, 1)}×`, verdict(restartP50, GOAL_STARTUP_MS, 'max', ' ms')],
    ['RSS idle', mib(idle?.rssMiB), `bare Koa ${mib(koaIdle)}; node -e ${mib(bareNodeRss)}, with TS stripping ${mib(bareTsRss)}`, `${fmt((idle?.rssMiB ?? NaN) / (koaIdle ?? NaN), 1)}×`, ''],
    [`RSS under load, peak (${SECONDS} s)`, mib(loaded.peak), `bare Koa ${mib(koaLoaded.peak)}`, `${fmt(loaded.peak / koaLoaded.peak, 1)}×`, verdict(loaded.peak, GOAL_RSS_MIB, 'max', ' MB')],
    ['RSS under load, median', mib(loaded.p50), `bare Koa ${mib(koaLoaded.p50)}`, '', ''],
    ['RSS high-water mark (VmHWM), whole life', mib(hwm), '', '', ''],
    ['RSS 5 s after the load', mib(after?.rssMiB), '', '', ''],
    ['embedded PGlite (no server): first start / restart', `${ms(liteFirst)} / ${ms(liteRestart)}`, '', '', 'information'],
    ['embedded PGlite: RSS idle', mib(liteIdle), '', '', 'information'],
  ], [0, 2, 4]);
  say('');
  say(`start-up   = spawn() of \`node src/main.js\` to the first 200 of GET /readyz (migrations applied), polled every 10 ms; restarts on the`);
  say(`             migrated database (Coinbridge: ${restarts.map((r) => fmt(r)).join(', ')} ms; bare Koa: ${koaStarts.map((r) => fmt(r)).join(', ')} ms, first one cold)`);
  say(`load       = 4 clients creating payments (POST /v1/payments → Paymento emulator), 2 sending their "Paid" IPNs (→ verify jobs → paid),`);
  say(`             2 reading GET /v1/checkout/{ref}, up to 16 live SSE views: ${counts.created} payments created, ${counts.ipns} IPNs, ${counts.reads} checkout reads,`);
  say(`             ${counts.streams} streams; ${paid!.n} payments paid by the end${counts.errors.length ? `; errors: ${counts.errors.join(', ')}` : ''}`);
  say(`bare Koa   = bench/bare-koa.ts (node:http + Koa + raw-body) under 8 clients posting an IPN-sized body for ${SECONDS} s: ${koaAnswered} requests`);
  say(`V8 heap    : idle ${idleHeap}; 5 s after the load ${afterHeap} (Coinbridge's /metrics)`);
  say(`RSS        = VmRSS of the process (MB = MiB); node -e = \`node -e "setInterval(() => {}, 1 << 30)"\`, the floor of any Node process;`);
  say('             with TS stripping = the same as TypeScript (--input-type=module-typescript): what running .ts files adds before any code');
  const warnings = warningLines(cb);
  if (warnings.length > 0) say(`coinbridge : ${warnings.length} warn/error log line(s), last: ${warnings.at(-1)!.slice(0, 300)}`);
  say(`took       : ${((Date.now() - started) / 1000).toFixed(0)} s`);
}

await runBench(main);
