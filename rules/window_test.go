package rules_test

import (
	"slices"
	"testing"
	"time"

	"casebot/bot"
	"casebot/rules"
)

// windowPlaybook dates its steps from a window each case may set, as an SSA sets its own
// deletion day.
const windowPlaybook = header + `windows:
  deletion: {field: Case.N, default: 30d, min: 7d, max: 365d}
steps:
  - {id: remind, at: d + deletion - 5d, do: [status: R]}
  - {id: approve, at: d + deletion, do: [status: A, status: B]}
  - {id: purge, at: d + deletion + 1d, do: [status: P]}
  - {id: before, at: d - deletion, do: [status: X]}
`

// TestWindows: a step's window is the case's number field, whole and within the window's
// bounds, in the default's unit; blank, it is the default. Any other value fails the steps
// that count it, with the reason, rather than run them early (or never).
func TestWindows(t *testing.T) {
	pb := parse(t, windowPlaybook)
	for _, tt := range []struct {
		days                          any
		remind, approve, purge, prior string // "" when the step fails
	}{
		{nil, "2026-11-27 09:00", "2026-12-02 09:00", "2026-12-03 09:00", "2026-10-03 09:00"},
		{"", "2026-11-27 09:00", "2026-12-02 09:00", "2026-12-03 09:00", "2026-10-03 09:00"},
		{float64(60), "2026-12-27 09:00", "2027-01-01 09:00", "2027-01-02 09:00", "2026-09-03 09:00"},
		{60, "2026-12-27 09:00", "2027-01-01 09:00", "2027-01-02 09:00", "2026-09-03 09:00"},
		{int64(7), "2026-11-04 09:00", "2026-11-09 09:00", "2026-11-10 09:00", "2026-10-26 09:00"},
		{float64(365), "2027-10-28 09:00", "2027-11-02 09:00", "2027-11-03 09:00", "2025-11-02 09:00"},
		{float64(-5), "", "", "", ""},
		{float64(0), "", "", "", ""},
		{float64(6), "", "", "", ""},
		{float64(366), "", "", "", ""},
		{float64(45.5), "", "", "", ""},
		{"60", "", "", "", ""},
	} {
		c := bot.Case{ID: "500", Fields: bot.Fields{"D": "2026-11-02", "N": tt.days}}
		r := pb.Evaluate(c, nil, utc("2026-11-10T12:00:00Z"))
		for i, want := range []string{tt.remind, tt.approve, tt.purge, tt.prior} {
			s := r.Steps[i]
			switch {
			case want == "" && (s.State != rules.StateFailed || !s.At.IsZero()):
				t.Errorf("%#v: %s %s at %v, want failed (%s)", tt.days, s.Step, s.State, s.At, s.Reason)
			case want != "" && !s.At.Equal(local(want)):
				t.Errorf("%#v: %s at %v, want %s (%s)", tt.days, s.Step, s.At, want, s.Reason)
			}
		}
		if tt.approve == "" && (len(r.Due) != 0 || len(r.Records) != 0 || !r.Next.IsZero()) {
			t.Errorf("%#v: due %v, records %v, next %v; want nothing", tt.days, dueSteps(r.Due), r.Records, r.Next)
		}
	}
}

// TestWindowReasons: the date's reason says what the window came to and why; a refused value
// says what the field may hold.
func TestWindowReasons(t *testing.T) {
	pb := parse(t, windowPlaybook)
	for _, tt := range []struct {
		days   any
		reason string
	}{
		{nil, "Scheduled for Wed 2 Dec 2026 09:00 EST: d (Case.D = 2026-11-02) + 30d (deletion: the default, " +
			"Case.N is blank) at 09:00 America/New_York."},
		{float64(60), "Scheduled for Fri 1 Jan 2027 09:00 EST: d (Case.D = 2026-11-02) + 60d (deletion: " +
			"Case.N = 60) at 09:00 America/New_York."},
		{float64(-5), "Failed: window deletion: Case.N = -5, want a whole number of days from 7 to 365, " +
			"or blank for 30d; the step does not run until it is fixed."},
		{"sixty", `Failed: window deletion: Case.N = "sixty", want a whole number of days from 7 to 365, ` +
			"or blank for 30d; the step does not run until it is fixed."},
	} {
		c := bot.Case{ID: "500", Fields: bot.Fields{"D": "2026-11-02", "N": tt.days}}
		if s := pb.Evaluate(c, nil, utc("2026-11-10T12:00:00Z")).Steps[1]; s.Reason != tt.reason {
			t.Errorf("%#v: reason\n got %q\nwant %q", tt.days, s.Reason, tt.reason)
		}
	}
	s := pb.Evaluate(bot.Case{ID: "500", Fields: bot.Fields{"D": "2026-11-02", "N": float64(60)}}, nil, utc("2026-11-10T12:00:00Z")).Steps[0]
	if want := "Scheduled for Sun 27 Dec 2026 09:00 EST: d (Case.D = 2026-11-02) + 60d (deletion: Case.N = 60) - 5d " +
		"at 09:00 America/New_York."; s.Reason != want {
		t.Errorf("reason\n got %q\nwant %q", s.Reason, want)
	}
	if got := pb.Steps[0].At.String(); got != "d + deletion - 5d" {
		t.Errorf("at %q", got)
	}
}

// TestWindowStarted: a step that started finishes when its window's field is then refused,
// as it does when its date moves; it does not start again.
func TestWindowStarted(t *testing.T) {
	pb := parse(t, windowPlaybook)
	w := newWorld(bot.Case{ID: "500", Fields: bot.Fields{"D": "2026-11-02", "N": nil}})
	now := utc("2026-12-02T14:00:00Z")
	r := pb.Evaluate(w.c, w.l, now)
	if got := dueSteps(r.Due); !slices.Contains(got, "approve/2") {
		t.Fatalf("due %v", got)
	}
	// approve/2 does not run this cycle, say: the step has started.
	w.perform(t, slices.DeleteFunc(r.Due, func(e bot.Effect) bool { return e.Step == "approve" && e.Action == 2 }), r.Records, now)
	w.c.Fields["N"] = float64(-5)
	r = pb.Evaluate(w.c, w.l, now.Add(3*time.Hour))
	if got := dueSteps(r.Due); !slices.Equal(got, []string{"approve/2"}) {
		t.Errorf("due %v, want approve/2 only", got)
	}
	if s := r.Steps[2]; s.State != rules.StateFailed {
		t.Errorf("purge %s, want failed: it had not started (%s)", s.State, s.Reason)
	}
}

// TestWindowAllocations: the common path reads the window and the account's calendar without
// allocating: a quiet case costs what one without them does.
func TestWindowAllocations(t *testing.T) {
	pb := parse(t, `
playbook: quiet
applies_to: {object: Case, where: "IsClosed = false"}
fields:
  Case: {D: date, Days: number}
  Account: {BillingCountry: string}
timezone: {default: America/New_York}
calendar: {field: Account.BillingCountry, default: us}
non_working: later
dates: {d: Case.D}
windows:
  deletion: {field: Case.Days, default: 30d, min: 7d, max: 365d}
steps:
  - {id: a, at: d + deletion, do: [status: A]}
  - {id: b, at: d + deletion + 2bd, do: [status: B]}
`)
	c := bot.Case{ID: "500", Fields: bot.Fields{"D": "2026-11-02", "Days": float64(60)},
		Account: &bot.Account{ID: "001", Fields: bot.Fields{"BillingCountry": "Germany"}}}
	now := utc("2026-11-10T12:00:00Z")
	if r := pb.Evaluate(c, nil, now); len(r.Due) != 0 || r.Next.IsZero() {
		t.Fatalf("not a quiet case: due %v, next %v", dueSteps(r.Due), r.Next)
	}
	if n := testing.AllocsPerRun(100, func() { pb.Evaluate(c, nil, now) }); n > 3 {
		t.Errorf("%v allocations for a case with nothing due, want at most 3", n)
	}
}
