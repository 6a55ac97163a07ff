import crypto from 'node:crypto';
import type { SecretBox } from '../crypto/secret-box.ts';
import type { Database } from '../db/database.ts';
import { insertConnection } from '../db/stores-repo.ts';
import { createSandboxAccount } from '../gateways/sandbox/sandbox-store.ts';
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
  const credentials = input.mode === 'sandbox' && !input.credentials
    ? await sandboxCredentials(deps.db)
    : input.credentials;
  if (!credentials) throw new Error('live connections need the gateway API key and IPN secret');
  const conn: GatewayConnection = { id: crypto.randomUUID(), storeId: input.storeId, gateway: input.gateway, mode: input.mode, credentials };
  const adapter = deps.gateways.adapterFor(conn);
  await adapter.testConnection(conn);
  await adapter.configureCallbacks(conn, callbackUrl(deps.publicUrl, conn));
  return insertConnection(deps.db.pool, deps.box, { ...conn, id: conn.id });
}

export function callbackUrl(publicUrl: string, conn: Pick<GatewayConnection, 'gateway' | 'id'>): string {
  return `${publicUrl}/ipn/${conn.gateway}/${conn.id}`;
}

async function sandboxCredentials(db: Database): Promise<GatewayCredentials> {
  const account = await createSandboxAccount(db.pool);
  return { apiKey: account.apiKey, ipnSecret: account.secret };
}
