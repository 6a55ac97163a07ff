-- Support console: staff accounts, which stores each may see, the audit log of their actions,
-- and the one-time tokens that create the first operator.

CREATE TABLE staff_users (
  id             uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  -- Stored lower-cased: one account per address whatever the caller's spelling.
  email          text NOT NULL UNIQUE CHECK (email = lower(email)),
  -- scrypt$N$r$p$salt$hash
  password_hash  text NOT NULL,
  role           text NOT NULL CHECK (role IN ('operator', 'merchant', 'support')),
  created_at     timestamptz NOT NULL DEFAULT now(),
  -- Failed sign-ins since the last success or lockout; five lock the account for a while.
  failed_logins  int NOT NULL DEFAULT 0,
  locked_until   timestamptz,
  disabled_at    timestamptz
);

-- Merchants and support see only the stores listed here; operators see every store.
CREATE TABLE staff_store_access (
  user_id   uuid NOT NULL REFERENCES staff_users(id) ON DELETE CASCADE,
  store_id  uuid NOT NULL REFERENCES stores(id) ON DELETE CASCADE,
  PRIMARY KEY (user_id, store_id)
);
CREATE INDEX staff_store_access_store ON staff_store_access (store_id);

-- Who did what, when and why. Append-only, like payment_events; no foreign keys, so the record
-- outlives the accounts, stores and payments it names.
CREATE TABLE admin_audit (
  id          bigserial PRIMARY KEY,
  at          timestamptz NOT NULL DEFAULT clock_timestamp(),
  user_id     text NOT NULL,
  email       text NOT NULL,
  role        text NOT NULL,
  action      text NOT NULL,
  store_id    uuid,
  payment_id  uuid,
  note        text,
  details     jsonb NOT NULL DEFAULT '{}'::jsonb
);
CREATE INDEX admin_audit_store ON admin_audit (store_id, id) WHERE store_id IS NOT NULL;
CREATE INDEX admin_audit_payment ON admin_audit (payment_id, id) WHERE payment_id IS NOT NULL;

CREATE FUNCTION admin_audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'admin_audit is append-only';
END $$;
CREATE TRIGGER admin_audit_no_change BEFORE UPDATE OR DELETE ON admin_audit
  FOR EACH ROW EXECUTE FUNCTION admin_audit_append_only();

-- One-time setup tokens printed at start-up while no operator exists; only their hash is kept.
CREATE TABLE admin_setup (
  token_hash  text PRIMARY KEY,
  created_at  timestamptz NOT NULL DEFAULT now(),
  used_at     timestamptz
);
