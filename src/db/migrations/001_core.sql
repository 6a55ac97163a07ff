-- Payment core: stores, gateway connections, payments, their event log, the callback inbox.

CREATE TABLE stores (
  id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  name        text NOT NULL,
  platform    text NOT NULL DEFAULT 'direct' CHECK (platform IN ('direct', 'shopify', 'woocommerce')),
  settings    jsonb NOT NULL DEFAULT '{}'::jsonb,
  created_at  timestamptz NOT NULL DEFAULT now()
);

-- Only a hash of each key is kept; the key itself is shown once when it is made.
CREATE TABLE store_api_keys (
  id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  store_id    uuid NOT NULL REFERENCES stores(id) ON DELETE CASCADE,
  prefix      text NOT NULL,
  key_hash    text NOT NULL UNIQUE,
  created_at  timestamptz NOT NULL DEFAULT now(),
  revoked_at  timestamptz
);

CREATE TABLE gateway_connections (
  id                  uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  store_id            uuid NOT NULL REFERENCES stores(id) ON DELETE CASCADE,
  gateway             text NOT NULL,
  mode                text NOT NULL CHECK (mode IN ('live', 'sandbox')),
  -- AES-256-GCM envelope of the gateway credentials (API key, IPN secret), with its key id.
  credentials         text NOT NULL,
  is_default          boolean NOT NULL DEFAULT true,
  rejected_callbacks  bigint NOT NULL DEFAULT 0,
  last_ok_at          timestamptz,
  created_at          timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX gateway_connections_one_default ON gateway_connections (store_id) WHERE is_default;

CREATE TABLE payments (
  id                  uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  ref                 text NOT NULL UNIQUE,
  store_id            uuid NOT NULL REFERENCES stores(id) ON DELETE CASCADE,
  connection_id       uuid NOT NULL REFERENCES gateway_connections(id),
  order_id            text NOT NULL,
  status              text NOT NULL CHECK (status IN ('initiating', 'created', 'pending', 'confirming', 'underpaid', 'paid',
                        'overpaid', 'paid_late', 'expired', 'cancelled', 'review', 'failed')),
  amount_minor        bigint NOT NULL CHECK (amount_minor > 0),
  currency            char(3) NOT NULL,
  return_url          text NOT NULL,
  customer_email      text,
  metadata            jsonb NOT NULL DEFAULT '{}'::jsonb,
  request_hash        text NOT NULL,
  gateway_payment_id  text,
  checkout_url        text,
  crypto_expected     text,
  crypto_received     text,
  crypto_coin         text,
  tx_hash             text,
  network             text,
  failure_reason      text,
  -- While `initiating`: until when the creating request holds the right to call the gateway.
  claimed_until       timestamptz,
  expires_at          timestamptz NOT NULL,
  last_verified_at    timestamptz,
  created_at          timestamptz NOT NULL DEFAULT now(),
  updated_at          timestamptz NOT NULL DEFAULT now()
);
-- One live gateway payment per store order, whatever races to create it. A payment the gateway
-- refused (`failed`) does not block a fresh attempt for the same order.
CREATE UNIQUE INDEX payments_one_per_order ON payments (store_id, order_id) WHERE status <> 'failed';
CREATE UNIQUE INDEX payments_gateway_ref ON payments (connection_id, gateway_payment_id) WHERE gateway_payment_id IS NOT NULL;
CREATE INDEX payments_open ON payments (expires_at) WHERE status IN ('initiating', 'created', 'pending', 'confirming', 'underpaid');

CREATE TABLE idempotency_keys (
  store_id      uuid NOT NULL REFERENCES stores(id) ON DELETE CASCADE,
  key           text NOT NULL,
  request_hash  text NOT NULL,
  payment_id    uuid NOT NULL REFERENCES payments(id) ON DELETE CASCADE,
  created_at    timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (store_id, key)
);

-- Every inbound callback that passed its signature check, exactly once per dedupe key.
-- The two append-only logs below (inbox, payment_events) deliberately carry their ids without
-- foreign keys: a foreign key makes every insert take a KEY SHARE lock on the parent row, and
-- concurrent callbacks all point at the same connection and store rows, which turns those locks
-- into MultiXacts and cost about a quarter of the database time per callback (bench/ipn-ingest.ts).
-- The ids come from rows the writing statement itself just read.
CREATE TABLE inbox (
  id             bigserial PRIMARY KEY,
  source         text NOT NULL,
  connection_id  uuid NOT NULL,
  dedupe_key     text NOT NULL,
  payment_id     uuid,
  -- The exact bytes that were signed (not re-encoded text), so the signature can be re-checked.
  raw_body       bytea NOT NULL,
  received_at    timestamptz NOT NULL DEFAULT now(),
  processed_at   timestamptz,
  outcome        text,
  UNIQUE (source, connection_id, dedupe_key)
);

-- Append-only history: callbacks, verifications, transitions, outbound calls, each with its cause.
CREATE TABLE payment_events (
  id           bigserial PRIMARY KEY,
  payment_id   uuid,
  store_id     uuid NOT NULL,
  type         text NOT NULL,
  from_status  text,
  to_status    text,
  cause        text NOT NULL,
  data         jsonb NOT NULL DEFAULT '{}'::jsonb,
  created_at   timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX payment_events_payment ON payment_events (payment_id, id);
CREATE INDEX inbox_payment ON inbox (payment_id);

CREATE FUNCTION payment_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'payment_events is append-only';
END $$;
CREATE TRIGGER payment_events_no_update BEFORE UPDATE ON payment_events
  FOR EACH ROW EXECUTE FUNCTION payment_events_append_only();

-- Built-in Paymento-compatible sandbox gateway: its merchant accounts and payments.
CREATE TABLE sandbox_accounts (
  api_key     text PRIMARY KEY,
  secret      text NOT NULL,
  ipn_url     text,
  ipn_method  int NOT NULL DEFAULT 1,
  -- Simulated outage: the next N verify calls fail this way ('500' or 'timeout').
  fail_verify_count  int NOT NULL DEFAULT 0,
  fail_verify_mode   text NOT NULL DEFAULT '500' CHECK (fail_verify_mode IN ('500', 'timeout')),
  created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE sandbox_payments (
  token            text PRIMARY KEY,
  payment_id       bigserial UNIQUE,
  api_key          text NOT NULL REFERENCES sandbox_accounts(api_key) ON DELETE CASCADE,
  order_id         text,
  fiat_amount      text,
  fiat_currency    text,
  return_url       text,
  email            text,
  risk_speed       int NOT NULL DEFAULT 0,
  additional_data  jsonb NOT NULL DEFAULT '[]'::jsonb,
  status           int NOT NULL DEFAULT 0,
  coin             text NOT NULL DEFAULT 'USDT',
  expected_crypto  text NOT NULL,
  received_crypto  text NOT NULL DEFAULT '0',
  tx_hash          text,
  expires_at       timestamptz NOT NULL,
  created_at       timestamptz NOT NULL DEFAULT now()
);
