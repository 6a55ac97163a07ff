import { z } from 'zod';
import type { StoredStatus } from '../../core/status.ts';
import type { SecretBox } from '../../crypto/secret-box.ts';
import type { Queryable } from '../../db/database.ts';
import { WooClient } from './client.ts';

/** WooCommerce order statuses Coinbridge may write. */
const WOO_STATUS = z.enum(['pending', 'on-hold', 'processing', 'completed', 'cancelled', 'failed']);

/** The merchant's map from payment status to order status, and whether notes reach the customer. */
export const WooSettingsSchema = z.object({
  statusMap: z.object({
    created: WOO_STATUS.default('pending'),
    pending: WOO_STATUS.default('pending'),
    confirming: WOO_STATUS.default('on-hold'),
    underpaid: WOO_STATUS.default('on-hold'),
    paid: WOO_STATUS.default('processing'),
    overpaid: WOO_STATUS.default('processing'),
    paid_late: WOO_STATUS.default('processing'),
    expired: WOO_STATUS.default('cancelled'),
    cancelled: WOO_STATUS.default('cancelled'),
    review: WOO_STATUS.default('on-hold'),
  }).prefault({}),
  customerNotes: z.boolean().default(false),
});
export type WooSettings = z.infer<typeof WooSettingsSchema>;
export type MappedStatus = keyof WooSettings['statusMap'];

export function readWooSettings(stored: unknown): WooSettings {
  const parsed = WooSettingsSchema.safeParse(stored ?? {});
  return parsed.success ? parsed.data : WooSettingsSchema.parse({});
}

export function mappedStatus(status: StoredStatus): MappedStatus | undefined {
  return status === 'initiating' || status === 'failed' ? undefined : status;
}

export interface WooStore {
  storeId: string;
  storeUrl: string;
  consumerKey: string;
  consumerSecret: string;
  webhookSecret: string;
  status: 'connecting' | 'connected' | 'failed';
  webhookIds: Record<string, number>;
  settings: WooSettings;
}

function toWooStore(r: Record<string, any>, box: SecretBox): WooStore {
  return {
    storeId: r.store_id, storeUrl: r.store_url, consumerKey: box.open(r.consumer_key), consumerSecret: box.open(r.consumer_secret),
    webhookSecret: box.open(r.webhook_secret), status: r.status, webhookIds: r.webhook_ids ?? {}, settings: readWooSettings(r.settings),
  };
}

export async function findWooStore(q: Queryable, box: SecretBox, storeId: string): Promise<WooStore | undefined> {
  const { rows } = await q.query('SELECT * FROM woocommerce_stores WHERE store_id = $1', [storeId]);
  return rows[0] ? toWooStore(rows[0], box) : undefined;
}

export async function connectedWooStores(q: Queryable, box: SecretBox): Promise<WooStore[]> {
  const { rows } = await q.query(`SELECT * FROM woocommerce_stores WHERE status = 'connected' ORDER BY created_at`);
  return rows.map((r) => toWooStore(r, box));
}

/** The store's address as Coinbridge keeps it: origin plus path, no trailing slash. */
export function normaliseStoreUrl(url: URL): string {
  return `${url.protocol}//${url.host}${url.pathname.replace(/\/+$/, '')}`;
}

export function clientFor(store: Pick<WooStore, 'storeUrl' | 'consumerKey' | 'consumerSecret'>, opts: { allowPrivate: boolean; timeoutMs: number }): WooClient {
  return new WooClient({ storeUrl: store.storeUrl, consumerKey: store.consumerKey, consumerSecret: store.consumerSecret }, opts);
}
