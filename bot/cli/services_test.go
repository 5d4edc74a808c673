package cli

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestServices(t *testing.T) {
	now := time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)
	srv := httptest.NewServer(NewServices(func() time.Time { return now }))
	defer srv.Close()
	call := func(path, key string) map[string]any {
		t.Helper()
		req, _ := http.NewRequest("POST", srv.URL+path, strings.NewReader(`{}`))
		req.Header.Set("Idempotency-Key", key)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("POST %s: %s", path, resp.Status)
		}
		var v map[string]any
		if err := json.NewDecoder(resp.Body).Decode(&v); err != nil {
			t.Fatal(err)
		}
		return v
	}
	g := call("/provisioning/customers/acme-01/deactivate", "k1")["guids"].([]any)
	if len(g) != 2 || len(g[0].(string)) != 36 || g[0] == g[1] {
		t.Errorf("guids %v", g)
	}
	a, b := call("/support/cases", "k2"), call("/support/cases", "k3")
	if a["caseNumber"] != "SUP-04101" || b["caseNumber"] != "SUP-04102" {
		t.Errorf("case numbers %v, %v", a, b)
	}
	if again := call("/support/cases", "k2"); again["caseNumber"] != "SUP-04101" {
		t.Errorf("a repeated Idempotency-Key got %v, want the first answer", again)
	}
	if d := call("/support/tenants/t-9/deactivate", "k4"); d["deactivatedAt"] != "2026-11-21T10:00:00Z" {
		t.Errorf("deactivation %v", d)
	}
	if q := call("/partners/partners/p-1/quota/release", "k5"); q["remaining"] != 26.0 {
		t.Errorf("quota %v", q)
	}
	resp, err := http.Get(srv.URL + "/support/cases")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("GET /support/cases: %s, want 405", resp.Status)
	}
}
