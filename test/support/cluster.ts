/**
 * Several Coinbridge OS processes on one PostgreSQL database, as a scaled-out deployment runs,
 * with the test's own round-robin HTTP client standing in for the load balancer: `next()` is the
 * process the next request goes to, `at(k)` a chosen one.
 *
 * Every process gets the same PUBLIC_URL, the first process's address: callback and webhook URLs
 * registered at gateways and stores lead there, as they would lead to a load balancer. Tests that
 * kill a process therefore kill another one, or send their callbacks themselves.
 */
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { freshServerDatabase } from './database.ts';
import { freePort } from './free-port.ts';
import type { WooCommerceEmulator } from '../emulators/woocommerce/server.ts';
import { api, TEST_ENCRYPTION_KEY, waitFor } from './harness.ts';
import { runCli, spawnCoinbridge, type CoinbridgeProcess } from './process.ts';

export interface ClusterNode {
  readonly index: number;
  readonly port: number;
  readonly url: string;
  /** The running process; replaced by restart(). Undefined while stopped. */
  proc: CoinbridgeProcess | undefined;
}

export interface Cluster {
  readonly nodes: ClusterNode[];
  readonly databaseUrl: string;
  /** What every process got (PORT aside); pass it to runCli. */
  readonly env: Record<string, string>;
  /** For assertions: a small pool on the cluster's database. */
  readonly pool: pg.Pool;
  /** Round robin over the processes that are running. */
  next(): { url: string; index: number };
  /** Process k, running or not (a request to a stopped one fails to connect). */
  at(k: number): { url: string; index: number };
  cli(args: string[]): Promise<any>;
  /** Sends `signal` to process k and waits until it has exited. */
  kill(k: number, signal?: NodeJS.Signals): Promise<void>;
  /** Starts process k again on its port (after kill), with extra env if given. */
  restart(k: number, env?: Record<string, string>): Promise<void>;
  /** Everything process k printed, across restarts. */
  output(k: number): string;
  close(): Promise<void>;
}

export interface ClusterOptions {
  size: number;
  env?: Record<string, string>;
  /** Extra env of process k (e.g. COINBRIDGE_ROLE). */
  nodeEnv?: (k: number) => Record<string, string>;
  /** A database to use instead of a fresh one on the test server; the cluster does not drop it. */
  databaseUrl?: string;
}

export async function startCluster(opts: ClusterOptions): Promise<Cluster> {
  const owned = opts.databaseUrl ? undefined : await freshServerDatabase();
  const databaseUrl = opts.databaseUrl ?? owned!.url;
  // Several processes on one embedded database would each open its files: never that.
  if (!databaseUrl) throw new Error('a cluster needs a PostgreSQL server: DATABASE_URL is set but empty');
  const dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'cbt-cluster-'));
  const ports: number[] = [];
  while (ports.length < opts.size) {
    const p = await freePort();
    if (!ports.includes(p)) ports.push(p);
  }
  const env: Record<string, string> = {
    NODE_ENV: 'test', HOST: '127.0.0.1', DATABASE_URL: databaseUrl, DATA_DIR: dataDir, ENCRYPTION_KEY: TEST_ENCRYPTION_KEY,
    PUBLIC_URL: `http://127.0.0.1:${ports[0]}`, SEED_DEMO: 'false', LOG_LEVEL: 'info', ALLOW_PRIVATE_URLS: 'true',
    JOB_POLL_MS: '200', JOB_LOCK_LIFETIME_MS: '4000',
    ...opts.env,
  };
  const nodes: ClusterNode[] = ports.map((port, index) => ({ index, port, url: `http://127.0.0.1:${port}`, proc: undefined }));
  const pastOutput: string[] = nodes.map(() => '');
  const pool = new pg.Pool({ connectionString: databaseUrl, max: 4 });
  pool.on('error', () => undefined); // a test may stop the database under it
  let cursor = 0;

  const spawnNode = async (node: ClusterNode, extra: Record<string, string> = {}) => {
    node.proc = await spawnCoinbridge({ ...env, ...opts.nodeEnv?.(node.index), ...extra }, node.port);
  };
  const stopNode = async (node: ClusterNode, signal: NodeJS.Signals) => {
    const proc = node.proc;
    if (!proc) return;
    if (proc.child.exitCode === null && proc.child.signalCode === null) proc.child.kill(signal);
    // A graceful stop waits for running jobs; one that hangs must not hang the test's cleanup.
    const force = setTimeout(() => proc.child.kill('SIGKILL'), 15_000);
    await proc.exited;
    clearTimeout(force);
    pastOutput[node.index] += proc.output();
    node.proc = undefined;
  };

  const cluster: Cluster = {
    nodes, databaseUrl, env, pool,
    next() {
      const live = nodes.filter((n) => n.proc);
      if (live.length === 0) throw new Error('no Coinbridge process is running');
      const node = live[cursor++ % live.length]!;
      return { url: node.url, index: node.index };
    },
    at(k) {
      const node = nodes[k];
      if (!node) throw new Error(`the cluster has no process ${k}`);
      return { url: node.url, index: k };
    },
    cli: (args) => runCli(args, { ...env, PORT: String(ports[0]) }),
    kill: (k, signal = 'SIGTERM') => stopNode(nodes[k]!, signal),
    async restart(k, extra) {
      const node = nodes[k]!;
      if (node.proc) throw new Error(`process ${k} is still running`);
      await spawnNode(node, extra);
    },
    output: (k) => pastOutput[k]! + (nodes[k]!.proc?.output() ?? ''),
    async close() {
      try {
        await Promise.all(nodes.map((n) => stopNode(n, 'SIGTERM')));
        await pool.end();
      } finally {
        try {
          await owned?.drop();
        } finally {
          await fs.rm(dataDir, { recursive: true, force: true });
        }
      }
    },
  };

  try {
    // The first process runs the migrations; the others then start side by side.
    await spawnNode(nodes[0]!);
    await Promise.all(nodes.slice(1).map((n) => spawnNode(n)));
  } catch (err) {
    await cluster.close().catch(() => undefined);
    throw err;
  }
  return cluster;
}

/**
 * Connects the emulated WooCommerce store to the cluster as the plugin and the merchant do
 * (wc-auth approval, then the plugin's one-time key claim; see support/woocommerce.ts), and
 * gives it a live Paymento connection. Returns the plugin's API key and the connection id.
 */
export async function connectWooStore(cluster: Cluster, woo: WooCommerceEmulator, paymento: { apiKey: string; secret: string }):
  Promise<{ storeId: string; apiKey: string; connectionId: string }> {
  const claimSecret = crypto.randomBytes(32).toString('hex');
  const claimHash = crypto.createHash('sha256').update(claimSecret).digest('hex');
  const begin = await fetch(`${cluster.at(0).url}/woocommerce/connect?store_url=${encodeURIComponent(woo.origin)}&claim_hash=${claimHash}`, { redirect: 'manual' });
  assert.equal(begin.status, 302, await begin.text());
  assert.equal((await woo.approve(begin.headers.get('location')!)).callbackStatus, 200);
  const claimed = await waitFor('the plugin\'s key claim', async () => {
    const r = await api(cluster.at(0), 'POST', '/woocommerce/claim', { body: { storeUrl: woo.origin, claimSecret } });
    return r.status === 202 ? undefined : r;
  }, 30_000, 250).catch((err: Error) => {
    throw new Error(`${err.message}\n${cluster.nodes.map((n) => `process ${n.index}:\n${cluster.output(n.index).slice(-3000)}`).join('\n')}`);
  });
  assert.equal(claimed.status, 200, JSON.stringify(claimed.body));
  const gateway = await cluster.cli(['connect-gateway', '--store', claimed.body.storeId, '--mode', 'live', '--api-key', paymento.apiKey, '--ipn-secret', paymento.secret]);
  return { storeId: claimed.body.storeId, apiKey: claimed.body.apiKey, connectionId: gateway.connectionId };
}

/** The order writes the store received, per order id: PUTs of the order and POSTs of notes. */
export function wooWritesPerOrder(woo: WooCommerceEmulator): Map<number, { puts: number; notes: number }> {
  const writes = new Map<number, { puts: number; notes: number }>();
  for (const r of woo.requests) {
    const m = /^\/wp-json\/wc\/v3\/orders\/(\d+)(\/notes)?\/?(?:\?|$)/.exec(r.path);
    if (!m || !((r.method === 'PUT' && !m[2]) || (r.method === 'POST' && m[2]))) continue;
    const w = writes.get(Number(m[1])) ?? { puts: 0, notes: 0 };
    if (m[2]) w.notes++;
    else w.puts++;
    writes.set(Number(m[1]), w);
  }
  return writes;
}

/**
 * Jobs that gave up: their last attempt failed and no retry is scheduled, so they stay for a
 * human (a job that failed once and then succeeded has its fail count reset).
 */
export async function jobsGivenUp(pool: pg.Pool): Promise<Array<{ name: string; fail_count: number; fail_reason: string }>> {
  const { rows } = await pool.query(`SELECT name, fail_count, fail_reason FROM agenda_jobs WHERE fail_count > 0 AND next_run_at IS NULL AND locked_at IS NULL ORDER BY name`);
  return rows;
}

/** How many jobs of these names are still to run: scheduled, or running now. */
export async function openJobs(pool: pg.Pool, names: string[]): Promise<number> {
  const { rows } = await pool.query(`SELECT count(*) AS n FROM agenda_jobs WHERE name = ANY($1) AND (next_run_at IS NOT NULL OR locked_at IS NOT NULL)`, [names]);
  return Number(rows[0].n);
}
