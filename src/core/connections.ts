import crypto from 'node:crypto';
import type { SecretBox } from '../crypto/secret-box.ts';
import { withTransaction, type Database, type Queryable } from '../db/database.ts';
import { insertConnection } from '../db/stores-repo.ts';
import { InputError } from '../errors.ts';
import { checkMerchantUrl } from '../net/url-guard.ts';
import { createSandboxAccount, setSandboxSettings } from '../gateways/sandbox/sandbox-store.ts';
import { sandboxSkin } from '../gateways/sandbox/skins.ts';
import type { GatewayRegistry } from '../gateways/registry.ts';
import type { ConnectionMode, GatewayConnection, GatewayCredentials, GatewayName } from '../gateways/types.ts';

export interface ConnectDeps {
  db: Database;
  box: SecretBox;
  gateways: GatewayRegistry;
  publicUrl: string;
  /** ALLOW_PRIVATE_URLS: a self-hosted gateway's instance may be on loopback (development, tests). */
  allowPrivateUrls?: boolean;
}

/**
 * Saves a store's gateway connection after proving it works: the credentials are tested and the
 * gateway is told where to send callbacks (`/ipn/{gateway}/{connectionId}`) before anything is
 * stored. In sandbox mode a sandbox merchant account of that gateway is made on the spot.
 *
 * `role` says what the new connection is for the store: its `default` (the store's first
 * connection always is), its `fallback`, or neither (`extra`, kept for the merchant to pick later).
 */
export async function connectGateway(
  deps: ConnectDeps,
  input: { storeId: string; gateway: GatewayName; mode: ConnectionMode; credentials?: GatewayCredentials; role?: ConnectionRole },
  /** Runs in the transaction that saves the connection (an audit entry commits with it or not at all). */
  inTransaction?: (tx: Queryable, conn: GatewayConnection) => Promise<void>,
): Promise<GatewayConnection> {
  const role = input.role ?? 'default';
  const save = (conn: GatewayConnection) => withTransaction(deps.db.pool, async (tx) => {
    const saved = await insertConnection(tx, deps.box, { ...conn, role });
    await inTransaction?.(tx, saved);
    return saved;
  });
  const id = crypto.randomUUID();
  if (input.mode === 'sandbox' && !input.credentials) {
    // The sandbox lives in this database: open its merchant account and point it at us directly,
    // which also works before the server listens (seeding, the CLI on the embedded database).
    const account = await createSandboxAccount(deps.db.pool, { gateway: input.gateway, ...sandboxSkin(input.gateway).newAccount() });
    await setSandboxSettings(deps.db.pool, account.apiKey, callbackUrl(deps.publicUrl, { gateway: input.gateway, id }), 1);
    return save({ id, storeId: input.storeId, gateway: input.gateway, mode: 'sandbox', credentials: { apiKey: account.apiKey, ipnSecret: account.secret } });
  }
  if (!input.credentials) throw new InputError('credentials_required', 'Live connections need the gateway API key and callback secret.', 400);
  const credentials = { ...input.credentials };
  if (input.gateway === 'crypto-checkout') {
    // Self-hosted: the merchant names their instance, so it is a merchant URL like any other (SSRF rules).
    if (!credentials.apiOrigin) throw new InputError('instance_url_required', 'Crypto Checkout is self-hosted: give the address of your instance (https://…).', 400);
    const checked = await checkMerchantUrl(credentials.apiOrigin, { allowPrivate: deps.allowPrivateUrls ?? false });
    if (!checked.ok) throw new InputError('instance_url_refused', `The Crypto Checkout instance URL was refused: ${checked.reason}.`, 400);
    credentials.apiOrigin = checked.url.origin;
  } else {
    delete credentials.apiOrigin;
  }
  const conn: GatewayConnection = { id, storeId: input.storeId, gateway: input.gateway, mode: input.mode, credentials };
  const adapter = deps.gateways.adapterFor(conn);
  await adapter.testConnection(conn);
  await adapter.configureCallbacks(conn, callbackUrl(deps.publicUrl, conn));
  return save(conn);
}

export function callbackUrl(publicUrl: string, conn: Pick<GatewayConnection, 'gateway' | 'id'>): string {
  return `${publicUrl}/ipn/${conn.gateway}/${conn.id}`;
}

export type ConnectionRole = 'default' | 'fallback' | 'extra';

/**
 * The merchant's choice: which connection serves new payments, and which (if any) takes over
 * when it refuses or fails to create one. Both must be the store's own, live or sandbox alike,
 * and different. Payments already made keep the connection that made them.
 */
export async function chooseGateways(q: Queryable, storeId: string, choice: { defaultId: string; fallbackId: string | null }): Promise<void> {
  if (choice.fallbackId !== null && choice.fallbackId === choice.defaultId) {
    throw new InputError('fallback_is_default', 'The fallback gateway must be a different connection from the default one.', 422);
  }
  const wanted = [choice.defaultId, ...(choice.fallbackId ? [choice.fallbackId] : [])];
  const { rows } = await q.query('SELECT id FROM gateway_connections WHERE store_id = $1 AND id = ANY($2::uuid[]) AND disabled_at IS NULL', [storeId, wanted]);
  if (rows.length !== wanted.length) {
    throw new InputError('unknown_connection', "That gateway connection does not exist for this store; list the store's connections and pick one of their ids.", 404);
  }
  // Clear first, then set: the one-default and one-fallback indexes hold at every statement.
  await q.query('UPDATE gateway_connections SET is_default = false, is_fallback = false WHERE store_id = $1 AND (is_default OR is_fallback)', [storeId]);
  await q.query('UPDATE gateway_connections SET is_default = true WHERE id = $1', [choice.defaultId]);
  if (choice.fallbackId) await q.query('UPDATE gateway_connections SET is_fallback = true WHERE id = $1', [choice.fallbackId]);
}
