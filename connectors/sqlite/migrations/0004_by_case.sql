-- The ledger clustered by case: Entries reads a case's rows from one place of the primary key,
-- and a write no longer updates a second index by case (a busy cycle writes hundreds of
-- thousands of entries). A key names its case, so (case_id, key) is unique exactly as key was.
CREATE TABLE ledger_v4 (
	case_id    TEXT NOT NULL,
	key        TEXT NOT NULL,
	playbook   TEXT NOT NULL,
	step       TEXT NOT NULL,
	state      TEXT NOT NULL,
	result     TEXT NOT NULL,
	detail     TEXT NOT NULL,
	attempts   INTEGER NOT NULL,
	at         TEXT NOT NULL,
	retryable  INTEGER NOT NULL CHECK (retryable IN (0, 1)),
	retry_at   TEXT,
	claimed_at TEXT,
	PRIMARY KEY (case_id, key)
) STRICT, WITHOUT ROWID;
INSERT INTO ledger_v4 (case_id, key, playbook, step, state, result, detail, attempts, at, retryable, retry_at, claimed_at)
	SELECT case_id, key, playbook, step, state, result, detail, attempts, at, retryable, retry_at, claimed_at FROM ledger;
DROP TABLE ledger;
ALTER TABLE ledger_v4 RENAME TO ledger;
CREATE INDEX ledger_claimed ON ledger (key) WHERE state = 'claimed';
