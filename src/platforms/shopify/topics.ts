/**
 * The webhook topics Coinbridge handles (also declared in plugins/shopify/shopify.app.toml).
 * The compliance topics cannot be subscribed through the Admin API; Shopify takes them from the
 * app configuration only, so install registers the others.
 */
export const SHOPIFY_WEBHOOK_TOPICS = ['orders/create', 'orders/cancelled', 'app/uninstalled', 'customers/data_request', 'customers/redact', 'shop/redact'] as const;
export type ShopifyWebhookTopic = (typeof SHOPIFY_WEBHOOK_TOPICS)[number];

export const COMPLIANCE_TOPICS: readonly ShopifyWebhookTopic[] = ['customers/data_request', 'customers/redact', 'shop/redact'];

/** Topics subscribed through `webhookSubscriptionCreate` on install, as GraphQL enum values. */
export const API_SUBSCRIBED_TOPICS = SHOPIFY_WEBHOOK_TOPICS.filter((t) => !COMPLIANCE_TOPICS.includes(t));

export function graphqlTopic(topic: ShopifyWebhookTopic): string {
  return topic.replace('/', '_').toUpperCase();
}

export function isShopifyWebhookTopic(value: string): value is ShopifyWebhookTopic {
  return (SHOPIFY_WEBHOOK_TOPICS as readonly string[]).includes(value);
}
