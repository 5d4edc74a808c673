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
	"path/filepath"
	"slices"
	"strings"
	"time"

	"modernc.org/sqlite" // the "sqlite" driver, and its errors
	sqlite3 "modernc.org/sqlite/lib"

	"casebot/bot"
)

//go:embed migrations/*.sql
var migrations embed.FS

// chunk is how many case ids one Entries query names. SQLite allows 32,766 parameters; a
// smaller chunk keeps each statement cheap to prepare.
const chunk = 500

// Store is the ledger in an SQLite database.
type Store struct {
	db   *sql.DB
	path string
	// file is what was at path when Open opened it, so that a file removed or replaced under
	// the open database is noticed: SQLite would go on writing into the old inode, and all of
	// it would be lost. Nil for ":memory:" and for a read-only store.
	file     fs.FileInfo
	readOnly bool
	// The statements Record runs, prepared once: compiling an upsert costs more than running
	// it, and a mail's acceptance is recorded alone.
	one, many *sql.Stmt
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
		// In WAL mode, NORMAL syncs at checkpoints instead of at every commit: a commit
		// survives the process being killed (it is in the OS's cache), and only a power loss
		// can take the last ones back, which the next cycle recovers from the providers like a
		// crash. FULL would cost an fsync per mail sent (its acceptance is recorded alone).
		q.Add("_pragma", "synchronous(NORMAL)")
		q.Add("_pragma", "cache_size(-65536)")
		// A busy cycle writes its claims and then their outcomes to the same pages: checkpointing
		// every 64 MB instead of every 4 MB copies each page back once, not after every batch.
		q.Add("_pragma", "wal_autocheckpoint(16384)")
		q.Add("_pragma", "journal_size_limit(67108864)")
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
	s := &Store{db: db, path: path}
	if err := s.migrate(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("open ledger %s: %w", path, unwritable(path, err))
	}
	if !memory {
		if s.file, err = os.Stat(path); err != nil {
			db.Close()
			return nil, fmt.Errorf("open ledger %s: %w", path, err)
		}
	}
	for _, st := range []struct {
		to  **sql.Stmt
		sql string
	}{{&s.one, upsert(1)}, {&s.many, upsert(rowsPerInsert)}} {
		if *st.to, err = db.PrepareContext(ctx, st.sql); err != nil {
			db.Close()
			return nil, fmt.Errorf("open ledger %s: prepare: %w", path, err)
		}
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
	s := &Store{db: db, path: path, readOnly: true}
	if err := s.checkVersion(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("open ledger %s read-only: %w", path, err)
	}
	return s, nil
}

// unwritable adds to an error of SQLite's that left the ledger unopened or unwritten what the
// operator has to fix: SQLite's words ("unable to open database file", "attempt to write a
// readonly database") name neither the file nor the cause. Other errors it returns as they are.
func unwritable(path string, err error) error {
	var e *sqlite.Error
	if !errors.As(err, &e) {
		return err
	}
	switch e.Code() & 0xff { // the primary result code
	case sqlite3.SQLITE_READONLY, sqlite3.SQLITE_CANTOPEN, sqlite3.SQLITE_PERM, sqlite3.SQLITE_FULL, sqlite3.SQLITE_IOERR:
	default:
		return err
	}
	info, serr := os.Stat(path)
	switch {
	case serr == nil && info.IsDir():
		return fmt.Errorf("the path is a directory, not a ledger file: %w", err)
	case serr != nil && !errors.Is(serr, fs.ErrNotExist):
		return fmt.Errorf("%v: %w", serr, err) // a path through a file, a directory casebot may not enter
	case serr == nil:
		if werr := writable(path); werr != nil {
			return fmt.Errorf("the file is not writable (%v): %w", werr, err)
		}
	}
	// SQLite creates the write-ahead log and the journal beside the file.
	dir := filepath.Dir(path)
	if werr := writable(dir); werr != nil {
		return fmt.Errorf("its directory %s is not writable (%v): %w", dir, werr, err)
	}
	return fmt.Errorf("cannot write it (is the disk full?): %w", err)
}

// dsn is the data source name of the database at path with query q.
func dsn(path string, q url.Values) string {
	// The name is a URI path to SQLite, where "?" and "#" end the path and "%" escapes.
	name := strings.NewReplacer("%", "%25", "?", "%3F", "#", "%23").Replace(path)
	return "file:" + name + "?" + q.Encode()
}

// checkVersion checks that the database's schema is the one this casebot writes.
func (s *Store) checkVersion(ctx context.Context) error {
	names, err := bot.Migrations(migrations, "migrations/*.sql")
	if err != nil {
		return err
	}
	var current int
	if err := s.db.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_version`).Scan(&current); err != nil {
		return fmt.Errorf("read schema version (is it a casebot ledger?): %w", err)
	}
	return bot.CompareSchema(current, len(names))
}

// migrate applies the embedded migrations the database lacks, in one transaction with the
// version it brings the schema to. It writes the version even when the schema is current: that
// committed write is the probe that refuses, before any effect, a ledger that cannot be written
// (a read-only file, a directory where the write-ahead log cannot be created, a full disk),
// which would otherwise be found only after a Salesforce write that could not be recorded.
func (s *Store) migrate(ctx context.Context) error {
	names, err := bot.Migrations(migrations, "migrations/*.sql")
	if err != nil {
		return err
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin migration: %w", err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL) STRICT`); err != nil {
		return fmt.Errorf("create schema_version: %w", err)
	}
	var current int
	if err := tx.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_version`).Scan(&current); err != nil {
		return fmt.Errorf("read schema version: %w", err)
	}
	if current > len(names) {
		return bot.CompareSchema(current, len(names))
	}
	exec := func(ctx context.Context, query string, args ...any) error {
		_, err := tx.ExecContext(ctx, query, args...)
		return err
	}
	if err := bot.ApplyMigrations(ctx, migrations, names, current, exec, `INSERT INTO schema_version (version) VALUES (?)`); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit schema version: %w", err)
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
	return s.query(ctx, fmt.Sprintf("read ledger of %d cases", len(caseIDs)), func(e bot.LedgerEntry) {
		if out[e.CaseID] == nil {
			out[e.CaseID] = bot.Ledger{}
		}
		out[e.CaseID][e.Key] = e
	}, `SELECT `+columns+` FROM ledger WHERE case_id IN (?`+strings.Repeat(",?", len(caseIDs)-1)+`)`, args...)
}

// claimedQuery reads the claimed entries. It names the state literally, as the partial index
// ledger_claimed does, so that SQLite reads the index instead of the whole ledger.
const claimedQuery = `SELECT ` + columns + ` FROM ledger WHERE state = 'claimed' ORDER BY key`

// Payloads returns the payloads of the claims of the given keys; keys without one are absent.
func (s *Store) Payloads(ctx context.Context, keys []string) (map[string]string, error) {
	out := make(map[string]string, len(keys))
	for batch := range slices.Chunk(keys, chunk) {
		args := make([]any, len(batch))
		for i, k := range batch {
			args[i] = k
		}
		rows, err := s.db.QueryContext(ctx, `SELECT key, payload FROM claims WHERE key IN (?`+strings.Repeat(",?", len(batch)-1)+`)`, args...)
		if err != nil {
			return nil, fmt.Errorf("read the claims of %d effects: %w", len(batch), err)
		}
		for rows.Next() {
			var k, p string
			if err := rows.Scan(&k, &p); err != nil {
				rows.Close()
				return nil, fmt.Errorf("read the claims of %d effects: %w", len(batch), err)
			}
			out[k] = p
		}
		err = rows.Err()
		rows.Close()
		if err != nil {
			return nil, fmt.Errorf("read the claims of %d effects: %w", len(batch), err)
		}
	}
	return out, nil
}

// Claimed returns every entry in bot.StateClaimed, by key.
func (s *Store) Claimed(ctx context.Context) ([]bot.LedgerEntry, error) {
	var out []bot.LedgerEntry
	if err := s.query(ctx, "read claimed ledger entries", func(e bot.LedgerEntry) { out = append(out, e) }, claimedQuery); err != nil {
		return nil, err
	}
	return out, nil
}

// columns are the ledger's columns in the order scan reads them.
const columns = `key, case_id, playbook, step, state, result, detail, attempts, at, retryable, retry_at, claimed_at`

// query runs a SELECT of columns and passes each entry to add; what says what was being read.
func (s *Store) query(ctx context.Context, what string, add func(bot.LedgerEntry), query string, args ...any) error {
	rows, err := s.db.QueryContext(ctx, query, args...)
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	defer rows.Close()
	for rows.Next() {
		e, err := scan(rows)
		if err != nil {
			return fmt.Errorf("%s: %w", what, err)
		}
		add(e)
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	return nil
}

// scan reads one row of columns.
func scan(rows *sql.Rows) (bot.LedgerEntry, error) {
	var (
		e                      bot.LedgerEntry
		at, retryAt, claimedAt sql.NullString
	)
	if err := rows.Scan(&e.Key, &e.CaseID, &e.Playbook, &e.Step, &e.State, &e.Result, &e.Detail, &e.Attempts,
		&at, &e.Retryable, &retryAt, &claimedAt); err != nil {
		return e, err
	}
	for _, t := range []struct {
		name string
		text sql.NullString
		to   *time.Time
	}{{"time", at, &e.At}, {"retry time", retryAt, &e.RetryAt}, {"claim time", claimedAt, &e.Claimed}} {
		if !t.text.Valid {
			continue
		}
		var err error
		if *t.to, err = time.Parse(time.RFC3339Nano, t.text.String); err != nil {
			return e, fmt.Errorf("entry %s: %s %q: %w", e.Key, t.name, t.text.String, err)
		}
	}
	return e, nil
}

// timeText is t as the ledger stores times: UTC RFC 3339 text with nanoseconds.
func timeText(t time.Time) string {
	return t.UTC().Format(time.RFC3339Nano)
}

// nullTime is t for a column that is NULL when the time is not set.
func nullTime(t time.Time) sql.NullString {
	if t.IsZero() {
		return sql.NullString{}
	}
	return sql.NullString{String: timeText(t), Valid: true}
}

// upsert inserts rows entries, or replaces those whose key exists. An entry without a claim
// time keeps the one stored.
func upsert(rows int) string {
	const row = "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, (SELECT gen FROM generation))"
	return `INSERT INTO ledger (` + columns + `, gen)
	VALUES ` + strings.Repeat(row+", ", rows-1) + row + `
	ON CONFLICT (case_id, key) DO UPDATE SET
		playbook = excluded.playbook, step = excluded.step,
		state = excluded.state, result = excluded.result, detail = excluded.detail,
		attempts = excluded.attempts, at = excluded.at, retryable = excluded.retryable,
		retry_at = excluded.retry_at, claimed_at = COALESCE(excluded.claimed_at, ledger.claimed_at),
		gen = excluded.gen`
}

// Generation returns the ledger's generation.
func (s *Store) Generation(ctx context.Context) (int64, error) {
	var g int64
	if err := s.db.QueryRowContext(ctx, `SELECT gen FROM generation`).Scan(&g); err != nil {
		return 0, fmt.Errorf("read the ledger's generation: %w", err)
	}
	return g, nil
}

// Changes returns the entries written after generation since (bot.ReadChanges; SQLite has
// one writer at a time).
func (s *Store) Changes(ctx context.Context, since int64) ([]bot.LedgerEntry, int64, error) {
	return bot.ReadChanges(ctx, since, s.Generation, func(ctx context.Context, since, through int64) (es []bot.LedgerEntry, err error) {
		err = s.query(ctx, "read the ledger's changes", func(e bot.LedgerEntry) { es = append(es, e) },
			`SELECT `+columns+` FROM ledger WHERE gen > ? AND gen <= ?`, since, through)
		return es, err
	})
}

// upsertPayloads writes the payloads of rows claims.
func upsertPayloads(rows int) string {
	return `INSERT INTO claims (key, payload) VALUES ` + strings.Repeat("(?, ?), ", rows-1) + `(?, ?)
	ON CONFLICT (key) DO UPDATE SET payload = excluded.payload`
}

// rowsPerInsert is how many entries one INSERT statement carries: a statement per entry costs
// more in the driver than in SQLite.
const rowsPerInsert = 64

// Record inserts the entries with their keys, or replaces them, in one transaction: one commit
// (and one sync) for a batch, and none of them written after an error. It refuses to write when
// the file at the path is no longer the one the store opened.
func (s *Store) Record(ctx context.Context, es ...bot.LedgerEntry) error {
	if len(es) == 0 {
		return nil
	}
	if err := bot.CheckEntries(es); err != nil {
		return fmt.Errorf("record %d ledger entries: %w", len(es), err)
	}
	if err := s.sameFile(); err != nil {
		return fmt.Errorf("record %d ledger entries: %w", len(es), err)
	}
	if s.one == nil {
		return fmt.Errorf("record %d ledger entries: the ledger is open read-only", len(es))
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("record %d ledger entries: begin: %w", len(es), err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `UPDATE generation SET gen = gen + 1`); err != nil {
		return fmt.Errorf("record %d ledger entries: take a generation: %w", len(es), err)
	}
	one, many := tx.StmtContext(ctx, s.one), tx.StmtContext(ctx, s.many)
	args := make([]any, 0, 12*min(len(es), rowsPerInsert))
	var payloads []any
	for chunk := range slices.Chunk(es, rowsPerInsert) {
		args, payloads = args[:0], payloads[:0]
		for _, e := range chunk {
			args = append(args, e.Key, e.CaseID, e.Playbook, e.Step, string(e.State), e.Result, e.Detail,
				e.Attempts, timeText(e.At), e.Retryable, nullTime(e.RetryAt), nullTime(e.Claimed))
			if e.Payload != "" {
				payloads = append(payloads, e.Key, e.Payload)
			}
		}
		var err error
		switch len(chunk) {
		case rowsPerInsert:
			_, err = many.ExecContext(ctx, args...)
		case 1:
			_, err = one.ExecContext(ctx, args...)
		default:
			_, err = tx.ExecContext(ctx, upsert(len(chunk)), args...)
		}
		if err != nil {
			return fmt.Errorf("record ledger entries %s…: %w", chunk[0].Key, err)
		}
		if len(payloads) > 0 {
			if _, err := tx.ExecContext(ctx, upsertPayloads(len(payloads)/2), payloads...); err != nil {
				return fmt.Errorf("record the claims of %s…: %w", payloads[0], err)
			}
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("record %d ledger entries: commit: %w", len(es), err)
	}
	return nil
}

// Position returns where intake stands in mailbox; zero when it never read it.
func (s *Store) Position(ctx context.Context, mailbox string) (bot.MailboxPosition, error) {
	var p bot.MailboxPosition
	err := s.db.QueryRowContext(ctx, `SELECT uid_validity, uid FROM mailbox_positions WHERE mailbox = ?`, mailbox).
		Scan(&p.UIDValidity, &p.UID)
	if errors.Is(err, sql.ErrNoRows) {
		return bot.MailboxPosition{}, nil
	}
	if err != nil {
		return p, fmt.Errorf("read the position in mailbox %s: %w", mailbox, err)
	}
	return p, nil
}

// SetPosition records where intake stands in mailbox.
func (s *Store) SetPosition(ctx context.Context, mailbox string, p bot.MailboxPosition) error {
	if err := s.sameFile(); err != nil {
		return fmt.Errorf("record the position in mailbox %s: %w", mailbox, err)
	}
	if s.readOnly {
		return fmt.Errorf("record the position in mailbox %s: the ledger is open read-only", mailbox)
	}
	_, err := s.db.ExecContext(ctx, `INSERT INTO mailbox_positions (mailbox, uid_validity, uid) VALUES (?, ?, ?)
		ON CONFLICT (mailbox) DO UPDATE SET uid_validity = excluded.uid_validity, uid = excluded.uid`,
		mailbox, p.UIDValidity, p.UID)
	if err != nil {
		return fmt.Errorf("record the position in mailbox %s: %w", mailbox, err)
	}
	return nil
}

// Check reports why the ledger can no longer be written: it is open read-only, or its file was
// removed, replaced by another file or made read-only since Open. An in-memory ledger can always
// be written.
func (s *Store) Check(ctx context.Context) error {
	if s.readOnly {
		return fmt.Errorf("ledger %s is open read-only", s.path)
	}
	if s.file == nil {
		return nil
	}
	if err := s.sameFile(); err != nil {
		return err
	}
	if err := writable(s.path); err != nil {
		return fmt.Errorf("ledger file %s is no longer writable: %w", s.path, err)
	}
	return nil
}

// sameFile says, with one stat, when the file at the path is no longer the one the database
// has open.
func (s *Store) sameFile() error {
	if s.file == nil {
		return nil
	}
	now, err := os.Stat(s.path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("ledger file %s was removed", s.path)
	case err != nil:
		return fmt.Errorf("check ledger file %s: %w", s.path, err)
	case !os.SameFile(s.file, now):
		return fmt.Errorf("ledger file %s was replaced by another file", s.path)
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
