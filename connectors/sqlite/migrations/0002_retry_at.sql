-- When a retryable failure may be tried again (UTC RFC 3339 text with nanoseconds); NULL when
-- the entry has no retry time.
ALTER TABLE ledger ADD COLUMN retry_at TEXT;
