import type { Database } from '../../db/database.ts';
import type { WooClient } from './client.ts';
import type { WooStore } from './stores.ts';

export const WOO_TOPICS = ['order.created', 'order.updated'] as const;

interface WooWebhook { id: number; topic: string; delivery_url: string; status: string }

export function deliveryUrl(publicUrl: string, storeId: string): string {
  return `${publicUrl}/woocommerce/webhooks/${storeId}`;
}

/**
 * Makes sure the store has Coinbridge's two webhooks, active. WooCommerce never retries a
 * delivery and disables a webhook after repeated failures, and a merchant may delete one; either
 * way it is put back here, and the store's webhook health says what happened.
 */
export async function ensureWebhooks(db: Database, client: WooClient, store: Pick<WooStore, 'storeId' | 'webhookSecret'>, publicUrl: string): Promise<{ health: 'ok' | 'recreated'; note: string | null }> {
  const url = deliveryUrl(publicUrl, store.storeId);
  const { data } = await client.get<WooWebhook[]>('webhooks', { per_page: 100 });
  const problems: string[] = [];
  const ids: Record<string, number> = {};
  for (const topic of WOO_TOPICS) {
    const ours = data.filter((w) => w.topic === topic && w.delivery_url === url);
    const active = ours.find((w) => w.status === 'active');
    if (active) {
      ids[topic] = active.id;
      continue;
    }
    const stopped = ours[0];
    if (stopped) {
      // Re-activating keeps the secret WooCommerce already has; ours is only ever set on create.
      await client.put(`webhooks/${stopped.id}`, { status: 'active' });
      ids[topic] = stopped.id;
      problems.push(`${topic} webhook was ${stopped.status}; re-activated`);
    } else {
      const created = await client.post<WooWebhook>('webhooks', { name: `Coinbridge ${topic}`, topic, delivery_url: url, secret: store.webhookSecret, status: 'active' });
      ids[topic] = created.data.id;
      problems.push(`${topic} webhook was missing; created`);
    }
  }
  const health = problems.length === 0 ? 'ok' : 'recreated';
  const note = problems.length ? problems.join('; ') : null;
  await db.pool.query(
    `UPDATE woocommerce_stores SET webhook_ids = $2, webhook_health = $3, webhook_note = coalesce($4, webhook_note), webhook_checked_at = now(),
       webhook_repaired_at = CASE WHEN $3 = 'recreated' THEN now() ELSE webhook_repaired_at END WHERE store_id = $1`,
    [store.storeId, JSON.stringify(ids), health, note],
  );
  return { health, note };
}
