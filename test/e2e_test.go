// Package test holds casebot's end-to-end tests: they build the real binary and drive it against
// the sandbox, and run a real Salesforce client (jsforce) against the sandbox.
package test

import (
	"flag"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"casebot/connectors/salesforce/sandbox"
	"casebot/test/testbin"
)

var update = flag.Bool("update", false, "rewrite golden files")

// binary is the casebot binary built once for all tests.
var binary string

func TestMain(m *testing.M) {
	flag.Parse()
	testbin.Main(m, &binary, "")
}

// casebot runs the binary and returns its stdout; it fails the test on a non-zero exit.
func casebot(t *testing.T, args ...string) string {
	t.Helper()
	stdout, stderr, code := run(t, args...)
	if code != 0 {
		t.Fatalf("casebot %s: exit code %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), code, stdout, stderr)
	}
	return stdout
}

// TestDemo runs `casebot demo` and compares its timeline with the golden file: every seeded
// termination case goes from opened to closed, each step on its date in the case's zone, and
// so do the cases the demo's mail opens, while the spoofed mail is quarantined.
func TestDemo(t *testing.T) {
	out := casebot(t, "demo")
	for _, want := range []string{
		"Customer Attrition box checked",
		"Account.Customer_Attrition__c = true",
		"Case.Status = Closed",
		"Account.Type = Former Customer",
		"slack #legal",
		"completed task",
		`"Termination of Service: Magnolia Travel" → opened Customer Removal case 00001012 Magnolia Travel`,
		`"Cancel customer Litware Inc" → opened MSP Cancellation case 00001013 Litware Inc`,
		`"Notice of termination: Umbrella Ltd" → quarantined`,
		`slack #order-management │ :warning: *Mail quarantined*`,
		"00001012 Magnolia Travel   Closed",
		"00001013 Litware Inc       Closed",
		"All cases closed",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("demo output lacks %q", want)
		}
	}
	normal := regexp.MustCompile(`http://127\.0\.0\.1:\d+`).ReplaceAllString(out, "http://127.0.0.1:PORT")
	normal = regexp.MustCompile(`; [0-9.]+(µs|ms|s) of real time`).ReplaceAllString(normal, "; TIME of real time")
	golden(t, "testdata/demo.golden", normal)
}

// TestOnceTwiceWritesOnce runs `casebot once` twice against the same sandbox at the same
// virtual time: the first run performs the due effects, the second reads and writes nothing
// but its one query.
func TestOnceTwiceWritesOnce(t *testing.T) {
	start := time.Date(2026, 11, 2, 13, 0, 0, 0, time.UTC)
	sb, cfg, _ := sandboxConfig(t, t.TempDir(), func() time.Time { return start })
	onceTwice(t, sb, cfg, start)
}

// onceTwice runs `casebot once` twice at the same time, four days after start, when the SOP's
// first steps are due for the seeded cases: the first run writes to the sandbox, the second
// makes one query per playbook and does nothing.
func onceTwice(t *testing.T, sb *sandbox.Server, cfg string, start time.Time) {
	t.Helper()
	at := start.Add(4*24*time.Hour + 2*time.Hour).Format(time.RFC3339)
	out := casebot(t, "once", "-config", cfg, "-at", at)
	first := sb.Requests()
	writes := 0
	for _, r := range first {
		if r.APICall && r.Method != "GET" {
			writes++
		}
	}
	if writes == 0 {
		t.Fatalf("the first run wrote nothing:\n%s", out)
	}
	sb.ResetRequests()

	out = casebot(t, "once", "-config", cfg, "-at", at)
	second := sb.Requests()
	var calls []string
	for _, r := range second {
		if r.APICall {
			calls = append(calls, r.Method+" "+r.Path)
		}
	}
	// One query per shipped playbook (each reads its own cases), and nothing else.
	want := slices.Repeat([]string{"GET /services/data/v62.0/query"}, len(shippedPlaybooks(t)))
	if !slices.Equal(calls, want) {
		t.Errorf("second run at the same time made API calls %q, want %q: one query per playbook", calls, want)
	}
	if !strings.Contains(out, "0 effect(s) done") {
		t.Errorf("second run did something: %s", out)
	}
}

// golden compares got with the file, or rewrites the file with -update.
func golden(t *testing.T, file, got string) {
	t.Helper()
	if *update {
		if err := os.WriteFile(file, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(file)
	if err != nil {
		t.Fatalf("%v (run go test ./test -run %s -update to create it)", err, t.Name())
	}
	if got != string(want) {
		t.Errorf("output differs from %s (rerun with -update after checking the change):\n%s", file, diff(string(want), got))
	}
}

// diff shows the first lines where want and got differ.
func diff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	for i := 0; i < max(len(w), len(g)); i++ {
		var wl, gl string
		if i < len(w) {
			wl = w[i]
		}
		if i < len(g) {
			gl = g[i]
		}
		if wl != gl {
			return fmt.Sprintf("line %d:\n  want: %q\n  got:  %q", i+1, wl, gl)
		}
	}
	return ""
}
