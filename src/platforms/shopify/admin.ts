import { GraphqlQueryError, HttpRequestError, HttpResponseError, Session } from '@shopify/shopify-api';
import type { SecretBox } from '../../crypto/secret-box.ts';
import { withTransaction, type Database } from '../../db/database.ts';
import { UpstreamError, UpstreamRefusal } from '../../errors.ts';
import type { Logger } from '../../observability/log.ts';
import { appForShop } from './apps.ts';
import type { ShopifyClients } from './clients.ts';
import { findShop, saveShopToken, type ShopRecord } from './shops.ts';

/** Refresh an expiring offline token this long before Shopify would refuse it. */
const REFRESH_MARGIN_MS = 5 * 60_000;

/** The shop uninstalled the app (or never finished installing): no Admin call may be made. */
export class ShopNotInstalled extends UpstreamRefusal {
  constructor(shop: string) {
    super('shop_not_installed', `Coinbridge is not installed on ${shop}; nothing was sent to Shopify.`);
  }
}

interface GraphqlErrorEntry { message?: string; extensions?: { code?: string } }

/**
 * Admin GraphQL for a shop, through `@shopify/shopify-api` (its transport goes to the emulator
 * under the `SHOPIFY_ADMIN_ORIGIN` seam). Refreshes expiring tokens; turns Shopify's answers into
 * Coinbridge errors a job can act on: cost throttling and 5xx retry later (with the wait Shopify
 * implies), anything else is final.
 */
export class ShopifyAdmin {
  readonly #db: Database;
  readonly #box: SecretBox;
  readonly #clients: ShopifyClients;
  readonly #log: Logger;

  constructor(deps: { db: Database; box: SecretBox; clients: ShopifyClients; log: Logger }) {
    this.#db = deps.db;
    this.#box = deps.box;
    this.#clients = deps.clients;
    this.#log = deps.log;
  }

  async graphql<T = Record<string, any>>(shop: string, query: string, variables: Record<string, unknown> = {}): Promise<T> {
    const { api, session } = await this.#sessionFor(shop);
    const client = new api.clients.Graphql({ session });
    try {
      const response = await client.request(query, { variables });
      return response.data as T;
    } catch (err) {
      throw this.#translate(shop, err);
    }
  }

  async #sessionFor(shop: string) {
    const record = await findShop(this.#db.pool, this.#box, shop);
    const app = record?.installed ? await appForShop(this.#db.pool, this.#box, shop) : undefined;
    if (!record?.installed || !record.accessToken || !app) throw new ShopNotInstalled(shop);
    const api = this.#clients.for(app);
    const accessToken = await this.#freshToken(record, app.id, api);
    return { api, session: new Session({ id: `offline_${shop}`, shop, state: '', isOnline: false, accessToken }) };
  }

  async #freshToken(record: ShopRecord, appId: string, api: ReturnType<ShopifyClients['for']>): Promise<string> {
    if (!needsRefresh(record)) return record.accessToken!;
    // One refresh per shop at a time, across jobs and processes (the shop's row lock). Each
    // refresh rotates the refresh token: two at once would each store their pair, the last write
    // winning even when it holds the older token and the refresh token the other one spent.
    return withTransaction(this.#db.pool, async (tx) => {
      const current = await findShop(tx, this.#box, record.domain, { forUpdate: true });
      if (!current?.installed || !current.accessToken) throw new ShopNotInstalled(record.domain);
      if (!needsRefresh(current)) return current.accessToken; // refreshed by another worker meanwhile
      try {
        const { session } = await api.auth.refreshToken({ shop: current.domain, refreshToken: current.refreshToken! });
        await saveShopToken(tx, this.#box, {
          shop: current.domain, appId, via: 'refresh',
          token: { accessToken: session.accessToken ?? '', scopes: session.scope ?? '', expiresAt: session.expires, refreshToken: session.refreshToken, refreshTokenExpiresAt: session.refreshTokenExpires },
        });
        this.#log.info({ shop: current.domain }, 'Shopify offline token refreshed');
        return session.accessToken ?? '';
      } catch (err) {
        throw this.#translate(current.domain, err);
      }
    });
  }

  #translate(shop: string, err: unknown): Error {
    if (err instanceof GraphqlQueryError) {
      const body = err.body as { errors?: { graphQLErrors?: GraphqlErrorEntry[] }; extensions?: { cost?: { requestedQueryCost?: number; throttleStatus?: { currentlyAvailable?: number; restoreRate?: number } } } } | undefined;
      const errors = body?.errors?.graphQLErrors ?? [];
      if (errors.some((e) => e.extensions?.code === 'THROTTLED')) {
        const cost = body?.extensions?.cost;
        const missing = (cost?.requestedQueryCost ?? 0) - (cost?.throttleStatus?.currentlyAvailable ?? 0);
        const rate = cost?.throttleStatus?.restoreRate ?? 50;
        return new UpstreamError('shopify_throttled', `Shopify throttled the Admin API call for ${shop}`, { retryAfterMs: Math.max(500, Math.ceil((missing / rate) * 1000)) });
      }
      return new UpstreamRefusal('shopify_graphql_error', `Shopify refused the Admin API call for ${shop}: ${errors.map((e) => e.message).join('; ') || err.message}`);
    }
    if (err instanceof HttpResponseError) {
      const status = err.response.code;
      if (status === 429 || status >= 500) {
        const retryAfter = Number(err.response.headers?.['Retry-After'] ?? NaN);
        return new UpstreamError('shopify_unavailable', `Shopify answered ${status} for ${shop}`, Number.isFinite(retryAfter) ? { retryAfterMs: retryAfter * 1000 } : {});
      }
      return new UpstreamRefusal('shopify_refused', `Shopify answered ${status} for ${shop}: ${err.message.split('\n')[0]}`);
    }
    if (err instanceof HttpRequestError) return new UpstreamError('shopify_unreachable', `Shopify could not be reached for ${shop}: ${err.message}`);
    if (err instanceof UpstreamError || err instanceof UpstreamRefusal) return err;
    return new UpstreamError('shopify_unreachable', `Shopify call for ${shop} failed: ${(err as Error).message}`);
  }
}

/** An expiring token within the refresh margin, with a refresh token to renew it. */
function needsRefresh(shop: ShopRecord): boolean {
  return Boolean(shop.tokenExpiresAt && shop.refreshToken && shop.tokenExpiresAt.getTime() - Date.now() <= REFRESH_MARGIN_MS);
}
