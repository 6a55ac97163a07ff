-- Shopify: many app registrations per deployment (one custom-distribution app per merchant),
-- and the shops installed through them.

CREATE TABLE shopify_apps (
  id                      uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  client_id               text NOT NULL UNIQUE,
  -- AES-256-GCM envelopes; the previous secret keeps verifying for an hour after a rotation.
  secret                  text NOT NULL,
  previous_secret         text,
  previous_secret_until   timestamptz,
  scopes                  text NOT NULL DEFAULT 'read_orders,write_orders',
  created_at              timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE shopify_shops (
  shop_domain     text PRIMARY KEY,
  -- The app the shop installed; set only by a completed, verified OAuth callback.
  app_id          uuid REFERENCES shopify_apps(id),
  store_id        uuid REFERENCES stores(id) ON DELETE SET NULL,
  access_token    text,
  scopes          text,
  token_expires_at timestamptz,
  installed_at    timestamptz,
  uninstalled_at  timestamptz,
  -- Which app an install in progress belongs to (the OAuth callback names only the shop). Kept
  -- apart from app_id, so an unauthenticated /shopify/install cannot re-point an installed shop.
  pending_app_id  uuid REFERENCES shopify_apps(id),
  pending_since   timestamptz
);
