import fs from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { getCreateIndexesSQL, getCreateTableSQL, getUpdateTimestampTriggerSQL } from '@agendajs/postgres-backend';
import type pg from 'pg';
import type { Logger } from '../observability/log.ts';
import { JOBS_TABLE } from '../jobs/queue.ts';

const MIGRATIONS_DIR = path.join(path.dirname(fileURLToPath(import.meta.url)), 'migrations');
/** Arbitrary constant shared by every Coinbridge process: whoever holds it migrates. */
const MIGRATION_LOCK = 0x636f696e;

interface Migration {
  version: string;
  sql: string;
}

async function loadMigrations(): Promise<Migration[]> {
  const files = (await fs.readdir(MIGRATIONS_DIR)).filter((f) => f.endsWith('.sql')).sort();
  const own = await Promise.all(files.map(async (f) => ({ version: f.replace(/\.sql$/, ''), sql: await fs.readFile(path.join(MIGRATIONS_DIR, f), 'utf8') })));
  // Agenda's table is created here, under the same lock, instead of by each process's backend
  // on connect, where two processes starting together race on CREATE TABLE IF NOT EXISTS.
  const jobs: Migration = {
    version: '000_agenda_jobs',
    sql: [getCreateTableSQL(JOBS_TABLE), ...getCreateIndexesSQL(JOBS_TABLE), getUpdateTimestampTriggerSQL(JOBS_TABLE)].join(';\n'),
  };
  return [jobs, ...own];
}

/** Applies pending migrations; safe when several processes start at once (advisory lock). */
export async function migrate(pool: pg.Pool, log: Logger): Promise<string[]> {
  const migrations = await loadMigrations();
  const client = await pool.connect();
  const applied: string[] = [];
  try {
    await client.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK]);
    await client.query('CREATE TABLE IF NOT EXISTS schema_migrations (version text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())');
    const done = new Set((await client.query<{ version: string }>('SELECT version FROM schema_migrations')).rows.map((r) => r.version));
    for (const m of migrations) {
      if (done.has(m.version)) continue;
      await client.query('BEGIN');
      try {
        await client.query(m.sql);
        await client.query('INSERT INTO schema_migrations (version) VALUES ($1)', [m.version]);
        await client.query('COMMIT');
      } catch (err) {
        await client.query('ROLLBACK');
        throw new Error(`migration ${m.version} failed: ${(err as Error).message}`, { cause: err });
      }
      applied.push(m.version);
      log.info({ version: m.version }, 'migration applied');
    }
  } finally {
    await client.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK]).catch(() => undefined);
    client.release();
  }
  return applied;
}

/** True when every migration this build knows has been applied (for /readyz). */
export async function migrationsApplied(pool: pg.Pool): Promise<boolean> {
  const migrations = await loadMigrations();
  const { rows } = await pool.query<{ version: string }>('SELECT version FROM schema_migrations');
  const done = new Set(rows.map((r) => r.version));
  return migrations.every((m) => done.has(m.version));
}
