-- The lease: which replica acts. A replica takes it when it expired, with the next epoch, and
-- renews it well before it expires. Times are the database's clock, the one clock replicas share.
CREATE TABLE lease (
	name       text PRIMARY KEY,
	holder     text NOT NULL,
	epoch      bigint NOT NULL,
	expires_at timestamptz NOT NULL
);

-- casebot_fence runs first in every ledger write of a lease holder: it fails the transaction
-- (SQLSTATE CBL01) unless the writer still holds the lease at its epoch. FOR SHARE makes a
-- takeover wait for the writes in flight, so none of the old holder's commits after it.
-- clock_timestamp, not now(): a transaction begun before expiry must not pass after it.
CREATE FUNCTION casebot_fence(lease_name text, lease_holder text, lease_epoch bigint) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
	PERFORM 1 FROM lease WHERE name = lease_name AND holder = lease_holder AND epoch = lease_epoch
		AND expires_at > clock_timestamp() FOR SHARE;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'lease % epoch % is no longer held by %', lease_name, lease_epoch, lease_holder
			USING ERRCODE = 'CBL01';
	END IF;
END $$;
