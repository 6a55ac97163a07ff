// IPN → widget propagation across two processes: a gateway's "Paid" callback lands on process A,
// the shopper's live view (SSE, GET /v1/checkout/{ref}/events) is held by process B, and only
// PostgreSQL's NOTIFY can tell B. Beside it, measured in the same run: a raw NOTIFY → LISTEN round
// trip on the same server. Prints figures; asserts nothing. See bench/README.md.
//
//   npm run bench:sse      (BENCH_DATABASE_URL, BENCH_SECONDS, BENCH_RATE)
//
// A runs COINBRIDGE_ROLE=all (takes the callback, runs the verify job, which asks the Paymento
// emulator and commits the paid transition); B runs COINBRIDGE_ROLE=web (no jobs: it only hears
// the NOTIFY and re-reads the payment). Both on one fresh database on the PostgreSQL server. The
// emulator, the SSE clients (the test suite's SseStream) and the clock run in this process.
import crypto from 'node:crypto';
import pg from 'pg';
import { SseStream } from '../test/support/sse.ts';
import { newEncryptionKey, startCoinbridge, tempDir, warningLines } from './lib/children.ts';
import { keepAliveAgent, paced, send } from './lib/http.ts';
import { sayRunHeader } from './lib/machine.ts';
import { ipnHeaders, liveStore, paidIpn, paymentoEnv, startPaymento } from './lib/paymento.ts';
import { freshDatabase } from './lib/postgres.ts';
import { fmt, ms, percentile, table, verdict } from './lib/report.ts';
import { onCleanup, positive, progress, runBench, say, sleep } from './lib/run.ts';

const SECONDS = positive('BENCH_SECONDS', 30);
const RATE = positive('BENCH_RATE', 10);
const WARMUP = 20;
/** How long a stream is open before its payment's callback is sent, as a shopper watching the widget. */
const LEAD_MS = 300;
/** Coinbridge allows 20 live views per client address; this bench stays under that. */
const MAX_STREAMS = 16;
const GOAL_P99_MS = 250;

interface Sample {
  ref: string;
  paymentId: string;
  sentAt?: number;
  ackAt?: number;
  seenAt?: number;
  error?: string;
}

/** At most `n` holders at once; the rest wait their turn in order. */
function semaphore(n: number): () => Promise<() => void> {
  let free = n;
  const queue: (() => void)[] = [];
  return async () => {
    if (free > 0) free--;
    else await new Promise<void>((resolve) => queue.push(resolve));
    return () => {
      const next = queue.shift();
      if (next) next();
      else free++;
    };
  };
}

async function notifyRoundTrips(url: string, count: number, rate: number): Promise<number[]> {
  const listener = new pg.Client({ connectionString: url });
  const notifier = new pg.Client({ connectionString: url });
  await listener.connect();
  await notifier.connect();
  try {
    const channel = `bench_${crypto.randomBytes(4).toString('hex')}`;
    const waiting = new Map<string, (at: number) => void>();
    listener.on('notification', (n) => waiting.get(n.payload ?? '')?.(performance.now()));
    await listener.query(`LISTEN ${channel}`);
    const out: number[] = [];
    // One at a time, like the callbacks below: each round trip alone on the wire.
    const lock = semaphore(1);
    await paced(count, rate, async (i) => {
      const release = await lock();
      try {
        const heard = new Promise<number>((resolve) => waiting.set(String(i), resolve));
        const sentAt = performance.now();
        await notifier.query('SELECT pg_notify($1, $2)', [channel, String(i)]);
        out.push((await heard) - sentAt);
        waiting.delete(String(i));
      } finally {
        release();
      }
    });
    return out;
  } finally {
    await listener.end();
    await notifier.end();
  }
}

async function main(): Promise<void> {
  const started = Date.now();
  const count = Math.round(SECONDS * RATE);
  await sayRunHeader('Coinbridge IPN → widget (SSE) propagation benchmark, two processes');
  say(`setup      : process A (COINBRIDGE_ROLE=all) takes the callbacks and runs the jobs, process B (COINBRIDGE_ROLE=web) serves the SSE streams;`);
  say(`             one fresh database; the Paymento emulator, the SSE clients and the clock in this process; ${count} payments at ${RATE}/s, each`);
  say(`             watched from ${LEAD_MS} ms before its callback (at most ${MAX_STREAMS} streams open), after ${WARMUP} warm-up payments`);
  say('');

  const db = await freshDatabase('cbbench');
  const paymento = await startPaymento();
  const encryptionKey = newEncryptionKey();
  const dataDir = await tempDir('cbbench-');
  const common = { databaseUrl: db.url, dataDir, encryptionKey };
  progress(`starting process A (role all) and process B (role web) on ${db.name}`);
  const a = await startCoinbridge('coinbridge-A', { ...common, env: paymentoEnv(paymento) });
  const b = await startCoinbridge('coinbridge-B', { ...common, env: { ...paymentoEnv(paymento), COINBRIDGE_ROLE: 'web' } });
  const pool = new pg.Pool({ connectionString: db.url, max: 2 });
  onCleanup('close bench pool', () => pool.end());
  const store = await liveStore(pool, encryptionKey, paymento, { name: 'SSE bench store' });

  progress(`creating ${WARMUP + count} payments through POST /v1/payments on A`);
  const agent = keepAliveAgent(32);
  const samples: Sample[] = [];
  const run = crypto.randomBytes(3).toString('hex');
  for (let i = 0; i < WARMUP + count; i += 8) {
    await Promise.all(Array.from({ length: Math.min(8, WARMUP + count - i) }, async (_, k) => {
      const r = await send(agent, `${a.origin}/v1/payments`, {
        headers: { 'content-type': 'application/json', authorization: `Bearer ${store.apiKey}` },
        body: JSON.stringify({ orderId: `sse-${run}-${i + k}`, amount: '25.00', currency: 'USD', returnUrl: 'https://shop.example/thanks' }),
      });
      if (r.status !== 201) throw new Error(`POST /v1/payments answered ${r.status}: ${r.body}`);
      const body = JSON.parse(r.body) as { id: string; ref: string };
      samples[i + k] = { ref: body.ref, paymentId: body.id };
    }));
  }
  const { rows } = await pool.query<{ id: string; gateway_payment_id: string }>('SELECT id, gateway_payment_id FROM payments WHERE store_id = $1', [store.storeId]);
  const tokens = new Map(rows.map((r) => [r.id, r.gateway_payment_id]));
  const ipns = await Promise.all(samples.map((s) => paidIpn(paymento, store.merchant.apiKey, tokens.get(s.paymentId)!)));
  const ipnUrl = `${a.origin}/ipn/paymento/${store.connectionId}`;

  progress(`baseline: ${count} NOTIFY → LISTEN round trips at ${RATE}/s`);
  const notify = await notifyRoundTrips(db.url, count, RATE);

  const streams = semaphore(MAX_STREAMS);
  const one = async (i: number) => {
    const s = samples[i]!;
    const release = await streams();
    let stream: SseStream | undefined;
    try {
      stream = await SseStream.open(`${b.origin}/v1/checkout/${s.ref}/events`);
      if (stream.status !== 200) throw new Error(`B answered ${stream.status} to the event stream`);
      const opened = performance.now();
      const first = JSON.parse((await stream.waitFor('the current state', () => true, 30_000)).data) as { status: string };
      if (first.status !== 'created') throw new Error(`the stream began at ${first.status}, not created`);
      await sleep(LEAD_MS - (performance.now() - opened));
      s.sentAt = performance.now();
      const ack = send(agent, ipnUrl, { body: ipns[i]!.body, headers: ipnHeaders(ipns[i]!.signature) });
      await stream.waitFor('paid', (e) => (JSON.parse(e.data) as { status: string }).status === 'paid', 30_000);
      s.seenAt = performance.now();
      const acked = await ack;
      if (acked.status !== 200) throw new Error(`the IPN was answered ${acked.status}: ${acked.body}`);
      s.ackAt = acked.at;
    } catch (err) {
      s.error = (err as Error).message;
    } finally {
      stream?.close();
      release();
    }
  };
  progress(`warm-up: ${WARMUP} payments`);
  await paced(WARMUP, RATE, one);
  progress(`measuring: ${count} payments at ${RATE}/s`);
  await paced(count, RATE, (k) => one(WARMUP + k));

  const measured = samples.slice(WARMUP);
  const ok = measured.filter((s) => s.seenAt !== undefined);
  const failed = samples.filter((s) => s.error);
  const lat = ok.map((s) => s.seenAt! - s.sentAt!);
  const ack = ok.filter((s) => s.ackAt !== undefined).map((s) => s.ackAt! - s.sentAt!);
  // Where the time went: the paid transition's row (its transaction's start, A's verify job).
  const sentWall = new Map(ok.map((s) => [s.paymentId, performance.timeOrigin + s.sentAt!]));
  const { rows: transitions } = await pool.query<{ payment_id: string; at: number }>(
    `SELECT payment_id, extract(epoch FROM created_at) * 1000 AS at FROM payment_events WHERE type = 'transition' AND to_status = 'paid' AND payment_id = ANY($1::uuid[])`,
    [[...sentWall.keys()]]);
  const toPaid = transitions.map((r) => Number(r.at) - sentWall.get(r.payment_id)!);
  const seenWall = new Map(ok.map((s) => [s.paymentId, performance.timeOrigin + s.seenAt!]));
  const paidToSeen = transitions.map((r) => seenWall.get(r.payment_id)! - Number(r.at));

  const p99 = percentile(lat, 99);
  const notifyP50 = percentile(notify, 50);
  const notifyP99 = percentile(notify, 99);
  say('');
  table(['figure', 'Coinbridge (A → B)', 'NOTIFY → LISTEN (same server)', 'ratio', 'goal'], [
    ['p50', ms(percentile(lat, 50)), ms(notifyP50), `${fmt(percentile(lat, 50) / notifyP50, 1)}×`, ''],
    ['p99', ms(p99), ms(notifyP99), `${fmt(p99 / notifyP99, 1)}×`, verdict(p99, GOAL_P99_MS, 'max', ' ms')],
    ['max', ms(Math.max(...lat)), ms(Math.max(...notify)), '', ''],
    ['  of which IPN acknowledged by A, p50 / p99', `${ms(percentile(ack, 50))} / ${ms(percentile(ack, 99))}`, '', '', ''],
    ['  of which IPN → paid transition (A\'s verify job) p50 / p99', `${ms(percentile(toPaid, 50))} / ${ms(percentile(toPaid, 99))}`, '', '', ''],
    ['  of which paid transition → event on B p50 / p99', `${ms(percentile(paidToSeen, 50))} / ${ms(percentile(paidToSeen, 99))}`, '', '', ''],
  ], [0, 4]);
  say('');
  say('Coinbridge = from just before the signed Paymento "Paid" IPN is written to A until B\'s SSE stream delivers the event with status "paid":');
  say('             A stores the callback and its job, A\'s job worker verifies at the emulator and commits the transition, whose trigger NOTIFYs;');
  say('             B\'s listening connection hears it, B re-reads the payment and writes the event');
  say('NOTIFY     = SELECT pg_notify(…) on one connection until the notification arrives on another that LISTENs, one at a time, at the same rate');
  say('IPN → paid = to the payment_events row of the paid transition (its transaction\'s start, so the commit falls in the next part),');
  say('             read against this process\'s clock; paid transition → event on B = the rest: commit, NOTIFY, B\'s re-read and write');
  say(`samples    : ${ok.length} of ${measured.length} measured payments seen paid on B${failed.length ? `; ${failed.length} failed, first: ${failed[0]!.error}` : ''}`);
  for (const p of [a, b]) {
    const warnings = warningLines(p);
    if (warnings.length > 0) say(`${p.name.padEnd(11)}: ${warnings.length} warn/error log line(s), last: ${warnings.at(-1)!.slice(0, 300)}`);
  }
  say(`took       : ${((Date.now() - started) / 1000).toFixed(0)} s`);
}

await runBench(main);
