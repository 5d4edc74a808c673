package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"casebot/bot"
)

// CaseIDs returns the ids of every case with an entry, sorted.
func (s *Store) CaseIDs(ctx context.Context) ([]string, error) {
	rows, err := s.pool.Query(ctx, `SELECT DISTINCT case_id FROM ledger ORDER BY case_id`)
	if err != nil {
		return nil, fmt.Errorf("list the ledger's cases: %w", err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("list the ledger's cases: %w", err)
	}
	return ids, nil
}

// Positions returns where intake stands in every mailbox folder it read.
func (s *Store) Positions(ctx context.Context) (map[string]bot.MailboxPosition, error) {
	rows, err := s.pool.Query(ctx, `SELECT mailbox, uid_validity, uid FROM mailbox_positions`)
	if err != nil {
		return nil, fmt.Errorf("read the mailbox positions: %w", err)
	}
	out := map[string]bot.MailboxPosition{}
	var m string
	var validity, uid int64 // PostgreSQL has no unsigned integers: the columns are bigint
	if _, err := pgx.ForEachRow(rows, []any{&m, &validity, &uid}, func() error {
		out[m] = bot.MailboxPosition{UIDValidity: uint32(validity), UID: uint32(uid)}
		return nil
	}); err != nil {
		return nil, fmt.Errorf("read the mailbox positions: %w", err)
	}
	return out, nil
}

// SchemaVersion returns the schema version of the ledger in the database dsn names (0 when
// there is none yet) and the version this casebot brings it to, changing nothing: casebot
// migrate -check asks.
func SchemaVersion(ctx context.Context, dsn string) (current, known int, err error) {
	names, err := bot.Migrations(migrations, "migrations/*.sql")
	if err != nil {
		return 0, 0, err
	}
	known = len(names)
	s, err := connect(ctx, dsn, true)
	if err != nil {
		return 0, known, err
	}
	defer s.Close()
	err = s.pool.QueryRow(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_version`).Scan(&current)
	if pe := (*pgconn.PgError)(nil); errors.As(err, &pe) && pe.Code == "42P01" { // undefined_table
		return 0, known, nil
	}
	if err != nil {
		return 0, known, fmt.Errorf("read the schema version in PostgreSQL: %w", err)
	}
	return current, known, nil
}
