-- Every write transaction takes the next generation and stamps the entries it writes with it,
-- so that a reader that keeps entries between cycles (the engine) reads only what was written
-- since, by itself or by anyone else (casebot retry, a Slack press, intake, another replica).
-- Taking it locks the row until the transaction ends: generations commit in their order, so a
-- reader that saw generation g has seen every entry of generations up to g. Rows written
-- before this migration have generation 0: a reader loads them by case first.
ALTER TABLE ledger ADD COLUMN gen bigint NOT NULL DEFAULT 0;
CREATE INDEX ledger_gen ON ledger (gen);
CREATE TABLE generation (id integer PRIMARY KEY CHECK (id = 1), gen bigint NOT NULL);
INSERT INTO generation (id, gen) VALUES (1, 0);
