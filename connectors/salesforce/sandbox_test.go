package salesforce_test

// These tests run the client against the sandbox over HTTP. They live in a package of their
// own so that the client's package never imports the sandbox: each is written from
// Salesforce's documentation alone, and a misreading in one shows up as a failure here.

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"casebot/bot"
	"casebot/connectors/salesforce"
	"casebot/connectors/salesforce/sandbox"
)

// sbNow is when the sandbox's clock starts.
var sbNow = time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)

// sbOrg is a sandbox on 127.0.0.1 with its own clock, and a CRM over a password-grant client
// of it whose backoff is recorded instead of slept.
type sbOrg struct {
	sb     *sandbox.Server
	client *salesforce.Client
	crm    *salesforce.CRM
	clock  *bot.ManualClock // the sandbox's
	salesforce.SleepLog
}

// startSandbox starts an empty sandbox and a client of it; edit adjusts the client's options.
func startSandbox(t *testing.T, edit func(*salesforce.Options)) *sbOrg {
	t.Helper()
	o := &sbOrg{clock: bot.NewManualClock(sbNow)}
	sb, err := sandbox.Start(t.Context(), sandbox.Options{Now: o.clock.Now})
	if err != nil {
		t.Fatalf("starting the sandbox: %v", err)
	}
	t.Cleanup(func() { sb.Close() })
	opts := salesforce.Options{
		LoginURL: sb.URL(), Grant: salesforce.GrantPassword,
		// The sandbox's default credentials.
		ClientID: "casebot-sandbox", ClientSecret: "sandbox-secret", Username: "casebot@example.test", Password: "sandbox",
		Sleep: o.Sleep,
	}
	if edit != nil {
		edit(&opts)
	}
	c, err := salesforce.New(opts)
	if err != nil {
		t.Fatalf("salesforce.New: %v", err)
	}
	o.sb, o.client, o.crm = sb, c, salesforce.NewCRM(c)
	return o
}

// reset forgets the requests and sleeps so far.
func (o *sbOrg) reset() {
	o.sb.ResetRequests()
	o.Reset()
}

// counts counts the requests the sandbox answered since the last reset, faulted or not:
// token requests and data API calls.
func (o *sbOrg) counts() (logins, data int) {
	for _, r := range o.sb.Requests() {
		switch {
		case r.Path == "/services/oauth2/token":
			logins++
		case strings.HasPrefix(r.Path, "/services/data/"):
			data++
		}
	}
	return logins, data
}

// create creates records with the CRM and returns their ids.
func (o *sbOrg) create(t *testing.T, object string, fields ...bot.Fields) []string {
	t.Helper()
	ws := make([]bot.Write, len(fields))
	for i, f := range fields {
		ws[i] = bot.Write{Op: bot.OpCreate, Object: object, Fields: f}
	}
	results, err := o.crm.Apply(t.Context(), ws)
	if err != nil {
		t.Fatalf("creating %d %s records: %v", len(ws), object, err)
	}
	ids := make([]string, len(results))
	for i, r := range results {
		if r.Err != nil {
			t.Fatalf("creating %s %d: %v", object, i, r.Err)
		}
		ids[i] = r.ID
	}
	return ids
}

// countTasks counts the tasks whose key is key.
func (o *sbOrg) countTasks(t *testing.T, key string) int {
	t.Helper()
	n := 0
	err := o.client.Query(t.Context(), "SELECT Id FROM Task WHERE "+bot.KeyField+" = "+salesforce.Quote(key), func(records []json.RawMessage) error {
		n += len(records)
		return nil
	})
	if err != nil {
		t.Fatalf("counting tasks: %v", err)
	}
	return n
}

// TestExpiredSessionsInARow: a session that Salesforce rejects again and again, even right
// after a new login, is logged in again each time, with backoff after the first; the call
// succeeds once a session holds, and ends in a retryable error, never a permanent one, when
// none does within the retries. Writes are done exactly once.
func TestExpiredSessionsInARow(t *testing.T) {
	const base = 500 * time.Millisecond // the default first backoff
	ops := []struct {
		name string
		run  func(t *testing.T, o *sbOrg) error
		// done reports how often the op's write is in the org (-1 for a read).
		done func(t *testing.T, o *sbOrg) int
	}{
		{"query", func(t *testing.T, o *sbOrg) error {
			cases, err := o.crm.Cases(t.Context(), bot.CaseQuery{Object: "Case", Fields: []string{"Subject"}})
			if err == nil && len(cases) != 1 {
				t.Errorf("read %d cases, want 1", len(cases))
			}
			return err
		}, func(*testing.T, *sbOrg) int { return -1 }},
		{"collections create", func(t *testing.T, o *sbOrg) error {
			results, err := o.crm.Apply(t.Context(), []bot.Write{{Op: bot.OpCreate, Object: "Task",
				Fields: bot.Fields{"Subject": "Tell Legal", bot.KeyField: "sop/notify/1/case"}}})
			if err == nil && (len(results) != 1 || results[0].Err != nil || !salesforce.ValidID(results[0].ID)) {
				t.Errorf("results = %+v, want one created task", results)
			}
			return err
		}, func(t *testing.T, o *sbOrg) int { return o.countTasks(t, "sop/notify/1/case") }},
		{"single create", func(t *testing.T, o *sbOrg) error {
			_, err := o.client.Create(t.Context(), "Task", map[string]any{"Subject": "Call", bot.KeyField: "sop/call/1/case"})
			return err
		}, func(t *testing.T, o *sbOrg) int { return o.countTasks(t, "sop/call/1/case") }},
	}
	tests := []struct {
		expiries   int // calls in a row whose session the sandbox rejects
		wantSleeps []time.Duration
		wantErr    bool
	}{
		{2, []time.Duration{base}, false},
		{3, []time.Duration{base, 2 * base}, false},
		// The first new login is free, then MaxRetries (3) more: five calls in all.
		{5, []time.Duration{base, 2 * base, 4 * base}, true},
	}
	for _, op := range ops {
		for _, tt := range tests {
			t.Run(fmt.Sprintf("%s/%d expiries", op.name, tt.expiries), func(t *testing.T) {
				o := startSandbox(t, nil)
				o.create(t, "Case", bot.Fields{"Subject": "Terminate Acme"})
				o.reset()
				o.sb.Inject(sandbox.FaultExpireSession, tt.expiries)

				err := op.run(t, o)

				wantCalls := tt.expiries + 1
				if tt.wantErr {
					wantCalls = tt.expiries
				}
				// A new login follows each rejected session but the one given up on.
				if logins, calls := o.counts(); calls != wantCalls || logins != wantCalls-1 {
					t.Errorf("%d data calls and %d logins, want %d and %d", calls, logins, wantCalls, wantCalls-1)
				}
				salesforce.CheckBackoff(t, o.Slept(), tt.wantSleeps)
				wantDone := 1
				if tt.wantErr {
					var ae *salesforce.APIError
					var be *bot.Error
					if !errors.As(err, &ae) || ae.Code != "INVALID_SESSION_ID" || !ae.Retryable() ||
						!errors.As(err, &be) || !be.Retryable || !bot.IsRetryable(err) {
						t.Fatalf("error = %v, want a retryable INVALID_SESSION_ID", err)
					}
					wantDone = 0
				} else if err != nil {
					t.Fatalf("%s after %d expired sessions: %v", op.name, tt.expiries, err)
				}
				if n := op.done(t, o); n >= 0 && n != wantDone {
					t.Errorf("the write is in the org %d times, want %d", n, wantDone)
				}
			})
		}
	}
}

// TestRefusedLoginIsPermanent: credentials the token endpoint refuses do not get better by
// trying again.
func TestRefusedLoginIsPermanent(t *testing.T) {
	tests := []struct {
		name string
		edit func(*salesforce.Options)
		code string
	}{
		{"wrong client secret", func(o *salesforce.Options) { o.ClientSecret = "wrong" }, "invalid_client"},
		{"wrong password", func(o *salesforce.Options) { o.Password = "wrong" }, "invalid_grant"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := startSandbox(t, tt.edit)
			_, err := o.crm.Cases(t.Context(), bot.CaseQuery{Object: "Case"})
			var be *bot.Error
			if !errors.As(err, &be) || be.Code != tt.code || bot.IsRetryable(err) || !be.Login {
				t.Fatalf("error = %v, want a permanent %s marked as a refused login", err, tt.code)
			}
			if logins, calls := o.counts(); logins != 1 || calls != 0 || len(o.Slept()) != 0 {
				t.Errorf("%d logins, %d data calls, sleeps %v; want 1, 0, none", logins, calls, o.Slept())
			}
		})
	}
}

// TestCasesAnyState: with AnyState, the cases asked for by id are read even when they no
// longer match the playbook's condition, such as a case a step closed.
func TestCasesAnyState(t *testing.T) {
	o := startSandbox(t, nil)
	ids := o.create(t, "Case", bot.Fields{"Subject": "open"}, bot.Fields{"Subject": "closed", "Status": "Closed"})
	q := bot.CaseQuery{Object: "Case", Where: "IsClosed = false", Fields: []string{"Subject", "Status"}, IDs: ids}
	subjects := func(q bot.CaseQuery) []string {
		cases, err := o.crm.Cases(t.Context(), q)
		if err != nil {
			t.Fatalf("Cases: %v", err)
		}
		var out []string
		for _, c := range cases {
			out = append(out, c.Fields["Subject"].(string))
		}
		return out
	}
	if got := subjects(q); len(got) != 1 || got[0] != "open" {
		t.Errorf("without AnyState: %v, want [open]", got)
	}
	q.AnyState = true
	if got := subjects(q); len(got) != 2 {
		t.Errorf("with AnyState: %v, want both cases", got)
	}
	q.IDs = nil // AnyState needs ids: without them the condition holds
	if got := subjects(q); len(got) != 1 || got[0] != "open" {
		t.Errorf("AnyState without ids: %v, want [open]", got)
	}
}
