/**
 * Operator commands against the configured database (same env as the server):
 *
 *   node src/cli.ts create-store --name "My shop" [--mode sandbox|live --api-key K --ipn-secret S]
 *
 * prints the new store's id, its API key (shown once) and the gateway connection id as JSON.
 * Live connections are tested against the gateway and given Coinbridge's IPN URL first. With the
 * embedded database, stop the server while the CLI runs (PGlite allows one process at a time).
 */
import { parseArgs } from 'node:util';
import { loadConfig } from './config.ts';
import { connectGateway } from './core/connections.ts';
import { loadSecretBox } from './crypto/secret-box.ts';
import { openDatabase } from './db/database.ts';
import { migrate } from './db/migrate.ts';
import { createStore, issueApiKey } from './db/stores-repo.ts';
import { ConfigError, CoinbridgeError } from './errors.ts';
import { GatewayRegistry } from './gateways/registry.ts';
import { createLogger } from './observability/log.ts';

const USAGE = 'usage: node src/cli.ts create-store --name NAME [--mode sandbox|live] [--api-key KEY --ipn-secret SECRET]';

async function main(): Promise<void> {
  const { positionals, values } = parseArgs({
    allowPositionals: true,
    options: { name: { type: 'string' }, mode: { type: 'string', default: 'sandbox' }, 'api-key': { type: 'string' }, 'ipn-secret': { type: 'string' } },
  });
  if (positionals[0] !== 'create-store' || !values.name || (values.mode !== 'sandbox' && values.mode !== 'live')) throw new Error(USAGE);
  if (values.mode === 'live' && (!values['api-key'] || !values['ipn-secret'])) throw new Error(`live mode needs --api-key and --ipn-secret\n${USAGE}`);

  const config = loadConfig();
  const log = createLogger(config.logLevel === 'info' ? 'warn' : config.logLevel, undefined);
  const db = await openDatabase({ url: config.databaseUrl, dataDir: config.dataDir, poolSize: 2, log });
  try {
    await migrate(db.pool, log);
    const box = loadSecretBox({ encryptionKey: config.encryptionKey, dataDir: config.dataDir, production: config.env === 'production', log });
    const gateways = new GatewayRegistry({
      paymento: { api: config.paymento.apiOrigin, gateway: config.paymento.gatewayOrigin },
      sandboxApi: () => `http://127.0.0.1:${config.port}`, sandboxPublic: config.publicUrl, timeoutMs: config.gatewayTimeoutMs,
    });
    const store = await createStore(db.pool, { name: values.name });
    const connection = await connectGateway({ db, box, gateways, publicUrl: config.publicUrl }, {
      storeId: store.id, gateway: 'paymento', mode: values.mode,
      ...(values.mode === 'live' ? { credentials: { apiKey: values['api-key']!, ipnSecret: values['ipn-secret']! } } : {}),
    });
    const apiKey = await issueApiKey(db.pool, store.id);
    process.stdout.write(`${JSON.stringify({ storeId: store.id, apiKey, connectionId: connection.id, ipnUrl: `${config.publicUrl}/ipn/paymento/${connection.id}` })}\n`);
  } finally {
    await db.close();
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof ConfigError || err instanceof CoinbridgeError ? err.message : (err as Error).message}\n`);
  process.exit(1);
});
