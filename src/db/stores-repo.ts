import { generateApiKey, hashApiKey } from '../crypto/api-keys.ts';
import type { SecretBox } from '../crypto/secret-box.ts';
import { readSettings, type MerchantSettings } from '../core/settings.ts';
import type { ConnectionMode, GatewayConnection, GatewayCredentials, GatewayName } from '../gateways/types.ts';
import type { Queryable } from './database.ts';

export interface Store {
  id: string;
  name: string;
  platform: 'direct' | 'shopify' | 'woocommerce';
  settings: MerchantSettings;
}

function toStore(r: Record<string, any>): Store {
  return { id: r.id, name: r.name, platform: r.platform, settings: readSettings(r.settings) };
}

export async function createStore(q: Queryable, input: { name: string; platform?: Store['platform']; settings?: Partial<MerchantSettings> }): Promise<Store> {
  const { rows } = await q.query('INSERT INTO stores (name, platform, settings) VALUES ($1, $2, $3) RETURNING *', [
    input.name, input.platform ?? 'direct', JSON.stringify(input.settings ?? {}),
  ]);
  return toStore(rows[0]);
}

export async function findStore(q: Queryable, id: string): Promise<Store | undefined> {
  const { rows } = await q.query('SELECT * FROM stores WHERE id = $1', [id]);
  return rows[0] ? toStore(rows[0]) : undefined;
}

export async function updateStoreSettings(q: Queryable, id: string, settings: MerchantSettings): Promise<void> {
  await q.query('UPDATE stores SET settings = $2 WHERE id = $1', [id, JSON.stringify(settings)]);
}

/** Makes a store API key; the returned key is the only copy that will ever exist. */
export async function issueApiKey(q: Queryable, storeId: string): Promise<string> {
  const { key, prefix, hash } = generateApiKey();
  await q.query('INSERT INTO store_api_keys (store_id, prefix, key_hash) VALUES ($1, $2, $3)', [storeId, prefix, hash]);
  return key;
}

export async function storeForApiKey(q: Queryable, key: string): Promise<Store | undefined> {
  const { rows } = await q.query(
    'SELECT s.* FROM store_api_keys k JOIN stores s ON s.id = k.store_id WHERE k.key_hash = $1 AND k.revoked_at IS NULL',
    [hashApiKey(key)],
  );
  return rows[0] ? toStore(rows[0]) : undefined;
}

export async function insertConnection(
  q: Queryable, box: SecretBox,
  input: { storeId: string; gateway: GatewayName; mode: ConnectionMode; credentials: GatewayCredentials; id?: string; role?: 'default' | 'fallback' | 'extra' },
): Promise<GatewayConnection> {
  // A store's first connection is its default whatever was asked: a store must be able to take payments.
  const { rows: current } = await q.query('SELECT 1 FROM gateway_connections WHERE store_id = $1 AND is_default', [input.storeId]);
  const role = current.length === 0 ? 'default' : (input.role ?? 'default');
  if (role === 'default') await q.query('UPDATE gateway_connections SET is_default = false WHERE store_id = $1 AND is_default', [input.storeId]);
  if (role === 'fallback') await q.query('UPDATE gateway_connections SET is_fallback = false WHERE store_id = $1 AND is_fallback', [input.storeId]);
  const { rows } = await q.query(
    `INSERT INTO gateway_connections (id, store_id, gateway, mode, credentials, is_default, is_fallback)
     VALUES (coalesce($1, gen_random_uuid()), $2, $3, $4, $5, $6, $7) RETURNING id`,
    [input.id ?? null, input.storeId, input.gateway, input.mode, box.sealJson(input.credentials), role === 'default', role === 'fallback'],
  );
  return { id: rows[0].id, storeId: input.storeId, gateway: input.gateway, mode: input.mode, credentials: input.credentials };
}

function toConnection(r: Record<string, any>, box: SecretBox): GatewayConnection {
  return { id: r.id, storeId: r.store_id, gateway: r.gateway, mode: r.mode, credentials: box.openJson<GatewayCredentials>(r.credentials) };
}

export async function findConnection(q: Queryable, box: SecretBox, id: string): Promise<GatewayConnection | undefined> {
  const { rows } = await q.query('SELECT * FROM gateway_connections WHERE id = $1', [id]);
  return rows[0] ? toConnection(rows[0], box) : undefined;
}

export async function defaultConnection(q: Queryable, box: SecretBox, storeId: string): Promise<GatewayConnection | undefined> {
  const { rows } = await q.query('SELECT * FROM gateway_connections WHERE store_id = $1 AND is_default', [storeId]);
  return rows[0] ? toConnection(rows[0], box) : undefined;
}

/** The store's default connection, then its fallback if the merchant enabled one. */
export async function servingConnections(q: Queryable, box: SecretBox, storeId: string): Promise<{ primary: GatewayConnection; fallback?: GatewayConnection } | undefined> {
  const { rows } = await q.query(
    'SELECT * FROM gateway_connections WHERE store_id = $1 AND (is_default OR is_fallback) AND disabled_at IS NULL ORDER BY is_default DESC', [storeId]);
  const primary = rows.find((r) => r.is_default);
  if (!primary) return undefined;
  const fallback = rows.find((r) => r.is_fallback);
  return { primary: toConnection(primary, box), ...(fallback ? { fallback: toConnection(fallback, box) } : {}) };
}

/** What the merchant sees of a store's connections: never the credentials. */
export interface ConnectionSummary {
  id: string;
  gateway: GatewayName;
  mode: ConnectionMode;
  role: 'default' | 'fallback' | 'extra';
  createdAt: Date;
  rejectedCallbacks: number;
}

export async function listConnections(q: Queryable, storeId: string): Promise<ConnectionSummary[]> {
  const { rows } = await q.query(
    `SELECT id, gateway, mode, is_default, is_fallback, created_at, rejected_callbacks FROM gateway_connections
     WHERE store_id = $1 AND disabled_at IS NULL ORDER BY is_default DESC, is_fallback DESC, created_at DESC`, [storeId]);
  return rows.map((r) => ({
    id: r.id, gateway: r.gateway, mode: r.mode, role: r.is_default ? 'default' : r.is_fallback ? 'fallback' : 'extra',
    createdAt: r.created_at, rejectedCallbacks: Number(r.rejected_callbacks),
  }));
}
