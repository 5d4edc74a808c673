package test

import (
	"context"
	"database/sql"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	_ "modernc.org/sqlite" // the "sqlite" driver, for a ledger's schema version

	"casebot/bot"
	"casebot/connectors/postgres"
	"casebot/connectors/postgres/pgtest"
	"casebot/connectors/sqlite"
)

// ledgerConfig writes the example config with its store replaced by store (YAML below
// "store:") into dir and returns its path.
func ledgerConfig(t *testing.T, dir, store string) string {
	t.Helper()
	example, err := os.ReadFile("../config/example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	re := regexp.MustCompile(`(?m)^store:\n  driver: sqlite\n  path: .*$`)
	if !re.Match(example) {
		t.Fatalf("the example config has no sqlite store to replace:\n%s", example)
	}
	conf := re.ReplaceAllLiteral(example, []byte("store:\n"+store))
	path := filepath.Join(dir, "casebot.yaml")
	if err := os.WriteFile(path, conf, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// postgresConfig writes a config whose ledger is the PostgreSQL database dsn, read from a file
// as a secret is.
func postgresConfig(t *testing.T, dir, dsn string) string {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, "postgres-dsn"), []byte(dsn+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return ledgerConfig(t, dir, "  driver: postgres\n  dsn_file: postgres-dsn")
}

// expectExit runs casebot and checks its exit code and that its output says want.
func expectExit(t *testing.T, code int, want string, args ...string) {
	t.Helper()
	stdout, stderr, got := run(t, args...)
	if got != code || !strings.Contains(stdout+stderr, want) {
		t.Errorf("casebot %s: exit %d, want %d and %q\nstdout:\n%s\nstderr:\n%s",
			strings.Join(args, " "), got, code, want, stdout, stderr)
	}
}

// TestMigrateSQLite: -check says a new ledger is pending (3), migrate brings it from 0 to the
// latest version, -check then says current (0), and a schema newer than the binary's is
// refused by migrate and -check alike.
func TestMigrateSQLite(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "ledger.db")
	cfg := ledgerConfig(t, dir, "  driver: sqlite\n  path: ledger.db")
	expectExit(t, 3, "migration pending from schema version 0 to ", "migrate", "-check", "-config", cfg)
	if _, err := os.Stat(db); err == nil {
		t.Error("migrate -check created the ledger")
	}
	expectExit(t, 0, "migrated schema from version 0 to ", "migrate", "-config", cfg)
	expectExit(t, 0, "is current", "migrate", "-check", "-config", cfg)
	expectExit(t, 0, "nothing to migrate", "migrate", "-config", cfg)

	s, err := sqlite.Open(t.Context(), db)
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	setVersion(t, "sqlite", db, 99)
	expectExit(t, 1, "newer than this casebot knows", "migrate", "-config", cfg)
	expectExit(t, 1, "newer than this casebot knows", "migrate", "-check", "-config", cfg)
}

// TestMigratePostgres is TestMigrateSQLite on PostgreSQL.
func TestMigratePostgres(t *testing.T) {
	dsn := pgtest.Start(t).DSN(t)
	cfg := postgresConfig(t, t.TempDir(), dsn)
	expectExit(t, 3, "migration pending from schema version 0 to ", "migrate", "-check", "-config", cfg)
	expectExit(t, 0, "migrated schema from version 0 to ", "migrate", "-config", cfg)
	expectExit(t, 0, "is current", "migrate", "-check", "-config", cfg)
	setVersion(t, "postgres", dsn, 99)
	expectExit(t, 1, "newer than this casebot knows", "migrate", "-config", cfg)
	expectExit(t, 1, "newer than this casebot knows", "migrate", "-check", "-config", cfg)
}

// setVersion makes the ledger's schema version v, as a newer casebot would have.
func setVersion(t *testing.T, driver, where string, v int) {
	t.Helper()
	if driver == "postgres" {
		conn, err := pgx.Connect(t.Context(), where)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close(t.Context())
		if _, err := conn.Exec(t.Context(), `UPDATE schema_version SET version = $1`, v); err != nil {
			t.Fatal(err)
		}
		return
	}
	s, err := sqlite.Open(t.Context(), where)
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	// The store keeps its database handle private: a connection of the test's writes the version.
	db, err := sql.Open("sqlite", where)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.ExecContext(t.Context(), `UPDATE schema_version SET version = ?`, v); err != nil {
		t.Fatal(err)
	}
}

// TestImportSQLite copies a SQLite ledger into PostgreSQL with migrate -from-sqlite: every
// entry, claim payload and mailbox position is there after, in more than one batch; a second
// import into the now non-empty ledger is refused unless -force.
func TestImportSQLite(t *testing.T) {
	dsn := pgtest.Start(t).DSN(t)
	dir := t.TempDir()
	cfg := postgresConfig(t, dir, dsn)
	from := filepath.Join(dir, "old.db")

	src, err := sqlite.Open(t.Context(), from)
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 11, 3, 14, 0, 0, 0, time.UTC)
	var es []bot.LedgerEntry
	for i := range 450 { // more cases than one batch of the import holds
		id := fmt.Sprintf("500%015d", i)
		for a := 1; a <= 2; a++ {
			e := bot.LedgerEntry{Key: bot.EffectKey("termination-sop", "attrition", a, id), CaseID: id,
				Playbook: "termination-sop", Step: "attrition", State: bot.StateDone, Result: "ok", Attempts: 1, At: at}
			if a == 2 {
				e.State, e.Claimed = bot.StateClaimed, at.Add(-time.Minute)
				e.Payload = fmt.Sprintf(`{"key":%q}`, e.Key)
			}
			es = append(es, e)
		}
	}
	if err := src.Record(t.Context(), es...); err != nil {
		t.Fatal(err)
	}
	positions := map[string]bot.MailboxPosition{"INBOX": {UIDValidity: 7, UID: 41}, "Partners": {UIDValidity: 3, UID: 9}}
	for m, p := range positions {
		if err := src.SetPosition(t.Context(), m, p); err != nil {
			t.Fatal(err)
		}
	}
	src.Close()

	expectExit(t, 0, "imported 900 entries of 450 cases, 450 claim payloads and 2 mailbox positions",
		"migrate", "-config", cfg, "-from-sqlite", from)
	compareLedgers(t, from, dsn)

	expectExit(t, 1, "already has entries of 450 cases", "migrate", "-config", cfg, "-from-sqlite", from)
	expectExit(t, 0, "imported 900 entries", "migrate", "-config", cfg, "-from-sqlite", from, "-force")
	compareLedgers(t, from, dsn)

	expectExit(t, 2, "store.driver", "migrate", "-config", ledgerConfig(t, t.TempDir(), "  driver: sqlite\n  path: x.db"),
		"-from-sqlite", from)
}

// compareLedgers checks that the PostgreSQL ledger holds what the SQLite one does.
func compareLedgers(t *testing.T, path, dsn string) {
	t.Helper()
	ctx := t.Context()
	src, err := sqlite.OpenReadOnly(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	dst, err := postgres.OpenReadOnly(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer dst.Close()
	want, got := readLedger(ctx, t, src), readLedger(ctx, t, dst)
	if !maps.Equal(got, want) {
		t.Errorf("PostgreSQL holds %d entries, SQLite %d; they differ", len(got), len(want))
	}
	wp, err := src.Positions(ctx)
	if err != nil {
		t.Fatal(err)
	}
	gp, err := dst.Positions(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !maps.Equal(gp, wp) {
		t.Errorf("positions in PostgreSQL %v, in SQLite %v", gp, wp)
	}
}

// readLedger returns every entry of s by key, with its payload.
func readLedger(ctx context.Context, t *testing.T, s bot.Store) map[string]bot.LedgerEntry {
	t.Helper()
	ids, err := s.CaseIDs(ctx)
	if err != nil {
		t.Fatal(err)
	}
	byCase, err := s.Entries(ctx, ids)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]bot.LedgerEntry{}
	var keys []string
	for _, l := range byCase {
		for k, e := range l {
			out[k] = e
			keys = append(keys, k)
		}
	}
	payloads, err := s.Payloads(ctx, keys)
	if err != nil {
		t.Fatal(err)
	}
	for k, p := range payloads {
		e := out[k]
		e.Payload = p
		out[k] = e
	}
	return out
}
