/**
 * The whole suite: typecheck, then every test file under test/ with Node's own runner.
 * `npm test` runs it on the embedded database; with DATABASE_URL set, every test app gets a
 * fresh database on that PostgreSQL server instead. Extra arguments narrow the files;
 * TEST_EXCLUDE (comma-separated files or folders) leaves files out: CI runs the proof suites
 * (faults, scale-out, bad input) once, on the server pass, and the feature suite on both.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';

const node = process.execPath;
const tsc = spawnSync(node, ['node_modules/typescript/bin/tsc', '--noEmit', '-p', '.'], { stdio: 'inherit' });
if (tsc.status !== 0) {
  console.error('typecheck failed');
  process.exit(tsc.status ?? 1);
}
const excluded = new Set((process.env.TEST_EXCLUDE ?? '').split(',').map((f) => f.trim()).filter(Boolean));
for (const f of excluded) {
  if (!fs.existsSync(f)) {
    console.error(`TEST_EXCLUDE names ${f}, which does not exist`);
    process.exit(1);
  }
}
const chosen = process.argv.slice(2);
const isExcluded = (f: string) => [...excluded].some((x) => f === x || f.startsWith(`${x.replace(/\/$/, '')}/`));
/**
 * The longest files start first: started last, the scale-out test alone would be the final few
 * minutes of a run, with the other slots idle.
 */
const LONG_FIRST = ['test/scale/', 'test/faults/', 'test/bad-input/', 'test/browser/'];
const rank = (f: string) => { const i = LONG_FIRST.findIndex((d) => f.startsWith(d)); return i === -1 ? LONG_FIRST.length : i; };
const files = (chosen.length ? chosen : fs.globSync('test/**/*.test.ts').sort((a, b) => rank(a) - rank(b) || a.localeCompare(b)))
  .filter((f) => !isExcluded(f));
if (excluded.size) console.log(`leaving out (TEST_EXCLUDE): ${[...excluded].join(', ')}`);
const run = spawnSync(node, [
  // Three files at once on two cores: many files spend much of their time waiting (retry backoff,
  // polling for a settled state), and the long cluster files would otherwise hold one of only two slots.
  '--test', '--test-reporter=spec', `--test-concurrency=${process.env.TEST_CONCURRENCY ?? 3}`, '--test-timeout=180000',
  ...files,
], {
  stdio: 'inherit',
  env: { ...process.env, NODE_ENV: 'test' },
  // A test file that never exits (a server left open after a failed hook) must fail the run,
  // not hang it: the whole suite takes a few minutes.
  timeout: 20 * 60_000,
  killSignal: 'SIGKILL',
});
if (run.error) console.error(`test run stopped: ${run.error.message}`);
process.exit(run.status ?? 1);
