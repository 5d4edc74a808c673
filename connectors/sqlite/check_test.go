package sqlite

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"casebot/bot"
)

// TestOpenRefusesUnwritable: a ledger casebot cannot write is refused at Open, with what to fix,
// instead of after a Salesforce write whose outcome could then not be recorded.
func TestOpenRefusesUnwritable(t *testing.T) {
	for _, tt := range []struct {
		name string
		// setup prepares dir and returns the path to open.
		setup func(t *testing.T, dir string) string
		want  string
	}{
		{"read-only file", func(t *testing.T, dir string) string {
			path := ledger(t, dir)
			makeReadOnly(t, path)
			return path
		}, "the file is not writable"},
		{"read-only directory, existing ledger", func(t *testing.T, dir string) string {
			// The file is writable, but the write-ahead log cannot be created beside it.
			path := ledger(t, dir)
			makeReadOnly(t, dir)
			return path
		}, "its directory DIR is not writable"},
		{"read-only directory, new ledger", func(t *testing.T, dir string) string {
			makeReadOnly(t, dir)
			return filepath.Join(dir, "casebot.db")
		}, "its directory DIR is not writable"},
		{"missing directory", func(t *testing.T, dir string) string {
			return filepath.Join(dir, "data", "casebot.db")
		}, "its directory DIR/data is not writable (no such file or directory)"},
		{"a directory", func(t *testing.T, dir string) string {
			return dir
		}, "the path is a directory"},
		{"a path through a file", func(t *testing.T, dir string) string {
			return filepath.Join(ledger(t, dir), "casebot.db")
		}, "not a directory"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			path := tt.setup(t, dir)
			s, err := Open(t.Context(), path)
			if err == nil {
				s.Close()
				t.Fatalf("Open succeeded, want an error saying %q", tt.want)
			}
			want := strings.ReplaceAll(tt.want, "DIR", dir)
			if msg := err.Error(); !strings.HasPrefix(msg, "open ledger "+path+": ") || !strings.Contains(msg, want) {
				t.Errorf("Open: %v, want an error about %s saying %q", err, path, want)
			}
		})
	}
}

// TestCheck: a ledger file removed or replaced under the open store, or made read-only, is
// reported by Check, and Record refuses to write into a file that is no longer at the path.
func TestCheck(t *testing.T) {
	e := bot.LedgerEntry{Key: "p/s/1/c1", CaseID: "c1", Playbook: "p", Step: "s", State: bot.StateDone, Attempts: 1,
		At: time.Date(2026, 11, 3, 14, 0, 0, 0, time.UTC)}
	for _, tt := range []struct {
		name   string
		change func(t *testing.T, path string)
		want   string
		record bool // whether Record still writes
	}{
		{"unchanged", func(*testing.T, string) {}, "", true},
		{"removed", func(t *testing.T, path string) {
			if err := os.Remove(path); err != nil {
				t.Fatal(err)
			}
		}, "was removed", false},
		{"replaced", func(t *testing.T, path string) {
			// What restoring a backup with mv does.
			if err := os.Rename(ledger(t, t.TempDir()), path); err != nil {
				t.Fatal(err)
			}
		}, "was replaced by another file", false},
		{"read-only", func(t *testing.T, path string) {
			makeReadOnly(t, path)
		}, "is no longer writable", true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "casebot.db")
			s := open(t, path)
			defer s.Close()
			tt.change(t, path)
			err := s.Check(t.Context())
			want := "ledger file " + path + " " + tt.want
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("Check: %v", err)
			case tt.want != "" && (err == nil || !strings.HasPrefix(err.Error(), want)):
				t.Errorf("Check: %v, want %q", err, want)
			}
			if tt.record {
				return
			}
			before, _ := os.ReadFile(path)
			if err := s.Record(t.Context(), e); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Record: %v, want an error saying the file %s", err, tt.want)
			}
			if after, _ := os.ReadFile(path); !bytes.Equal(before, after) {
				t.Errorf("Record changed the file now at %s", path)
			}
		})
	}
}

// TestClaimedUsesIndex: Claimed reads the few claimed entries through their partial index, not
// the whole ledger.
func TestClaimedUsesIndex(t *testing.T) {
	s := open(t, ":memory:")
	defer s.Close()
	rows, err := s.db.QueryContext(t.Context(), `EXPLAIN QUERY PLAN `+claimedQuery)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var plan []string
	for rows.Next() {
		var id, parent, unused int
		var detail string
		if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
			t.Fatal(err)
		}
		plan = append(plan, detail)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if len(plan) != 1 || !strings.Contains(plan[0], "USING INDEX ledger_claimed") {
		t.Errorf("plan of Claimed: %q, want one step reading the index ledger_claimed", plan)
	}
}

// ledger creates an empty ledger in dir and returns its path.
func ledger(t *testing.T, dir string) string {
	t.Helper()
	path := filepath.Join(dir, "casebot.db")
	if err := open(t, path).Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

// makeReadOnly makes the file or directory at path read-only to casebot until the test ends.
// For another user that is what an operator finds: permission bits. Root ignores those, so as
// root it sets the immutable attribute, which stops root too; where that cannot be set (no
// chattr, a file system without it) the test is skipped.
func makeReadOnly(t *testing.T, path string) {
	t.Helper()
	if os.Geteuid() != 0 {
		info, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(path, info.Mode().Perm()&^0o222); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			if err := os.Chmod(path, info.Mode().Perm()); err != nil {
				t.Error(err)
			}
		})
		return
	}
	if out, err := exec.Command("chattr", "+i", path).CombinedOutput(); err != nil {
		t.Skipf("as root only the immutable attribute makes %s read-only, and chattr +i failed: %v %s", path, err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("chattr", "-i", path).CombinedOutput(); err != nil {
			t.Errorf("chattr -i %s: %v %s", path, err, out)
		}
	})
}
