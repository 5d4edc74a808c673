package test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"casebot/connectors/salesforce/sandbox"
)

// TestJsforce drives jsforce@3.10.14, a Salesforce client nobody here wrote, against the
// sandbox served by `casebot sandbox`'s code: password login, query with paging and through
// its SOQL builder, relationships, create, update, delete, upsert by external id,
// sObject Collections with partial failures, composite, describe, limits, identity and error
// codes (see jsforce/check.js).
func TestJsforce(t *testing.T) {
	dir := os.Getenv("CASEBOT_JSFORCE_DIR")
	if dir == "" {
		dir = "jsforce"
	}
	node, err := exec.LookPath("node")
	if err == nil {
		_, err = os.Stat(filepath.Join(dir, "node_modules", "jsforce"))
	}
	if err != nil {
		msg := "needs Node.js and jsforce installed in test/jsforce (make test does both): " + err.Error()
		if os.Getenv("CI") != "" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	sb, err := sandbox.Start(t.Context(), sandbox.Options{Seed: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sb.Close() })

	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, "check.js", sb.URL())
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	t.Logf("jsforce:\n%s", out)
	if err != nil {
		t.Fatalf("jsforce check failed: %v", err)
	}
}
