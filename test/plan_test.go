package test

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"casebot/connectors/salesforce/sandbox"
	"casebot/rules"
	"casebot/rules/playbooks"

	_ "modernc.org/sqlite" // to hold the ledger's write lock as a running cycle does
)

// TestPlanAndWhy runs casebot against a seeded sandbox on a fixed clock: two cycles (when the
// cases open and four days later), then plan and why, whose output is compared with golden
// files. plan and why must only read: the sandbox sees nothing but GET data calls from them,
// and the ledger does not change.
func TestPlanAndWhy(t *testing.T) {
	start := time.Date(2026, 11, 2, 13, 0, 0, 0, time.UTC) // Mon 2 Nov 2026 08:00 in New York
	dir := t.TempDir()
	sb, cfg, calls := sandboxConfig(t, dir, func() time.Time { return start })

	for _, at := range []time.Time{start.Add(time.Minute), start.Add(4*24*time.Hour + 2*time.Hour)} {
		out, _, _ := run(t, "once", "-config", cfg, "-at", at.Format(time.RFC3339))
		if !strings.Contains(out, "effect(s) done") {
			t.Fatalf("casebot once at %v: %s", at, out)
		}
	}
	if calls.Load() == 0 {
		t.Fatal("the cycles called no endpoint: the test cannot tell whether plan and why do")
	}
	ledger := filepath.Join(dir, "ledger.db")
	before := ledgerBytes(t, ledger)
	sb.ResetRequests()
	calls.Store(0)

	at := start.Add(4*24*time.Hour + 3*time.Hour).Format(time.RFC3339) // Fri 6 Nov 11:00 in New York
	norm := normalizer(sb, dir)

	t.Run("summary", func(t *testing.T) {
		// Three weeks ahead: the SOP's final notice and hold reminders come due.
		golden(t, "testdata/plan-summary.golden", norm(casebot(t, "plan", "-config", cfg, "-at", at, "-days", "25")))
	})
	t.Run("all cases", func(t *testing.T) {
		golden(t, "testdata/plan-all.golden", norm(casebot(t, "plan", "-config", cfg, "-at", at, "-full")))
	})
	t.Run("one case", func(t *testing.T) {
		out := casebot(t, "plan", "-config", cfg, "-at", at, "-case", "00001001", "-days", "14")
		if strings.Contains(out, "Termination: Globex GmbH") {
			t.Errorf("plan -case 00001001 shows another case:\n%s", out)
		}
		golden(t, "testdata/plan-case.golden", norm(out))
	})
	t.Run("diff", func(t *testing.T) {
		oldDir, newDir := filepath.Join(dir, "old"), filepath.Join(dir, "new")
		copyShipped(t, oldDir, nil)
		copyShipped(t, newDir, map[string]string{
			// The hold reminder counts business days, the final notice comes a day earlier
			// and off weekends, deletion needs the hold cleared, Finance hears of the purge.
			"at: day0 + deletion - 5d\n":                                "at: day0 + 18bd\n",
			"at: deprovision - 72h\n    non_working: keep\n":            "at: deprovision - 96h\n    non_working: earlier\n",
			"at: day0 + deletion\n    catch_up: escalate\n":             "at: day0 + deletion\n    catch_up: escalate\n    require: \"!Case.Termination_Hold__c\"\n",
			"slack: {to: [infrastructure, legal], template: step-done}": "slack: {to: [infrastructure, legal, finance], template: step-done}",
		})
		newCfg := filepath.Join(dir, "casebot-new.yaml")
		conf, err := os.ReadFile(cfg)
		if err != nil {
			t.Fatal(err)
		}
		conf = append(conf, []byte("\nplaybooks:\n  - "+newDir+"\n")...)
		if err := os.WriteFile(newCfg, conf, 0o600); err != nil {
			t.Fatal(err)
		}
		out := casebot(t, "plan", "-config", newCfg, "-at", at, "-diff", oldDir)
		for _, want := range []string{
			"hold-reminder: Fri 27 Nov 2026 09:00 EST → ",
			"final-notice: ",
			"deletion-approval: require (none) → !Case.Termination_Hold__c",
			"purge-handoff: action 4: slack infrastructure, legal (template step-done) → slack infrastructure, legal, finance",
		} {
			if !strings.Contains(strings.Join(strings.Fields(out), " "), want) {
				t.Errorf("plan -diff lacks %q:\n%s", want, out)
			}
		}
		golden(t, "testdata/plan-diff.golden", norm(out))
	})
	for _, c := range []struct{ name, step, state string }{
		{"done", "attrition", "state     done"},
		{"scheduled", "final-notice", "state     scheduled"},
		{"waiting", "team-confirmed", "state     waiting"},
	} {
		t.Run("why "+c.name, func(t *testing.T) {
			out := casebot(t, "why", "-config", cfg, "-at", at, "00001001", c.step)
			if !strings.Contains(out, c.state) {
				t.Errorf("why 00001001 %s lacks %q:\n%s", c.step, c.state, out)
			}
			golden(t, "testdata/why-"+c.name+".golden", norm(out))
		})
	}
	t.Run("why unknown step", func(t *testing.T) {
		out, errOut, code := run(t, "why", "-config", cfg, "-at", at, "00001001", "no-such-step")
		if code != 1 || out != "" {
			t.Fatalf("why with an unknown step: exit %d, stdout %q; want exit 1 and nothing on stdout", code, out)
		}
		// The log line of the login is not part of the answer.
		var lines []string
		for _, l := range strings.Split(errOut, "\n") {
			if strings.HasPrefix(l, "casebot why:") {
				lines = append(lines, l)
			}
		}
		got := strings.Join(lines, "\n") + "\n"
		if !strings.Contains(got, "case-opened, late-case") {
			t.Errorf("why with an unknown step does not list the playbook's steps:\n%s", errOut)
		}
		golden(t, "testdata/why-unknown.golden", norm(got))
	})
	t.Run("plan while a cycle writes the ledger", func(t *testing.T) {
		db, err := sql.Open("sqlite", "file:"+ledger+"?_txlock=immediate")
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		tx, err := db.BeginTx(t.Context(), nil) // BEGIN IMMEDIATE: the write lock
		if err != nil {
			t.Fatal(err)
		}
		defer tx.Rollback()
		if _, err := tx.ExecContext(t.Context(), `UPDATE ledger SET detail = 'being written'`); err != nil {
			t.Fatal(err)
		}
		out, errOut, code := run(t, "plan", "-config", cfg, "-at", at, "-case", "00001001", "-days", "14")
		if code != 0 || !strings.Contains(out, "Case 00001001: Termination: Acme Corp") {
			t.Fatalf("plan while the ledger is being written: exit %d\n%s%s", code, out, errOut)
		}
		if strings.Contains(out, "being written") {
			t.Errorf("plan read a write that is not committed:\n%s", out)
		}
	})
	t.Run("plan before any cycle", func(t *testing.T) {
		conf, err := os.ReadFile(cfg)
		if err != nil {
			t.Fatal(err)
		}
		none := filepath.Join(dir, "none.db")
		noLedger := filepath.Join(dir, "casebot-no-ledger.yaml")
		if err := os.WriteFile(noLedger, bytes.ReplaceAll(conf, []byte(ledger), []byte(none)), 0o600); err != nil {
			t.Fatal(err)
		}
		out, errOut, code := run(t, "plan", "-config", noLedger, "-at", at, "-case", "00001001")
		if code != 0 || !strings.Contains(errOut, "no ledger at "+none+" yet") || !strings.Contains(out, "Case 00001001") {
			t.Errorf("plan without a ledger: exit %d\n%s%s", code, out, errOut)
		}
		if _, err := os.Stat(none); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("plan created the ledger: %v", err)
		}
	})

	for _, r := range sb.Requests() {
		if (r.APICall && r.Method != "GET") || (!r.APICall && !strings.HasPrefix(r.Path, "/services/oauth2/")) {
			t.Errorf("plan or why sent %s %s: they must only read", r.Method, r.Path)
		}
	}
	if n := calls.Load(); n > 0 {
		t.Errorf("plan or why called endpoints %d time(s): they must perform nothing", n)
	}
	if after := ledgerBytes(t, ledger); !bytes.Equal(before, after) {
		t.Error("plan or why changed the ledger")
	}
}

// run runs the binary and returns its stdout, stderr and exit code.
func run(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, args...)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		code = ee.ExitCode()
	default:
		t.Fatalf("casebot %s: %v", strings.Join(args, " "), err)
	}
	return out.String(), errOut.String(), code
}

// normalizer replaces what changes from run to run (the sandbox's port, the temp directory)
// with fixed words.
func normalizer(sb *sandbox.Server, dir string) func(string) string {
	port := regexp.MustCompile(regexp.QuoteMeta(sb.URL()))
	return func(s string) string {
		s = port.ReplaceAllString(s, "http://127.0.0.1:PORT")
		return strings.ReplaceAll(s, dir, "TMP")
	}
}

// copyShipped writes the shipped playbooks and the files they attach into dir, with each old
// string of edits replaced by its new one in termination-sop.yaml. Every edit must apply.
func copyShipped(t *testing.T, dir string, edits map[string]string) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	err := fs.WalkDir(playbooks.FS, ".", func(path string, d fs.DirEntry, err error) error {
		shipped := strings.HasPrefix(path, rules.FilesDir+"/") // a file the playbooks attach
		if err != nil || d.IsDir() || !shipped && (path != filepath.Base(path) || !rules.IsPlaybookFile(path)) {
			return err
		}
		if err := os.MkdirAll(filepath.Join(dir, filepath.Dir(path)), 0o755); err != nil {
			return err
		}
		data, err := fs.ReadFile(playbooks.FS, path)
		if err != nil {
			return err
		}
		if path == "termination-sop.yaml" {
			s := string(data)
			for old, repl := range edits {
				if !strings.Contains(s, old) {
					t.Fatalf("termination-sop.yaml has no %q to edit", old)
				}
				s = strings.Replace(s, old, repl, 1)
			}
			data = []byte(s)
		}
		return os.WriteFile(filepath.Join(dir, path), data, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// ledgerBytes returns the content of the ledger's files (the database and its write-ahead log).
func ledgerBytes(t *testing.T, path string) []byte {
	t.Helper()
	var all []byte
	for _, p := range []string{path, path + "-wal"} {
		data, err := os.ReadFile(p)
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			t.Fatal(err)
		}
		all = append(all, data...)
	}
	return all
}
