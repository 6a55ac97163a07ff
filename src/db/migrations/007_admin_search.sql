-- Support console (issue 6): what its search, payment page, health view and reconciliation
-- report look things up by. Each console question is answered by an index, never by a scan of
-- payments or their event log.

-- Search box: tx hash, gateway payment id, customer email (exact or prefix, case-insensitive),
-- store order id. `ref` is already UNIQUE (001), which is its index.
CREATE INDEX payments_tx_hash ON payments (tx_hash) WHERE tx_hash IS NOT NULL;
CREATE INDEX payments_gateway_payment_id ON payments (gateway_payment_id) WHERE gateway_payment_id IS NOT NULL;
-- text_pattern_ops: serves `lower(customer_email) = $1` and `LIKE 'prefix%'` whatever the collation.
CREATE INDEX payments_customer_email ON payments (lower(customer_email) text_pattern_ops) WHERE customer_email IS NOT NULL;
-- payments_one_per_order (store_id, order_id) leaves out failed payments and needs the store.
CREATE INDEX payments_order_id ON payments (order_id);
-- The order's number as the merchant knows it: Shopify's name (#1001) or WooCommerce's order
-- number, both kept in the payment's metadata when it was made.
CREATE INDEX payments_order_name ON payments ((coalesce(metadata ->> 'shopifyOrder', metadata ->> 'orderNumber')));
CREATE INDEX shopify_orders_order_name ON shopify_orders (order_name);

-- Result lists, newest first with keyset pagination on (created_at, id): per store (merchants,
-- support, the store filter) and across stores (operators).
CREATE INDEX payments_store_recent ON payments (store_id, created_at DESC, id DESC);
CREATE INDEX payments_recent ON payments (created_at DESC, id DESC);
-- Health: payments waiting for a human, per store.
CREATE INDEX payments_review ON payments (store_id) WHERE status = 'review';

-- A payment's jobs (payment page, "failed jobs" filter, retry, pending write-back check).
CREATE INDEX agenda_jobs_payment ON agenda_jobs ((data ->> 'paymentId'));
-- Failed jobs (health, the failed-jobs filter): few, and found without reading the queue.
CREATE INDEX agenda_jobs_failed ON agenda_jobs (failed_at) WHERE failed_at IS NOT NULL;

-- Health: the store's latest gateway calls (create, verify) and whether they worked. Partial, so
-- the callback ingest path (callback.received events) does not maintain it.
CREATE INDEX payment_events_gateway_calls ON payment_events (store_id, id DESC) WHERE type IN ('gateway.create', 'gateway.verify');

-- Health: a Shopify shop's last webhook delivery.
CREATE INDEX shopify_webhook_inbox_recent ON shopify_webhook_inbox (shop_domain, received_at DESC);
