-- Where intake stands in each mailbox folder: its UIDVALIDITY and the highest UID taken in.
CREATE TABLE mailbox_positions (
	mailbox      TEXT PRIMARY KEY,
	uid_validity INTEGER NOT NULL,
	uid          INTEGER NOT NULL
) STRICT;
