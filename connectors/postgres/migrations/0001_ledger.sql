-- The ledger: what became of each effect key. Keys and case ids compare byte by byte (COLLATE
-- "C"): cheaper than a locale's rules, and the same order on every server.
--
-- The primary key leads with the case: Entries reads a case's entries from one range of the
-- index. A key names its case, so (case_id, key) is unique exactly as key is.
CREATE TABLE ledger (
	case_id    text COLLATE "C" NOT NULL,
	key        text COLLATE "C" NOT NULL,
	playbook   text NOT NULL,
	step       text NOT NULL,
	state      text NOT NULL,
	result     text NOT NULL,
	detail     text NOT NULL,
	attempts   integer NOT NULL,
	at         timestamptz NOT NULL,
	retryable  boolean NOT NULL,
	retry_at   timestamptz, -- NULL when a failure has no retry time
	claimed_at timestamptz, -- NULL when the effect never was claimed
	PRIMARY KEY (case_id, key)
);

-- Claimed reads the entries whose outcome is not recorded, a few among many: the index holds
-- only those. The query must name state = 'claimed' literally to use it.
CREATE INDEX ledger_claimed ON ledger (key) WHERE state = 'claimed';

-- What a claimed effect sends (JSON text, engine-defined), written with its claim and read only
-- to retry or recover it, so that reading a case's ledger stays small.
CREATE TABLE claims (
	key     text COLLATE "C" PRIMARY KEY,
	payload text NOT NULL
);

-- Where intake stands in each mailbox folder: its UIDVALIDITY and the highest UID taken in
-- (both unsigned 32-bit numbers, which need a bigint).
CREATE TABLE mailbox_positions (
	mailbox      text PRIMARY KEY,
	uid_validity bigint NOT NULL,
	uid          bigint NOT NULL
);
