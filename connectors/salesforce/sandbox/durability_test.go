package sandbox

import (
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestDurableAcrossRestart(t *testing.T) {
	path := filepath.Join(t.TempDir(), "org.jsonl")
	o := newOrg(t, Options{DataFile: path, Seed: true})
	caseID := o.create("Case", map[string]any{"Subject": "survives"})
	o.do("PATCH", "/sobjects/Case/"+caseID, map[string]any{"Status": "Working"}).ok(t, http.StatusNoContent, nil)
	gone := o.create("Task", map[string]any{"Subject": "deleted"})
	o.do("DELETE", "/sobjects/Task/"+gone, nil).ok(t, http.StatusNoContent, nil)
	var rolledBack []saveResult
	o.do("POST", "/composite/sobjects", map[string]any{"allOrNone": true, "records": []map[string]any{
		{"attributes": map[string]any{"type": "Task"}, "Subject": "rolled back"},
		{"attributes": map[string]any{"type": "Task"}, "Status": "bad"},
	}}).ok(t, http.StatusOK, &rolledBack)
	if err := o.sb.Close(); err != nil {
		t.Fatal(err)
	}

	// A crash while appending leaves a torn last line: it is dropped.
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString(`{"records":[{"Id":"500Sb00000`); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}

	// Seed is asked for again, but the store is not empty: nothing is added.
	o2 := newOrg(t, Options{DataFile: path, Seed: true})
	rec := o2.get("Case", caseID)
	if rec["Subject"] != "survives" || rec["Status"] != "Working" || rec["CaseNumber"] != caseNumber(seededCases+1) {
		t.Errorf("case after restart: %v", rec)
	}
	if n := o2.query("SELECT COUNT() FROM Case").TotalSize; n != seededCases+1 {
		t.Errorf("%d cases after restart, want %d seeded and 1 created", n, seededCases)
	}
	if n := o2.query("SELECT COUNT() FROM Task").TotalSize; n != 0 {
		t.Errorf("%d live tasks after restart, want 0 (one deleted, two rolled back)", n)
	}
	if n := o2.query("SELECT COUNT() FROM User").TotalSize; n != seededUsers {
		t.Errorf("%d users after restart, want %d", n, seededUsers)
	}
	o2.do("GET", "/sobjects/Task/"+gone, nil).wantError(t, http.StatusNotFound, "NOT_FOUND")
	// Counters continue where they were: no id or CaseNumber is given twice.
	next := o2.create("Case", map[string]any{"Subject": "after restart"})
	if rec := o2.get("Case", next); rec["CaseNumber"] != caseNumber(seededCases+2) || idCounter(next) <= idCounter(gone) {
		t.Errorf("new case after restart: %v %v", next, rec["CaseNumber"])
	}
	if err := o2.sb.Close(); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	// The torn line was cut off before the next append: every line is whole.
	for i, line := range strings.Split(strings.TrimSuffix(string(data), "\n"), "\n") {
		if !json.Valid([]byte(line)) {
			t.Errorf("journal line %d is not JSON: %.80s", i+1, line)
		}
	}

	o3 := newOrg(t, Options{DataFile: path})
	if rec := o3.get("Case", next); rec["Subject"] != "after restart" {
		t.Errorf("record written after the torn line was repaired: %v", rec)
	}
}

func TestJournalCorruptMiddle(t *testing.T) {
	path := filepath.Join(t.TempDir(), "org.jsonl")
	o := newOrg(t, Options{DataFile: path})
	o.create("Account", map[string]any{"Name": "A"})
	if err := o.sb.Close(); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, append([]byte("not json\n"), data...), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := New(Options{DataFile: path}); err == nil || !strings.Contains(err.Error(), "line 1") {
		t.Fatalf("New with a damaged journal: %v, want an error naming line 1", err)
	}
}

func TestSeedOnlyEmpty(t *testing.T) {
	o := newOrg(t, Options{})
	o.create("Account", map[string]any{"Name": "Mine"})
	if err := o.sb.Seed(testNow); !errors.Is(err, ErrNotEmpty) {
		t.Fatalf("Seed of a non-empty org: %v", err)
	}
	empty := newOrg(t, Options{})
	if err := empty.sb.Seed(testNow); err != nil {
		t.Fatalf("Seed of an org with only the API user: %v", err)
	}
	if n := empty.query("SELECT COUNT() FROM User").TotalSize; n != seededUsers {
		t.Errorf("%d users, want %d (the API user once)", n, seededUsers)
	}
}

func TestWriteAfterCloseFails(t *testing.T) {
	o := newOrg(t, Options{DataFile: filepath.Join(t.TempDir(), "org.jsonl")})
	if err := o.sb.Close(); err != nil {
		t.Fatal(err)
	}
	// Accepting the write in memory would lose it silently.
	o.do("POST", "/sobjects/Account", map[string]any{"Name": "late"}).wantError(t, http.StatusInternalServerError, "UNKNOWN_EXCEPTION")
}
