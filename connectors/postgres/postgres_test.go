package postgres

import (
	"errors"
	"io/fs"
	"strings"
	"sync"
	"testing"
	"time"

	"casebot/bot"
	"casebot/bot/bottest"
	"casebot/connectors/postgres/pgtest"
)

func open(t testing.TB, dsn string) *Store {
	t.Helper()
	s, err := Open(t.Context(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestStore(t *testing.T) {
	pg := pgtest.Start(t)
	bottest.TestStore(t, func(t *testing.T) bot.Store { return open(t, pg.DSN(t)) })
}

// TestConcurrentOpen: replicas starting at once on an empty database each upgrade the schema
// or wait for the one that does; none fails.
func TestConcurrentOpen(t *testing.T) {
	dsn := pgtest.Start(t).DSN(t)
	const replicas = 8
	errs := make(chan error, replicas)
	var wg sync.WaitGroup
	for range replicas {
		wg.Go(func() {
			s, err := Open(t.Context(), dsn)
			if err == nil {
				err = s.Close()
			}
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("Open beside %d others: %v", replicas-1, err)
		}
	}
	s := open(t, dsn)
	defer s.Close()
	var versions, version int
	if err := s.pool.QueryRow(t.Context(), `SELECT count(*), max(version) FROM schema_version`).Scan(&versions, &version); err != nil || versions != 1 || version != 3 {
		t.Errorf("schema_version holds %d rows, the highest %d (%v); want one, 3", versions, version, err)
	}
}

func TestNewerSchema(t *testing.T) {
	dsn := pgtest.Start(t).DSN(t)
	s := open(t, dsn)
	if _, err := s.pool.Exec(t.Context(), `UPDATE schema_version SET version = 99`); err != nil {
		t.Fatal(err)
	}
	s.Close()
	_, err := Open(t.Context(), dsn)
	if err == nil || !strings.Contains(err.Error(), "schema is version 99, newer than this casebot knows (3)") {
		t.Errorf("Open of a newer schema: error %v", err)
	}
}

// TestOpenReadOnly: plan and why read the ledger while the daemon writes it. A read-only store
// reads, refuses to write, and refuses a schema of another version; an empty database is no
// ledger yet.
func TestOpenReadOnly(t *testing.T) {
	pg := pgtest.Start(t)
	dsn := pg.DSN(t)
	if _, err := OpenReadOnly(t.Context(), dsn); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("OpenReadOnly of an empty database: %v, want fs.ErrNotExist", err)
	}
	w := open(t, dsn)
	defer w.Close()
	e := bot.LedgerEntry{Key: "p/s/1/c1", CaseID: "c1", Playbook: "p", Step: "s", State: bot.StateDone, Attempts: 1,
		At: time.Date(2026, 11, 3, 14, 0, 0, 0, time.UTC)}
	if err := w.Record(t.Context(), e); err != nil {
		t.Fatal(err)
	}
	r, err := OpenReadOnly(t.Context(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if got, err := r.Entries(t.Context(), []string{"c1"}); err != nil || got["c1"][e.Key].State != bot.StateDone {
		t.Errorf("read-only Entries = %v (%v), want the entry", got, err)
	}
	if err := r.Record(t.Context(), bot.LedgerEntry{Key: "p/s/2/c1", CaseID: "c1", State: bot.StateDone}); err == nil {
		t.Error("Record on a read-only store succeeded")
	}
	if err := r.SetPosition(t.Context(), "INBOX", bot.MailboxPosition{UIDValidity: 1, UID: 1}); err == nil {
		t.Error("SetPosition on a read-only store succeeded")
	}
	if err := r.Check(t.Context()); err == nil || !strings.Contains(err.Error(), "is open read-only") {
		t.Errorf("Check of a read-only store: %v, want an error saying it is open read-only", err)
	}
	// The database refuses writes too, not only the store.
	if _, err := r.pool.Exec(t.Context(), `DELETE FROM ledger`); err == nil {
		t.Error("a read-only store's connection could delete the ledger")
	}
	for _, tt := range []struct{ version, want string }{
		{"0", "schema is version 0, older than this casebot's (3)"},
		{"4", "schema is version 4, newer than this casebot knows (3)"},
	} {
		if _, err := w.pool.Exec(t.Context(), `UPDATE schema_version SET version = `+tt.version); err != nil {
			t.Fatal(err)
		}
		if _, err := OpenReadOnly(t.Context(), dsn); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("OpenReadOnly of schema version %s: %v, want an error saying %q", tt.version, err, tt.want)
		}
	}
}

// TestRecordAtomic: the entries and the payloads of a batch are written together or not at
// all, even when the database refuses only the payloads (text may not hold a NUL byte).
func TestRecordAtomic(t *testing.T) {
	s := open(t, pgtest.Start(t).DSN(t))
	defer s.Close()
	at := time.Date(2026, 11, 3, 14, 0, 0, 0, time.UTC)
	good := bot.LedgerEntry{Key: "p/s/1/c1", CaseID: "c1", Playbook: "p", Step: "s", State: bot.StateClaimed,
		Attempts: 1, At: at, Claimed: at, Payload: `{"ok":true}`}
	bad := good
	bad.Key, bad.Payload = "p/s/2/c1", "nul \x00 byte"
	if err := s.Record(t.Context(), good, bad); err == nil {
		t.Fatal("Record of a payload with a NUL byte succeeded")
	}
	if got, err := s.Entries(t.Context(), []string{"c1"}); err != nil || len(got) != 0 {
		t.Errorf("after a refused batch the ledger holds %v (%v), want nothing", got, err)
	}
	if got, err := s.Payloads(t.Context(), []string{good.Key}); err != nil || len(got) != 0 {
		t.Errorf("after a refused batch the claims hold %v (%v), want nothing", got, err)
	}
}

// TestCheckReadOnlyDatabase: a database that accepts only reads (a standby, or made read-only)
// is reported before a cycle acts.
func TestCheckReadOnlyDatabase(t *testing.T) {
	s := open(t, pgtest.Start(t).DSN(t))
	defer s.Close()
	if err := s.Check(t.Context()); err != nil {
		t.Fatalf("Check of a writable database: %v", err)
	}
	if _, err := s.pool.Exec(t.Context(), `DO $$ BEGIN EXECUTE format('ALTER DATABASE %I SET default_transaction_read_only = on', current_database()); END $$`); err != nil {
		t.Fatal(err)
	}
	s.pool.Reset() // the setting applies to new sessions
	if err := s.Check(t.Context()); err == nil || !strings.Contains(err.Error(), "read-only") {
		t.Errorf("Check of a read-only database: %v, want an error saying it is read-only", err)
	}
}
