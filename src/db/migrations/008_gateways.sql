-- More gateways (Crypto Checkout, CryptoNow), the merchant's default + fallback choice, and a
-- sandbox that can play each gateway.

-- A store may connect several gateways; at most one is its fallback, used when the default
-- refuses or fails to create a payment. (is_default already has its one-per-store index.)
ALTER TABLE gateway_connections ADD COLUMN is_fallback boolean NOT NULL DEFAULT false;
ALTER TABLE gateway_connections ADD COLUMN disabled_at timestamptz;
CREATE UNIQUE INDEX gateway_connections_one_fallback ON gateway_connections (store_id) WHERE is_fallback;
ALTER TABLE gateway_connections ADD CONSTRAINT gateway_connections_not_both CHECK (NOT (is_default AND is_fallback));

-- The sandbox plays any gateway: each account and payment says which one. Its state machine
-- keeps Paymento's status codes; each gateway's "skin" translates them into its own words.
ALTER TABLE sandbox_accounts ADD COLUMN gateway text NOT NULL DEFAULT 'paymento';
ALTER TABLE sandbox_accounts ADD COLUMN extra jsonb NOT NULL DEFAULT '{}'::jsonb;
ALTER TABLE sandbox_payments ADD COLUMN gateway text NOT NULL DEFAULT 'paymento';
ALTER TABLE sandbox_payments ADD COLUMN idempotency_key text;
ALTER TABLE sandbox_payments ADD COLUMN expired_once boolean NOT NULL DEFAULT false;
ALTER TABLE sandbox_payments ADD COLUMN extra jsonb NOT NULL DEFAULT '{}'::jsonb;
CREATE UNIQUE INDEX sandbox_payments_idempotency ON sandbox_payments (api_key, idempotency_key) WHERE idempotency_key IS NOT NULL;
CREATE INDEX sandbox_payments_order ON sandbox_payments (api_key, order_id);
