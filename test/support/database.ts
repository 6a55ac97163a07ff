import crypto from 'node:crypto';
import pg from 'pg';

/**
 * With DATABASE_URL set, every test app gets a database of its own on that server (created here,
 * dropped on cleanup), so test files can run in parallel. Without it, apps use embedded PGlite.
 */
export async function freshDatabaseUrl(server = process.env.DATABASE_URL): Promise<{ url: string | undefined; drop(): Promise<void> }> {
  if (!server) return { url: undefined, drop: async () => undefined };
  const name = `cbt_${crypto.randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: server });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = new URL(server);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    async drop() {
      const c = new pg.Client({ connectionString: server });
      await c.connect();
      await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await c.end();
    },
  };
}

export function usingServer(): boolean {
  return Boolean(process.env.DATABASE_URL);
}

/** The PostgreSQL server tests use when a test needs one whatever the suite runs on (several processes). */
export const TEST_SERVER_URL = process.env.DATABASE_URL ?? 'postgresql://postgres@127.0.0.1:5432/test';

/** A fresh database on the server, even when the suite runs on embedded PGlite. */
export async function freshServerDatabase(): Promise<{ url: string; drop(): Promise<void> }> {
  const db = await freshDatabaseUrl(TEST_SERVER_URL);
  return { url: db.url!, drop: db.drop };
}
