package bot

import (
	"slices"
	"testing"
	"testing/fstest"
)

func TestMigrations(t *testing.T) {
	sql := &fstest.MapFile{Data: []byte("SELECT 1;")}
	got, err := Migrations(fstest.MapFS{"m/0002_b.sql": sql, "m/0001_a.sql": sql, "m/README": sql}, "m/*.sql")
	if want := []string{"m/0001_a.sql", "m/0002_b.sql"}; err != nil || !slices.Equal(got, want) {
		t.Errorf("Migrations = %q (%v), want %q", got, err, want)
	}
	for name, fsys := range map[string]fstest.MapFS{
		"a gap":        {"m/0001_a.sql": sql, "m/0003_c.sql": sql},
		"no number":    {"m/ledger.sql": sql},
		"two of one":   {"m/0001_a.sql": sql, "m/0001_b.sql": sql},
		"not from one": {"m/0002_b.sql": sql},
	} {
		if _, err := Migrations(fsys, "m/*.sql"); err == nil {
			t.Errorf("Migrations of %s succeeded", name)
		}
	}
}
