import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

export interface CoinbridgeProcess {
  child: ChildProcess;
  url: string;
  output(): string;
  /** Resolves once the process has exited. */
  exited: Promise<number | null>;
}

/** A real Coinbridge OS process (node src/main.js), ready when /readyz answers 200. */
export async function spawnCoinbridge(env: Record<string, string>, port: number): Promise<CoinbridgeProcess> {
  const child = spawn(process.execPath, ['src/main.js'], { cwd: ROOT, env: { ...process.env, ...env, PORT: String(port) }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (c) => { out += c; });
  child.stderr!.on('data', (c) => { out += c; });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`Coinbridge exited early (${child.exitCode}):\n${out}`);
    try {
      if ((await fetch(`${url}/readyz`)).status === 200) return { child, url, output: () => out, exited };
    } catch { /* not listening yet */ }
    await new Promise((r) => setTimeout(r, 100));
  }
  child.kill('SIGKILL');
  throw new Error(`Coinbridge did not become ready:\n${out}`);
}

/** Runs `node src/cli.ts …` to completion and returns its parsed JSON output. */
export async function runCli(args: string[], env: Record<string, string>): Promise<any> {
  const child = spawn(process.execPath, ['src/cli.ts', ...args], { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout!.on('data', (c) => { out += c; });
  child.stderr!.on('data', (c) => { err += c; });
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  if (code !== 0) throw new Error(`cli ${args.join(' ')} failed (${code}): ${err}`);
  return JSON.parse(out.trim().split('\n').at(-1)!);
}
