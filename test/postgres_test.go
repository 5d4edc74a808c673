package test

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"casebot/connectors/postgres/pgtest"
)

// usePostgres puts the ledger of the config file cfg in the PostgreSQL database of dsn, which
// it reads from a file beside cfg, as a secret; lease, when not "", is store.lease.
func usePostgres(t *testing.T, cfg, dsn, lease string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(filepath.Dir(cfg), "postgres-dsn"), []byte(dsn+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	conf, err := os.ReadFile(cfg)
	if err != nil {
		t.Fatal(err)
	}
	store := regexp.MustCompile(`(?m)^store:\n  driver: sqlite\n  path: .*$`)
	if !store.Match(conf) {
		t.Fatalf("the example config has no sqlite store to replace:\n%s", conf)
	}
	with := "store:\n  driver: postgres\n  dsn_file: postgres-dsn"
	if lease != "" {
		with += "\n  lease: " + lease
	}
	conf = store.ReplaceAll(conf, []byte(with))
	if err := os.WriteFile(cfg, conf, 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestOncePostgres runs `casebot once` twice against the sandbox with its ledger in PostgreSQL
// (the DSN from a file, as a secret): the first run's effects land and are in the ledger, the
// second does nothing; validate and plan take the same config.
func TestOncePostgres(t *testing.T) {
	dsn := pgtest.Start(t).DSN(t)
	dir := t.TempDir()
	start := time.Date(2026, 11, 2, 13, 0, 0, 0, time.UTC)
	sb, cfg, _ := sandboxConfig(t, dir, func() time.Time { return start })
	usePostgres(t, cfg, dsn, "")

	casebot(t, "validate", "-config", cfg)
	onceTwice(t, sb, cfg, start)

	conn, err := pgx.Connect(t.Context(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(t.Context())
	var done, claimed int
	if err := conn.QueryRow(t.Context(), `SELECT count(*) FILTER (WHERE state = 'done'), count(*) FILTER (WHERE state = 'claimed') FROM ledger`).
		Scan(&done, &claimed); err != nil {
		t.Fatal(err)
	}
	if done == 0 || claimed != 0 {
		t.Errorf("the PostgreSQL ledger holds %d done and %d claimed entries; want some done, none claimed", done, claimed)
	}
	if _, err := os.Stat(filepath.Join(dir, "ledger.db")); err == nil {
		t.Error("a SQLite ledger was written beside the config")
	}

	// plan reads the same ledger: the steps done are done.
	at := start.Add(4*24*time.Hour + 2*time.Hour).Format(time.RFC3339)
	if out := casebot(t, "plan", "-config", cfg, "-at", at); !strings.Contains(out, "done") {
		t.Errorf("plan with the PostgreSQL ledger shows nothing done:\n%s", out)
	}
}
