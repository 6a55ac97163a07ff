import { UpstreamRefusal } from '../../errors.ts';
import type { JobHandler } from '../../jobs/queue.ts';
import type { Logger } from '../../observability/log.ts';
import type { ShopifyAdmin } from './admin.ts';
import { API_SUBSCRIBED_TOPICS, graphqlTopic } from './topics.ts';

const CREATE = `mutation webhookSubscriptionCreate($topic: WebhookSubscriptionTopic!, $webhookSubscription: WebhookSubscriptionInput!) {
  webhookSubscriptionCreate(topic: $topic, webhookSubscription: $webhookSubscription) { webhookSubscription { id } userErrors { field message } }
}`;

/**
 * Subscribes the shop's order and uninstall webhooks after install (the compliance topics come
 * from the app configuration; Shopify does not take them over the API). Re-running is harmless:
 * "already taken" means it is there.
 */
export function registerWebhooksJob(deps: { admin: ShopifyAdmin; publicUrl: string; log: Logger }): JobHandler<{ shop: string }> {
  return {
    name: 'shopify.register-webhooks',
    maxAttempts: 12,
    async run(data) {
      const callbackUrl = `${deps.publicUrl}/shopify/webhooks`;
      for (const topic of API_SUBSCRIBED_TOPICS) {
        const result = await deps.admin.graphql<{ webhookSubscriptionCreate: { userErrors: { message: string }[] } }>(data.shop, CREATE, {
          topic: graphqlTopic(topic), webhookSubscription: { callbackUrl, format: 'JSON' },
        });
        const errors = result.webhookSubscriptionCreate.userErrors.filter((e) => !/already been taken/i.test(e.message));
        if (errors.length) throw new UpstreamRefusal('shopify_webhook_refused', `Shopify refused the ${topic} webhook for ${data.shop}: ${errors.map((e) => e.message).join('; ')}`);
      }
      deps.log.info({ shop: data.shop, topics: API_SUBSCRIBED_TOPICS }, 'Shopify webhooks registered');
    },
  };
}
