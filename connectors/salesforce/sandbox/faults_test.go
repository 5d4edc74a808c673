package sandbox

import (
	"context"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"testing/synctest"
	"time"
)

func TestParseFaults(t *testing.T) {
	tests := []struct {
		spec    string
		want    Faults
		wantErr string
	}{
		{"", Faults{Rates: map[FaultKind]float64{}}, ""},
		{"unavailable=0.1, lock_row=0.05,latency=200ms,seed=7", Faults{Rates: map[FaultKind]float64{
			FaultUnavailable: 0.1, FaultLockRow: 0.05, FaultLatency: 1}, Latency: 200 * time.Millisecond, Seed: 7}, ""},
		{"latency=1s@0.25,expire_session=1", Faults{Rates: map[FaultKind]float64{
			FaultLatency: 0.25, FaultExpireSession: 1}, Latency: time.Second}, ""},
		{"request_limit=0", Faults{Rates: map[FaultKind]float64{FaultRequestLimit: 0}}, ""},
		{"unavailable=1.5", Faults{}, `rate "1.5" is not a number between 0 and 1`},
		{"unavailable=x", Faults{}, `rate "x"`},
		{"flaky=0.1", Faults{}, `unknown fault "flaky"`},
		{"unavailable", Faults{}, "want name=value"},
		{"latency=fast", Faults{}, `latency "fast" is not a positive duration`},
		{"latency=-1s", Faults{}, "not a positive duration"},
		{"seed=abc", Faults{}, `seed "abc" is not an integer`},
		{"unavailable=0.1,unavailable=0.2", Faults{}, "given twice"},
		{"unavailable=0.6,lock_row=0.5", Faults{}, "add up to 1.1"},
	}
	for _, tt := range tests {
		t.Run(tt.spec, func(t *testing.T) {
			got, err := ParseFaults(tt.spec)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("ParseFaults(%q) error %v, want one containing %q", tt.spec, err, tt.wantErr)
				}
				return
			}
			if err != nil || !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("ParseFaults(%q) = %+v, %v; want %+v", tt.spec, got, err, tt.want)
			}
		})
	}
	// Every problem is reported at once.
	_, err := ParseFaults("flaky=1,seed=x")
	if err == nil || !strings.Contains(err.Error(), "flaky") || !strings.Contains(err.Error(), "seed") {
		t.Errorf("two problems: %v", err)
	}
	if _, err := New(Options{Faults: Faults{Rates: map[FaultKind]float64{FaultLatency: 0.5}}}); err == nil {
		t.Error("New accepted a latency rate without a latency")
	}
}

// usage returns the calls counted today, read from the header of a /limits call (which
// counts itself).
func (o *org) usage() string {
	o.t.Helper()
	return o.do("GET", "/limits", nil).header.Get("Sforce-Limit-Info")
}

func TestInjectedFaults(t *testing.T) {
	tests := []struct {
		kind    FaultKind
		status  int
		code    string
		message string
		counted bool
	}{
		{FaultUnavailable, http.StatusServiceUnavailable, "SERVER_UNAVAILABLE", "Server temporarily unavailable. Please try again later.", false},
		{FaultRequestLimit, http.StatusForbidden, "REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded.", false},
		{FaultExpireSession, http.StatusUnauthorized, "INVALID_SESSION_ID", "Session expired or invalid", false},
		{FaultLockRow, http.StatusBadRequest, "UNABLE_TO_LOCK_ROW", "unable to obtain exclusive access to this record or 1 records: ", true},
	}
	for _, tt := range tests {
		t.Run(string(tt.kind), func(t *testing.T) {
			o := seededOrg(t)
			caseID := o.query("SELECT Id FROM Case LIMIT 1").Records[0]["Id"].(string)
			o.sb.Inject(tt.kind, 1)
			if tt.kind == FaultLockRow {
				// A read is not eligible for a lock fault: it passes and the fault waits.
				o.do("GET", "/sobjects/Case/"+caseID, nil).ok(t, http.StatusOK, nil)
			}
			o.sb.ResetRequests()

			r := o.do("PATCH", "/sobjects/Case/"+caseID, map[string]any{"Subject": "faulted"})
			e := r.wantError(t, tt.status, tt.code)
			if !strings.HasPrefix(e.Message, tt.message) {
				t.Errorf("message %q, want %q", e.Message, tt.message)
			}
			if tt.kind == FaultLockRow && !strings.HasSuffix(e.Message, caseID) {
				t.Errorf("lock message %q does not name %s", e.Message, caseID)
			}
			if tt.kind == FaultExpireSession {
				o.do("GET", "/limits", nil).wantError(t, http.StatusUnauthorized, "INVALID_SESSION_ID")
				o.token = o.login()
			}
			log := o.sb.Requests()
			if got := log[0]; got.Fault != tt.kind || got.Status != tt.status || got.APICall != tt.counted {
				t.Errorf("logged %+v, want fault %s status %d counted %v", got, tt.kind, tt.status, tt.counted)
			}
			if got := o.get("Case", caseID)["Subject"]; got == "faulted" {
				t.Error("the faulted write was applied")
			}
			// Only the one call failed; the next write goes through.
			o.do("PATCH", "/sobjects/Case/"+caseID, map[string]any{"Subject": "again"}).ok(t, http.StatusNoContent, nil)
			for _, r := range o.sb.Requests()[1:] {
				if r.Fault != "" {
					t.Errorf("later request faulted too: %+v", r)
				}
			}
		})
	}
}

func TestFaultsAndTheAllowance(t *testing.T) {
	o := seededOrg(t)
	if got := o.usage(); got != "api-usage=1/15000" { // logging in does not count
		t.Fatalf("usage %q, want only this call counted", got)
	}
	for _, kind := range []FaultKind{FaultUnavailable, FaultRequestLimit, FaultExpireSession} {
		o.sb.Inject(kind, 1)
		o.do("GET", "/limits", nil)
		o.token = o.login()
	}
	if got := o.usage(); got != "api-usage=2/15000" {
		t.Errorf("after three refused calls: %q, want them uncounted", got)
	}
	if n := o.sb.APICalls(); n != 2 {
		t.Errorf("APICalls() = %d, want 2", n)
	}
}

func TestLockFaultInCollections(t *testing.T) {
	o := seededOrg(t)
	caseID := o.query("SELECT Id FROM Case LIMIT 1").Records[0]["Id"].(string)
	o.sb.Inject(FaultLockRow, 1)
	var res []saveResult
	o.do("POST", "/composite/sobjects", map[string]any{"records": []map[string]any{
		{"attributes": map[string]any{"type": "Task"}, "Subject": "locked", "WhatId": caseID},
		{"attributes": map[string]any{"type": "Task"}, "Subject": "fine"},
	}}).ok(t, http.StatusOK, &res)
	if len(res) != 2 || res[0].Success || len(res[0].Errors) != 1 || res[0].Errors[0].StatusCode != "UNABLE_TO_LOCK_ROW" ||
		!strings.HasSuffix(res[0].Errors[0].Message, caseID) || !res[1].Success {
		t.Fatalf("collection under a lock fault: %+v", res)
	}
	if n := o.query("SELECT Id FROM Task WHERE Subject = 'locked'").TotalSize; n != 0 {
		t.Errorf("the locked record was created")
	}
	if r := o.sb.Requests(); r[len(r)-2].Fault != FaultLockRow {
		t.Errorf("log: %+v", r[len(r)-2])
	}
}

// TestRandomFaults checks that a seed gives the same faults to the same calls, and that the
// rates are roughly kept.
func TestRandomFaults(t *testing.T) {
	run := func(opts Options) []int {
		o := newOrg(t, opts)
		var statuses []int
		for range 200 {
			statuses = append(statuses, o.do("GET", "/limits", nil).status)
		}
		return statuses
	}
	faults := Faults{Rates: map[FaultKind]float64{FaultUnavailable: 0.25, FaultLockRow: 0.5}, Seed: 7}
	a := run(Options{Faults: faults})
	b := run(Options{Faults: faults})
	if !reflect.DeepEqual(a, b) {
		t.Error("the same seed gave different faults")
	}
	unavailable := 0
	for _, s := range a {
		switch s {
		case http.StatusServiceUnavailable:
			unavailable++
		case http.StatusOK:
		default:
			t.Fatalf("status %d: reads must not get lock faults", s)
		}
	}
	if unavailable < 30 || unavailable > 70 {
		t.Errorf("%d of 200 calls unavailable at a rate of 0.25", unavailable)
	}
	faults.Seed = 8
	if c := run(Options{Faults: faults}); reflect.DeepEqual(a, c) {
		t.Error("another seed gave the same faults")
	}

	// SetFaults replaces the faults at run time; zero rates fault nothing.
	o := newOrg(t, Options{Faults: faults})
	o.sb.SetFaults(Faults{})
	for range 20 {
		o.do("GET", "/limits", nil).ok(t, http.StatusOK, nil)
	}
}

func TestLatency(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sb, err := New(Options{Faults: Faults{Latency: 5 * time.Second}})
		if err != nil {
			t.Fatal(err)
		}
		defer sb.Close()
		token := loginDirect(t, sb)
		call := func(ctx context.Context) *httptest.ResponseRecorder {
			req := httptest.NewRequestWithContext(ctx, "GET", "/services/data/v62.0/limits", nil)
			req.Header.Set("Authorization", "Bearer "+token)
			rec := httptest.NewRecorder()
			sb.Handler().ServeHTTP(rec, req)
			return rec
		}

		sb.Inject(FaultLatency, 1)
		start := time.Now()
		if rec := call(t.Context()); rec.Code != http.StatusOK {
			t.Fatalf("delayed call: %d %s", rec.Code, rec.Body)
		}
		if d := time.Since(start); d != 5*time.Second {
			t.Errorf("delayed by %v, want 5s", d)
		}
		if r := sb.Requests(); r[len(r)-1].Fault != FaultLatency || !r[len(r)-1].APICall {
			t.Errorf("delayed call logged as %+v", r[len(r)-1])
		}
		start = time.Now()
		call(t.Context())
		if d := time.Since(start); d != 0 {
			t.Errorf("an undelayed call took %v", d)
		}

		// A client that goes away ends the wait: no goroutine is left sleeping.
		sb.Inject(FaultLatency, 1)
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan *httptest.ResponseRecorder)
		go func() { done <- call(ctx) }()
		synctest.Wait()
		cancel()
		rec := <-done
		if rec.Body.Len() != 0 {
			t.Errorf("an abandoned call was answered: %s", rec.Body)
		}
		log := sb.Requests()
		if last := log[len(log)-1]; last.Status != 0 || last.Fault != FaultLatency || last.APICall {
			t.Errorf("abandoned call logged as %+v", last)
		}
		if d := time.Since(start); d != 0 {
			t.Errorf("the abandoned call waited %v", d)
		}
	})
}

// loginDirect logs in through the handler without a network.
func loginDirect(t *testing.T, sb *Server) string {
	t.Helper()
	req := httptest.NewRequest("POST", "/services/oauth2/token", strings.NewReader(
		"grant_type=password&client_id=casebot-sandbox&client_secret=sandbox-secret&username=casebot@example.test&password=sandbox"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	rec := httptest.NewRecorder()
	sb.Handler().ServeHTTP(rec, req)
	var tok tokenResponse
	mustUnmarshal(t, rec.Body.Bytes(), &tok)
	return tok.AccessToken
}
