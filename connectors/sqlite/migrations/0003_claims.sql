-- The ledger keyed by the effect key alone (WITHOUT ROWID: one b-tree instead of a table and
-- its key index), with when an effect was claimed (UTC RFC 3339 text with nanoseconds; NULL
-- when it never was).
CREATE TABLE ledger_v3 (
	key        TEXT PRIMARY KEY,
	case_id    TEXT NOT NULL,
	playbook   TEXT NOT NULL,
	step       TEXT NOT NULL,
	state      TEXT NOT NULL,
	result     TEXT NOT NULL,
	detail     TEXT NOT NULL,
	attempts   INTEGER NOT NULL,
	at         TEXT NOT NULL,
	retryable  INTEGER NOT NULL CHECK (retryable IN (0, 1)),
	retry_at   TEXT,
	claimed_at TEXT
) STRICT, WITHOUT ROWID;
INSERT INTO ledger_v3 (key, case_id, playbook, step, state, result, detail, attempts, at, retryable, retry_at)
	SELECT key, case_id, playbook, step, state, result, detail, attempts, at, retryable, retry_at FROM ledger;
DROP TABLE ledger;
ALTER TABLE ledger_v3 RENAME TO ledger;
CREATE INDEX ledger_case_id ON ledger (case_id);

-- Claimed reads the entries whose outcome is not recorded, a few among many: the index holds
-- only those, in key order. The query must name state = 'claimed' literally to use it.
CREATE INDEX ledger_claimed ON ledger (key) WHERE state = 'claimed';

-- What a claimed effect sends (JSON text, engine-defined), written once with its claim and
-- read only to retry or recover it, so that reading a case's ledger stays small.
CREATE TABLE claims (
	key     TEXT PRIMARY KEY,
	payload TEXT NOT NULL
) STRICT;
