-- The ledger: what became of each effect key. Times are UTC RFC 3339 text with nanoseconds.
CREATE TABLE ledger (
	key       TEXT PRIMARY KEY,
	case_id   TEXT NOT NULL,
	playbook  TEXT NOT NULL,
	step      TEXT NOT NULL,
	state     TEXT NOT NULL,
	result    TEXT NOT NULL,
	detail    TEXT NOT NULL,
	attempts  INTEGER NOT NULL,
	at        TEXT NOT NULL,
	retryable INTEGER NOT NULL CHECK (retryable IN (0, 1))
) STRICT;

-- Entries reads the ledger by case.
CREATE INDEX ledger_case_id ON ledger (case_id);
