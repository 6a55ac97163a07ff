import crypto from 'node:crypto';
import type { SecretBox } from '../crypto/secret-box.ts';
import { withTransaction, type Database } from '../db/database.ts';
import { insertConnection } from '../db/stores-repo.ts';
import { createSandboxAccount, setSandboxSettings } from '../gateways/sandbox/sandbox-store.ts';
import type { GatewayRegistry } from '../gateways/registry.ts';
import type { ConnectionMode, GatewayConnection, GatewayCredentials, GatewayName } from '../gateways/types.ts';

/**
 * Saves a store's gateway connection after proving it works: the credentials are tested and the
 * gateway is told where to send callbacks (`/ipn/{gateway}/{connectionId}`) before anything is
 * stored. In sandbox mode a sandbox merchant account is made on the spot.
 */
export async function connectGateway(
  deps: { db: Database; box: SecretBox; gateways: GatewayRegistry; publicUrl: string },
  input: { storeId: string; gateway: GatewayName; mode: ConnectionMode; credentials?: GatewayCredentials },
): Promise<GatewayConnection> {
  const id = crypto.randomUUID();
  if (input.mode === 'sandbox' && !input.credentials) {
    // The sandbox lives in this database: open its merchant account and point it at us directly,
    // which also works before the server listens (seeding, the CLI on the embedded database).
    const account = await createSandboxAccount(deps.db.pool);
    await setSandboxSettings(deps.db.pool, account.apiKey, callbackUrl(deps.publicUrl, { gateway: input.gateway, id }), 1);
    const credentials = { apiKey: account.apiKey, ipnSecret: account.secret };
    return withTransaction(deps.db.pool, (tx) => insertConnection(tx, deps.box, { id, storeId: input.storeId, gateway: input.gateway, mode: 'sandbox', credentials }));
  }
  if (!input.credentials) throw new Error('live connections need the gateway API key and IPN secret');
  const conn: GatewayConnection = { id, storeId: input.storeId, gateway: input.gateway, mode: input.mode, credentials: input.credentials };
  const adapter = deps.gateways.adapterFor(conn);
  await adapter.testConnection(conn);
  await adapter.configureCallbacks(conn, callbackUrl(deps.publicUrl, conn));
  return withTransaction(deps.db.pool, (tx) => insertConnection(tx, deps.box, conn));
}

export function callbackUrl(publicUrl: string, conn: Pick<GatewayConnection, 'gateway' | 'id'>): string {
  return `${publicUrl}/ipn/${conn.gateway}/${conn.id}`;
}
