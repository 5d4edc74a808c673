// Package postgres is casebot's ledger in PostgreSQL (jackc/pgx), for replicas that share one
// ledger. It holds what connectors/sqlite holds, and passes the same conformance suite
// (bot/bottest.TestStore).
package postgres

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/pgxpool"

	"casebot/bot"
)

//go:embed migrations/*.sql
var migrations embed.FS

// lockSpace is the first half of casebot's advisory lock keys (ASCII "case"), so that they do
// not meet another application's locks in a shared database; the second half names the lock.
const (
	lockSpace   = 0x63617365
	lockMigrate = 1 // held while the schema is checked and upgraded
)

// Store is the ledger in a PostgreSQL database.
type Store struct {
	pool     *pgxpool.Pool
	readOnly bool
	// fence, once the lease was acquired, is the token every write's transaction checks.
	fence atomic.Pointer[fence]
}

var _ bot.Store = (*Store)(nil)

// Open connects to the database dsn names (a URL or key=value pairs, as libpq takes them) and
// brings its schema up to date. Replicas starting at once upgrade it one after the other.
func Open(ctx context.Context, dsn string) (*Store, error) {
	s, err := connect(ctx, dsn, false)
	if err != nil {
		return nil, err
	}
	if err := s.migrate(ctx); err != nil {
		s.pool.Close()
		return nil, fmt.Errorf("open ledger in PostgreSQL: %w", err)
	}
	return s, nil
}

// OpenReadOnly connects to read only, as `casebot plan` and `why` do while the daemon runs:
// every transaction is read-only, nothing is migrated. It refuses a schema older or newer than
// this casebot's. A database without a ledger is an error wrapping fs.ErrNotExist: no ledger
// yet.
func OpenReadOnly(ctx context.Context, dsn string) (*Store, error) {
	s, err := connect(ctx, dsn, true)
	if err != nil {
		return nil, err
	}
	if err := s.checkVersion(ctx); err != nil {
		s.pool.Close()
		return nil, fmt.Errorf("open ledger in PostgreSQL read-only: %w", err)
	}
	return s, nil
}

// connect opens a pool of connections to dsn. Neither it nor its errors show the password:
// pgx leaves it out of what it reports.
func connect(ctx context.Context, dsn string, readOnly bool) (*Store, error) {
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("open ledger in PostgreSQL: %w", err)
	}
	if readOnly {
		cfg.ConnConfig.RuntimeParams["default_transaction_read_only"] = "on"
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("open ledger in PostgreSQL: %w", err)
	}
	return &Store{pool: pool, readOnly: readOnly}, nil
}

// migrate applies the embedded migrations the database lacks, in one transaction with the
// version it brings the schema to, under an advisory lock: a second replica starting at the
// same time waits, then finds the schema current. A schema newer than this casebot's is
// refused: an older casebot would write rows a newer one does not expect.
func (s *Store) migrate(ctx context.Context) error {
	names, err := bot.Migrations(migrations, "migrations/*.sql")
	if err != nil {
		return err
	}
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("begin migration: %w", err)
	}
	defer tx.Rollback(ctx)
	// A transaction's lock: released by its commit or rollback, even when the connection dies.
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1, $2)`, lockSpace, lockMigrate); err != nil {
		return fmt.Errorf("lock the schema for migration: %w", err)
	}
	if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_version (version integer NOT NULL)`); err != nil {
		return fmt.Errorf("create schema_version: %w", err)
	}
	var current int
	if err := tx.QueryRow(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_version`).Scan(&current); err != nil {
		return fmt.Errorf("read schema version: %w", err)
	}
	if current > len(names) {
		return bot.CompareSchema(current, len(names))
	}
	if current == len(names) {
		return tx.Commit(ctx)
	}
	exec := func(ctx context.Context, sql string, args ...any) error {
		_, err := tx.Exec(ctx, sql, args...)
		return err
	}
	if err := bot.ApplyMigrations(ctx, migrations, names, current, exec, `INSERT INTO schema_version (version) VALUES ($1)`); err != nil {
		return err
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("commit migration: %w", err)
	}
	return nil
}

// checkVersion checks that the database's schema is the one this casebot writes.
func (s *Store) checkVersion(ctx context.Context) error {
	names, err := bot.Migrations(migrations, "migrations/*.sql")
	if err != nil {
		return err
	}
	var current int
	err = s.pool.QueryRow(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_version`).Scan(&current)
	if pe := (*pgconn.PgError)(nil); errors.As(err, &pe) && pe.Code == "42P01" { // undefined_table
		return fmt.Errorf("no casebot ledger in this database yet: %w", fs.ErrNotExist)
	}
	if err != nil {
		return fmt.Errorf("read schema version: %w", err)
	}
	return bot.CompareSchema(current, len(names))
}

// columns are the ledger's columns in the order scan reads them and upsert writes them.
const columns = `case_id, key, playbook, step, state, result, detail, attempts, at, retryable, retry_at, claimed_at`

// Entries returns the ledger entries of the given cases, by case id and then key. Cases
// without entries are absent from the map. The ids travel as one array parameter, so that any
// number of them is one statement.
func (s *Store) Entries(ctx context.Context, caseIDs []string) (map[string]bot.Ledger, error) {
	out := make(map[string]bot.Ledger)
	if len(caseIDs) == 0 {
		return out, nil
	}
	err := s.query(ctx, fmt.Sprintf("read ledger of %d cases", len(caseIDs)), func(e bot.LedgerEntry) {
		if out[e.CaseID] == nil {
			out[e.CaseID] = bot.Ledger{}
		}
		out[e.CaseID][e.Key] = e
	}, `SELECT `+columns+` FROM ledger WHERE case_id = ANY($1)`, caseIDs)
	if err != nil {
		return nil, err
	}
	return out, nil
}

// Claimed returns every entry in bot.StateClaimed, by key. The query names the state literally,
// as the partial index ledger_claimed does, so that PostgreSQL can use the index.
func (s *Store) Claimed(ctx context.Context) ([]bot.LedgerEntry, error) {
	var out []bot.LedgerEntry
	if err := s.query(ctx, "read claimed ledger entries", func(e bot.LedgerEntry) { out = append(out, e) },
		`SELECT `+columns+` FROM ledger WHERE state = 'claimed' ORDER BY key`); err != nil {
		return nil, err
	}
	return out, nil
}

// query runs a SELECT of columns and passes each entry to add; what says what was being read.
func (s *Store) query(ctx context.Context, what string, add func(bot.LedgerEntry), query string, args ...any) error {
	rows, err := s.pool.Query(ctx, query, args...)
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	defer rows.Close()
	for rows.Next() {
		var (
			e                      bot.LedgerEntry
			state                  string
			at, retryAt, claimedAt pgtype.Timestamptz
		)
		if err := rows.Scan(&e.CaseID, &e.Key, &e.Playbook, &e.Step, &state, &e.Result, &e.Detail, &e.Attempts,
			&at, &e.Retryable, &retryAt, &claimedAt); err != nil {
			return fmt.Errorf("%s: %w", what, err)
		}
		e.State = bot.EntryState(state)
		// pgx returns times in the local zone; the ledger's are UTC, as SQLite's are.
		e.At, e.RetryAt, e.Claimed = utc(at), utc(retryAt), utc(claimedAt)
		add(e)
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	return nil
}

func utc(t pgtype.Timestamptz) time.Time {
	if !t.Valid {
		return time.Time{}
	}
	return t.Time.UTC()
}

// nullTime is t for a column that is NULL when the time is not set.
func nullTime(t time.Time) pgtype.Timestamptz {
	return pgtype.Timestamptz{Time: t, Valid: !t.IsZero()}
}

// Payloads returns the payloads of the claims of the given keys; keys without one are absent.
func (s *Store) Payloads(ctx context.Context, keys []string) (map[string]string, error) {
	out := make(map[string]string, len(keys))
	if len(keys) == 0 {
		return out, nil
	}
	rows, err := s.pool.Query(ctx, `SELECT key, payload FROM claims WHERE key = ANY($1)`, keys)
	if err != nil {
		return nil, fmt.Errorf("read the claims of %d effects: %w", len(keys), err)
	}
	defer rows.Close()
	for rows.Next() {
		var k, p string
		if err := rows.Scan(&k, &p); err != nil {
			return nil, fmt.Errorf("read the claims of %d effects: %w", len(keys), err)
		}
		out[k] = p
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read the claims of %d effects: %w", len(keys), err)
	}
	return out, nil
}

// upsertLedger writes a batch of entries given as one array a column: one statement, prepared
// once, for a batch of any size. An entry without a claim time keeps the one stored. COPY into
// a temporary table and an upsert from it was slower at every size measured (BenchmarkRecord:
// 400 against 3,100 entries/s one at a time, 14,000 against 23,000 in batches of 200).
const upsertLedger = `INSERT INTO ledger (` + columns + `, gen)
	SELECT *, (SELECT gen FROM generation) FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[],
		$8::integer[], $9::timestamptz[], $10::boolean[], $11::timestamptz[], $12::timestamptz[])
	ON CONFLICT (case_id, key) DO UPDATE SET
		playbook = excluded.playbook, step = excluded.step,
		state = excluded.state, result = excluded.result, detail = excluded.detail,
		attempts = excluded.attempts, at = excluded.at, retryable = excluded.retryable,
		retry_at = excluded.retry_at, claimed_at = COALESCE(excluded.claimed_at, ledger.claimed_at),
		gen = excluded.gen`

// nextGeneration takes a write's generation; the row stays locked until the write commits
// (migrations/0003_generation.sql).
const nextGeneration = `UPDATE generation SET gen = gen + 1 WHERE id = 1`

// Generation returns the ledger's generation.
func (s *Store) Generation(ctx context.Context) (int64, error) {
	var g int64
	if err := s.pool.QueryRow(ctx, `SELECT gen FROM generation WHERE id = 1`).Scan(&g); err != nil {
		return 0, fmt.Errorf("read the ledger's generation: %w", err)
	}
	return g, nil
}

// Changes returns the entries written after generation since (bot.ReadChanges).
func (s *Store) Changes(ctx context.Context, since int64) ([]bot.LedgerEntry, int64, error) {
	return bot.ReadChanges(ctx, since, s.Generation, func(ctx context.Context, since, through int64) (es []bot.LedgerEntry, err error) {
		err = s.query(ctx, "read the ledger's changes", func(e bot.LedgerEntry) { es = append(es, e) },
			`SELECT `+columns+` FROM ledger WHERE gen > $1 AND gen <= $2`, since, through)
		return es, err
	})
}

// upsertClaims writes the payloads of a batch of claims.
const upsertClaims = `INSERT INTO claims (key, payload) SELECT * FROM unnest($1::text[], $2::text[])
	ON CONFLICT (key) DO UPDATE SET payload = excluded.payload`

// Record inserts the entries with their keys, or replaces them, in one transaction: the
// entries and their payloads go out in one round trip, as one batch that PostgreSQL runs as a
// single implicit transaction, and none of them is written after an error.
func (s *Store) Record(ctx context.Context, es ...bot.LedgerEntry) error {
	if len(es) == 0 {
		return nil
	}
	if err := bot.CheckEntries(es); err != nil {
		return fmt.Errorf("record %d ledger entries: %w", len(es), err)
	}
	if s.readOnly {
		return fmt.Errorf("record %d ledger entries: the ledger is open read-only", len(es))
	}
	folded := fold(es)
	n := len(folded)
	var (
		caseIDs, keys, playbooks, steps = make([]string, n), make([]string, n), make([]string, n), make([]string, n)
		states, results, details        = make([]string, n), make([]string, n), make([]string, n)
		attempts                        = make([]int32, n)
		ats, retryAts, claimedAts       = make([]pgtype.Timestamptz, n), make([]pgtype.Timestamptz, n), make([]pgtype.Timestamptz, n)
		retryables                      = make([]bool, n)
		payloadKeys, payloads           []string
	)
	for i, e := range folded {
		caseIDs[i], keys[i], playbooks[i], steps[i] = e.CaseID, e.Key, e.Playbook, e.Step
		states[i], results[i], details[i] = string(e.State), e.Result, e.Detail
		attempts[i], retryables[i] = int32(e.Attempts), e.Retryable
		ats[i] = pgtype.Timestamptz{Time: e.At, Valid: true}
		retryAts[i], claimedAts[i] = nullTime(e.RetryAt), nullTime(e.Claimed)
		if e.Payload != "" {
			payloadKeys, payloads = append(payloadKeys, e.Key), append(payloads, e.Payload)
		}
	}
	b := &pgx.Batch{}
	s.fenced(b)
	b.Queue(nextGeneration)
	b.Queue(upsertLedger, caseIDs, keys, playbooks, steps, states, results, details,
		attempts, ats, retryables, retryAts, claimedAts)
	if len(payloads) > 0 {
		b.Queue(upsertClaims, payloadKeys, payloads)
	}
	if err := s.pool.SendBatch(ctx, b).Close(); err != nil {
		return fmt.Errorf("record %d ledger entries %s…: %w", len(es), es[0].Key, leaseLost(err))
	}
	return nil
}

// fold merges the entries of a batch that share a key into one, as recording them one after
// the other would: the last wins, keeping an earlier claim time and payload when it has none.
// One upsert statement may not touch a row twice.
func fold(es []bot.LedgerEntry) []bot.LedgerEntry {
	type id struct{ caseID, key string }
	at := make(map[id]int, len(es))
	out := make([]bot.LedgerEntry, 0, len(es))
	for _, e := range es {
		k := id{e.CaseID, e.Key}
		i, ok := at[k]
		if !ok {
			at[k] = len(out)
			out = append(out, e)
			continue
		}
		if e.Claimed.IsZero() {
			e.Claimed = out[i].Claimed
		}
		if e.Payload == "" {
			e.Payload = out[i].Payload
		}
		out[i] = e
	}
	return out
}

// Position returns where intake stands in mailbox; zero when it never read it.
func (s *Store) Position(ctx context.Context, mailbox string) (bot.MailboxPosition, error) {
	var validity, uid int64
	err := s.pool.QueryRow(ctx, `SELECT uid_validity, uid FROM mailbox_positions WHERE mailbox = $1`, mailbox).
		Scan(&validity, &uid)
	if errors.Is(err, pgx.ErrNoRows) {
		return bot.MailboxPosition{}, nil
	}
	if err != nil {
		return bot.MailboxPosition{}, fmt.Errorf("read the position in mailbox %s: %w", mailbox, err)
	}
	return bot.MailboxPosition{UIDValidity: uint32(validity), UID: uint32(uid)}, nil
}

// SetPosition records where intake stands in mailbox.
func (s *Store) SetPosition(ctx context.Context, mailbox string, p bot.MailboxPosition) error {
	if s.readOnly {
		return fmt.Errorf("record the position in mailbox %s: the ledger is open read-only", mailbox)
	}
	b := &pgx.Batch{}
	s.fenced(b)
	b.Queue(`INSERT INTO mailbox_positions (mailbox, uid_validity, uid) VALUES ($1, $2, $3)
		ON CONFLICT (mailbox) DO UPDATE SET uid_validity = excluded.uid_validity, uid = excluded.uid`,
		mailbox, int64(p.UIDValidity), int64(p.UID))
	if err := s.pool.SendBatch(ctx, b).Close(); err != nil {
		return fmt.Errorf("record the position in mailbox %s: %w", mailbox, leaseLost(err))
	}
	return nil
}

// Check reports why the ledger can no longer be written: it is open read-only, the database
// cannot be reached, or it accepts only reads (a hot standby, a database made read-only).
func (s *Store) Check(ctx context.Context) error {
	if s.readOnly {
		return errors.New("ledger in PostgreSQL is open read-only")
	}
	var readOnly string
	if err := s.pool.QueryRow(ctx, `SELECT current_setting('transaction_read_only')`).Scan(&readOnly); err != nil {
		return fmt.Errorf("check ledger in PostgreSQL: %w", err)
	}
	if readOnly == "on" {
		return errors.New("ledger in PostgreSQL is read-only (a standby, or default_transaction_read_only is on)")
	}
	return nil
}

// Close closes the connections.
func (s *Store) Close() error {
	s.pool.Close()
	return nil
}
