// Package sqlite is casebot's ledger in SQLite (modernc.org/sqlite: pure Go, no cgo), the
// default store for a single casebot.
package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"

	_ "modernc.org/sqlite" // registers the "sqlite" driver

	"casebot/bot"
)

//go:embed migrations/*.sql
var migrations embed.FS

// chunk is how many case ids one Entries query names. SQLite allows 32,766 parameters; a
// smaller chunk keeps each statement cheap to prepare.
const chunk = 500

// Store is the ledger in an SQLite database.
type Store struct {
	db *sql.DB
}

var _ bot.Store = (*Store)(nil)

// Open opens (creating it if needed) the database at path, or a private in-memory database
// for ":memory:", and brings its schema up to date.
func Open(ctx context.Context, path string) (*Store, error) {
	memory := path == ":memory:"
	q := url.Values{}
	q.Add("_pragma", "foreign_keys(1)")
	q.Add("_pragma", "busy_timeout(5000)")
	if !memory {
		q.Add("_pragma", "journal_mode(WAL)")
	}
	// BEGIN IMMEDIATE takes the write lock up front, so two processes migrating one file wait
	// for each other instead of failing with SQLITE_BUSY when upgrading a read lock.
	q.Set("_txlock", "immediate")
	db, err := sql.Open("sqlite", dsn(path, q))
	if err != nil {
		return nil, fmt.Errorf("open ledger %s: %w", path, err)
	}
	if memory {
		// Every connection to ":memory:" is a database of its own: keep exactly one, which
		// database/sql then never closes while it is idle.
		db.SetMaxOpenConns(1)
	}
	s := &Store{db: db}
	if err := s.migrate(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("open ledger %s: %w", path, err)
	}
	return s, nil
}

// OpenReadOnly opens the database at path to read it only, as `casebot plan` and `why` do
// while the daemon runs: SQLite's read-only mode, no migration, no lock that would stop a
// writer (in WAL mode a reader only shares the -shm index, as every connection does). It
// refuses a schema older or newer than this casebot's, since it reads the columns this
// casebot knows. A path that does not exist is an error wrapping fs.ErrNotExist: no ledger
// yet.
func OpenReadOnly(ctx context.Context, path string) (*Store, error) {
	if path == ":memory:" {
		return nil, fmt.Errorf("open ledger %s read-only: an in-memory ledger holds nothing to read", path)
	}
	if _, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("open ledger %s read-only: %w", path, err)
	}
	q := url.Values{}
	q.Set("mode", "ro")
	q.Add("_pragma", "busy_timeout(5000)")
	q.Add("_pragma", "query_only(1)")
	db, err := sql.Open("sqlite", dsn(path, q))
	if err != nil {
		return nil, fmt.Errorf("open ledger %s read-only: %w", path, err)
	}
	s := &Store{db: db}
	if err := s.checkVersion(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("open ledger %s read-only: %w", path, err)
	}
	return s, nil
}

// dsn is the data source name of the database at path with query q.
func dsn(path string, q url.Values) string {
	// The name is a URI path to SQLite, where "?" and "#" end the path and "%" escapes.
	name := strings.NewReplacer("%", "%25", "?", "%3F", "#", "%23").Replace(path)
	return "file:" + name + "?" + q.Encode()
}

// checkVersion checks that the database's schema is the one this casebot writes.
func (s *Store) checkVersion(ctx context.Context) error {
	names, err := migrationNames()
	if err != nil {
		return err
	}
	var current int
	if err := s.db.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_version`).Scan(&current); err != nil {
		return fmt.Errorf("read schema version (is it a casebot ledger?): %w", err)
	}
	switch {
	case current > len(names):
		return fmt.Errorf("the database's schema is version %d, newer than this casebot knows (%d)", current, len(names))
	case current < len(names):
		return fmt.Errorf("the database's schema is version %d, older than this casebot's (%d): casebot once or casebot run upgrades it",
			current, len(names))
	}
	return nil
}

// migrationNames lists the embedded migrations in order.
func migrationNames() ([]string, error) {
	names, err := fs.Glob(migrations, "migrations/*.sql")
	if err != nil {
		return nil, fmt.Errorf("list migrations: %w", err)
	}
	slices.Sort(names)
	return names, nil
}

// migrate applies the embedded migrations the database lacks, each in a transaction with
// the version it brings the schema to.
func (s *Store) migrate(ctx context.Context) error {
	names, err := migrationNames()
	if err != nil {
		return err
	}
	if _, err := s.db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL) STRICT`); err != nil {
		return fmt.Errorf("create schema_version: %w", err)
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin migration: %w", err)
	}
	defer tx.Rollback()
	var current int
	if err := tx.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_version`).Scan(&current); err != nil {
		return fmt.Errorf("read schema version: %w", err)
	}
	if current > len(names) {
		return fmt.Errorf("the database's schema is version %d, newer than this casebot knows (%d)", current, len(names))
	}
	for i, name := range names[current:] {
		version := current + i + 1
		if n, err := strconv.Atoi(strings.SplitN(path.Base(name), "_", 2)[0]); err != nil || n != version {
			return fmt.Errorf("migration %s: want number %04d", name, version)
		}
		text, err := migrations.ReadFile(name)
		if err != nil {
			return fmt.Errorf("read migration: %w", err)
		}
		if _, err := tx.ExecContext(ctx, string(text)); err != nil {
			return fmt.Errorf("apply migration %s: %w", name, err)
		}
	}
	if len(names) > current {
		if _, err := tx.ExecContext(ctx, `DELETE FROM schema_version`); err != nil {
			return fmt.Errorf("record schema version: %w", err)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO schema_version (version) VALUES (?)`, len(names)); err != nil {
			return fmt.Errorf("record schema version: %w", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit migration: %w", err)
	}
	return nil
}

// Entries returns the ledger entries of the given cases, by case id and then key. Cases
// without entries are absent from the map.
func (s *Store) Entries(ctx context.Context, caseIDs []string) (map[string]bot.Ledger, error) {
	ids := slices.Clone(caseIDs)
	slices.Sort(ids)
	ids = slices.Compact(ids)
	out := make(map[string]bot.Ledger)
	for batch := range slices.Chunk(ids, chunk) {
		if err := s.entries(ctx, batch, out); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func (s *Store) entries(ctx context.Context, caseIDs []string, out map[string]bot.Ledger) error {
	args := make([]any, len(caseIDs))
	for i, id := range caseIDs {
		args[i] = id
	}
	rows, err := s.db.QueryContext(ctx, `
		SELECT key, case_id, playbook, step, state, result, detail, attempts, at, retryable, retry_at
		FROM ledger WHERE case_id IN (?`+strings.Repeat(",?", len(caseIDs)-1)+`)`, args...)
	if err != nil {
		return fmt.Errorf("read ledger of %d cases: %w", len(caseIDs), err)
	}
	defer rows.Close()
	for rows.Next() {
		var (
			e       bot.LedgerEntry
			at      string
			retryAt sql.NullString
		)
		if err := rows.Scan(&e.Key, &e.CaseID, &e.Playbook, &e.Step, &e.State, &e.Result, &e.Detail, &e.Attempts, &at, &e.Retryable, &retryAt); err != nil {
			return fmt.Errorf("read ledger: %w", err)
		}
		if e.At, err = time.Parse(time.RFC3339Nano, at); err != nil {
			return fmt.Errorf("read ledger entry %s: time %q: %w", e.Key, at, err)
		}
		if retryAt.Valid {
			if e.RetryAt, err = time.Parse(time.RFC3339Nano, retryAt.String); err != nil {
				return fmt.Errorf("read ledger entry %s: retry time %q: %w", e.Key, retryAt.String, err)
			}
		}
		if out[e.CaseID] == nil {
			out[e.CaseID] = bot.Ledger{}
		}
		out[e.CaseID][e.Key] = e
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read ledger: %w", err)
	}
	return nil
}

// Record inserts the entry with e.Key, or replaces it.
func (s *Store) Record(ctx context.Context, e bot.LedgerEntry) error {
	if e.Key == "" || e.CaseID == "" || e.State == "" {
		return errors.New("record ledger entry: key, case id and state are required")
	}
	var retryAt sql.NullString
	if !e.RetryAt.IsZero() {
		retryAt = sql.NullString{String: e.RetryAt.UTC().Format(time.RFC3339Nano), Valid: true}
	}
	_, err := s.db.ExecContext(ctx, `
		INSERT INTO ledger (key, case_id, playbook, step, state, result, detail, attempts, at, retryable, retry_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (key) DO UPDATE SET
			case_id = excluded.case_id, playbook = excluded.playbook, step = excluded.step,
			state = excluded.state, result = excluded.result, detail = excluded.detail,
			attempts = excluded.attempts, at = excluded.at, retryable = excluded.retryable,
			retry_at = excluded.retry_at`,
		e.Key, e.CaseID, e.Playbook, e.Step, string(e.State), e.Result, e.Detail, e.Attempts,
		e.At.UTC().Format(time.RFC3339Nano), e.Retryable, retryAt)
	if err != nil {
		return fmt.Errorf("record ledger entry %s: %w", e.Key, err)
	}
	return nil
}

// Close closes the database.
func (s *Store) Close() error {
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("close ledger: %w", err)
	}
	return nil
}
