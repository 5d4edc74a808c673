-- Every write transaction takes the next generation and stamps the entries it writes with it,
-- so that a reader that keeps entries between cycles (the engine) reads only what was written
-- since, by itself or by anyone else (casebot retry, a Slack press, intake). Rows written
-- before this migration have generation 0: a reader loads them by case first.
ALTER TABLE ledger ADD COLUMN gen INTEGER NOT NULL DEFAULT 0;
CREATE INDEX ledger_gen ON ledger (gen);
CREATE TABLE generation (id INTEGER PRIMARY KEY CHECK (id = 1), gen INTEGER NOT NULL) STRICT;
INSERT INTO generation (id, gen) VALUES (1, 0);
