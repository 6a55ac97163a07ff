/**
 * Operator commands against the configured database (same env as the server):
 *
 *   node src/cli.ts create-store --name "My shop" [--mode sandbox|live --api-key K --ipn-secret S] [--settings JSON]
 *   node src/cli.ts set-settings --store STORE_ID --settings '{"expiryMinutes":60,"latePaymentPolicy":"review"}'
 *   node src/cli.ts add-shopify-app --client-id ID --secret SECRET [--scopes read_orders,write_orders]
 *   node src/cli.ts connect-gateway --store STORE_ID [--gateway paymento|crypto-checkout|cryptonow] [--mode sandbox|live
 *       --api-key K --ipn-secret S [--instance-url URL]] [--role default|fallback|extra]
 *   node src/cli.ts choose-gateways --store STORE_ID --default CONNECTION_ID [--fallback CONNECTION_ID|none]
 *
 * prints the new store's id, its API key (shown once) and the gateway connection id as JSON.
 * Live connections are tested against the gateway and given Coinbridge's IPN URL first. With the
 * embedded database, stop the server while the CLI runs (PGlite allows one process at a time).
 */
import { parseArgs } from 'node:util';
import pino from 'pino';
import { loadConfig, type Config } from './config.ts';
import { callbackUrl, chooseGateways, connectGateway } from './core/connections.ts';
import { loadSecretBox } from './crypto/secret-box.ts';
import { openDatabase, withTransaction, type Database } from './db/database.ts';
import { migrate } from './db/migrate.ts';
import { createStore, findStore, issueApiKey, listConnections, updateStoreSettings } from './db/stores-repo.ts';
import { ConfigError, CoinbridgeError } from './errors.ts';
import { GatewayRegistry } from './gateways/registry.ts';
import type { ConnectionMode } from './gateways/types.ts';
import { ConnectGatewayBody, GatewayChoiceBody, toConnectInput } from './http/gateway-inputs.ts';
import { createLogger, type Logger } from './observability/log.ts';
import { MerchantSettingsSchema, type MerchantSettings } from './core/settings.ts';
import { saveShopifyApp } from './platforms/shopify/apps.ts';

const USAGE = `usage: node src/cli.ts create-store --name NAME [--mode sandbox|live] [--api-key KEY --ipn-secret SECRET] [--settings JSON]
       node src/cli.ts set-settings --store STORE_ID --settings JSON
       node src/cli.ts add-shopify-app --client-id ID --secret SECRET [--scopes read_orders,write_orders]
       node src/cli.ts connect-gateway --store STORE_ID [--gateway paymento|crypto-checkout|cryptonow] [--mode sandbox|live]
                 [--api-key KEY --ipn-secret SECRET] [--instance-url URL (Crypto Checkout)] [--role default|fallback|extra]
       node src/cli.ts choose-gateways --store STORE_ID --default CONNECTION_ID [--fallback CONNECTION_ID|none]`;

/** Validates merchant settings JSON, naming every bad field. */
function parseSettings(text: string | undefined): Partial<MerchantSettings> {
  if (text === undefined) return {};
  let raw: unknown;
  try { raw = JSON.parse(text); } catch { throw new Error('--settings must be a JSON object'); }
  const parsed = MerchantSettingsSchema.partial().strict().safeParse(raw);
  if (!parsed.success) throw new Error(`invalid --settings: ${parsed.error.issues.map((i) => `${i.path.join('.') || '(settings)'}: ${i.message}`).join('; ')}`);
  // Only the keys given: zod fills defaults into absent keys even in a partial schema, which
  // would silently reset the store's other settings.
  return Object.fromEntries(Object.entries(parsed.data).filter(([k]) => Object.hasOwn(raw as object, k))) as Partial<MerchantSettings>;
}

async function main(): Promise<void> {
  const { positionals, values } = parseArgs({
    allowPositionals: true,
    options: {
      name: { type: 'string' }, mode: { type: 'string', default: 'sandbox' }, 'api-key': { type: 'string' }, 'ipn-secret': { type: 'string' },
      settings: { type: 'string' }, store: { type: 'string' }, 'client-id': { type: 'string' }, secret: { type: 'string' }, scopes: { type: 'string' },
      gateway: { type: 'string', default: 'paymento' }, 'instance-url': { type: 'string' }, role: { type: 'string', default: 'default' },
      default: { type: 'string' }, fallback: { type: 'string' },
    },
  });
  const command = positionals[0];
  const settings = parseSettings(values.settings);
  if (command === 'add-shopify-app') {
    // One custom-distribution app per merchant: each is registered here. Saving a known client id
    // with a new secret is a rotation: the old secret keeps verifying for an hour.
    if (!values['client-id'] || !values.secret) throw new Error(USAGE);
    return withDatabase(async (db, config, log) => {
      const box = loadSecretBox({ encryptionKey: config.encryptionKey, dataDir: config.dataDir, production: config.env === 'production', log });
      const app = await saveShopifyApp(db.pool, box, { clientId: values['client-id']!, secret: values.secret!, ...(values.scopes ? { scopes: values.scopes.split(',') } : {}) });
      process.stdout.write(`${JSON.stringify({ clientId: app.clientId, scopes: app.scopes, installUrl: `${config.publicUrl}/shopify/install?client_id=${encodeURIComponent(app.clientId)}&shop=` })}\n`);
    });
  }
  if (command === 'set-settings') {
    if (!values.store || values.settings === undefined) throw new Error(USAGE);
    return withDatabase(async (db) => {
      const store = await findStore(db.pool, values.store!);
      if (!store) throw new Error(`no store ${values.store}`);
      const merged = MerchantSettingsSchema.parse({ ...store.settings, ...settings });
      await updateStoreSettings(db.pool, store.id, merged);
      process.stdout.write(`${JSON.stringify({ storeId: store.id, settings: merged })}\n`);
    });
  }
  if (command === 'choose-gateways') {
    if (!values.store || !values.default) throw new Error(USAGE);
    if (!/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(values.store)) throw new Error(`--store must be a store id (uuid)\n${USAGE}`);
    const choice = GatewayChoiceBody.safeParse({ defaultId: values.default, fallbackId: !values.fallback || values.fallback === 'none' ? null : values.fallback });
    if (!choice.success) throw new Error(`--default and --fallback must be connection ids (uuid)\n${USAGE}`);
    return withDatabase(async (db) => {
      await withTransaction(db.pool, (tx) => chooseGateways(tx, values.store!, choice.data));
      process.stdout.write(`${JSON.stringify({ storeId: values.store, connections: await listConnections(db.pool, values.store!) })}\n`);
    });
  }
  const isConnect = command === 'connect-gateway';
  if ((command !== 'create-store' && !isConnect) || (!isConnect && !values.name) || (isConnect && !values.store) || (values.mode !== 'sandbox' && values.mode !== 'live')) throw new Error(USAGE);
  const mode: ConnectionMode = values.mode;
  const body = ConnectGatewayBody.safeParse({
    gateway: values.gateway, mode, role: values.role,
    ...(values['api-key'] ? { apiKey: values['api-key'] } : {}), ...(values['ipn-secret'] ? { ipnSecret: values['ipn-secret'] } : {}),
    ...(values['instance-url'] ? { instanceUrl: values['instance-url'] } : {}),
  });
  if (!body.success) throw new Error(`${body.error.issues.map((i) => `--${String(i.path[0] ?? 'gateway').replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}: ${i.message}`).join('\n')}\n${USAGE}`);

  return withDatabase(async (db, config, log) => {
    const box = loadSecretBox({ encryptionKey: config.encryptionKey, dataDir: config.dataDir, production: config.env === 'production', log });
    const gateways = GatewayRegistry.fromConfig(config, () => `http://127.0.0.1:${config.port}`);
    // connect-gateway: a store made elsewhere (a WooCommerce or Shopify connect) gets its gateway.
    const store = isConnect ? await findStore(db.pool, values.store!) : await createStore(db.pool, { name: values.name!, settings });
    if (!store) throw new Error(`no store ${values.store}`);
    const connection = await connectGateway({ db, box, gateways, publicUrl: config.publicUrl, allowPrivateUrls: config.allowPrivateUrls }, toConnectInput(store.id, body.data));
    const apiKey = isConnect ? undefined : await issueApiKey(db.pool, store.id);
    process.stdout.write(`${JSON.stringify({ storeId: store.id, ...(apiKey ? { apiKey } : {}), connectionId: connection.id, ipnUrl: callbackUrl(config.publicUrl, connection) })}\n`);
  });
}

async function withDatabase(fn: (db: Database, config: Config, log: Logger) => Promise<void>): Promise<void> {
  const config = loadConfig();
  // Logs go to stderr: stdout carries only the command's JSON answer.
  const log = createLogger(config.logLevel === 'info' ? 'warn' : config.logLevel, pino.destination(2));
  const db = await openDatabase({ url: config.databaseUrl, dataDir: config.dataDir, poolSize: 2, log });
  try {
    await migrate(db.pool, log);
    await fn(db, config, log);
  } finally {
    await db.close();
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof ConfigError || err instanceof CoinbridgeError ? err.message : (err as Error).message}\n`);
  process.exit(1);
});
