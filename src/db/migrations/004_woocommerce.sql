-- WooCommerce: connect attempts (wc-auth), connected stores with their REST keys, and the
-- webhook inbox.

-- One row per "Connect" click: the nonce is in the callback URL WooCommerce posts the keys to.
CREATE TABLE woocommerce_connects (
  nonce        text PRIMARY KEY,
  store_url    text NOT NULL,
  -- sha256 of a secret only the plugin holds; it later fetches the store's API key with it.
  claim_hash   text NOT NULL,
  created_at   timestamptz NOT NULL DEFAULT now(),
  expires_at   timestamptz NOT NULL,
  used_at      timestamptz
);

CREATE TABLE woocommerce_stores (
  store_id          uuid PRIMARY KEY REFERENCES stores(id) ON DELETE CASCADE,
  store_url         text NOT NULL UNIQUE,
  -- AES-256-GCM envelopes.
  consumer_key      text NOT NULL,
  consumer_secret   text NOT NULL,
  key_permissions   text NOT NULL,
  webhook_secret    text NOT NULL,
  status            text NOT NULL CHECK (status IN ('connecting', 'connected', 'failed')),
  failure_reason    text,
  claim_hash        text NOT NULL,
  -- The store's Coinbridge API key, sealed, until the plugin fetches it (once).
  pending_api_key   text,
  claimed_at        timestamptz,
  webhook_ids       jsonb NOT NULL DEFAULT '{}'::jsonb,
  webhook_health    text NOT NULL DEFAULT 'unknown' CHECK (webhook_health IN ('unknown', 'ok', 'recreated', 'failing')),
  webhook_note      text,
  webhook_checked_at timestamptz,
  -- Last time a webhook had to be re-activated or recreated (health returns to ok afterwards).
  webhook_repaired_at timestamptz,
  last_webhook_at   timestamptz,
  settings          jsonb NOT NULL DEFAULT '{}'::jsonb,
  connected_at      timestamptz,
  created_at        timestamptz NOT NULL DEFAULT now()
);

-- Verified webhook deliveries; each is only a hint (the payload is the order's state at delivery
-- time), so the job reads the order itself.
CREATE TABLE woocommerce_webhook_inbox (
  id            bigserial PRIMARY KEY,
  store_id      uuid NOT NULL,
  delivery_id   text NOT NULL,
  topic         text NOT NULL,
  order_id      text,
  raw_body      bytea NOT NULL,
  received_at   timestamptz NOT NULL DEFAULT now(),
  processed_at  timestamptz,
  outcome       text,
  UNIQUE (store_id, delivery_id)
);
