/**
 * The whole suite: typecheck, then every test file under test/ with Node's own runner.
 * `npm test` runs it on the embedded database; with DATABASE_URL set, every test app gets a
 * fresh database on that PostgreSQL server instead. Extra arguments narrow the files.
 */
import { spawnSync } from 'node:child_process';

const node = process.execPath;
const tsc = spawnSync(node, ['node_modules/typescript/bin/tsc', '--noEmit', '-p', '.'], { stdio: 'inherit' });
if (tsc.status !== 0) {
  console.error('typecheck failed');
  process.exit(tsc.status ?? 1);
}
const files = process.argv.slice(2);
const run = spawnSync(node, [
  '--test', '--test-reporter=spec', '--test-concurrency=2', '--test-timeout=180000',
  ...(files.length ? files : ['test/**/*.test.ts']),
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
