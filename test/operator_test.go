package test

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"casebot/bot"
	"casebot/connectors/salesforce"
	"casebot/connectors/salesforce/sandbox"
	"casebot/connectors/sqlite"
)

// A ledger removed under a running daemon stops it from acting, and /readyz says why; so does a
// Salesforce that stops answering.
func TestReadyzNamesWhatIsWrong(t *testing.T) {
	dir := t.TempDir()
	sb, cfg, _ := sandboxConfig(t, dir, time.Now)
	cfgText, err := os.ReadFile(cfg)
	if err != nil {
		t.Fatal(err)
	}
	// Cycles every second, so that the test sees the next one soon.
	fast := regexp.MustCompile(`(?m)^schedule:.*$`).ReplaceAllString(string(cfgText), `schedule: "@every 1s"`)
	if err := os.WriteFile(cfg, []byte(fast), 0o600); err != nil {
		t.Fatal(err)
	}
	d := startDaemon(t, cfg)
	d.wait(`msg="cycle done"`)
	if code, body := d.get("/readyz"); code != 200 {
		t.Fatalf("readyz before: %d %s", code, body)
	}

	if err := os.Remove(filepath.Join(dir, "ledger.db")); err != nil {
		t.Fatal(err)
	}
	code, body := d.get("/readyz")
	if code != 503 || !strings.Contains(body, "not ready: the ledger cannot be used") || !strings.Contains(body, "removed") {
		t.Errorf("readyz with the ledger removed: %d %q", code, body)
	}
	calls := sb.APICalls()
	d.wait(`msg="cycle failed" .*why="the ledger cannot be used`)
	if sb.APICalls() != calls {
		t.Errorf("%d Salesforce calls by cycles with the ledger removed", sb.APICalls()-calls)
	}
	d.stop()
}

// Salesforce out of reach: `once` fails with what is wrong and prints no summary of a cycle
// that read nothing.
func TestOnceWithoutSalesforcePrintsNoSummary(t *testing.T) {
	dir := t.TempDir()
	sb, cfg, _ := sandboxConfig(t, dir, time.Now)
	sb.Close()
	out, errOut, code := run(t, "once", "-config", cfg)
	if code == 0 || out != "" {
		t.Errorf("once with Salesforce down: exit %d, stdout %q", code, out)
	}
	if !strings.Contains(errOut, "reading cases") {
		t.Errorf("once with Salesforce down says:\n%s", errOut)
	}
}

// An effect that failed for good waits for a person; `casebot retry` makes it due again and the
// next cycle performs it.
func TestRetryRunsWhatFailedForGood(t *testing.T) {
	start := time.Date(2026, 11, 2, 13, 0, 0, 0, time.UTC) // Mon 2 Nov 2026 08:00 in New York
	dir := t.TempDir()
	sb, cfg, _ := sandboxConfig(t, dir, func() time.Time { return start })
	casebot(t, "once", "-config", cfg, "-at", start.Add(time.Minute).Format(time.RFC3339))
	acme := caseID(t, sb, "00001001")

	// Salesforce refused the attrition update for good (a validation rule, say).
	store, err := sqlite.Open(t.Context(), filepath.Join(dir, "ledger.db"))
	if err != nil {
		t.Fatal(err)
	}
	key := bot.EffectKey("termination-sop", "attrition", 1, acme)
	failed := bot.LedgerEntry{Key: key, CaseID: acme, Playbook: "termination-sop", Step: "attrition",
		State: bot.StateFailed, Detail: "update Account: FIELD_CUSTOM_VALIDATION_EXCEPTION: locked", Attempts: 1, At: start.Add(time.Hour)}
	if err := store.Record(t.Context(), failed); err != nil {
		t.Fatal(err)
	}
	store.Close()

	later := start.Add(30 * time.Hour).Format(time.RFC3339) // Tue 3 Nov, 14:00 in New York
	casebot(t, "once", "-config", cfg, "-at", later)
	if out := casebot(t, "why", "-config", cfg, "-at", later, "00001001", "attrition"); !strings.Contains(out, "casebot retry") {
		t.Errorf("why of the failed step does not say how to retry it:\n%s", out)
	}
	if attrition(t, sb, acme) {
		t.Fatal("the step that failed for good ran")
	}

	out := casebot(t, "retry", "-config", cfg, "00001001", "attrition")
	if !strings.Contains(out, key+": due again") {
		t.Errorf("retry says:\n%s", out)
	}
	casebot(t, "once", "-config", cfg, "-at", later)
	if !attrition(t, sb, acme) {
		t.Error("the retried step did not run")
	}
	if _, errOut, code := run(t, "retry", "-config", cfg, "00001001", "attrition"); code == 0 || !strings.Contains(errOut, "no effect that failed for good") {
		t.Errorf("retry with nothing to retry: exit %d, %s", code, errOut)
	}
}

// caseID returns the id of the case with a number.
func caseID(t *testing.T, sb *sandbox.Server, number string) string {
	t.Helper()
	recs := query(t, sandboxClient(t, sb), "SELECT Id FROM Case WHERE CaseNumber = '"+number+"'")
	if len(recs) != 1 {
		t.Fatalf("%d cases numbered %s in the sandbox", len(recs), number)
	}
	return recs[0]["Id"].(string)
}

// attrition reports whether the account of a case has its Customer Attrition box checked.
func attrition(t *testing.T, sb *sandbox.Server, caseID string) bool {
	t.Helper()
	recs := query(t, sandboxClient(t, sb), "SELECT Account.Customer_Attrition__c FROM Case WHERE Id = '"+caseID+"'")
	if len(recs) != 1 {
		t.Fatalf("%d cases with id %s", len(recs), caseID)
	}
	account, _ := recs[0]["Account"].(map[string]any)
	checked, _ := account["Customer_Attrition__c"].(bool)
	return checked
}

// sandboxClient is a Salesforce client of the sandbox with the example config's credentials.
func sandboxClient(t *testing.T, sb *sandbox.Server) *salesforce.Client {
	t.Helper()
	c, err := salesforce.New(salesforce.Options{LoginURL: sb.URL(), APIVersion: "62.0", Grant: "client_credentials",
		ClientID: "casebot-sandbox", ClientSecret: "sandbox-secret"})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// Salesforce out of reach: the daemon keeps running, and /readyz says what is wrong.
func TestReadyzWithSalesforceDown(t *testing.T) {
	sb, cfg, _ := sandboxConfig(t, t.TempDir(), time.Now)
	sb.Close()
	d := startDaemon(t, cfg)
	d.wait(`msg="cycle failed" .*why="Salesforce is unreachable`)
	if code, body := d.get("/readyz"); code != 503 || !strings.Contains(body, "not ready: Salesforce is unreachable or overloaded") {
		t.Errorf("readyz with Salesforce down: %d %q", code, body)
	}
	d.stop()
}
