package rules_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"casebot/bot"
	"casebot/rules"
)

// TestRetryAt: an action that failed retryably is due again only once its RetryAt has come;
// until then the step is retrying: it runs nothing, says when it retries, and RetryAt is a
// next due time.
func TestRetryAt(t *testing.T) {
	pb := sop(t)
	c := sopCase("America/New_York")
	now := utc("2026-10-29T13:05:00Z") // attrition has been due since 13:00
	failed := func(retryAt time.Time) bot.Ledger {
		k := bot.EffectKey(sopName, "attrition", 1, c.ID)
		return bot.Ledger{k: {Key: k, CaseID: c.ID, Playbook: sopName, Step: "attrition", State: bot.StateFailed,
			Retryable: true, Detail: "UNABLE_TO_LOCK_ROW", Attempts: 2, At: utc("2026-10-29T13:00:00Z"), RetryAt: retryAt}}
	}
	const how = "Due since Thu 29 Oct 2026 09:00 EDT: day0 (Case.Termination_Confirmed__c = 2026-10-28) + 1d at 09:00 America/New_York."
	all := []string{"attrition/1", "attrition/2", "attrition/3"}
	for _, tt := range []struct {
		name    string
		retryAt time.Time
		due     []string
		state   string
		reason  string
		next    time.Time
	}{
		{"backing off", utc("2026-10-29T13:07:00Z"), nil, rules.StateRetrying,
			how + " Retrying action 1 at Thu 29 Oct 2026 09:07 EDT after 2 failed attempts: UNABLE_TO_LOCK_ROW.",
			utc("2026-10-29T13:07:00Z")},
		{"retry time reached", now, all, rules.StateDue,
			how + " Retrying action 1 after 2 failed attempts: UNABLE_TO_LOCK_ROW.", utc("2026-10-30T13:00:00Z")},
		{"no retry time (an entry from before backoff)", time.Time{}, all, rules.StateDue,
			how + " Retrying action 1 after 2 failed attempts: UNABLE_TO_LOCK_ROW.", utc("2026-10-30T13:00:00Z")},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := pb.Evaluate(c, failed(tt.retryAt), now)
			due := slices.DeleteFunc(dueSteps(r.Due), func(s string) bool { return !strings.HasPrefix(s, "attrition/") })
			if !slices.Equal(due, tt.due) {
				t.Errorf("due %v, want %v", due, tt.due)
			}
			if s := stateOf(t, r, "attrition"); s.State != tt.state || s.Reason != tt.reason {
				t.Errorf("state %s %q, want %s %q", s.State, s.Reason, tt.state, tt.reason)
			}
			if !r.Next.Equal(tt.next) {
				t.Errorf("next %v, want %v", r.Next, tt.next)
			}
		})
	}
}

// TestReminderRetryAt: a reminder that failed retryably is sent again once its RetryAt has
// come, and not before.
func TestReminderRetryAt(t *testing.T) {
	pb := parse(t, header+`steps:
  - id: s
    at: d
    require: Case.Ok
    remind: {every: 1d, to: [legal], template: gate-reminder}
    do: [status: A]
`)
	c := bot.Case{ID: "500", Fields: bot.Fields{"D": "2026-11-20", "Ok": false}}
	key := bot.StepKey("sched", "s", "remind-1", c.ID)
	gate := bot.StepKey("sched", "s", "gate", c.ID)
	l := bot.Ledger{
		gate: {Key: gate, CaseID: c.ID, Step: "s", State: bot.StateMarked, At: local("2026-11-20 09:00")},
		key: {Key: key, CaseID: c.ID, Step: "s", State: bot.StateFailed, Retryable: true, Attempts: 3,
			RetryAt: local("2026-11-21 09:30")},
	}
	for _, tt := range []struct {
		now  string
		due  []string
		next string
	}{
		{now: "2026-11-21 09:10", next: "2026-11-21 09:30"},
		{now: "2026-11-21 09:30", due: []string{"s/remind-1"}, next: "2026-11-22 09:00"},
	} {
		r := pb.Evaluate(c, l, local(tt.now))
		if due, _ := keys(r); !slices.Equal(due, tt.due) || !r.Next.Equal(local(tt.next)) {
			t.Errorf("%s: due %v next %v, want %v %s", tt.now, due, r.Next, tt.due, tt.next)
		}
	}
}
