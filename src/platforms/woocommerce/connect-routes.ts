import crypto from 'node:crypto';
import Router from '@koa/router';
import { z } from 'zod';
import type { SecretBox } from '../../crypto/secret-box.ts';
import { sha256Hex } from '../../crypto/signatures.ts';
import { withTransaction, type Database } from '../../db/database.ts';
import { createStore } from '../../db/stores-repo.ts';
import { InputError } from '../../errors.ts';
import { readJsonObject } from '../../http/body.ts';
import { enqueueJob, type JobWaker } from '../../jobs/queue.ts';
import { checkMerchantUrl } from '../../net/url-guard.ts';
import type { Logger } from '../../observability/log.ts';
import { normaliseStoreUrl } from './stores.ts';

/** How long the merchant has to approve the key request in WooCommerce. */
const CONNECT_TTL_MIN = 15;
const BODY_LIMIT = 16 * 1024;
const CLAIM_HASH = /^[0-9a-f]{64}$/;

const KeysPosted = z.object({
  key_id: z.union([z.number().int(), z.string().regex(/^\d{1,20}$/)]),
  user_id: z.union([z.string(), z.number()]).transform(String),
  consumer_key: z.string().regex(/^ck_[0-9a-f]{40}$/),
  consumer_secret: z.string().regex(/^cs_[0-9a-f]{40}$/),
  key_permissions: z.string(),
});

const Claim = z.object({ storeUrl: z.string().max(2000), claimSecret: z.string().regex(/^[0-9a-f]{64}$/) }).strict();

/**
 * Connecting a WooCommerce store by WooCommerce's own key request (wc-auth): the plugin sends the
 * merchant here with a hash of a secret only it holds; WooCommerce posts REST keys to the
 * single-use callback; a job checks the keys and creates the webhooks; the plugin then fetches
 * its Coinbridge API key once, proving it holds the secret.
 */
export function wooConnectRoutes(deps: { db: Database; box: SecretBox; publicUrl: string; allowPrivate: boolean; log: Logger; waker: JobWaker }): Router {
  const router = new Router({ prefix: '/woocommerce' });

  router.get('/connect', async (ctx) => {
    const rawUrl = typeof ctx.query.store_url === 'string' ? ctx.query.store_url.trim() : '';
    const claimHash = typeof ctx.query.claim_hash === 'string' ? ctx.query.claim_hash.toLowerCase() : '';
    if (!CLAIM_HASH.test(claimHash)) throw new InputError('invalid_claim_hash', 'Start connecting from the Coinbridge plugin\'s settings page (claim_hash is missing or malformed).', 400);
    const checked = await checkMerchantUrl(rawUrl, { allowPrivate: deps.allowPrivate });
    if (!checked.ok) throw new InputError('invalid_store_url', `The store URL was refused: ${checked.reason}. Use the store's public https address.`, 400);
    const storeUrl = normaliseStoreUrl(checked.url);
    const nonce = crypto.randomBytes(24).toString('base64url');
    await deps.db.pool.query(
      `INSERT INTO woocommerce_connects (nonce, store_url, claim_hash, expires_at) VALUES ($1, $2, $3, now() + $4 * interval '1 minute')`,
      [nonce, storeUrl, claimHash, CONNECT_TTL_MIN],
    );
    const authorize = new URL(`${storeUrl}/wc-auth/v1/authorize`);
    authorize.search = new URLSearchParams({
      app_name: 'Coinbridge', scope: 'read_write', user_id: nonce,
      return_url: returnUrlFor(storeUrl, ctx.query.return_url),
      callback_url: `${deps.publicUrl}/woocommerce/callback/${nonce}`,
    }).toString();
    ctx.redirect(authorize.toString());
  });

  router.post('/callback/:nonce', async (ctx) => {
    const parsed = KeysPosted.safeParse(await readJsonObject(ctx, BODY_LIMIT));
    if (!parsed.success) throw new InputError('invalid_keys', 'The posted body is not a WooCommerce key grant.', 400);
    const keys = parsed.data;
    if (keys.key_permissions !== 'read_write') throw new InputError('insufficient_permissions', 'Coinbridge needs read_write keys to update orders.', 400);
    const outcome = await withTransaction(deps.db.pool, async (tx) => {
      // Single use: the nonce is spent by the first post, valid or not after that.
      const { rows } = await tx.query(
        'UPDATE woocommerce_connects SET used_at = now() WHERE nonce = $1 AND used_at IS NULL AND expires_at > now() RETURNING store_url, claim_hash',
        [ctx.params.nonce],
      );
      const connect = rows[0];
      if (!connect || keys.user_id !== ctx.params.nonce) return undefined;
      const existing = await tx.query('SELECT store_id FROM woocommerce_stores WHERE store_url = $1 FOR UPDATE', [connect.store_url]);
      const storeId: string = existing.rows[0]?.store_id ?? (await createStore(tx, { name: new URL(connect.store_url).host, platform: 'woocommerce' })).id;
      const sealed = [deps.box.seal(keys.consumer_key), deps.box.seal(keys.consumer_secret), keys.key_permissions, deps.box.seal(crypto.randomBytes(32).toString('base64url'))];
      await tx.query(
        `INSERT INTO woocommerce_stores (store_id, store_url, consumer_key, consumer_secret, key_permissions, webhook_secret, status, claim_hash)
         VALUES ($1, $2, $3, $4, $5, $6, 'connecting', $7)
         ON CONFLICT (store_id) DO UPDATE SET consumer_key = EXCLUDED.consumer_key, consumer_secret = EXCLUDED.consumer_secret,
           key_permissions = EXCLUDED.key_permissions, webhook_secret = EXCLUDED.webhook_secret, status = 'connecting', failure_reason = NULL,
           claim_hash = EXCLUDED.claim_hash, pending_api_key = NULL, claimed_at = NULL`,
        [storeId, connect.store_url, ...sealed, connect.claim_hash],
      );
      await enqueueJob(tx, { name: 'woocommerce.connect', data: { storeId } });
      return { storeId, storeUrl: connect.store_url as string };
    });
    if (!outcome) throw new InputError('unknown_connect', 'This connect link is unknown, expired or already used; click Connect again in the plugin.', 404);
    deps.waker.wake('woocommerce.connect');
    deps.log.info({ storeId: outcome.storeId, storeUrl: outcome.storeUrl }, 'WooCommerce keys received');
    ctx.status = 200;
    ctx.body = { ok: true };
  });

  router.post('/claim', async (ctx) => {
    const parsed = Claim.safeParse(await readJsonObject(ctx, BODY_LIMIT));
    if (!parsed.success) throw new InputError('invalid_claim', 'Send {"storeUrl", "claimSecret"} as the plugin does.', 400);
    const hash = sha256Hex(parsed.data.claimSecret);
    const result = await withTransaction(deps.db.pool, async (tx) => {
      const { rows } = await tx.query('SELECT store_id, store_url, status, failure_reason, pending_api_key, claimed_at FROM woocommerce_stores WHERE claim_hash = $1 FOR UPDATE', [hash]);
      const row = rows[0];
      if (!row || !sameStore(row.store_url, parsed.data.storeUrl)) return { status: 404, body: { error: { code: 'unknown_claim', message: 'No connection is waiting for this plugin; click Connect again.' } } };
      if (row.status === 'connecting') return { status: 202, body: { status: 'pending' } };
      if (row.status === 'failed') return { status: 409, body: { error: { code: 'connect_failed', message: `Connecting failed: ${row.failure_reason}` } } };
      if (!row.pending_api_key) return { status: 410, body: { error: { code: 'already_claimed', message: 'This API key was already fetched; click Connect again to get a new one.' } } };
      await tx.query('UPDATE woocommerce_stores SET pending_api_key = NULL, claimed_at = now() WHERE store_id = $1', [row.store_id]);
      return { status: 200, body: { storeId: row.store_id, apiKey: deps.box.open(row.pending_api_key) } };
    });
    ctx.set('Cache-Control', 'no-store');
    ctx.status = result.status;
    ctx.body = result.body;
  });

  return router;
}

/**
 * Where WooCommerce sends the merchant afterwards: the plugin's settings page. The plugin names it
 * (WordPress may live in a subdirectory); it must be on the store's own origin, or it is ignored.
 */
function returnUrlFor(storeUrl: string, given: unknown): string {
  const fallback = `${storeUrl}/wp-admin/admin.php?page=wc-settings&tab=checkout&section=coinbridge&coinbridge_return=1`;
  if (typeof given !== 'string') return fallback;
  try {
    const url = new URL(given);
    return url.origin === new URL(storeUrl).origin && (url.protocol === 'https:' || url.protocol === 'http:') ? url.toString() : fallback;
  } catch {
    return fallback;
  }
}

function sameStore(stored: string, given: string): boolean {
  try {
    return normaliseStoreUrl(new URL(given)) === stored;
  } catch {
    return false;
  }
}
