import fs from 'node:fs/promises';
import path from 'node:path';
import { connectGateway } from '../core/connections.ts';
import type { SecretBox } from '../crypto/secret-box.ts';
import type { Database } from '../db/database.ts';
import { createStore, issueApiKey, type Store } from '../db/stores-repo.ts';
import type { GatewayRegistry } from '../gateways/registry.ts';
import type { Logger } from '../observability/log.ts';

export const DEMO_STORE_NAME = 'Coinbridge demo store';

/**
 * First start on embedded defaults: a demo store connected to the sandbox gateway, so a new user
 * can click through a whole payment offline. Its API key is written once under DATA_DIR. The
 * store also has the other gateways' sandboxes — Crypto Checkout as its fallback, CryptoNow kept
 * aside — so choosing and falling back can be tried in the console without any keys.
 */
export async function seedDemo(deps: { db: Database; box: SecretBox; gateways: GatewayRegistry; publicUrl: string; dataDir: string; log: Logger }): Promise<Store> {
  const { rows } = await deps.db.pool.query("SELECT id FROM stores WHERE name = $1 AND platform = 'direct' ORDER BY created_at LIMIT 1", [DEMO_STORE_NAME]);
  if (rows[0]) {
    const { findStore } = await import('../db/stores-repo.ts');
    return (await findStore(deps.db.pool, rows[0].id))!;
  }
  const store = await createStore(deps.db.pool, { name: DEMO_STORE_NAME });
  await connectGateway(deps, { storeId: store.id, gateway: 'paymento', mode: 'sandbox', role: 'default' });
  await connectGateway(deps, { storeId: store.id, gateway: 'crypto-checkout', mode: 'sandbox', role: 'fallback' });
  await connectGateway(deps, { storeId: store.id, gateway: 'cryptonow', mode: 'sandbox', role: 'extra' });
  const key = await issueApiKey(deps.db.pool, store.id);
  const file = path.join(deps.dataDir, 'demo-store-api-key.txt');
  await fs.writeFile(file, `${key}\n`, { mode: 0o600 });
  deps.log.info({ storeId: store.id, apiKeyFile: file }, 'demo store created with a sandbox gateway connection');
  return store;
}
