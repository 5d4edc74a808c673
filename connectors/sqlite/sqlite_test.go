package sqlite

import (
	"bytes"
	"database/sql"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"casebot/bot"
	"casebot/bot/bottest"
)

func open(t testing.TB, path string) *Store {
	t.Helper()
	s, err := Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestStoreMemory(t *testing.T) {
	bottest.TestStore(t, func(t *testing.T) bot.Store { return open(t, ":memory:") })
}

func TestStoreFile(t *testing.T) {
	bottest.TestStore(t, func(t *testing.T) bot.Store {
		return open(t, filepath.Join(t.TempDir(), "casebot.db"))
	})
}

func TestDurable(t *testing.T) {
	// "?", "#" and "%" mean something in the URI SQLite is given; the file must still be this one.
	path := filepath.Join(t.TempDir(), "casebot #1?%20.db")
	at := time.Date(2026, 11, 3, 9, 0, 0, 123456789, time.FixedZone("EST", -5*60*60))
	e := bot.LedgerEntry{
		Key: "termination-sop/attrition/1/c1", CaseID: "c1", Playbook: "termination-sop", Step: "attrition",
		State: bot.StateFailed, Detail: "503", Attempts: 3, At: at, Retryable: true,
		Payload: `{"Customer_Attrition__c":true}`, Claimed: at.Add(-time.Second),
	}
	s := open(t, path)
	if err := s.Record(t.Context(), e); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	if _, err := os.Stat(path); err != nil {
		t.Fatalf("the ledger is not at %s: %v", path, err)
	}
	s = open(t, path) // migrations find the schema current: only the version is written again
	defer s.Close()
	got, err := s.Entries(t.Context(), []string{"c1"})
	if err != nil {
		t.Fatal(err)
	}
	g := got["c1"][e.Key]
	// Nanoseconds survive, and the time comes back in UTC.
	if !g.At.Equal(at) || g.At.Nanosecond() != 123456789 || g.At.Location() != time.UTC {
		t.Errorf("At after reopening = %v, want %v in UTC", g.At, at)
	}
	if !g.Claimed.Equal(e.Claimed) || g.Claimed.Nanosecond() != 123456789 {
		t.Errorf("Claimed after reopening = %v, want %v", g.Claimed, e.Claimed)
	}
	ps, err := s.Payloads(t.Context(), []string{e.Key})
	if err != nil || ps[e.Key] != e.Payload {
		t.Errorf("payload after reopening = %q (%v), want %q", ps[e.Key], err, e.Payload)
	}
	g.At, e.At, g.Claimed, e.Claimed, e.Payload = time.Time{}, time.Time{}, time.Time{}, time.Time{}, ""
	if g != e {
		t.Errorf("entry after reopening = %+v, want %+v", g, e)
	}
	var version int
	if err := s.db.QueryRowContext(t.Context(), `SELECT version FROM schema_version`).Scan(&version); err != nil || version != 6 {
		t.Errorf("schema version %d (%v), want 6", version, err)
	}
}

func TestNewerSchema(t *testing.T) {
	path := filepath.Join(t.TempDir(), "casebot.db")
	s := open(t, path)
	if _, err := s.db.ExecContext(t.Context(), `UPDATE schema_version SET version = 99`); err != nil {
		t.Fatal(err)
	}
	s.Close()
	_, err := Open(t.Context(), path)
	if err == nil || !strings.Contains(err.Error(), "schema is version 99, newer than this casebot knows (6)") {
		t.Errorf("Open of a newer schema: error %v", err)
	}
}

// A ledger written by a casebot before retry times and claims gets the columns, its entries
// none of them.
func TestUpgradeFromVersion1(t *testing.T) {
	path := filepath.Join(t.TempDir(), "casebot.db")
	v1, err := migrations.ReadFile("migrations/0001_ledger.sql")
	if err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	for _, stmt := range []string{
		string(v1),
		`CREATE TABLE schema_version (version INTEGER NOT NULL) STRICT`,
		`INSERT INTO schema_version (version) VALUES (1)`,
		`INSERT INTO ledger VALUES ('p/s/1/c1', 'c1', 'p', 's', 'failed', '', '503', 1, '2026-11-03T14:00:00Z', 1)`,
	} {
		if _, err := db.ExecContext(t.Context(), stmt); err != nil {
			t.Fatalf("%s: %v", stmt, err)
		}
	}
	db.Close()

	s := open(t, path)
	defer s.Close()
	got, err := s.Entries(t.Context(), []string{"c1"})
	if err != nil {
		t.Fatal(err)
	}
	if e := got["c1"]["p/s/1/c1"]; e.State != bot.StateFailed || !e.Retryable || !e.RetryAt.IsZero() || e.Payload != "" || !e.Claimed.IsZero() {
		t.Errorf("entry after the upgrade = %+v, want the failed entry without a retry time, payload or claim", e)
	}
	retryAt := time.Date(2026, 11, 3, 14, 1, 0, 0, time.UTC)
	if err := s.Record(t.Context(), bot.LedgerEntry{Key: "p/s/1/c1", CaseID: "c1", Playbook: "p", Step: "s",
		State: bot.StateFailed, Retryable: true, Attempts: 2, At: retryAt.Add(-time.Minute), RetryAt: retryAt}); err != nil {
		t.Fatal(err)
	}
	if got, err = s.Entries(t.Context(), []string{"c1"}); err != nil || !got["c1"]["p/s/1/c1"].RetryAt.Equal(retryAt) {
		t.Errorf("RetryAt after the upgrade = %v (%v), want %v", got["c1"]["p/s/1/c1"].RetryAt, err, retryAt)
	}
}

// TestOpenReadOnly: plan and why read the ledger while the daemon may be writing it. A
// read-only store reads what is committed while another connection holds a write
// transaction, writes nothing, and leaves the file as it was.
func TestOpenReadOnly(t *testing.T) {
	path := filepath.Join(t.TempDir(), "casebot.db")
	e := bot.LedgerEntry{Key: "p/s/1/c1", CaseID: "c1", Playbook: "p", Step: "s", State: bot.StateDone, Attempts: 1,
		At: time.Date(2026, 11, 3, 14, 0, 0, 0, time.UTC)}
	w := open(t, path)
	if err := w.Record(t.Context(), e); err != nil {
		t.Fatal(err)
	}
	w.Close()
	w = open(t, path)
	before := fileBytes(t, path)

	// The daemon is in the middle of a cycle: it holds the write lock.
	tx, err := w.db.BeginTx(t.Context(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.ExecContext(t.Context(), `UPDATE ledger SET detail = 'uncommitted'`); err != nil {
		t.Fatal(err)
	}
	r, err := OpenReadOnly(t.Context(), path)
	if err != nil {
		t.Fatalf("OpenReadOnly while a write transaction is open: %v", err)
	}
	got, err := r.Entries(t.Context(), []string{"c1"})
	if err != nil {
		t.Fatalf("Entries while a write transaction is open: %v", err)
	}
	if g := got["c1"][e.Key]; g.State != bot.StateDone || g.Detail != "" {
		t.Errorf("read %+v, want the committed entry", g)
	}
	if err := r.Record(t.Context(), bot.LedgerEntry{Key: "p/s/2/c1", CaseID: "c1", State: bot.StateDone}); err == nil {
		t.Error("Record on a read-only store succeeded")
	}
	if err := r.Check(t.Context()); err == nil || !strings.Contains(err.Error(), "is open read-only") {
		t.Errorf("Check of a read-only store: %v, want an error saying it is open read-only", err)
	}
	if err := tx.Rollback(); err != nil {
		t.Fatal(err)
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	// Before the writer closes, which moves its write-ahead log into the file.
	if after := fileBytes(t, path); !bytes.Equal(before, after) {
		t.Error("reading the ledger read-only changed it")
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestOpenReadOnlyRefuses: a read-only store does not migrate: a schema of another version is
// an error that says so, and the file is left as it was; no file is no ledger yet.
func TestOpenReadOnlyRefuses(t *testing.T) {
	dir := t.TempDir()
	if _, err := OpenReadOnly(t.Context(), filepath.Join(dir, "none.db")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("OpenReadOnly of a missing file: %v, want fs.ErrNotExist", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "none.db")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("OpenReadOnly created the missing ledger: %v", err)
	}
	if _, err := OpenReadOnly(t.Context(), ":memory:"); err == nil {
		t.Error("OpenReadOnly(:memory:) succeeded")
	}
	for _, tt := range []struct {
		name, setup, want string
	}{
		{"older", `UPDATE schema_version SET version = 2`, "schema is version 2, older than this casebot's (6): casebot once or casebot run upgrades it"},
		{"newer", `UPDATE schema_version SET version = 7`, "schema is version 7, newer than this casebot knows (6)"},
		{"not a ledger", `DROP TABLE schema_version`, "read schema version (is it a casebot ledger?)"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "casebot.db")
			s := open(t, path)
			if _, err := s.db.ExecContext(t.Context(), tt.setup); err != nil {
				t.Fatal(err)
			}
			s.Close()
			before := fileBytes(t, path)
			_, err := OpenReadOnly(t.Context(), path)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("OpenReadOnly: %v, want an error saying %q", err, tt.want)
			}
			if after := fileBytes(t, path); !bytes.Equal(before, after) {
				t.Error("OpenReadOnly changed the ledger")
			}
		})
	}
}

// fileBytes returns the database's content: the file and its write-ahead log.
func fileBytes(t *testing.T, path string) []byte {
	t.Helper()
	var all []byte
	for _, p := range []string{path, path + "-wal"} {
		data, err := os.ReadFile(p)
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			t.Fatal(err)
		}
		all = append(all, data...)
	}
	return all
}
