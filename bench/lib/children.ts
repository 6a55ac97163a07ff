// Child processes a benchmark runs (Coinbridge, baselines), stopped when the run ends.
import { spawn, type ChildProcess } from 'node:child_process';
import crypto from 'node:crypto';
import { readFileSync } from 'node:fs';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { freePort } from '../../test/support/free-port.ts';
import { onCleanup, ROOT, sleep } from './run.ts';

export interface Child {
  name: string;
  proc: ChildProcess;
  /** Last ~200 lines of stdout+stderr, for diagnosis. */
  output: string[];
  exited: Promise<number | null>;
}

/** Only what a child needs from this environment: nothing of the caller's configuration leaks in. */
export const baseEnv: Record<string, string> = Object.fromEntries(
  ['PATH', 'HOME', 'TMPDIR', 'LANG'].flatMap((k) => (process.env[k] ? [[k, process.env[k]!]] : [])));

export function startChild(name: string, args: string[], env: Record<string, string>): Child {
  const proc = spawn(process.execPath, args, { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  const output: string[] = [];
  const keep = (chunk: Buffer) => {
    for (const line of chunk.toString('utf8').split('\n')) {
      if (line.trim() === '') continue;
      output.push(line);
      if (output.length > 200) output.shift();
    }
  };
  proc.stdout!.on('data', keep);
  proc.stderr!.on('data', keep);
  const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));
  const child: Child = { name, proc, output, exited };
  onCleanup(`stop ${name}`, () => stopChild(child));
  return child;
}

/**
 * The warn/error lines a Coinbridge child logged, for the run's report. The one-time admin setup
 * token is logged at warn on purpose (it is how an operator gets it): it is not a problem of the
 * run, and a secret must not end up in a results file.
 */
export function warningLines(child: Child): string[] {
  return child.output.filter((l) => /"level":"(warn|error|fatal)"/.test(l) && !/setup token/i.test(l));
}

export async function stopChild(child: Child): Promise<void> {
  if (child.proc.exitCode !== null || child.proc.signalCode !== null) return;
  child.proc.kill('SIGTERM');
  const done = await Promise.race([child.exited.then(() => true), sleep(10_000).then(() => false)]);
  if (!done) {
    child.proc.kill('SIGKILL');
    await child.exited;
  }
}

/** Polls `url` until it answers `okStatus`; fails fast if the child dies first. */
export async function waitUntilServing(child: Child, url: string, okStatus: (s: number) => boolean, timeoutMs = 30_000, everyMs = 100): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = 'no answer yet';
  while (Date.now() < deadline) {
    if (child.proc.exitCode !== null) throw new Error(`${child.name} exited with code ${child.proc.exitCode}:\n${child.output.slice(-20).join('\n')}`);
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(2000) });
      await res.arrayBuffer();
      if (okStatus(res.status)) return;
      last = `HTTP ${res.status}`;
    } catch (err) {
      last = (err as Error).message;
    }
    await sleep(everyMs);
  }
  throw new Error(`${child.name} not ready at ${url} after ${timeoutMs} ms (${last}):\n${child.output.slice(-20).join('\n')}`);
}

/** A scratch DATA_DIR, removed at the end. */
export async function tempDir(prefix: string): Promise<string> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), prefix));
  onCleanup(`remove ${dir}`, () => fs.rm(dir, { recursive: true, force: true }));
  return dir;
}

export interface CoinbridgeChild extends Child {
  origin: string;
  port: number;
  env: Record<string, string>;
  /** From spawn() to the first 200 of /readyz (polled every 10 ms). */
  startupMs: number;
}

/**
 * The node options Coinbridge runs with: those `npm start` gives it (package.json), so every
 * benchmark measures the process as it is run; BENCH_NODE_ARGS, when set, replaces them.
 */
export const coinbridgeNodeArgs: string[] = process.env.BENCH_NODE_ARGS !== undefined
  ? process.env.BENCH_NODE_ARGS.split(/\s+/).filter(Boolean)
  : (JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')).scripts.start as string).split(/\s+/).filter((a) => a.startsWith('--'));

/**
 * Coinbridge as its own OS process (`node src/main.js`), ready when /readyz answers 200. `env`
 * adds to or overrides the defaults (test mode, quiet logs, no demo store, loopback only).
 */
export async function startCoinbridge(name: string, opts: { databaseUrl: string | undefined; dataDir: string; encryptionKey: string; env?: Record<string, string>; port?: number; args?: string[] }): Promise<CoinbridgeChild> {
  const port = opts.port ?? await freePort();
  const origin = `http://127.0.0.1:${port}`;
  const env: Record<string, string> = {
    ...baseEnv,
    ...(opts.databaseUrl ? { DATABASE_URL: opts.databaseUrl } : {}),
    PORT: String(port), HOST: '127.0.0.1', PUBLIC_URL: origin, DATA_DIR: opts.dataDir, ENCRYPTION_KEY: opts.encryptionKey,
    LOG_LEVEL: 'warn', SEED_DEMO: 'false', NODE_ENV: 'test',
    ...opts.env,
  };
  const started = performance.now();
  const child = startChild(name, [...coinbridgeNodeArgs, ...(opts.args ?? []), path.join(ROOT, 'src', 'main.js')], env);
  await waitUntilServing(child, `${origin}/readyz`, (s) => s === 200, 60_000, 10);
  return Object.assign(child, { origin, port, env, startupMs: performance.now() - started });
}

export function newEncryptionKey(): string {
  return crypto.randomBytes(32).toString('base64');
}
