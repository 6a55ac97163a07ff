/**
 * A PostgreSQL 15 server of the test's own, for tests that stop and restart the database under
 * a running Coinbridge (the shared server cannot be touched). initdb into a temp dir, trust auth,
 * loopback only on a free port, its socket in that dir. PostgreSQL refuses to run as root, so
 * when we are root every command runs as `postgres` through runuser.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { freePort } from './free-port.ts';

const run = promisify(execFile);
const BIN = process.env.PG_BIN ?? '/usr/lib/postgresql/15/bin';
const RUN_AS = 'postgres';

export interface PrivatePostgres {
  readonly port: number;
  /** `postgresql://postgres@127.0.0.1:{port}/{database}`. */
  url(database?: string): string;
  createDatabase(name: string): Promise<string>;
  /** `fast` disconnects clients and shuts down cleanly; `immediate` is a crash (recovery on start). */
  stop(mode?: 'fast' | 'immediate'): Promise<void>;
  start(): Promise<void>;
  restart(): Promise<void>;
  readonly running: boolean;
  /** Stops the server if it runs and deletes every file; safe to call twice. */
  destroy(): Promise<void>;
}

function asPostgres(cmd: string, args: string[]): [string, string[]] {
  return process.getuid?.() === 0 ? ['runuser', ['-u', RUN_AS, '--', cmd, ...args]] : [cmd, args];
}

async function pg(cmd: string, args: string[]): Promise<string> {
  const [file, argv] = asPostgres(path.join(BIN, cmd), args);
  try {
    const { stdout } = await run(file, argv, { timeout: 60_000 });
    return stdout;
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new Error(`${cmd} ${args.join(' ')} failed: ${e.stderr || e.message}`);
  }
}

async function idOf(flag: '-u' | '-g'): Promise<number> {
  return Number((await run('id', [flag, RUN_AS])).stdout.trim());
}

/** `settings`: extra server settings (`-c name=value`). */
export async function startPrivatePostgres(opts: { settings?: Record<string, string> } = {}): Promise<PrivatePostgres> {
  const root = await fs.mkdtemp(path.join(os.tmpdir(), 'cbt-pg-'));
  if (process.getuid?.() === 0) await fs.chown(root, await idOf('-u'), await idOf('-g'));
  const data = path.join(root, 'data');
  const logFile = path.join(root, 'server.log');
  let running = false;
  let destroyed = false;
  let port = 0;

  const ctl = (args: string[]) => pg('pg_ctl', ['-D', data, ...args]);
  const startOn = async (p: number) => {
    // fsync off: the tests restart the server, they never pull the power, and it keeps a
    // 2-core CI machine from waiting on the disk.
    const extra = Object.entries(opts.settings ?? {}).map(([k, v]) => ` -c ${k}=${v}`).join('');
    const options = `-p ${p} -k ${root} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c max_connections=200${extra}`;
    await ctl(['-o', options, '-l', logFile, '-w', '-t', '30', 'start']);
    running = true;
  };

  try {
    await pg('initdb', ['-D', data, '-U', 'postgres', '-A', 'trust', '-E', 'UTF8', '--locale=C', '--no-sync']);
    // A free port can be taken between freePort() and the server binding it: try a few.
    for (let attempt = 1; ; attempt++) {
      port = await freePort();
      try {
        await startOn(port);
        break;
      } catch (err) {
        if (attempt >= 5) throw err;
      }
    }
  } catch (err) {
    await fs.rm(root, { recursive: true, force: true });
    throw err;
  }

  const self: PrivatePostgres = {
    get port() { return port; },
    get running() { return running; },
    url(database = 'postgres') {
      return `postgresql://postgres@127.0.0.1:${port}/${database}`;
    },
    async createDatabase(name) {
      if (!/^[a-z_][a-z0-9_]*$/.test(name)) throw new Error(`not a plain database name: ${name}`);
      await pg('psql', ['-h', '127.0.0.1', '-p', String(port), '-U', 'postgres', '-d', 'postgres', '-v', 'ON_ERROR_STOP=1', '-c', `CREATE DATABASE ${name}`]);
      return self.url(name);
    },
    async stop(mode = 'fast') {
      if (!running) return;
      await ctl(['-m', mode, '-w', '-t', '30', 'stop']);
      running = false;
    },
    async start() {
      if (running) return;
      await startOn(port);
    },
    async restart() {
      await self.stop();
      await self.start();
    },
    async destroy() {
      if (destroyed) return;
      destroyed = true;
      try {
        if (running) await self.stop('immediate');
      } finally {
        await fs.rm(root, { recursive: true, force: true });
      }
    },
  };
  return self;
}
