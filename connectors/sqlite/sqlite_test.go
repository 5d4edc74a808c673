package sqlite

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"casebot/bot"
	"casebot/bot/bottest"
)

func open(t *testing.T, path string) *Store {
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
	s = open(t, path) // migrations find the schema current and leave it alone
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
	g.At, e.At = time.Time{}, time.Time{}
	if g != e {
		t.Errorf("entry after reopening = %+v, want %+v", g, e)
	}
	var version int
	if err := s.db.QueryRowContext(t.Context(), `SELECT version FROM schema_version`).Scan(&version); err != nil || version != 1 {
		t.Errorf("schema version %d (%v), want 1", version, err)
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
	if err == nil || !strings.Contains(err.Error(), "schema is version 99, newer than this casebot knows (1)") {
		t.Errorf("Open of a newer schema: error %v", err)
	}
}
