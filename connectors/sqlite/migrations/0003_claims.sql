-- What an effect sends, rendered when it was claimed (JSON text, engine-defined; '' when the
-- entry carries none), and when it was claimed (UTC RFC 3339 text with nanoseconds; NULL when
-- it never was).
ALTER TABLE ledger ADD COLUMN payload TEXT NOT NULL DEFAULT '';
ALTER TABLE ledger ADD COLUMN claimed_at TEXT;

-- Claimed reads the entries whose outcome is not recorded, a few among many: the index holds
-- only those, in key order. The query must name state = 'claimed' literally to use it.
CREATE INDEX ledger_claimed ON ledger (key) WHERE state = 'claimed';
