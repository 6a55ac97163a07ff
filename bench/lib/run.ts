// What every benchmark needs around its measurements: env knobs, output, and a cleanup list that
// runs on success, on error and on Ctrl-C, so no database or child process outlives a run.
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

/** A positive number from the environment, or `fallback` when unset; anything else is refused. */
export function positive(name: string, fallback: number, opts: { integer?: boolean } = {}): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isFinite(n) || n <= 0 || (opts.integer && !Number.isInteger(n))) {
    throw new Error(`${name} must be a positive ${opts.integer ? 'whole ' : ''}number, got "${raw}"`);
  }
  return n;
}

/** A comma-separated list of positive whole numbers, e.g. BENCH_CONNECTIONS=10,50. */
export function positiveList(name: string, fallback: number[]): number[] {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const list = raw.split(',').map((s) => Number(s.trim()));
  if (list.length === 0 || list.some((n) => !Number.isInteger(n) || n <= 0)) throw new Error(`${name} must list positive whole numbers, got "${raw}"`);
  return list;
}

/** Figures go to stdout; progress to stderr, so `> results.txt` keeps only the figures. */
export function say(line = ''): void {
  process.stdout.write(`${line}\n`);
}

export function progress(line: string): void {
  process.stderr.write(`  · ${line}\n`);
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

// --- cleanup: every resource registers its undo; run in reverse order ---------------------------

const undo: { what: string; fn: () => Promise<void> }[] = [];
let cleaning: Promise<void> | undefined;

export function onCleanup(what: string, fn: () => Promise<void>): void {
  undo.push({ what, fn });
}

export function cleanup(): Promise<void> {
  cleaning ??= (async () => {
    for (const step of undo.reverse()) {
      try {
        await step.fn();
      } catch (err) {
        process.stderr.write(`cleanup: ${step.what} failed: ${(err as Error).message}\n`);
      }
    }
  })();
  return cleaning;
}

export function cleaningUp(): boolean {
  return cleaning !== undefined;
}

let signalsHooked = false;
function hookSignals(): void {
  if (signalsHooked) return;
  signalsHooked = true;
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      process.stderr.write(`\n${signal}: cleaning up\n`);
      void cleanup().then(() => process.exit(130));
    });
  }
}

/** Runs a benchmark's main: errors are printed (not after Ctrl-C), exit code 1, cleanup always. */
export async function runBench(main: () => Promise<void>): Promise<void> {
  hookSignals();
  try {
    await main();
  } catch (err) {
    // After Ctrl-C, failures are the cleanup pulling resources from under the run: not news.
    if (!cleaning) process.stderr.write(`\nbenchmark failed: ${(err as Error).stack ?? String(err)}\n`);
    process.exitCode = 1;
  } finally {
    await cleanup();
  }
}
