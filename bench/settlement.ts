// End-to-end settlement: from a gateway's "Paid" callback to the WooCommerce order written back
// and acknowledged by the store, beside the same pipeline's raw pieces measured in the same run
// (the callback's own acknowledgement, and the bare job queue carrying the same two-hop chain).
// Prints figures; asserts nothing. See bench/README.md.
//
//   npm run bench:settlement     (BENCH_DATABASE_URL, BENCH_SECONDS, BENCH_STEADY_RATE, BENCH_PEAK_RATE)
//
// Coinbridge runs as one process (COINBRIDGE_ROLE=all: HTTP and job workers) on a fresh database
// on the PostgreSQL server. The Paymento and WooCommerce emulators run in this process; a payment
// counts as settled when the WooCommerce emulator has written its answer to the last write of the
// write-back (the order note, after the order was marked paid), timed by node:http's diagnostics
// channels inside the emulator.
import fs from 'node:fs/promises';
import path from 'node:path';
import pg from 'pg';
import { storeSyncJob } from '../src/jobs/store-sync.ts';
import type { BareJobsResult } from './bare-jobs.ts';
import { baseEnv, newEncryptionKey, startChild, startCoinbridge, tempDir, warningLines } from './lib/children.ts';
import { keepAliveAgent, offer, onServed, paced, ratePerSecond, send } from './lib/http.ts';
import { cpuSample, cpuUse, sayRunHeader } from './lib/machine.ts';
import { ipnHeaders, liveStore, paidIpn, paymentoEnv, seedPayments, startPaymento } from './lib/paymento.ts';
import { checkpoint, commitsIn, freshDatabase } from './lib/postgres.ts';
import { fmt, ms, percentile, table, verdict } from './lib/report.ts';
import { onCleanup, positive, progress, ROOT, runBench, say, sleep } from './lib/run.ts';
import { connectWooStore, pluginPaymentRequest, startWooCommerce } from './lib/woocommerce.ts';

const SECONDS = positive('BENCH_SECONDS', 10);
const STEADY_RATE = positive('BENCH_STEADY_RATE', 100);
const PEAK_RATE = positive('BENCH_PEAK_RATE', 400);
const DRAIN_SECONDS = positive('BENCH_DRAIN_SECONDS', 90);
const POOL_SIZE = process.env.BENCH_POOL_SIZE; // passed on as DATABASE_POOL_SIZE when set
const CPU_PROF = process.env.BENCH_CPU_PROF === '1';
const PROFILE_DIR = path.join(ROOT, 'bench', 'profiles');
const WARMUP = 100;
/** The throughput run's first seconds fill the pipeline; finishes are counted after them. */
const RAMP_MS = 2000;
/** Two seconds of offered load: enough for any pipeline that keeps up within 2 s. */
const MAX_IN_FLIGHT = Math.round(PEAK_RATE * 2);
const GOAL_RATE = 300;
const GOAL_P99_MS = 1000;

interface Tracked {
  orderId: number;
  paymentId: string;
  token: string;
  ipn?: { body: string; signature: string };
  sentAt?: number;
  ackAt?: number;
  ackStatus?: number;
  /** The write-back's first request to WooCommerce (GET order) arrived. */
  wooStartAt?: number;
  doneAt?: number;
}

async function main(): Promise<void> {
  const started = Date.now();
  const steadyCount = Math.round(STEADY_RATE * SECONDS);
  const peakMax = Math.round(PEAK_RATE * (SECONDS + RAMP_MS / 1000)) + 10;
  await sayRunHeader('Coinbridge end-to-end settlement benchmark (IPN → verify at the gateway → WooCommerce write-back)');
  say(`setup      : Coinbridge in one process (COINBRIDGE_ROLE=all, DATABASE_POOL_SIZE=${POOL_SIZE ?? '10 (default)'}, LOG_LEVEL=warn, RECONCILE_EVERY=1 hour)`);
  say(`             on a fresh database; the Paymento and WooCommerce emulators, the load and the timing in this process; ${steadyCount} payments`);
  say(`             at ${STEADY_RATE}/s, then ${PEAK_RATE}/s offered for ${SECONDS + RAMP_MS / 1000} s with at most ${MAX_IN_FLIGHT} unsettled (finishes counted after the first ${RAMP_MS / 1000} s)`);
  say('');

  const db = await freshDatabase('cbbench');
  const jobsDb = await freshDatabase('cbbenchjobs');
  const paymento = await startPaymento();
  const woo = await startWooCommerce();
  const encryptionKey = newEncryptionKey();
  const dataDir = await tempDir('cbbench-');
  progress(`starting Coinbridge (database ${db.name})`);
  const cb = await startCoinbridge('coinbridge', {
    databaseUrl: db.url, dataDir, encryptionKey, args: CPU_PROF ? ['--cpu-prof', `--cpu-prof-dir=${PROFILE_DIR}`] : [],
    // The reconcile passes are the safety net for lost callbacks and webhooks; they run once at
    // start, then stay out of the window so the figures are the callback path.
    env: { ...paymentoEnv(paymento), ALLOW_PRIVATE_URLS: 'true', RECONCILE_EVERY: '1 hour', ...(POOL_SIZE ? { DATABASE_POOL_SIZE: POOL_SIZE } : {}) },
  });
  const pool = new pg.Pool({ connectionString: db.url, max: 2 });
  onCleanup('close bench pool', () => pool.end());

  // Orders are placed before the store connects, so their order.created webhooks (checkout
  // traffic, not settlement) never reach Coinbridge.
  const total = WARMUP + steadyCount + peakMax;
  progress(`placing ${total} WooCommerce orders, connecting the store as the plugin does, adding a live Paymento connection`);
  const orders = Array.from({ length: total }, () => woo.createOrder({ total: '25.00', email: 'shopper@example.com' }));
  const shop = await connectWooStore(cb.origin, woo);
  const gateway = await liveStore(pool, encryptionKey, paymento, { name: 'unused', storeId: shop.storeId });
  const ipnUrl = `${cb.origin}/ipn/paymento/${gateway.connectionId}`;
  // One payment through the real checkout call, so a broken create path fails here, loudly.
  const probe = await send(keepAliveAgent(1), `${cb.origin}/v1/payments`, {
    body: JSON.stringify(pluginPaymentRequest(woo, orders[0]!)),
    headers: { 'content-type': 'application/json', authorization: `Bearer ${shop.apiKey}`, 'idempotency-key': orders[0]!.order_key },
  });
  if (probe.status !== 201) throw new Error(`POST /v1/payments answered ${probe.status}: ${probe.body}`);
  const probeRow = (await pool.query<{ id: string; gateway_payment_id: string }>('SELECT id, gateway_payment_id FROM payments WHERE id = $1', [JSON.parse(probe.body).id])).rows[0]!;
  progress(`seeding ${total - 1} more payments in the state POST /v1/payments leaves them`);
  const seeded = await seedPayments(pool, paymento, gateway, orders.slice(1).map((o) => {
    const r = pluginPaymentRequest(woo, o);
    return { orderId: String(o.id), amount: o.total, currency: o.currency, returnUrl: String(r.returnUrl), customerEmail: o.billing.email!, metadata: r.metadata as Record<string, string> };
  }));
  await pool.query('ANALYZE payments');
  const tracked: Tracked[] = [
    { orderId: orders[0]!.id, paymentId: probeRow.id, token: probeRow.gateway_payment_id },
    ...seeded.map((p) => ({ orderId: Number(p.orderId), paymentId: p.paymentId, token: p.token })),
  ];
  const byOrderId = new Map(tracked.map((t) => [t.orderId, t]));

  // Settled = the WooCommerce emulator answered the write-back's order note (its last write).
  let settledCount = 0;
  const wooRequests = { count: 0, failed: 0 };
  const stop = onServed((r) => {
    if (!r.url.startsWith('/wp-json/')) return;
    wooRequests.count++;
    if (r.status >= 400) wooRequests.failed++;
    const order = /^\/wp-json\/wc\/v3\/orders\/(\d+)(\/notes)?(?:\?|$)/.exec(r.url);
    const t = order ? byOrderId.get(Number(order[1])) : undefined;
    if (!t || t.sentAt === undefined) return;
    t.wooStartAt ??= r.start;
    if (order![2] && r.method === 'POST' && r.status === 201 && t.doneAt === undefined) {
      t.doneAt = r.end;
      settledCount++;
    }
  });
  onCleanup('stop timing the emulators', async () => stop());

  const agent = keepAliveAgent(MAX_IN_FLIGHT);
  let sentCount = 0;
  async function sendIpn(t: Tracked): Promise<void> {
    sentCount++;
    t.sentAt = performance.now();
    try {
      const a = await send(agent, ipnUrl, { body: t.ipn!.body, headers: ipnHeaders(t.ipn!.signature) });
      t.ackAt = a.at;
      t.ackStatus = a.status;
    } catch (err) {
      t.ackStatus = 0;
      progress(`IPN for order ${t.orderId} failed: ${(err as Error).message}`);
    }
  }
  async function drained(what: string): Promise<boolean> {
    const deadline = Date.now() + DRAIN_SECONDS * 1000;
    while (settledCount < sentCount) {
      if (Date.now() > deadline) {
        progress(`${what}: gave up waiting after ${DRAIN_SECONDS} s with ${sentCount - settledCount} payments unsettled`);
        return false;
      }
      await sleep(20);
    }
    return true;
  }
  const prepare = async (items: Tracked[]) => {
    for (const t of items) t.ipn = await paidIpn(paymento, gateway.merchant.apiKey, t.token);
  };

  // Baseline first, while Coinbridge idles: the bare job chain in its own process and database.
  progress(`baseline: bare two-hop job chains, ${steadyCount} at ${STEADY_RATE}/s, then ${PEAK_RATE}/s offered`);
  const resultFile = path.join(dataDir, 'bare-jobs.json');
  const bareCommitsBefore = await commitsIn(jobsDb.name);
  const bare = startChild('bare-jobs', [path.join(ROOT, 'bench', 'bare-jobs.ts')], {
    ...baseEnv, DATABASE_URL: jobsDb.url, BENCH_RESULT_FILE: resultFile, BENCH_STEADY_RATE: String(STEADY_RATE), BENCH_STEADY_COUNT: String(steadyCount),
    BENCH_PEAK_RATE: String(PEAK_RATE), BENCH_PEAK_SECONDS: String(SECONDS + RAMP_MS / 1000), BENCH_MAX_IN_FLIGHT: String(MAX_IN_FLIGHT), BENCH_RAMP_MS: String(RAMP_MS),
  });
  const code = await bare.exited;
  if (code !== 0) throw new Error(`bare-jobs exited with ${code}:\n${bare.output.slice(-20).join('\n')}`);
  const jobs = JSON.parse(await fs.readFile(resultFile, 'utf8')) as BareJobsResult;
  await sleep(1200);
  const bareCommits = (await commitsIn(jobsDb.name) - bareCommitsBefore) / jobs.chains;
  progress(`bare job chains: p50 ${ms(percentile(jobs.steady.latenciesMs, 50))}, p99 ${ms(percentile(jobs.steady.latenciesMs, 99))} at ${STEADY_RATE}/s; ` +
    `${fmt(jobs.peak.ratePerS)}/s with ${PEAK_RATE}/s offered${jobs.peak.throttled ? ' (fell behind: offered load capped)' : ''}`);

  // Warm-up, then the steady phase.
  const warm = tracked.slice(0, WARMUP);
  await prepare(warm);
  await paced(warm.length, 50, (k) => sendIpn(warm[k]!));
  await drained('warm-up');
  const steady = tracked.slice(WARMUP, WARMUP + steadyCount);
  await prepare(steady);
  await checkpoint();
  await sleep(1200);
  const commitsBefore = await commitsIn(db.name);
  let cpuA = await cpuSample(cb.proc.pid);
  const settledBefore = settledCount;
  const steadyPacing = await paced(steady.length, STEADY_RATE, (k) => sendIpn(steady[k]!));
  await drained(`steady ${STEADY_RATE}/s`);
  const steadyCpu = cpuUse(cpuA, await cpuSample(cb.proc.pid), settledCount - settledBefore);
  await sleep(1200);
  const commits = (await commitsIn(db.name) - commitsBefore) / (settledCount - settledBefore);
  const lat = steady.filter((t) => t.doneAt !== undefined).map((t) => t.doneAt! - t.sentAt!);
  const ack = steady.filter((t) => t.ackAt !== undefined).map((t) => t.ackAt! - t.sentAt!);
  progress(`steady ${STEADY_RATE}/s: IPN → write-back p50 ${ms(percentile(lat, 50))} p99 ${ms(percentile(lat, 99))}; IPN ack p50 ${ms(percentile(ack, 50))} p99 ${ms(percentile(ack, 99))}`);

  // Throughput: offered PEAK_RATE, capped at MAX_IN_FLIGHT unsettled.
  const throughputItems = tracked.slice(WARMUP + steadyCount);
  await prepare(throughputItems);
  await checkpoint();
  cpuA = await cpuSample(cb.proc.pid);
  const peakSettledBefore = settledCount;
  const run = await offer({
    rate: PEAK_RATE, seconds: SECONDS + RAMP_MS / 1000, maxInFlight: MAX_IN_FLIGHT, inFlight: () => sentCount - settledCount,
    fn: (k) => {
      const t = throughputItems[k];
      if (!t) throw new Error('bench bug: more IPNs offered than payments prepared');
      void sendIpn(t);
    },
  });
  const peakItems = throughputItems.slice(0, run.sent);
  const peakRate = ratePerSecond(peakItems.filter((t) => t.doneAt !== undefined).map((t) => t.doneAt!), run.start + RAMP_MS, run.end);
  const peakCpu = cpuUse(cpuA, await cpuSample(cb.proc.pid), settledCount - peakSettledBefore);
  progress(`offered ${PEAK_RATE}/s: ${run.sent} IPNs sent in ${((run.end - run.start) / 1000).toFixed(1)} s, ${fmt(peakRate)}/s settled after the ramp` +
    `${run.throttled ? ` (fell behind: capped at ${MAX_IN_FLIGHT} unsettled)` : ''}; draining the rest`);
  await drained(`offered ${PEAK_RATE}/s`);

  // Where the time went, from the event log: the paid transition is written by the verify job.
  const steadyWall = new Map(steady.map((t) => [t.paymentId, performance.timeOrigin + t.sentAt!]));
  const { rows: transitions } = await pool.query<{ payment_id: string; at: number }>(
    `SELECT payment_id, extract(epoch FROM created_at) * 1000 AS at FROM payment_events WHERE type = 'transition' AND to_status = 'paid' AND payment_id = ANY($1::uuid[])`,
    [[...steadyWall.keys()]]);
  const toPaid = transitions.map((r) => Number(r.at) - steadyWall.get(r.payment_id)!);
  const byPayment = new Map(steady.map((t) => [t.paymentId, t]));
  const paidToWrite = transitions.flatMap((r) => {
    const t = byPayment.get(r.payment_id)!;
    return t.wooStartAt === undefined ? [] : [performance.timeOrigin + t.wooStartAt - Number(r.at)];
  });
  const writeBack = (items: Tracked[]) => items.filter((t) => t.doneAt !== undefined && t.wooStartAt !== undefined).map((t) => t.doneAt! - t.wooStartAt!);
  const syncConcurrency = storeSyncJob(undefined as never, [], { leaseMs: 60_000 }).concurrency ?? 5;
  const peakWriteBackP50 = percentile(writeBack(peakItems), 50);

  // Integrity: every payment that got its callback is paid once in Coinbridge and in WooCommerce.
  const sent = tracked.filter((t) => t.sentAt !== undefined);
  const { rows: [counts] } = await pool.query<{ paid: number; writes: number; failed_jobs: number }>(`
    SELECT (SELECT count(*) FROM payments WHERE store_id = $1 AND status = 'paid')::int AS paid,
           (SELECT count(*) FROM payment_events WHERE type = 'store.write' AND store_id = $1 AND data->>'outcome' = 'written')::int AS writes,
           (SELECT count(*) FROM agenda_jobs WHERE failed_at IS NOT NULL)::int AS failed_jobs`, [shop.storeId]);
  let wooPaid = 0;
  let wooDoubled = 0;
  for (const t of sent) {
    const o = woo.order(t.orderId);
    if (o.status === 'processing' && o.date_paid) wooPaid++;
    if (o.paymentCompletions > 1 || o.notes.filter((n) => n.note.includes('[coinbridge:')).length > 1) wooDoubled++;
  }

  // Payments still unsettled when the drain gave up have no latency; the p99 is then unknown, and missed.
  const steadyMissing = steady.length - lat.length;
  const p99 = steadyMissing > 0 ? Infinity : percentile(lat, 99);
  const p99Cell = steadyMissing > 0 ? `> ${DRAIN_SECONDS} s (${steadyMissing} unsettled)` : ms(p99);
  const bareP50 = percentile(jobs.steady.latenciesMs, 50);
  const bareP99 = percentile(jobs.steady.latenciesMs, 99);
  say('');
  table(['figure', 'Coinbridge', 'baseline (same run)', 'ratio', 'goal'], [
    [`settled/s, ${PEAK_RATE}/s offered`, `${fmt(peakRate)}/s`, `bare job chain ${fmt(jobs.peak.ratePerS)}/s`, `${fmt((peakRate / jobs.peak.ratePerS) * 100)} %`, verdict(peakRate, GOAL_RATE, 'min', '/s')],
    [`IPN → write-back p50 at ${STEADY_RATE}/s`, ms(percentile(lat, 50)), `bare job chain ${ms(bareP50)}`, `${fmt(percentile(lat, 50) / bareP50, 1)}×`, ''],
    [`IPN → write-back p99 at ${STEADY_RATE}/s`, p99Cell, `bare job chain ${ms(bareP99)}`, `${fmt(p99 / bareP99, 1)}×`, verdict(p99, GOAL_P99_MS, 'max', ' ms')],
    ['  of which IPN → paid committed (verify job) p50 / p99', `${ms(percentile(toPaid, 50))} / ${ms(percentile(toPaid, 99))}`, '', '', ''],
    ['  of which IPN acknowledged p50 / p99', `${ms(percentile(ack, 50))} / ${ms(percentile(ack, 99))}`, '', '', ''],
    ['  of which paid committed → write-back begins p50 / p99', `${ms(percentile(paidToWrite, 50))} / ${ms(percentile(paidToWrite, 99))}`, '', '', ''],
    ['  of which write-back (GET order → note acknowledged) p50 / p99', `${ms(percentile(writeBack(steady), 50))} / ${ms(percentile(writeBack(steady), 99))}`, '', '', ''],
  ], [0, 2, 4]);
  say('');
  say('settled        = the WooCommerce emulator answered the write-back\'s last write (POST order note, after PUT order set_paid → processing),');
  say('                 timed inside the emulator. Each payment: one signed Paymento "Paid" IPN → inbox → payment.verify job (verify call to the');
  say('                 Paymento emulator, paid transition) → store.sync job (GET order, PUT order, GET notes, POST note, OAuth 1.0a over http)');
  say(`settled/s      = write-backs acknowledged per second from ${RAMP_MS / 1000} s after the first IPN to the end of the offered load, with at most`);
  say(`                 ${MAX_IN_FLIGHT} payments unsettled (a pipeline that falls behind is offered what it finishes: the figure is its capacity)`);
  say('bare job chain = bench/bare-jobs.ts: the same two-hop chain (verify job → store.sync job queued in its transaction, each run at once by the');
  say('                 committing process, as in Coinbridge) on the same job runner, settings and concurrencies, doing nothing else, in its own process and database, same two phases,');
  say('                 run while Coinbridge idled: what the job queue alone allows on this machine and server');
  say('stages         = IPN → paid: to the payment_events row of the paid transition (its transaction\'s start), against this process\'s clock;');
  say('                 write-back: from the first REST request of the store.sync job to the note\'s answer, inside the emulator');
  say(`write-back     : in the ${PEAK_RATE}/s phase p50 ${ms(peakWriteBackP50)}; store.sync runs ${syncConcurrency} at a time, so write-backs alone allow at most` +
    ` ${syncConcurrency} ÷ ${ms(peakWriteBackP50)} = ${fmt((syncConcurrency * 1000) / peakWriteBackP50)}/s`);
  say(`commits        : ${fmt(commits, 1)} PostgreSQL transactions per settled payment at ${STEADY_RATE}/s (pg_stat_database, background polling included); bare job chain ${fmt(bareCommits, 1)}`);
  if (steadyCpu) say(`CPU/payment    : at ${STEADY_RATE}/s Coinbridge ${fmt(steadyCpu.serverUs)} µs, postgres ${fmt(steadyCpu.postgresUs)} µs, emulators+load ${fmt(steadyCpu.loadUs)} µs (machine ${fmt(steadyCpu.busyPct)} % busy)`);
  if (peakCpu) say(`                 at ${PEAK_RATE}/s offered Coinbridge ${fmt(peakCpu.serverUs)} µs, postgres ${fmt(peakCpu.postgresUs)} µs, emulators+load ${fmt(peakCpu.loadUs)} µs (machine ${fmt(peakCpu.busyPct)} % busy)`);
  if (steadyPacing.lateP99Ms > 20) say(`pacing         : this process started steady IPNs up to ${fmt(steadyPacing.lateP99Ms)} ms late (p99)`);
  const acked = sent.filter((t) => t.ackStatus === 200).length;
  const settled = sent.filter((t) => t.doneAt !== undefined).length;
  const intact = acked === sent.length && settled === sent.length && counts!.paid === sent.length && counts!.writes === sent.length && wooPaid === sent.length && wooDoubled === 0;
  say(`integrity      : ${sent.length} IPNs sent, ${acked} acknowledged 200, ${settled} write-backs seen; Coinbridge: ${counts!.paid} payments paid, ${counts!.writes} store.write` +
    ` events; WooCommerce: ${wooPaid} orders processing and paid, ${wooDoubled} paid or noted twice; ${counts!.failed_jobs} failed jobs → ${intact ? 'OK' : 'MISMATCH'}`);
  say(`woocommerce    : ${wooRequests.count} REST requests answered (${wooRequests.failed} with 4xx/5xx); ${woo.deliveries.length} webhook deliveries to Coinbridge`);
  const warnings = warningLines(cb);
  if (warnings.length > 0) say(`coinbridge     : ${warnings.length} warn/error log line(s), last: ${warnings.at(-1)!.slice(0, 300)}`);
  say(`took           : ${((Date.now() - started) / 1000).toFixed(0)} s${CPU_PROF ? `; CPU profile of the Coinbridge child written to ${PROFILE_DIR} on exit` : ''}`);
}

await runBench(main);
