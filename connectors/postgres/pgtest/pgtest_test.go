package pgtest

import (
	"testing"

	"github.com/jackc/pgx/v5"
)

// Each DSN is a database of its own: a table made in one is not in the other.
func TestDSN(t *testing.T) {
	s := Start(t)
	a, b := s.DSN(t), s.DSN(t)
	if a == b {
		t.Fatalf("two DSNs are the same: %s", a)
	}
	ca, err := pgx.Connect(t.Context(), a)
	if err != nil {
		t.Fatal(err)
	}
	defer ca.Close(t.Context())
	if _, err := ca.Exec(t.Context(), `CREATE TABLE t (x int)`); err != nil {
		t.Fatal(err)
	}
	cb, err := pgx.Connect(t.Context(), b)
	if err != nil {
		t.Fatal(err)
	}
	defer cb.Close(t.Context())
	var n int
	if err := cb.QueryRow(t.Context(), `SELECT count(*) FROM pg_tables WHERE tablename = 't'`).Scan(&n); err != nil || n != 0 {
		t.Errorf("the second database has %d tables t (%v), want none", n, err)
	}
}
