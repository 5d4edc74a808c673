package test

import (
	"os/exec"
	"strings"
	"testing"
)

// TestImportDirection checks the dependency rules of DESIGN.md: bot imports nothing of ours;
// rules and templates import only bot, and so do the in-memory ledger and the store suite; connectors never import each other, and the Salesforce
// client and its sandbox share nothing; the engine, mail intake, the playbook tests and the
// commands import no connector.
func TestImportDirection(t *testing.T) {
	out, err := exec.Command("go", "list", "-f", `{{.ImportPath}} {{join .Deps " "}}`, "casebot/...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	deps := map[string][]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Fields(line)
		for _, d := range f[1:] {
			if d == "casebot" || strings.HasPrefix(d, "casebot/") {
				deps[f[0]] = append(deps[f[0]], d)
			}
		}
	}
	allowed := func(pkg string) func(string) bool {
		switch {
		case pkg == "casebot" || strings.HasPrefix(pkg, "casebot/test"):
			return func(string) bool { return true }
		case pkg == "casebot/bot":
			return func(string) bool { return false }
		case pkg == "casebot/config":
			return func(d string) bool { return d == "casebot/bot" }
		case strings.HasPrefix(pkg, "casebot/bot/bottest"), strings.HasPrefix(pkg, "casebot/bot/memledger"):
			return func(d string) bool { return d == "casebot/bot" }
		case strings.HasPrefix(pkg, "casebot/rules"), strings.HasPrefix(pkg, "casebot/templates"):
			return func(d string) bool {
				return d == "casebot/bot" || strings.HasPrefix(d, "casebot/rules")
			}
		case strings.HasPrefix(pkg, "casebot/bot/engine"), strings.HasPrefix(pkg, "casebot/bot/intake"):
			return func(d string) bool {
				return d == "casebot/bot" || strings.HasPrefix(d, "casebot/rules") || d == "casebot/templates"
			}
		case strings.HasPrefix(pkg, "casebot/bot/playtest"):
			// Playbook tests run the real engine over in-memory ports: no connector.
			return func(d string) bool {
				return d == "casebot/bot" || d == "casebot/bot/engine" || d == "casebot/bot/memledger" ||
					strings.HasPrefix(d, "casebot/rules") || d == "casebot/templates"
			}
		case strings.HasPrefix(pkg, "casebot/bot/cli"):
			return func(d string) bool { return !strings.HasPrefix(d, "casebot/connectors") }
		case strings.HasPrefix(pkg, "casebot/connectors/salesforce/sandbox"):
			return func(d string) bool { return strings.HasPrefix(d, "casebot/connectors/salesforce/sandbox") }
		case strings.HasPrefix(pkg, "casebot/connectors/"):
			own := strings.Join(strings.Split(pkg, "/")[:3], "/")
			return func(d string) bool {
				return d == "casebot/bot" || (d == own || strings.HasPrefix(d, own+"/")) &&
					!strings.HasPrefix(d, "casebot/connectors/salesforce/sandbox")
			}
		}
		t.Errorf("no import rule for package %s", pkg)
		return func(string) bool { return true }
	}
	for pkg, ds := range deps {
		ok := allowed(pkg)
		for _, d := range ds {
			if !ok(d) {
				t.Errorf("%s imports %s", pkg, d)
			}
		}
	}
	if len(deps) == 0 {
		t.Fatal("go list found no casebot package importing another")
	}
}
