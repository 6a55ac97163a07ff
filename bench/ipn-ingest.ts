// IPN ingest benchmark: Coinbridge's POST /ipn/paymento/{connectionId} against a real PostgreSQL
// server, beside two baselines measured in the same run (pgbench -N on the same server, and a bare
// Koa handler without a database). Prints figures; asserts nothing. See bench/README.md.
//
//   npm run bench:ipn            (BENCH_DATABASE_URL, BENCH_SECONDS, ... : see README)
import { execFile } from 'node:child_process';
import crypto from 'node:crypto';
import { createRequire } from 'node:module';
import path from 'node:path';
import { createHistogram, type RecordableHistogram } from 'node:perf_hooks';
import { promisify } from 'node:util';
import pg from 'pg';
import { SecretBox } from '../src/crypto/secret-box.ts';
import { createStore, insertConnection } from '../src/db/stores-repo.ts';
import { freePort } from '../test/support/free-port.ts';
import { baseEnv, coinbridgeNodeArgs, startChild, tempDir, waitUntilServing, warningLines } from './lib/children.ts';
import { cpuSample, cpuUse, type CpuUse, sayRunHeader } from './lib/machine.ts';
import { checkpoint, freshDatabase } from './lib/postgres.ts';
import { onCleanup, positive, progress, ROOT, runBench, say } from './lib/run.ts';

const SECONDS = positive('BENCH_SECONDS', 10);
const CONNECTIONS = (process.env.BENCH_CONNECTIONS || '10,50').split(',').map((s) => Number(s.trim())).filter((n) => Number.isInteger(n) && n > 0);
const POOL_SIZE = process.env.BENCH_POOL_SIZE; // passed on as DATABASE_POOL_SIZE when set
const PGBENCH = process.env.BENCH_PGBENCH || '/usr/bin/pgbench';
const PGBENCH_SCALE = positive('BENCH_PGBENCH_SCALE', 10);
const CPU_PROF = process.env.BENCH_CPU_PROF === '1';
const TARGET_RATIO = 0.7;
const TARGET_P99_MS = 25;
const TARGET_P99_AT = 10;

// Each payment gets the IPNs of a typical life: Pending, WaitingToConfirm, Paid. Requests walk
// blocks of BLOCK payments status by status, so consecutive IPNs name different payments and every
// (Token, OrderStatus) pair, hence every dedupe key `${Token}:${status}`, is sent exactly once.
const STATUS_CODES = [1, 3, 7] as const;
const BLOCK = 1000;
const PAYMENT_BATCH = 30_000;

const execFileP = promisify(execFile);
const require = createRequire(import.meta.url);

// --- autocannon (CommonJS, no bundled types): the small part of its API used here ------------

interface AcRequest {
  method?: string;
  path?: string;
  headers?: Record<string, string>;
  body?: string | Buffer;
  setupRequest?: (req: AcRequest, context: Record<string, unknown>) => AcRequest;
}
interface AcResult {
  duration: number;
  errors: number;
  timeouts: number;
  non2xx: number;
  '2xx': number;
  statusCodeStats: Record<string, { count: number }>;
}
interface AcInstance {
  on(event: 'response', fn: (client: unknown, statusCode: number, resBytes: number, responseTimeMs: number) => void): void;
  stop(): void;
}
type Autocannon = (opts: Record<string, unknown>, cb: (err: Error | null, result: AcResult) => void) => AcInstance;
const autocannon = require('autocannon') as Autocannon;

// --- IPN bodies -----------------------------------------------------------------------------

interface Ipn {
  body: Buffer;
  signature: string;
}

class IpnSequence {
  /** Gateway payment ids are this prefix followed by the payment index. */
  readonly tokenPrefix: string;
  readonly #secret: string;
  /** Index of the next IPN to hand out; IPN k is unique for every k. */
  next = 0;

  constructor(tokenPrefix: string, secret: string) {
    this.tokenPrefix = tokenPrefix;
    this.#secret = secret;
  }

  token(paymentIndex: number): string {
    return `${this.tokenPrefix}${paymentIndex}`;
  }

  /** Payment index and status code of IPN k. */
  static slot(k: number): { payment: number; code: number } {
    const perBlock = BLOCK * STATUS_CODES.length;
    const block = Math.floor(k / perBlock);
    const j = k % perBlock;
    return { payment: block * BLOCK + (j % BLOCK), code: STATUS_CODES[Math.floor(j / BLOCK)]! };
  }

  /** How many payments must exist for IPNs [0, upTo) to all match one. */
  static paymentsFor(upTo: number): number {
    if (upTo <= 0) return 0;
    return (Math.floor((upTo - 1) / (BLOCK * STATUS_CODES.length)) + 1) * BLOCK;
  }

  /** The next `n` IPNs, signed, ready to send. */
  take(n: number): Ipn[] {
    const out: Ipn[] = [];
    for (let i = 0; i < n; i++) {
      const k = this.next++;
      const { payment, code } = IpnSequence.slot(k);
      const body = Buffer.from(JSON.stringify({
        Token: this.token(payment), PaymentId: 1_000_000 + payment, OrderId: `order-${payment}`, OrderStatus: code, AdditionalData: [],
      }));
      out.push({ body, signature: crypto.createHmac('sha256', this.#secret).update(body).digest('hex') });
    }
    return out;
  }
}

// --- load runs ------------------------------------------------------------------------------

interface Chunk {
  requests: number;
  ok: number;
  non2xx: number;
  errors: number;
  statusCodes: Record<string, number>;
  seconds: number;
}

/**
 * Sends exactly `ipns.length` requests over `connections` keep-alive connections, one in flight
 * per connection, each request with its own pre-signed body, and waits for every answer (so what
 * the server stored can be compared with what was acknowledged). 2xx latencies go into `hist`
 * (microseconds).
 */
function load(url: string, connections: number, ipns: Ipn[], hist: RecordableHistogram): Promise<Chunk> {
  let i = 0;
  let answered = 0;
  let lastAnswerAt = 0n;
  const startedAt = process.hrtime.bigint();
  return new Promise((resolve, reject) => {
    const instance = autocannon({
      url,
      connections,
      pipelining: 1,
      amount: ipns.length,
      timeout: 30,
      // autocannon notices the end of an `amount` run only on its next sample tick, and rounds its
      // own duration to that tick, so the elapsed time is taken here: first send to last answer.
      sampleInt: 100,
      requests: [{
        method: 'POST',
        setupRequest: (req: AcRequest) => {
          const ipn = ipns[i++];
          if (!ipn) throw new Error('bench bug: more requests built than IPNs prepared');
          return { ...req, body: ipn.body, headers: { ...req.headers, 'content-type': 'application/json', 'x-hmac-sha256-signature': ipn.signature } };
        },
      }],
    }, (err, result) => {
      if (err) return reject(err);
      const statusCodes = Object.fromEntries(Object.entries(result.statusCodeStats).map(([code, s]) => [code, s.count]));
      resolve({
        requests: ipns.length, ok: result['2xx'], non2xx: result.non2xx, errors: result.errors + result.timeouts, statusCodes,
        seconds: Number((lastAnswerAt || process.hrtime.bigint()) - startedAt) / 1e9,
      });
    });
    instance.on('response', (_client, statusCode, _bytes, ms) => {
      if (statusCode >= 200 && statusCode < 300) hist.record(Math.max(1, Math.round(ms * 1000)));
      if (++answered === ipns.length) lastAnswerAt = process.hrtime.bigint();
    });
  });
}

interface LoadResult extends Chunk {
  connections: number;
  rps: number;
  p50Ms: number;
  p99Ms: number;
  cpu: CpuUse | undefined;
}

/**
 * Warm-up (JIT, connection pools) in rounds that grow until one lasts half a second, then the
 * measured part: back-to-back runs of about 2 s, each sized from the rate just seen, until SECONDS
 * of load are done. Request counts are fixed in advance, so every answer is awaited and nothing is
 * in flight when a run ends; `onChunk` sees every run, warm-ups included.
 */
async function measure(label: string, url: string, connections: number, serverPid: number | undefined, take: (n: number) => Promise<Ipn[]>, onChunk: (c: Chunk) => void): Promise<LoadResult> {
  let amount = connections * 20;
  let rate = 0;
  for (let round = 0; round < 8; round++) {
    const warm = await load(url, connections, await take(amount), createHistogram());
    onChunk(warm);
    rate = Math.max(warm.ok / warm.seconds, 20);
    if (warm.seconds >= 0.5) break;
    amount = Math.max(amount * 2, Math.round(rate * 0.6));
  }
  const hist = createHistogram();
  const total: Chunk = { requests: 0, ok: 0, non2xx: 0, errors: 0, statusCodes: {}, seconds: 0 };
  const before = await cpuSample(serverPid);
  while (total.seconds < SECONDS * 0.97) {
    const want = Math.min(2, SECONDS - total.seconds);
    const ipns = await take(Math.max(connections * 5, Math.round(rate * want)));
    const chunk = await load(url, connections, ipns, hist);
    onChunk(chunk);
    total.requests += chunk.requests;
    total.ok += chunk.ok;
    total.non2xx += chunk.non2xx;
    total.errors += chunk.errors;
    total.seconds += chunk.seconds;
    for (const [code, n] of Object.entries(chunk.statusCodes)) total.statusCodes[code] = (total.statusCodes[code] ?? 0) + n;
    rate = Math.max(chunk.ok / chunk.seconds, 20);
  }
  const cpu = cpuUse(before, await cpuSample(serverPid), total.ok + total.non2xx);
  const result: LoadResult = {
    ...total, connections, rps: total.ok / total.seconds,
    p50Ms: total.ok ? hist.percentile(50) / 1000 : NaN, p99Ms: total.ok ? hist.percentile(99) / 1000 : NaN, cpu,
  };
  progress(`${label} c=${connections}: ${result.ok} × 2xx in ${result.seconds.toFixed(2)} s = ${result.rps.toFixed(0)}/s, p50 ${result.p50Ms.toFixed(2)} ms, p99 ${result.p99Ms.toFixed(2)} ms` +
    (result.non2xx || result.errors ? `, non-2xx ${result.non2xx}, errors ${result.errors} ${JSON.stringify(result.statusCodes)}` : '') +
    (cpu ? `; CPU/request: server ${cpu.serverUs.toFixed(0)} µs, postgres ${cpu.postgresUs.toFixed(0)} µs, load ${cpu.loadUs.toFixed(0)} µs, machine ${cpu.busyPct.toFixed(0)} % busy` : ''));
  return result;
}

// --- pgbench --------------------------------------------------------------------------------

async function pgbenchInit(url: string): Promise<void> {
  await execFileP(PGBENCH, ['-i', '-q', '-s', String(PGBENCH_SCALE), url], { maxBuffer: 16 << 20 });
}

async function pgbenchRun(url: string, clients: number): Promise<{ tps: number; latencyMs: number; cpu: CpuUse | undefined }> {
  const before = await cpuSample(undefined);
  const { stdout } = await execFileP(PGBENCH, ['-N', '-c', String(clients), '-j', '2', '-T', String(Math.round(SECONDS)), url], { maxBuffer: 16 << 20 });
  const after = await cpuSample(undefined);
  const tps = /tps = ([\d.]+) \(without initial connection time\)/.exec(stdout);
  if (!tps) throw new Error(`could not find "tps = ... (without initial connection time)" in pgbench output:\n${stdout}`);
  const latency = /latency average = ([\d.]+) ms/.exec(stdout);
  const processed = /number of transactions actually processed: (\d+)/.exec(stdout);
  const cpu = cpuUse(before, after, processed ? Number(processed[1]) : 0);
  return { tps: Number(tps[1]), latencyMs: latency ? Number(latency[1]) : NaN, cpu };
}

// --- the run --------------------------------------------------------------------------------

interface Row {
  connections: number;
  cb: LoadResult;
  pgbench: { tps: number; latencyMs: number; cpu: CpuUse | undefined };
  koa: LoadResult;
}

async function main(): Promise<void> {
  const started = Date.now();
  if (CONNECTIONS.length === 0) throw new Error('BENCH_CONNECTIONS names no connection count');

  await sayRunHeader('Coinbridge IPN ingest benchmark');
  say(`setup      : all processes share this machine; Coinbridge runs as a child process with COINBRIDGE_ROLE=web (no job workers competing for CPU;`);
  say(`             verify jobs are queued, not run), DATABASE_POOL_SIZE=${POOL_SIZE ?? '10 (default)'}, LOG_LEVEL=warn; load from autocannon in this process;`);
  say(`             ${SECONDS} s of load per measurement (in ~2 s runs of fixed size, every answer awaited) after a short warm-up; connections ${CONNECTIONS.join(', ')}`);
  say('');

  // Databases.
  progress('creating databases');
  const cbDb = await freshDatabase('cbbench');
  const pgbDb = await freshDatabase('cbpgbench');
  progress(`pgbench -i -s ${PGBENCH_SCALE} in ${pgbDb.name}`);
  await pgbenchInit(pgbDb.url);

  // Coinbridge in a child process.
  const dataDir = await tempDir('cbbench-');
  const encryptionKey = crypto.randomBytes(32).toString('base64');
  const port = await freePort();
  const origin = `http://127.0.0.1:${port}`;
  const cbEnv: Record<string, string> = {
    ...baseEnv,
    DATABASE_URL: cbDb.url, PORT: String(port), HOST: '127.0.0.1', PUBLIC_URL: origin, DATA_DIR: dataDir,
    ENCRYPTION_KEY: encryptionKey, LOG_LEVEL: 'warn', SEED_DEMO: 'false', NODE_ENV: 'test', COINBRIDGE_ROLE: 'web',
    ...(POOL_SIZE ? { DATABASE_POOL_SIZE: POOL_SIZE } : {}),
  };
  const profDir = path.join(ROOT, 'bench', 'profiles');
  const cbArgs = [...coinbridgeNodeArgs, ...(CPU_PROF ? ['--cpu-prof', `--cpu-prof-dir=${profDir}`] : []), path.join(ROOT, 'src', 'main.js')];
  progress(`starting Coinbridge (${origin}, database ${cbDb.name})`);
  const cb = startChild('coinbridge', cbArgs, cbEnv);
  await waitUntilServing(cb, `${origin}/readyz`, (s) => s === 200);

  // Store, connection and payments, written straight to the app's database by this process.
  const pool = new pg.Pool({ connectionString: cbDb.url, max: 2 });
  onCleanup('close bench pool', () => pool.end());
  const box = new SecretBox([Buffer.from(encryptionKey, 'base64')]);
  const ipnSecret = crypto.randomBytes(24).toString('base64url');
  const store = await createStore(pool, { name: 'Bench store' });
  const connection = await insertConnection(pool, box, { storeId: store.id, gateway: 'paymento', mode: 'live', credentials: { apiKey: 'bench', ipnSecret } });
  const ipnUrl = `${origin}/ipn/paymento/${connection.id}`;
  const seq = new IpnSequence(`PT${crypto.randomBytes(6).toString('hex')}-`, ipnSecret);
  let payments = 0;
  // Payments are added ahead of need, PAYMENT_BATCH at a time, so inserts rarely fall inside a measurement.
  const ensurePayments = async (upTo: number) => {
    if (IpnSequence.paymentsFor(upTo) <= payments) return;
    const need = Math.ceil(IpnSequence.paymentsFor(upTo) / PAYMENT_BATCH) * PAYMENT_BATCH;
    await pool.query(
      `INSERT INTO payments (ref, store_id, connection_id, order_id, status, amount_minor, currency, return_url, request_hash, gateway_payment_id, expires_at)
       SELECT 'pay_bench_' || g, $1, $2, 'order-' || g, 'created', 2500, 'USD', 'https://shop.example/thanks', 'bench', $3 || g, now() + interval '1 day'
       FROM generate_series($4::int, $5::int) g`,
      [store.id, connection.id, seq.tokenPrefix, payments, need - 1]);
    payments = need;
  };
  const takeIpns = async (n: number) => {
    await ensurePayments(seq.next + n);
    return seq.take(n);
  };
  await ensurePayments(1);
  await pool.query('ANALYZE payments');
  // Answers the IPN path once, so a misconfiguration fails here and not as a column of 4xx.
  {
    const [probe] = await takeIpns(1);
    const res = await fetch(ipnUrl, { method: 'POST', body: new Uint8Array(probe!.body), headers: { 'content-type': 'application/json', 'x-hmac-sha256-signature': probe!.signature } });
    const text = await res.text();
    if (res.status !== 200) throw new Error(`probe IPN answered ${res.status}: ${text}`);
  }
  let cbAcknowledged = 1; // the probe
  let cbRequests = 1;

  // Bare Koa in a child process.
  const koaPort = await freePort();
  const koaOrigin = `http://127.0.0.1:${koaPort}`;
  const koa = startChild('bare-koa', [path.join(ROOT, 'bench', 'bare-koa.ts')], { ...baseEnv, PORT: String(koaPort), NODE_ENV: 'test' });
  await waitUntilServing(koa, `${koaOrigin}/`, (s) => s === 404);
  const koaSeq = new IpnSequence('PTkoa-', ipnSecret);

  // Measurements, interleaved per connection count.
  const rows: Row[] = [];
  for (const connections of CONNECTIONS) {
    await checkpoint();
    progress(`pgbench -N -c ${connections} -j 2 -T ${Math.round(SECONDS)}`);
    const pgb = await pgbenchRun(pgbDb.url, connections);
    progress(`pgbench -N c=${connections}: ${pgb.tps.toFixed(0)} tps, latency average ${pgb.latencyMs.toFixed(2)} ms` +
      (pgb.cpu ? `; CPU/transaction: postgres ${pgb.cpu.postgresUs.toFixed(0)} µs, machine ${pgb.cpu.busyPct.toFixed(0)} % busy` : ''));

    const koaResult = await measure('bare Koa', `${koaOrigin}/ipn/paymento/bench`, connections, koa.proc.pid, async (n) => koaSeq.take(n), () => undefined);

    await checkpoint();
    const cbResult = await measure('Coinbridge', ipnUrl, connections, cb.proc.pid, takeIpns, (r) => {
      cbAcknowledged += r.ok;
      cbRequests += r.requests;
    });
    rows.push({ connections, cb: cbResult, pgbench: pgb, koa: koaResult });
  }

  // Integrity: every acknowledged IPN stored exactly once, matched, with its event and its job.
  const { rows: [counts] } = await pool.query<{ inbox: number; unmatched: number; events: number; jobs: number }>(`
    SELECT (SELECT count(*) FROM inbox)::int AS inbox,
           (SELECT count(*) FROM inbox WHERE payment_id IS NULL)::int AS unmatched,
           (SELECT count(*) FROM payment_events WHERE type = 'callback.received')::int AS events,
           (SELECT count(*) FROM agenda_jobs WHERE name = 'payment.verify')::int AS jobs`);

  // Report.
  say('');
  const fmt = (n: number, digits = 0) => (Number.isFinite(n) ? n.toFixed(digits) : '—');
  const header = ['conns', 'IPN/s', 'p50 ms', 'p99 ms', 'non-2xx', 'pgbench -N tps', 'IPN/s ÷ tps', 'target', 'Koa req/s', 'Koa p50', 'Koa p99'];
  const table: string[][] = [header];
  for (const r of rows) {
    const ratio = r.cb.rps / r.pgbench.tps;
    const ratioOk = ratio >= TARGET_RATIO;
    const p99Target = r.connections === TARGET_P99_AT ? `, p99 ≤ ${TARGET_P99_MS} ms ${r.cb.p99Ms <= TARGET_P99_MS ? 'met' : 'MISSED'}` : '';
    table.push([
      String(r.connections), fmt(r.cb.rps), fmt(r.cb.p50Ms, 2), fmt(r.cb.p99Ms, 2), String(r.cb.non2xx + r.cb.errors),
      fmt(r.pgbench.tps), `${fmt(ratio * 100, 1)} %`, `≥ ${TARGET_RATIO * 100} % ${ratioOk ? 'met' : 'MISSED'}${p99Target}`,
      fmt(r.koa.rps), fmt(r.koa.p50Ms, 2), fmt(r.koa.p99Ms, 2),
    ]);
  }
  const widths = header.map((_, c) => Math.max(...table.map((row) => row[c]!.length)));
  const line = (row: string[]) => row.map((cell, c) => (c === 7 ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!))).join('  ');
  say(line(table[0]!));
  say(widths.map((w) => '─'.repeat(w)).join('  '));
  for (const row of table.slice(1)) say(line(row));
  say('');
  say(`Coinbridge: POST /ipn/paymento/{connectionId}, every IPN new (unique Token:OrderStatus) and matching a payment; IPN/s counts 2xx answers only.`);
  for (const r of rows) {
    if (r.cb.non2xx || r.cb.errors || r.koa.non2xx || r.koa.errors) {
      say(`  c=${r.connections}: Coinbridge non-2xx ${r.cb.non2xx} ${JSON.stringify(r.cb.statusCodes)}, socket errors/timeouts ${r.cb.errors}; bare Koa non-2xx ${r.koa.non2xx}, errors ${r.koa.errors}`);
    }
  }
  for (const r of rows) {
    say(`  c=${r.connections}: measured ${r.cb.ok} IPNs in ${r.cb.seconds.toFixed(2)} s; pgbench latency average ${fmt(r.pgbench.latencyMs, 2)} ms; bare Koa ${r.koa.ok} requests in ${r.koa.seconds.toFixed(2)} s`);
  }
  if (rows.some((r) => r.cb.cpu)) {
    say('');
    say('CPU per request (µs of CPU time; postgres = every local postgres process, exited backends included, other databases too; load = autocannon in this process):');
    const cpuCell = (c: CpuUse | undefined, server: string) =>
      c ? `${server ? `${server} ${c.serverUs.toFixed(0)}, ` : ''}postgres ${c.postgresUs.toFixed(0)}${server ? `, load ${c.loadUs.toFixed(0)}` : ''}; machine ${c.busyPct.toFixed(0)} % busy` : 'n/a';
    for (const r of rows) {
      say(`  c=${r.connections}: Coinbridge IPN: ${cpuCell(r.cb.cpu, 'node')}`);
      say(`  ${' '.repeat(String(r.connections).length + 2)} pgbench -N tx : ${cpuCell(r.pgbench.cpu, '')}`);
      say(`  ${' '.repeat(String(r.connections).length + 2)} bare Koa req  : ${cpuCell(r.koa.cpu, 'node')}`);
    }
  }
  say('');
  const intact = counts!.inbox === cbAcknowledged && counts!.events === cbAcknowledged && counts!.jobs === cbAcknowledged && counts!.unmatched === 0;
  say(`integrity  : ${cbRequests} IPNs sent (warm-ups and probe included), ${cbAcknowledged} answered 2xx; inbox rows ${counts!.inbox}` +
    ` (unmatched ${counts!.unmatched}), callback.received events ${counts!.events}, queued payment.verify jobs ${counts!.jobs}` +
    ` → ${intact ? 'OK: inbox rows = 2xx answers, nothing lost or doubled' : 'MISMATCH'}`);
  const warnings = warningLines(cb);
  if (warnings.length > 0) say(`coinbridge : ${warnings.length} warn/error log line(s) kept, last: ${warnings.at(-1)}`);
  say(`took       : ${((Date.now() - started) / 1000).toFixed(0)} s${CPU_PROF ? `; CPU profile of the Coinbridge child written to ${profDir} on exit` : ''}`);
}

await runBench(main);
