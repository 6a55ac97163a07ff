-- Shopper checkout (pay page and widget): a version per payment that only ever grows in commit
-- order, and a NOTIFY whenever what the shopper sees changes, so every Coinbridge process can
-- push the change to the live views (SSE) it serves.
--
-- Why a column and not max(payment_events.id): event ids are taken when a row is inserted, not
-- when it commits, and some events (callbacks on the ingest path) are appended without locking
-- the payment. A transition committing after such an event would then carry a smaller id than
-- the version a shopper already saw. This version is set under the payment's row lock (a BEFORE
-- UPDATE trigger runs after the row is locked), from a sequence, so for one payment each
-- committed change has a larger number than every change committed before it.
CREATE SEQUENCE payments_checkout_version;
ALTER TABLE payments ADD COLUMN checkout_version bigint NOT NULL DEFAULT nextval('payments_checkout_version');

CREATE FUNCTION payments_checkout_version() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  NEW.checkout_version := nextval('payments_checkout_version');
  RETURN NEW;
END $$;
-- Only the columns the checkout view shows; nothing on the callback-ingest hot path updates them.
CREATE TRIGGER payments_checkout_version BEFORE UPDATE ON payments FOR EACH ROW
  WHEN (OLD.status IS DISTINCT FROM NEW.status
     OR OLD.crypto_received IS DISTINCT FROM NEW.crypto_received
     OR OLD.crypto_expected IS DISTINCT FROM NEW.crypto_expected
     OR OLD.crypto_coin IS DISTINCT FROM NEW.crypto_coin
     OR OLD.network IS DISTINCT FROM NEW.network
     OR OLD.checkout_url IS DISTINCT FROM NEW.checkout_url)
  EXECUTE FUNCTION payments_checkout_version();

-- Delivered at commit to every LISTENing process; the payload is the payment's public ref.
-- Only here (payment updates by the verify/create paths), never on payment_events or inbox
-- inserts: a NOTIFY makes its commit take PostgreSQL's global notify lock.
CREATE FUNCTION payments_checkout_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('coinbridge_checkout', NEW.ref);
  RETURN NULL;
END $$;
CREATE TRIGGER payments_checkout_notify AFTER UPDATE ON payments FOR EACH ROW
  WHEN (OLD.checkout_version IS DISTINCT FROM NEW.checkout_version)
  EXECUTE FUNCTION payments_checkout_notify();
