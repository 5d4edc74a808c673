package playbooks_test

import (
	"slices"
	"testing"
	"time"

	"casebot/bot"
	"casebot/rules"
)

// TestSOPDeletionWindow: the SOP approves the deletion on day 30 "or other, according to SSA":
// on the day the case's Deletion Window says, 30 when it is blank; the hold reminder five days
// before, the purge, its check and the closing the days after move with it. A window the SOP
// cannot mean (under a week, over a year, not whole) fails those steps instead of approving
// the deletion early, and moves nothing else.
func TestSOPDeletionWindow(t *testing.T) {
	pbs, _ := load(t)
	i := slices.IndexFunc(pbs, func(p *rules.Playbook) bool { return p.Name == "termination-sop" })
	if i < 0 {
		t.Fatal("no termination-sop")
	}
	pb := pbs[i]
	windowed := []string{"hold-reminder", "deletion-approval", "purge-handoff", "purge-done", "close"}
	for _, tt := range []struct {
		window any
		want   []string // the windowed steps' dates, New York time; nil when they fail
	}{
		// Day 0 is Mon 2 Nov 2026; a date on a weekend or a US holiday moves to the next business day.
		{nil, []string{"2026-11-27", "2026-12-02", "2026-12-03", "2026-12-04", "2026-12-07"}},
		{"", []string{"2026-11-27", "2026-12-02", "2026-12-03", "2026-12-04", "2026-12-07"}},
		{float64(60), []string{"2026-12-28", "2027-01-04", "2027-01-04", "2027-01-04", "2027-01-04"}},
		{float64(7), []string{"2026-11-04", "2026-11-09", "2026-11-10", "2026-11-12", "2026-11-12"}}, // Veterans Day
		{float64(365), []string{"2027-10-28", "2027-11-02", "2027-11-03", "2027-11-04", "2027-11-05"}},
		{float64(6), nil},
		{float64(-30), nil},
		{float64(400), nil},
		{float64(30.5), nil},
	} {
		c := bot.Case{ID: "500000000000001AAA",
			Fields:  bot.Fields{"Termination_Confirmed__c": "2026-11-02", "Deletion_Window_Days__c": tt.window},
			Account: &bot.Account{ID: "001000000000001AAA", Fields: bot.Fields{"Time_Zone__c": "America/New_York"}}}
		r := pb.Evaluate(c, nil, mustTime(t, "2026-10-01T00:00:00Z"))
		for _, st := range r.Steps {
			j := slices.Index(windowed, st.Step)
			switch {
			case j >= 0 && tt.want == nil:
				if st.State != rules.StateFailed {
					t.Errorf("%#v: %s %s at %v, want failed (%s)", tt.window, st.Step, st.State, st.At, st.Reason)
				}
			case j >= 0:
				if got := st.At.In(pb.Zone(c)).Format(time.DateOnly); got != tt.want[j] {
					t.Errorf("%#v: %s on %s, want %s (%s)", tt.window, st.Step, got, tt.want[j], st.Reason)
				}
			case st.Step == "attrition":
				// A step without the window keeps its date whatever the field holds.
				if got := st.At.Format(time.DateOnly); st.State != rules.StateScheduled || got != "2026-11-03" {
					t.Errorf("%#v: attrition %s on %s, want scheduled on 2026-11-03", tt.window, st.State, got)
				}
			}
		}
	}
}
