package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"

	"casebot/bot"
)

// CaseIDs returns the ids of every case with an entry, sorted.
func (s *Store) CaseIDs(ctx context.Context) ([]string, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT DISTINCT case_id FROM ledger ORDER BY case_id`)
	if err != nil {
		return nil, fmt.Errorf("list the ledger's cases: %w", err)
	}
	defer rows.Close()
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, fmt.Errorf("list the ledger's cases: %w", err)
		}
		ids = append(ids, id)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list the ledger's cases: %w", err)
	}
	return ids, nil
}

// Positions returns where intake stands in every mailbox folder it read.
func (s *Store) Positions(ctx context.Context) (map[string]bot.MailboxPosition, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT mailbox, uid_validity, uid FROM mailbox_positions`)
	if err != nil {
		return nil, fmt.Errorf("read the mailbox positions: %w", err)
	}
	defer rows.Close()
	out := map[string]bot.MailboxPosition{}
	for rows.Next() {
		var m string
		var p bot.MailboxPosition
		if err := rows.Scan(&m, &p.UIDValidity, &p.UID); err != nil {
			return nil, fmt.Errorf("read the mailbox positions: %w", err)
		}
		out[m] = p
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read the mailbox positions: %w", err)
	}
	return out, nil
}

// SchemaVersion returns the schema version of the ledger at path (0 when there is none yet)
// and the version this casebot brings it to, changing nothing: casebot migrate -check asks.
func SchemaVersion(ctx context.Context, path string) (current, known int, err error) {
	names, err := bot.Migrations(migrations, "migrations/*.sql")
	if err != nil {
		return 0, 0, err
	}
	known = len(names)
	if path == ":memory:" {
		return 0, known, nil
	}
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		return 0, known, nil
	}
	q := url.Values{}
	q.Set("mode", "ro")
	q.Add("_pragma", "busy_timeout(5000)")
	db, err := sql.Open("sqlite", dsn(path, q))
	if err != nil {
		return 0, known, fmt.Errorf("read the schema version of ledger %s: %w", path, err)
	}
	defer db.Close()
	var tables int
	if err := db.QueryRowContext(ctx, `SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'schema_version'`).
		Scan(&tables); err != nil {
		return 0, known, fmt.Errorf("read the schema version of ledger %s: %w", path, err)
	}
	if tables == 0 {
		return 0, known, nil // an empty file: Open makes it a ledger
	}
	if err := db.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_version`).Scan(&current); err != nil {
		return 0, known, fmt.Errorf("read the schema version of ledger %s: %w", path, err)
	}
	return current, known, nil
}
