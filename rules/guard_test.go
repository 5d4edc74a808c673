package rules_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"casebot/bot"
	"casebot/rules"
)

// dueIDs lists due effects by the part of their key after the playbook: "step/1" for an
// action, "step/guard-2" for a reminder.
func dueIDs(effs []bot.Effect) []string {
	var out []string
	for _, e := range effs {
		parts := strings.Split(e.Key, "/")
		out = append(out, parts[1]+"/"+parts[2])
	}
	return out
}

const guardPlaybook = `
playbook: guards
applies_to: {object: Case, where: "IsClosed = false"}
fields:
  Case: {D: date, Deprovision: datetime, Checked: datetime, Devices: number, Ok: bool}
timezone: {default: America/New_York}
escalate_to: [legal]
dates: {d: Case.D, deprovision: Case.Deprovision}
steps:
  - id: first
    at: d
    require: "Case.Ok"
    do: [status: A]
  - id: harm
    at: d
    guard:
      GUARD
      owner: order_management
      escalate_after: 3bd
    do: [close: {}]
`

// TestGuard: each kind of guard holds the step back while it does not hold, never skips it,
// says why in words, and tells its owner; holding, it lets the step run.
func TestGuard(t *testing.T) {
	firstKey := bot.EffectKey("guards", "first", 1, "500")
	firstDone := bot.Ledger{firstKey: {Key: firstKey, State: bot.StateDone}}
	for _, tt := range []struct {
		name   string
		guard  string
		fields bot.Fields
		ledger bot.Ledger
		want   []string  // Gate.Missing; nil: the guard holds and the step is due
		until  time.Time // Gate.Until: a not_before date still to come, which tells no one
	}{
		{name: "not before a date to come", guard: "not_before: deprovision",
			fields: bot.Fields{"Deprovision": "2026-11-10T22:00:00.000+0000"},
			want:   []string{"not before deprovision: Tue 10 Nov 2026 17:00 EST"}, until: local("2026-11-10 17:00")},
		{name: "not before an offset from a date", guard: "not_before: d + 3d",
			want: []string{"not before d + 3d: Thu 5 Nov 2026 09:00 EST"}, until: local("2026-11-05 09:00")},
		{name: "not before a date passed", guard: "not_before: deprovision",
			fields: bot.Fields{"Deprovision": "2026-11-03T22:00:00.000+0000"}},
		{name: "not before a blank date", guard: "not_before: deprovision",
			want: []string{"Deprovision is empty"}},
		{name: "fresh, blank", guard: "fresh: {field: Case.Checked, within: 7d}",
			want: []string{"Checked is empty"}},
		{name: "fresh, too old", guard: "fresh: {field: Case.Checked, within: 7d}",
			fields: bot.Fields{"Checked": "2026-10-01T13:00:00.000+0000"},
			want:   []string{"Checked is 34d 4h old, more than 7d"}},
		{name: "fresh in business days, too old", guard: "fresh: {field: Case.Checked, within: 2bd}",
			fields: bot.Fields{"Checked": "2026-10-30T14:00:00.000+0000"},
			want:   []string{"Checked is 5d 3h old, more than 2bd"}},
		{name: "fresh", guard: "fresh: {field: Case.Checked, within: 7d}",
			fields: bot.Fields{"Checked": "2026-11-01T12:00:00.000+0000"}},
		{name: "after a step not done", guard: "after: [first]",
			want: []string{"step first is not done yet"}},
		{name: "after a step done", guard: "after: [first]", ledger: firstDone},
		{name: "a condition false", guard: `condition: "Case.Devices == 0"`,
			want: []string{"Devices is 2, needs: Case.Devices == 0"}},
		{name: "a condition true", guard: `condition: "Case.Devices == 0"`, fields: bot.Fields{"Devices": 0.0}},
		{name: "everything at once", guard: "not_before: deprovision\n      fresh: {field: Case.Checked, within: 1d}\n" +
			"      after: [first]\n      condition: \"Case.Devices == 0 && Case.Ok\"",
			want: []string{"Deprovision is empty", "Checked is empty", "step first is not done yet",
				"Devices is 2, needs: Case.Devices == 0", "Ok is not checked"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			pb := parse(t, strings.Replace(guardPlaybook, "GUARD", tt.guard, 1))
			c := bot.Case{ID: "500", Fields: bot.Fields{"D": "2026-11-02", "Devices": 2.0, "Ok": false}}
			for k, v := range tt.fields {
				c.Fields[k] = v
			}
			now := local("2026-11-04 12:00") // two days after the step's date
			r := pb.Evaluate(c, tt.ledger, now)
			st := stateOf(t, r, "harm")
			due := dueIDs(r.Due)
			if tt.want == nil {
				if st.State != rules.StateDue || !slices.Contains(due, "harm/1") {
					t.Fatalf("state %s, due %v: want the step due (%s)", st.State, due, st.Reason)
				}
				return
			}
			if st.State != rules.StateWaiting || st.Gate.Kind != "guard" || slices.Contains(due, "harm/1") {
				t.Fatalf("state %s, gate %q, due %v: want waiting for the guard (%s)", st.State, st.Gate.Kind, due, st.Reason)
			}
			if !slices.Equal(st.Gate.Missing, tt.want) {
				t.Errorf("Missing:\n %q\nwant\n %q", st.Gate.Missing, tt.want)
			}
			if !st.Gate.Until.Equal(tt.until) {
				t.Errorf("Until %v, want %v", st.Gate.Until, tt.until)
			}
			marked := slices.ContainsFunc(r.Records, func(e bot.LedgerEntry) bool {
				return e.Key == bot.StepKey("guards", "harm", "guard", "500") && e.State == bot.StateMarked
			})
			switch {
			case !tt.until.IsZero():
				// Before its date the step is as good as not due: no mark, no reminder, and the
				// next cycle comes at the date.
				if marked || len(due) > 0 || !r.Next.Equal(tt.until) {
					t.Errorf("marked %v, due %v, next %v: want nothing until %v", marked, due, r.Next, tt.until)
				}
			case !marked || !slices.Equal(due, []string{"harm/guard-2"}):
				// Reminders every business day from the date: 3 Nov and 4 Nov 09:00.
				t.Errorf("marked %v, due %v: want the first wait marked and reminder guard-2", marked, due)
			case !strings.HasPrefix(st.Reason, "Waiting since Wed 4 Nov 2026 12:00 EST: guard: "+strings.Join(tt.want, "; ")+"."):
				t.Errorf("reason %q", st.Reason)
			}
		})
	}
}

// TestGuardTells: a guard that does not hold reminds its owner with the guard's template, and
// tells escalate_to once the step has waited escalate_after; it never skips the step, late as
// it may be.
func TestGuardTells(t *testing.T) {
	pb := parse(t, strings.Replace(guardPlaybook, "GUARD", `condition: "Case.Devices == 0"`, 1))
	c := bot.Case{ID: "500", Fields: bot.Fields{"D": "2026-11-02", "Devices": 2.0}}
	w := newWorld(c)
	var told []string
	for _, at := range []string{"2026-11-02 09:00", "2026-11-03 09:00", "2026-11-05 09:00", "2026-11-06 12:00"} {
		r := pb.Evaluate(w.c, w.l, local(at))
		for _, e := range r.Due {
			told = append(told, e.Key[strings.Index(e.Key, "/")+1:strings.LastIndex(e.Key, "/")]+" "+
				strings.Join(e.Roles, ",")+" "+e.Template)
		}
		w.perform(t, r.Due, r.Records, local(at))
		if st := stateOf(t, r, "harm"); st.State != rules.StateWaiting {
			t.Fatalf("%s: state %s, want waiting (%s)", at, st.State, st.Reason)
		}
	}
	want := []string{
		"harm/guard-1 order_management guard-waiting",
		"harm/guard-3 order_management guard-waiting",
		// Found first on Mon 2 Nov 09:00: three business days later, Thu 5 Nov 09:00.
		"harm/guard-escalate legal still-waiting",
		"harm/guard-4 order_management guard-waiting",
	}
	if !slices.Equal(told, want) {
		t.Errorf("told:\n %q\nwant\n %q", told, want)
	}
	w.c.Fields["Devices"] = 0.0
	if r := pb.Evaluate(w.c, w.l, local("2026-11-06 13:00")); !slices.Equal(dueIDs(r.Due), []string{"harm/1"}) {
		t.Errorf("with the guard holding, due %v, want harm/1", dueIDs(r.Due))
	}
}

// TestNotBeforeCountsAsDue: from its not_before date on, a step counts as due since then: it
// is not late, and its reminders count from there.
func TestNotBeforeCountsAsDue(t *testing.T) {
	pb := parse(t, strings.Replace(strings.Replace(guardPlaybook, "GUARD", "not_before: deprovision", 1),
		"    do: [close: {}]", "    require: \"Case.Ok\"\n    remind: {every: 1bd, to: [legal], template: gate-reminder}\n    catch_up: skip\n    do: [close: {}]", 1))
	w := newWorld(bot.Case{ID: "500", Fields: bot.Fields{"D": "2026-10-01", "Deprovision": "2026-11-02T15:00:00.000+0000", "Ok": false}})
	// Its own date is Thu 1 Oct; its guard's, Mon 2 Nov 10:00: found then, it is on time.
	var r rules.Result
	for _, at := range []string{"2026-10-01 09:00", "2026-11-02 10:00", "2026-11-03 11:00"} {
		r = pb.Evaluate(w.c, w.l, local(at))
		w.perform(t, r.Due, r.Records, local(at))
	}
	st := stateOf(t, r, "harm")
	if st.State != rules.StateWaiting || st.Gate.Kind != "require" {
		t.Fatalf("state %s, gate %q: want waiting for its require, not skipped as late (%s)", st.State, st.Gate.Kind, st.Reason)
	}
	if got := dueIDs(r.Due); !slices.Equal(got, []string{"harm/remind-1"}) || !st.Remind.Equal(local("2026-11-04 10:00")) {
		t.Errorf("due %v, next reminder %v: want remind-1, counted from Mon 2 Nov 10:00, next Wed 4 Nov 10:00", got, st.Remind)
	}
}

const needsPlaybook = `
playbook: needs
applies_to: {object: Case, where: "IsClosed = false"}
fields:
  Case: {D: date, Scenario: string, Period: number}
timezone: {default: America/New_York}
escalate_to: [legal]
dates: {d: Case.D}
steps:
  - id: scenario
    at: d
    needs: {fields: [Case.Scenario], owner: order_management, escalate_after: 3bd}
    when: "Case.Scenario == 'A'"
    catch_up: skip
    do: [status: A]
  - id: dated
    at: d
    needs: {fields: [Case.Period, Case.Scenario], owner: finance}
    do: [status: B]
`

// TestNeeds: a step never acts, nor decides its when, on a blank field it needs: it waits and
// its owner is asked, once a field (by the first step that waits for it), then escalate_to.
func TestNeeds(t *testing.T) {
	pb := parse(t, needsPlaybook)
	markAt := func(at string) bot.Ledger {
		key := bot.StepKey("needs", "scenario", "needs", "500")
		return bot.Ledger{key: {Key: key, State: bot.StateMarked, At: local(at)}}
	}
	for _, tt := range []struct {
		name    string
		fields  bot.Fields
		ledger  bot.Ledger
		now     string
		due     []string
		states  map[string]string // step → state
		missing map[string][]string
	}{
		{name: "both blank: each step asks for what no step before it asks for",
			fields: bot.Fields{}, now: "2026-11-04 12:00",
			due:     []string{"scenario/needs-2", "dated/needs-2"},
			states:  map[string]string{"scenario": rules.StateWaiting, "dated": rules.StateWaiting},
			missing: map[string][]string{"scenario": {"Scenario is empty"}, "dated": {"Period is empty", "Scenario is empty"}}},
		{name: "the scenario blank: asked for once",
			fields: bot.Fields{"Period": 0.0}, now: "2026-11-04 12:00",
			due:     []string{"scenario/needs-2"},
			states:  map[string]string{"scenario": rules.StateWaiting, "dated": rules.StateWaiting},
			missing: map[string][]string{"dated": {"Scenario is empty"}}},
		{name: "waited three business days: escalated",
			fields: bot.Fields{"Period": 0.0}, ledger: markAt("2026-11-02 09:00"), now: "2026-11-05 12:00",
			due:    []string{"scenario/needs-3", "scenario/needs-escalate"},
			states: map[string]string{"scenario": rules.StateWaiting}},
		{name: "filled: when is decided on the value",
			fields: bot.Fields{"Period": 30.0, "Scenario": "B"}, ledger: markAt("2026-11-02 09:00"), now: "2026-11-05 12:00",
			due:    []string{"dated/1"},
			states: map[string]string{"scenario": rules.StateSkipped, "dated": rules.StateDue}},
		{name: "filled after a wait that began on time: not late",
			fields: bot.Fields{"Period": 30.0, "Scenario": "A"}, ledger: markAt("2026-11-02 09:00"), now: "2026-11-05 12:00",
			due:    []string{"scenario/1", "dated/1"},
			states: map[string]string{"scenario": rules.StateDue}},
		{name: "filled after a wait that began late: late",
			fields: bot.Fields{"Period": 30.0, "Scenario": "A"}, ledger: markAt("2026-11-04 12:00"), now: "2026-11-05 12:00",
			due:    []string{"dated/1"},
			states: map[string]string{"scenario": rules.StateSkipped}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := bot.Case{ID: "500", Fields: bot.Fields{"D": "2026-11-02", "Scenario": nil, "Period": nil}}
			for k, v := range tt.fields {
				c.Fields[k] = v
			}
			r := pb.Evaluate(c, tt.ledger, local(tt.now))
			if got := dueIDs(r.Due); !slices.Equal(got, tt.due) {
				t.Errorf("due %v, want %v", got, tt.due)
			}
			for step, want := range tt.states {
				if st := stateOf(t, r, step); st.State != want {
					t.Errorf("%s: state %s, want %s (%s)", step, st.State, want, st.Reason)
				}
			}
			for step, want := range tt.missing {
				if st := stateOf(t, r, step); st.Gate.Kind != "needs" || !slices.Equal(st.Gate.Missing, want) {
					t.Errorf("%s: gate %q, missing %q, want needs %q", step, st.Gate.Kind, st.Gate.Missing, want)
				}
			}
			for _, e := range r.Due {
				if strings.Contains(e.Key, "/needs-escalate/") && (!slices.Equal(e.Roles, []string{"legal"}) || e.Template != rules.StillWaitingTemplate) {
					t.Errorf("escalation to %v with %s, want legal with %s", e.Roles, e.Template, rules.StillWaitingTemplate)
				}
			}
		})
	}
}

// TestHarm: which actions do harm, and the warning validate prints for each in a step
// without a guard.
func TestHarm(t *testing.T) {
	pb := parse(t, `
playbook: harm
applies_to: {object: Case, where: "IsClosed = false"}
fields:
  Case: {D: date, Partner: string}
dates: {d: Case.D}
steps:
  - id: unguarded
    at: d
    do:
      - close: {}
      - http: {endpoint: tenants, method: DELETE, path: /t/1}
      - http: {endpoint: tenants, method: POST, path: /t/1/Deactivate}
      - http: {endpoint: tenants, method: GET, path: /t/1/deactivation}
      - update: {Case: {Partner: null}}
        destructive: true
      - http: {endpoint: tenants, method: POST, path: /t/1/cancellation-quote}
        destructive: false
      - status: Done
  - id: guarded
    at: d
    guard: {not_before: d, owner: legal}
    do: [close: {}]
`)
	var harm []string
	for _, a := range pb.Steps[0].Actions {
		harm = append(harm, a.Harm)
	}
	want := []string{"closes the case", "deletes (DELETE tenants /t/1)", "deactivates or removes (POST tenants /t/1/Deactivate)",
		"", "is marked destructive", "", ""}
	if !slices.Equal(harm, want) {
		t.Errorf("Harm:\n %q\nwant\n %q", harm, want)
	}
	var warnings []string
	for _, w := range pb.Warnings {
		warnings = append(warnings, w.Error())
	}
	const tail = ", and the step has no guard: say what must hold before it runs (guard: with not_before, fresh, after or condition)"
	wantWarnings := []string{
		`test.yaml:11:9: step "unguarded" action 1 closes the case` + tail,
		`test.yaml:12:9: step "unguarded" action 2 deletes (DELETE tenants /t/1)` + tail,
		`test.yaml:13:9: step "unguarded" action 3 deactivates or removes (POST tenants /t/1/Deactivate)` + tail,
		`test.yaml:15:9: step "unguarded" action 5 is marked destructive` + tail,
	}
	if !slices.Equal(warnings, wantWarnings) {
		t.Errorf("Warnings:\n %s\nwant\n %s", strings.Join(warnings, "\n "), strings.Join(wantWarnings, "\n "))
	}
}
