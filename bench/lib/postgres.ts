// The PostgreSQL server the benchmarks run against, and scratch databases on it that are dropped
// when the run ends (also on error or Ctrl-C).
import crypto from 'node:crypto';
import pg from 'pg';
import { onCleanup } from './run.ts';

export const SERVER_URL = process.env.BENCH_DATABASE_URL || 'postgresql://postgres@127.0.0.1:5432/test';

export function dbUrl(name: string): string {
  const url = new URL(SERVER_URL);
  url.pathname = `/${name}`;
  return url.toString();
}

export async function withAdmin<T>(fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = new pg.Client({ connectionString: SERVER_URL });
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}

export async function freshDatabase(prefix: string): Promise<{ name: string; url: string }> {
  const name = `${prefix}_${crypto.randomBytes(5).toString('hex')}`;
  await withAdmin((c) => c.query(`CREATE DATABASE ${name}`));
  onCleanup(`drop database ${name}`, () => withAdmin(async (c) => { await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`); }));
  return { name, url: dbUrl(name) };
}

/** Flushes dirty buffers now, so a background checkpoint does not land inside one measurement. */
export async function checkpoint(): Promise<void> {
  await withAdmin((c) => c.query('CHECKPOINT')).catch(() => undefined); // needs superuser; best effort
}

export interface ServerInfo {
  server_version: string;
  fsync: string;
  synchronous_commit: string;
  shared_buffers: string;
  max_connections: string;
}

export async function serverInfo(): Promise<ServerInfo> {
  return withAdmin(async (c) => {
    const settings = await c.query<{ name: string; setting: string }>(
      `SELECT name, setting FROM pg_settings WHERE name IN ('server_version', 'fsync', 'synchronous_commit', 'shared_buffers', 'max_connections')`);
    return Object.fromEntries(settings.rows.map((r) => [r.name, r.name === 'shared_buffers' ? `${(Number(r.setting) * 8) / 1024} MB` : r.setting])) as unknown as ServerInfo;
  });
}

export function serverLine(s: ServerInfo): string {
  return `${s.server_version} at ${new URL(SERVER_URL).host} (fsync=${s.fsync}, synchronous_commit=${s.synchronous_commit}, shared_buffers=${s.shared_buffers}, max_connections=${s.max_connections})`;
}

/**
 * Transactions committed in database `name` so far (pg_stat_database). Backends report theirs
 * when they go idle, at most once a second: read it a good second after the work stopped.
 */
export async function commitsIn(name: string): Promise<number> {
  return withAdmin(async (c) => Number((await c.query<{ n: string }>('SELECT xact_commit AS n FROM pg_stat_database WHERE datname = $1', [name])).rows[0]?.n ?? NaN));
}
