import type { Session } from '@shopify/shopify-api';
import type { SecretBox } from '../../crypto/secret-box.ts';
import { withTransaction, type Database } from '../../db/database.ts';
import { enqueueJob, type JobWaker } from '../../jobs/queue.ts';
import type { ShopifyApp } from './apps.ts';
import { saveShopToken } from './shops.ts';

/**
 * A shop's offline token arrived (code grant or token exchange): keep it sealed, give the shop
 * its store, and — in the same transaction — queue the webhook registration, so a crash right
 * after cannot leave an installed shop that never hears about its orders.
 */
export async function installed(
  deps: { db: Database; box: SecretBox; waker: JobWaker },
  input: { shop: string; app: ShopifyApp; session: Session; via: 'authorization_code' | 'token_exchange' },
): Promise<boolean> {
  const { session } = input;
  const saved = await withTransaction(deps.db.pool, async (tx) => {
    const ok = await saveShopToken(tx, deps.box, {
      shop: input.shop, appId: input.app.id, via: input.via,
      token: { accessToken: session.accessToken ?? '', scopes: session.scope ?? '', expiresAt: session.expires, refreshToken: session.refreshToken, refreshTokenExpiresAt: session.refreshTokenExpires },
    });
    if (ok) await enqueueJob(tx, { name: 'shopify.register-webhooks', data: { shop: input.shop } });
    return ok;
  });
  if (saved) deps.waker.wake('shopify.register-webhooks');
  return saved;
}
