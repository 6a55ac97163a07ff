-- Shopify, after install: expiring tokens, per-shop settings, the webhook inbox, the orders that
-- became payments, and the compliance exports. Plus one platform-neutral fact on payments.

ALTER TABLE shopify_shops
  ADD COLUMN refresh_token text,
  ADD COLUMN refresh_token_expires_at timestamptz,
  ADD COLUMN settings jsonb NOT NULL DEFAULT '{}'::jsonb,
  ADD COLUMN redacted_at timestamptz;

-- Every verified Shopify webhook, once. Shopify's docs name the event id in one place and the
-- webhook id in another as the dedupe key, so both are unique per shop: a delivery repeating
-- either is a duplicate.
CREATE TABLE shopify_webhook_inbox (
  id            bigserial PRIMARY KEY,
  shop_domain   text NOT NULL,
  topic         text NOT NULL,
  webhook_id    text NOT NULL,
  event_id      text,
  -- Order payloads carry personal data; the redact topics overwrite these bytes.
  raw_body      bytea NOT NULL,
  received_at   timestamptz NOT NULL DEFAULT now(),
  processed_at  timestamptz,
  outcome       text
);
CREATE UNIQUE INDEX shopify_webhook_inbox_webhook ON shopify_webhook_inbox (shop_domain, webhook_id);
CREATE UNIQUE INDEX shopify_webhook_inbox_event ON shopify_webhook_inbox (shop_domain, event_id) WHERE event_id IS NOT NULL;

-- A Shopify order paid with the crypto manual method, and its payment.
CREATE TABLE shopify_orders (
  shop_domain     text NOT NULL REFERENCES shopify_shops(shop_domain) ON DELETE CASCADE,
  order_gid       text NOT NULL,
  order_name      text NOT NULL,
  store_id        uuid NOT NULL REFERENCES stores(id) ON DELETE CASCADE,
  payment_id      uuid REFERENCES payments(id) ON DELETE SET NULL,
  customer_gid    text,
  customer_email  text,
  cancelled_at    timestamptz,
  created_at      timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (shop_domain, order_gid)
);
CREATE INDEX shopify_orders_payment ON shopify_orders (payment_id);

-- customers/data_request: what Coinbridge holds about a customer, kept for the merchant.
CREATE TABLE shopify_data_requests (
  id            bigserial PRIMARY KEY,
  shop_domain   text NOT NULL REFERENCES shopify_shops(shop_domain) ON DELETE CASCADE,
  request_id    text,
  customer_gid  text,
  export        jsonb NOT NULL,
  created_at    timestamptz NOT NULL DEFAULT now()
);

-- The store cancelled the order: a payment arriving anyway goes to review, never to a capture.
ALTER TABLE payments ADD COLUMN store_order_cancelled_at timestamptz;

-- One store write-back at a time per payment (two jobs reading "nothing captured yet" at once
-- would both capture); a lease rather than a lock, so no connection is held across HTTP calls.
ALTER TABLE payments ADD COLUMN store_sync_lease_until timestamptz;
