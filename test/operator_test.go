package test

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
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
