package rules_test

import (
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"casebot/bot"
	"casebot/rules"
)

const sopName = "termination-sop"

// The roles, templates and endpoints the test playbooks use: parsing them with these checks
// proves that every name in them is one of these.
var (
	knownRoles = []string{"account_team", "cs_ops", "sales_ops", "sec_ops", "legal", "finance",
		"customer_ops", "marketing", "order_management", "infrastructure"}
	knownTemplates = map[string][]string{
		"slack": {"case-opened", "step-done", "termination-notice", "final-notice", "hold-reminder",
			"case-closed", "gate-reminder", rules.MissedStepTemplate, rules.FailedStepTemplate,
			rules.NeedsTemplate, rules.GuardTemplate, rules.StillWaitingTemplate},
		"email":   {"notice", "confirmation"},
		"comment": {"note"},
	}
	strictOptions = rules.Options{
		KnownRole:         func(s string) bool { return slices.Contains(knownRoles, s) },
		KnownTemplateKind: func(kind, s string) bool { return slices.Contains(knownTemplates[kind], s) },
		KnownEndpoint:     func(s string) bool { return s == "tenants" },
	}
)

func sop(t testing.TB) *rules.Playbook {
	t.Helper()
	return parseFile(t, "testdata/sop.yaml")
}

// parseFile parses a playbook of testdata with strictOptions.
func parseFile(t testing.TB, file string) *rules.Playbook {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	pb, err := rules.Parse(filepath.Base(file), data, strictOptions)
	if err != nil {
		t.Fatalf("parsing %s:\n%v", file, err)
	}
	return pb
}

func utc(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

// sopCase is a termination case confirmed on Wednesday 2026-10-28: day 4 falls on Sunday
// 2026-11-01, the day New York leaves daylight saving time.
func sopCase(zone string) bot.Case {
	return bot.Case{
		ID: "500000000000001AAA",
		Fields: bot.Fields{
			"CaseNumber":                "00001001",
			"Subject":                   "Termination: Acme",
			"Status":                    "New",
			"CreatedDate":               "2026-10-20T14:00:00.000+0000",
			"Contract_End_Date__c":      "2026-11-30",
			"Termination_Confirmed__c":  "2026-10-28",
			"Deprovision_Date__c":       "2026-11-30T17:00:00.000+0000",
			"Termination_Hold__c":       false,
			"Data_Deletion_Approved__c": nil,
		},
		Account: &bot.Account{ID: "001000000000001AAA", Fields: bot.Fields{
			"Name":                  "Acme",
			"Type":                  "Customer",
			"Customer_Attrition__c": false,
			"Time_Zone__c":          zone,
		}},
	}
}

// world plays Salesforce and the engine around Evaluate: it performs due effects on the case
// and records them in the ledger, as the executor would.
type world struct {
	c bot.Case
	l bot.Ledger
}

func newWorld(c bot.Case) *world { return &world{c: c, l: bot.Ledger{}} }

func (w *world) perform(t testing.TB, effs []bot.Effect, records []bot.LedgerEntry, now time.Time) {
	t.Helper()
	for _, e := range effs {
		switch e.Kind {
		case bot.KindUpdate, bot.KindStatus:
			target, id := w.c.Fields, w.c.ID
			if e.Object == rules.ObjectAccount {
				target, id = w.c.Account.Fields, w.c.Account.ID
			}
			if e.RecordID != id {
				t.Fatalf("%s updates %s %s, want %s", e.Key, e.Object, e.RecordID, id)
			}
			maps.Copy(target, e.Fields)
		case bot.KindTasks:
			for i, ts := range e.Tasks {
				w.c.Tasks = append(w.c.Tasks, bot.Task{ID: fmt.Sprintf("00T%d", i), Key: ts.Key,
					Subject: ts.Subject, Status: "Not Started", ActivityDate: ts.Due})
			}
		}
		w.l[e.Key] = bot.LedgerEntry{Key: e.Key, CaseID: e.CaseID, Playbook: e.Playbook, Step: e.Step,
			State: bot.StateDone, Attempts: 1, At: now}
	}
	for _, s := range records {
		w.l[s.Key] = s
	}
}

// closeTasks closes the tasks a step created, as the people owning them would.
func (w *world) closeTasks(step string) {
	for i, tk := range w.c.Tasks {
		if strings.HasPrefix(tk.Key, sopName+"/"+step+"/") {
			w.c.Tasks[i].IsClosed, w.c.Tasks[i].Status = true, "Completed"
		}
	}
}

// dueSteps lists due effects as "step/action".
func dueSteps(effs []bot.Effect) []string {
	var out []string
	for _, e := range effs {
		out = append(out, fmt.Sprintf("%s/%d", e.Step, e.Action))
	}
	return out
}

func stateOf(t *testing.T, r rules.Result, step string) rules.StepState {
	t.Helper()
	for _, s := range r.Steps {
		if s.Step == step {
			return s
		}
	}
	t.Fatalf("no step %q in the result", step)
	return rules.StepState{}
}

// TestSOPTimeline walks a New York case through the whole SOP, cycle by cycle, performing
// what comes due.
func TestSOPTimeline(t *testing.T) {
	pb := sop(t)
	w := newWorld(sopCase("America/New_York"))
	tests := []struct {
		now        string
		closeTasks []string // steps whose tasks their owners close before this cycle
		due        []string
		next       string // "" for none
		states     map[string]string
		reasons    map[string]string
		records    []string // "step/tag" of the marks recorded
	}{
		{now: "2026-10-20T13:59:59Z", next: "2026-10-20T14:00:00Z",
			states: map[string]string{"case-opened": rules.StateScheduled, "close": rules.StateScheduled}},
		{now: "2026-10-20T14:00:00Z", due: []string{"case-opened/1", "case-opened/2"}, next: "2026-10-29T13:00:00Z",
			reasons: map[string]string{"case-opened": "Due since Tue 20 Oct 2026 10:00 EDT: opened (Case.CreatedDate = 2026-10-20T14:00:00.000+0000)."}},
		// The cycle after: what the engine did is in the ledger, nothing is due twice.
		{now: "2026-10-20T14:01:00Z", next: "2026-10-29T13:00:00Z",
			states: map[string]string{"case-opened": rules.StateDone}},
		{now: "2026-10-29T12:59:00Z", next: "2026-10-29T13:00:00Z"},
		{now: "2026-10-29T13:00:00Z", due: []string{"attrition/1", "attrition/2", "attrition/3"}, next: "2026-10-30T13:00:00Z",
			reasons: map[string]string{"attrition": "Due since Thu 29 Oct 2026 09:00 EDT: day0 (Case.Termination_Confirmed__c = 2026-10-28) + 1d at 09:00 America/New_York."}},
		{now: "2026-10-30T13:00:00Z", due: []string{"termination-notice/1", "termination-notice/2"}, next: "2026-10-31T13:00:00Z"},
		{now: "2026-10-31T13:00:00Z", due: []string{"offboarding-tasks/1", "offboarding-tasks/2", "offboarding-tasks/3"}, next: "2026-11-01T14:00:00Z"},
		// 13:00Z was 09:00 the days before; after the change it is 08:00 EST: not yet.
		{now: "2026-11-01T13:00:00Z", next: "2026-11-01T14:00:00Z",
			states: map[string]string{"deactivate-access": rules.StateScheduled}},
		{now: "2026-11-01T14:00:00Z", due: []string{"deactivate-access/1", "deactivate-access/2"}, next: "2026-11-22T14:00:00Z"},
		{now: "2026-11-22T14:00:00Z", due: []string{"hold-reminder/1"}, next: "2026-11-27T14:00:00Z"},
		{now: "2026-11-27T14:00:00Z", due: []string{"deletion-approval/1", "deletion-approval/2", "deletion-approval/3"}, next: "2026-11-27T17:00:00Z"},
		// 72 hours before the de-provision instant, whatever the clocks did.
		{now: "2026-11-27T17:00:00Z", due: []string{"final-notice/1", "final-notice/2"}, next: "2026-11-28T14:00:00Z",
			reasons: map[string]string{"final-notice": "Due since Fri 27 Nov 2026 12:00 EST: deprovision (Case.Deprovision_Date__c = 2026-11-30T17:00:00.000+0000) - 72h."}},
		// deletion-approval set Data_Deletion_Approved__c: the gate is open.
		{now: "2026-11-28T14:00:00Z", due: []string{"purge-handoff/1", "purge-handoff/2", "purge-handoff/3"}, next: "2026-11-29T14:00:00Z"},
		// The purge task is still open: purge-done waits, with no date to come back at.
		{now: "2026-11-29T14:00:00Z", next: "2026-11-30T14:00:00Z",
			states: map[string]string{"purge-done": rules.StateWaiting},
			reasons: map[string]string{"purge-done": "Waiting since Sun 29 Nov 2026 09:00 EST: require false: tasksDone('purge-handoff') = false. " +
				"Due Sun 29 Nov 2026 09:00 EST: day0 (Case.Termination_Confirmed__c = 2026-10-28) + 32d at 09:00 America/New_York."},
			records: []string{"purge-done/gate"}},
		{now: "2026-11-29T18:00:00Z", closeTasks: []string{"purge-handoff"}, due: []string{"purge-done/1", "purge-done/2"}, next: "2026-11-30T14:00:00Z"},
		// The Termination Team has not finished: close waits, and nothing else is scheduled.
		{now: "2026-11-30T14:00:00Z",
			states: map[string]string{"close": rules.StateWaiting},
			reasons: map[string]string{"close": `Waiting since Mon 30 Nov 2026 09:00 EST: require false: Case.Status = "Data Purge Done", ` +
				"tasksDone('offboarding-tasks') = false, tasksDone('deactivate-access') = false. " +
				"Due Mon 30 Nov 2026 09:00 EST: day0 (Case.Termination_Confirmed__c = 2026-10-28) + 33d at 09:00 America/New_York."},
			records: []string{"close/gate"}},
		{now: "2026-12-01T10:00:00Z", closeTasks: []string{"offboarding-tasks"},
			states: map[string]string{"close": rules.StateWaiting},
			// The gate was recorded as closed the cycle before: no second record.
			reasons: map[string]string{"close": `Waiting since Mon 30 Nov 2026 09:00 EST: require false: Case.Status = "Data Purge Done", ` +
				"tasksDone('offboarding-tasks') = true, tasksDone('deactivate-access') = false. " +
				"Due Mon 30 Nov 2026 09:00 EST: day0 (Case.Termination_Confirmed__c = 2026-10-28) + 33d at 09:00 America/New_York."}},
		{now: "2026-12-02T15:00:00Z", closeTasks: []string{"deactivate-access"}, due: []string{"close/1", "close/2", "close/3"}},
		{now: "2026-12-02T15:01:00Z"},
	}
	for _, tt := range tests {
		for _, s := range tt.closeTasks {
			w.closeTasks(s)
		}
		now := utc(tt.now)
		r := pb.Evaluate(w.c, w.l, now)
		if got := dueSteps(r.Due); !slices.Equal(got, tt.due) {
			t.Errorf("%s: due %v, want %v", tt.now, got, tt.due)
		}
		var next time.Time
		if tt.next != "" {
			next = utc(tt.next)
		}
		if !r.Next.Equal(next) {
			t.Errorf("%s: next %v, want %v", tt.now, r.Next, next)
		}
		var records []string
		for _, e := range r.Records {
			if e.State != bot.StateMarked {
				t.Errorf("%s: record %+v, want only marks", tt.now, e)
			}
			records = append(records, e.Step+"/"+strings.Split(e.Key, "/")[2])
		}
		if !slices.Equal(records, tt.records) {
			t.Errorf("%s: records %v, want %v", tt.now, records, tt.records)
		}
		for step, want := range tt.states {
			if got := stateOf(t, r, step); got.State != want {
				t.Errorf("%s: %s is %s (%s), want %s", tt.now, step, got.State, got.Reason, want)
			}
		}
		for step, want := range tt.reasons {
			if got := stateOf(t, r, step).Reason; got != want {
				t.Errorf("%s: %s reason\n got %q\nwant %q", tt.now, step, got, want)
			}
		}
		w.perform(t, r.Due, r.Records, now)
	}
	// The end: every step done, the case closed, the account a former customer.
	r := pb.Evaluate(w.c, w.l, utc("2027-01-01T00:00:00Z"))
	for _, s := range r.Steps {
		if s.State != rules.StateDone {
			t.Errorf("at the end %s is %s (%s), want done", s.Step, s.State, s.Reason)
		}
	}
	if w.c.Fields["Status"] != "Closed" || w.c.Account.Fields["Type"] != "Former Customer" ||
		w.c.Account.Fields["Customer_Attrition__c"] != true || w.c.Fields["Data_Deletion_Approved__c"] != true {
		t.Errorf("at the end the case is %v and its account %v", w.c.Fields, w.c.Account.Fields)
	}
}

// TestSOPDates checks every step's date in several zones.
func TestSOPDates(t *testing.T) {
	pb := sop(t)
	newYork := []string{
		"2026-10-20T14:00:00Z", // opened: the instant itself
		"2026-10-29T13:00:00Z", // 09:00 EDT
		"2026-10-30T13:00:00Z",
		"2026-10-31T13:00:00Z",
		"2026-11-01T14:00:00Z", // 09:00 EST, after the change
		"2026-11-27T17:00:00Z", // final notice: 72 hours of elapsed time
		"2026-11-22T14:00:00Z",
		"2026-11-27T14:00:00Z",
		"2026-11-28T14:00:00Z",
		"2026-11-29T14:00:00Z",
		"2026-11-30T14:00:00Z",
	}
	noAccount := sopCase("")
	noAccount.Account = nil
	tests := []struct {
		name string
		c    bot.Case
		want []string
	}{
		{"New York", sopCase("America/New_York"), newYork},
		{"Tokyo", sopCase("Asia/Tokyo"), []string{
			"2026-10-20T14:00:00Z",
			"2026-10-29T00:00:00Z", // 09:00 JST, no DST
			"2026-10-30T00:00:00Z",
			"2026-10-31T00:00:00Z",
			"2026-11-01T00:00:00Z",
			"2026-11-27T17:00:00Z",
			"2026-11-22T00:00:00Z",
			"2026-11-27T00:00:00Z",
			"2026-11-28T00:00:00Z",
			"2026-11-29T00:00:00Z",
			"2026-11-30T00:00:00Z",
		}},
		{"not a zone: the default", sopCase("Mars/Olympus_Mons"), newYork},
		{"Local is not a case's zone", sopCase("Local"), newYork},
		{"no zone", sopCase(""), newYork},
		{"no account", noAccount, newYork},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := pb.Evaluate(tt.c, nil, utc("2026-01-01T00:00:00Z"))
			if len(r.Steps) != len(tt.want) {
				t.Fatalf("%d steps, want %d", len(r.Steps), len(tt.want))
			}
			for i, s := range r.Steps {
				if !s.At.Equal(utc(tt.want[i])) {
					t.Errorf("%s at %v, want %s", s.Step, s.At, tt.want[i])
				}
				if s.State != rules.StateScheduled {
					t.Errorf("%s is %s, want scheduled", s.Step, s.State)
				}
			}
			if !r.Next.Equal(utc(tt.want[0])) {
				t.Errorf("next %v, want %s", r.Next, tt.want[0])
			}
		})
	}
	r := pb.Evaluate(sopCase("Asia/Tokyo"), nil, utc("2026-01-01T00:00:00Z"))
	if got, want := r.Steps[1].Reason, "Scheduled for Thu 29 Oct 2026 09:00 JST: day0 (Case.Termination_Confirmed__c = 2026-10-28) + 1d at 09:00 Asia/Tokyo."; got != want {
		t.Errorf("reason %q, want %q", got, want)
	}
}

// TestOffsets covers the kinds of anchors and units on a small playbook.
func TestOffsets(t *testing.T) {
	const src = `
playbook: offsets
applies_to: {object: Case, where: "IsClosed = false"}
fields:
  Case: {D: date, T: datetime}
timezone: {default: America/New_York}
run_at: "08:30"
dates: {d: Case.D, t: Case.T}
steps:
  - {id: date-plain, at: d, do: [status: A]}
  - {id: date-days, at: d + 2d, do: [status: A]}
  - {id: date-back, at: d - 1d, do: [status: A]}
  - {id: date-hours, at: d + 3h, do: [status: A]}
  - {id: date-hours-back, at: d - 72h, do: [status: A]}
  - {id: time-plain, at: t, do: [status: A]}
  - {id: time-days, at: t + 2d, do: [status: A]}
  - {id: time-hours, at: t + 48h, do: [status: A]}
`
	pb, err := rules.Parse("offsets.yaml", []byte(src), rules.Options{})
	if err != nil {
		t.Fatal(err)
	}
	c := bot.Case{ID: "500", Fields: bot.Fields{
		"D": "2026-11-02",                // Monday after the change (Sunday 2026-11-01)
		"T": "2026-10-31T14:30:00-04:00", // RFC 3339 is accepted too
	}}
	want := map[string]string{
		"date-plain":      "2026-11-02T13:30:00Z", // 08:30 EST
		"date-days":       "2026-11-04T13:30:00Z",
		"date-back":       "2026-11-01T13:30:00Z", // Sunday, already EST
		"date-hours":      "2026-11-02T16:30:00Z", // run_at + 3 hours
		"date-hours-back": "2026-10-30T13:30:00Z", // 72 hours of elapsed time: 09:30 EDT
		"time-plain":      "2026-10-31T18:30:00Z",
		"time-days":       "2026-11-02T19:30:00Z", // 14:30 local kept across the change
		"time-hours":      "2026-11-02T18:30:00Z", // 13:30 local: hours are elapsed time
	}
	r := pb.Evaluate(c, nil, utc("2026-01-01T00:00:00Z"))
	for _, s := range r.Steps {
		if !s.At.Equal(utc(want[s.Step])) {
			t.Errorf("%s at %v, want %s (%s)", s.Step, s.At.UTC(), want[s.Step], s.Reason)
		}
	}
	if got, want := stateOf(t, r, "time-days").Reason, "Scheduled for Mon 2 Nov 2026 14:30 EST: t (Case.T = 2026-10-31T14:30:00-04:00) + 2d in America/New_York."; got != want {
		t.Errorf("reason %q, want %q", got, want)
	}
	if got, want := stateOf(t, r, "date-hours-back").Reason, "Scheduled for Fri 30 Oct 2026 09:30 EDT: d (Case.D = 2026-11-02) - 72h at 08:30 America/New_York."; got != want {
		t.Errorf("reason %q, want %q", got, want)
	}
}

func TestWhenSkips(t *testing.T) {
	pb := sop(t)
	c := sopCase("America/New_York")
	c.Account.Fields["Customer_Attrition__c"] = true // already checked by hand
	now := utc("2026-10-29T13:00:00Z")
	l := bot.Ledger{}
	r := pb.Evaluate(c, l, now)
	const detail = "when false: Account.Customer_Attrition__c = true"
	var want []bot.LedgerEntry
	for i := 1; i <= 3; i++ {
		want = append(want, bot.LedgerEntry{Key: bot.EffectKey(sopName, "attrition", i, c.ID), CaseID: c.ID,
			Playbook: sopName, Step: "attrition", State: bot.StateSkipped, Detail: detail, At: now})
	}
	if !slices.Equal(r.Records, want) {
		t.Errorf("skips\n got %+v\nwant %+v", r.Records, want)
	}
	if slices.ContainsFunc(r.Due, func(e bot.Effect) bool { return e.Step == "attrition" }) {
		t.Errorf("attrition effects due: %v", dueSteps(r.Due))
	}
	if s := stateOf(t, r, "attrition"); s.State != rules.StateSkipped || s.Reason != "Skipped: "+detail+"." {
		t.Errorf("attrition %s %q, want skipped %q", s.State, s.Reason, detail)
	}

	// Once recorded the decision is final, even if the field changes.
	for _, s := range r.Records {
		l[s.Key] = s
	}
	c.Account.Fields["Customer_Attrition__c"] = false
	r = pb.Evaluate(c, l, now.Add(time.Hour))
	if len(r.Records) != 0 || slices.ContainsFunc(r.Due, func(e bot.Effect) bool { return e.Step == "attrition" }) {
		t.Errorf("after the skip: skips %v, due %v", r.Records, dueSteps(r.Due))
	}
	if s := stateOf(t, r, "attrition"); s.State != rules.StateSkipped || s.Reason != "Skipped: "+detail+"." {
		t.Errorf("attrition %s %q, want skipped %q", s.State, s.Reason, detail)
	}
}

// TestHoldCondition: in a playbook whose conditions read the hold field (instead of
// declaring `hold:`), a termination put on hold skips the reminder and the approval, and the
// purge waits for an approval that does not come.
func TestHoldCondition(t *testing.T) {
	pb := sop(t)
	w := newWorld(sopCase("America/New_York"))
	w.c.Fields["Termination_Hold__c"] = true
	w.perform(t, pb.Evaluate(w.c, w.l, utc("2026-11-20T00:00:00Z")).Due, nil, utc("2026-11-20T00:00:00Z"))

	r := pb.Evaluate(w.c, w.l, utc("2026-11-28T14:00:00Z"))
	if got, want := dueSteps(r.Due), []string{"final-notice/1", "final-notice/2"}; !slices.Equal(got, want) {
		t.Errorf("due %v, want %v", got, want)
	}
	var skipped []string
	for _, s := range r.Records {
		skipped = append(skipped, fmt.Sprintf("%s/%s", s.Step, strings.TrimPrefix(s.Key, sopName+"/"+s.Step+"/")))
		want := "when false: Case.Termination_Hold__c = true"
		if s.State == bot.StateMarked {
			want = "require false: Case.Data_Deletion_Approved__c = null"
		}
		if s.Detail != want {
			t.Errorf("%s detail %q, want %q", s.Key, s.Detail, want)
		}
	}
	want := []string{"hold-reminder/1/" + w.c.ID, "deletion-approval/1/" + w.c.ID, "deletion-approval/2/" + w.c.ID,
		"deletion-approval/3/" + w.c.ID, "purge-handoff/gate/" + w.c.ID}
	if !slices.Equal(skipped, want) {
		t.Errorf("skipped %v, want %v", skipped, want)
	}
	s := stateOf(t, r, "purge-handoff")
	if s.State != rules.StateWaiting || s.Reason != "Waiting since Sat 28 Nov 2026 09:00 EST: require false: Case.Data_Deletion_Approved__c = null. "+
		"Due Sat 28 Nov 2026 09:00 EST: day0 (Case.Termination_Confirmed__c = 2026-10-28) + 31d at 09:00 America/New_York." {
		t.Errorf("purge-handoff %s %q", s.State, s.Reason)
	}
	// final-notice (2026-11-27 17:00Z) has passed; purge-done and close are still to come.
	if !r.Next.Equal(utc("2026-11-29T14:00:00Z")) {
		t.Errorf("next %v", r.Next)
	}

	// The RVP approves by hand after all: the gate opens on the next cycle.
	w.perform(t, r.Due, r.Records, utc("2026-11-28T14:00:00Z"))
	w.c.Fields["Data_Deletion_Approved__c"] = true
	r = pb.Evaluate(w.c, w.l, utc("2026-11-28T14:01:00Z"))
	if got, want := dueSteps(r.Due), []string{"purge-handoff/1", "purge-handoff/2", "purge-handoff/3"}; !slices.Equal(got, want) {
		t.Errorf("due %v, want %v", got, want)
	}
}

func TestMissingAnchor(t *testing.T) {
	pb := sop(t)
	for _, tt := range []struct {
		value  any
		reason string
	}{
		{nil, "Waiting for a date: Case.Termination_Confirmed__c is null."},
		{"", "Waiting for a date: Case.Termination_Confirmed__c is null."},
		{"soon", `Waiting for a date: Case.Termination_Confirmed__c = "soon" is not a date.`},
		{"2026-10-28T10:00:00.000+0000", `Waiting for a date: Case.Termination_Confirmed__c = "2026-10-28T10:00:00.000+0000" is not a date.`},
		{12.0, `Waiting for a date: Case.Termination_Confirmed__c = 12 is not a date.`},
	} {
		c := sopCase("America/New_York")
		c.Fields["Termination_Confirmed__c"] = tt.value
		r := pb.Evaluate(c, nil, utc("2026-11-01T00:00:00Z"))
		for _, s := range r.Steps {
			if s.Timing.Date != "day0" {
				continue
			}
			if s.State != rules.StateWaiting || s.Reason != tt.reason || !s.At.IsZero() {
				t.Errorf("%v: %s is %s at %v (%q), want waiting (%q)", tt.value, s.Step, s.State, s.At, s.Reason, tt.reason)
			}
		}
		// Only the steps with a date remain: case-opened is due, final-notice scheduled.
		if got := dueSteps(r.Due); !slices.Equal(got, []string{"case-opened/1", "case-opened/2"}) {
			t.Errorf("%v: due %v", tt.value, got)
		}
		if !r.Next.Equal(utc("2026-11-27T17:00:00Z")) {
			t.Errorf("%v: next %v", tt.value, r.Next)
		}
	}
}

func TestLedger(t *testing.T) {
	pb := sop(t)
	c := sopCase("America/New_York")
	now := utc("2026-10-29T13:00:00Z") // attrition comes due
	key := func(a int) string { return bot.EffectKey(sopName, "attrition", a, c.ID) }
	entry := func(a int, st bot.EntryState, retryable bool, detail string) bot.LedgerEntry {
		return bot.LedgerEntry{Key: key(a), CaseID: c.ID, Playbook: sopName, Step: "attrition", State: st,
			Retryable: retryable, Detail: detail, Attempts: 2}
	}
	const (
		how  = "Thu 29 Oct 2026 09:00 EDT: day0 (Case.Termination_Confirmed__c = 2026-10-28) + 1d at 09:00 America/New_York."
		when = "Due since " + how
	)
	tests := []struct {
		name    string
		entries []bot.LedgerEntry
		due     []string
		state   string
		reason  string
	}{
		{"nothing done", nil, []string{"attrition/1", "attrition/2", "attrition/3"}, rules.StateDue, when},
		{"first done", []bot.LedgerEntry{entry(1, bot.StateDone, false, "")},
			[]string{"attrition/2", "attrition/3"}, rules.StateDue, when},
		{"second done, first not yet", []bot.LedgerEntry{entry(2, bot.StateDone, false, "")},
			[]string{"attrition/1", "attrition/3"}, rules.StateDue, when},
		{"first failed, will be retried: due again with the others, in order",
			[]bot.LedgerEntry{entry(1, bot.StateFailed, true, "UNABLE_TO_LOCK_ROW")},
			[]string{"attrition/1", "attrition/2", "attrition/3"}, rules.StateDue,
			when + " Retrying action 1 after 2 failed attempts: UNABLE_TO_LOCK_ROW."},
		{"second failed for good", []bot.LedgerEntry{entry(1, bot.StateDone, false, ""),
			entry(2, bot.StateFailed, false, "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST: Status")},
			nil, rules.StateFailed, "Failed: action 2 (status): INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST: Status."},
		{"all done", []bot.LedgerEntry{entry(1, bot.StateDone, false, ""), entry(2, bot.StateDone, false, ""),
			entry(3, bot.StateDone, false, "")}, nil, rules.StateDone, "Done; due " + how},
		{"done and skipped", []bot.LedgerEntry{entry(1, bot.StateDone, false, ""), entry(2, bot.StateSkipped, false, "x"),
			entry(3, bot.StateDone, false, "")}, nil, rules.StateDone, "Done; due " + how},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := bot.Ledger{}
			for _, e := range tt.entries {
				l[e.Key] = e
			}
			r := pb.Evaluate(c, l, now)
			var got []string
			for _, e := range r.Due {
				if e.Step == "attrition" {
					got = append(got, fmt.Sprintf("%s/%d", e.Step, e.Action))
				}
			}
			if !slices.Equal(got, tt.due) {
				t.Errorf("due %v, want %v", got, tt.due)
			}
			s := stateOf(t, r, "attrition")
			if s.State != tt.state || s.Reason != tt.reason {
				t.Errorf("state %s %q, want %s %q", s.State, s.Reason, tt.state, tt.reason)
			}
			if !r.Next.Equal(utc("2026-10-30T13:00:00Z")) {
				t.Errorf("next %v", r.Next)
			}
		})
	}
}

// TestStartedStepFinishes: a step that has begun finishes even when its date moves away or
// its gate closes.
func TestStartedStepFinishes(t *testing.T) {
	pb := sop(t)
	c := sopCase("America/New_York")
	now := utc("2026-10-29T13:05:00Z")
	l := bot.Ledger{bot.EffectKey(sopName, "attrition", 1, c.ID): {State: bot.StateDone}}
	c.Account.Fields["Customer_Attrition__c"] = true // set by action 1: `when` is no longer true
	c.Fields["Termination_Confirmed__c"] = "2026-11-15"
	r := pb.Evaluate(c, l, now)
	if got, want := dueSteps(r.Due), []string{"case-opened/1", "case-opened/2", "attrition/2", "attrition/3"}; !slices.Equal(got, want) {
		t.Errorf("due %v, want %v", got, want)
	}
	if len(r.Records) != 0 {
		t.Errorf("skips %v", r.Records)
	}

	c.Fields["Termination_Confirmed__c"] = nil
	r = pb.Evaluate(c, l, now)
	if got, want := dueSteps(r.Due), []string{"case-opened/1", "case-opened/2", "attrition/2", "attrition/3"}; !slices.Equal(got, want) {
		t.Errorf("with the date gone: due %v, want %v", got, want)
	}
	for _, e := range r.Due {
		if e.Step == "attrition" && !e.Due.Equal(now) {
			t.Errorf("%s due %v, want now", e.Key, e.Due)
		}
	}
	if s := stateOf(t, r, "attrition"); s.State != rules.StateDue || s.Reason != "Due: it started, so it finishes although Case.Termination_Confirmed__c is null." {
		t.Errorf("attrition %s %q", s.State, s.Reason)
	}
}

func TestNoAccount(t *testing.T) {
	pb := sop(t)
	c := sopCase("")
	c.Account = nil
	r := pb.Evaluate(c, nil, utc("2026-10-29T13:00:00Z"))
	s := stateOf(t, r, "attrition")
	if s.State != rules.StateFailed || s.Reason != "Failed: action 1 (update): the case has no account." {
		t.Errorf("attrition %s %q", s.State, s.Reason)
	}
	if got := dueSteps(r.Due); !slices.Equal(got, []string{"case-opened/1", "case-opened/2"}) {
		t.Errorf("due %v", got)
	}
}

// doneBeforeOffboarding is the ledger of a case whose steps before offboarding-tasks are done.
func doneBeforeOffboarding(c bot.Case) bot.Ledger {
	l := bot.Ledger{}
	for _, step := range []string{"case-opened", "termination-notice"} {
		for a := 1; a <= 2; a++ {
			l[bot.EffectKey(sopName, step, a, c.ID)] = bot.LedgerEntry{State: bot.StateDone}
		}
	}
	for a := 1; a <= 3; a++ {
		l[bot.EffectKey(sopName, "attrition", a, c.ID)] = bot.LedgerEntry{State: bot.StateDone}
	}
	return l
}

func TestEffects(t *testing.T) {
	pb := sop(t)
	c := sopCase("Asia/Tokyo")
	now := utc("2026-10-31T00:00:00Z") // offboarding-tasks comes due: 09:00 JST on 2026-10-31
	l := doneBeforeOffboarding(c)
	r := pb.Evaluate(c, l, now)
	due := utc("2026-10-31T00:00:00Z")
	base := bot.Effect{Playbook: sopName, Step: "offboarding-tasks", CaseID: c.ID}
	task := func(id, subject, owner, date, priority string) bot.TaskSpec {
		return bot.TaskSpec{Key: bot.EffectKey(sopName, "offboarding-tasks", 1, c.ID) + "/" + id,
			Subject: subject, OwnerRole: owner, Due: date, Priority: priority}
	}
	want := []bot.Effect{base, base, base}
	want[0].Key, want[0].Action, want[0].Kind = bot.EffectKey(sopName, "offboarding-tasks", 1, c.ID), 1, bot.KindTasks
	want[0].Tasks = []bot.TaskSpec{
		task("customer-ops", "Confirm customer attrition", "customer_ops", "2026-11-07", "Normal"),
		task("finance", "Confirm invoicing and payment status", "finance", "2026-11-07", "Normal"),
		task("marketing-exclusion", "Add the customer to the marketing exclusion lists", "marketing", "2026-11-07", "Normal"),
		task("marketing-references", "Make sure the customer is no longer referenced publicly", "marketing", "2026-11-14", "Normal"),
		task("sales-ops", "Confirm there is no open pipeline", "sales_ops", "2026-11-07", "Normal"),
		task("om-final", "Final confirmation of the off-boarding", "order_management", "2026-11-21", "High"),
	}
	want[1].Key, want[1].Action, want[1].Kind = bot.EffectKey(sopName, "offboarding-tasks", 2, c.ID), 2, bot.KindStatus
	want[1].Object, want[1].RecordID, want[1].Fields = "Case", c.ID, bot.Fields{"Status": "Off-boarding"}
	want[2].Key, want[2].Action, want[2].Kind = bot.EffectKey(sopName, "offboarding-tasks", 3, c.ID), 3, bot.KindSlack
	want[2].Roles, want[2].Template = []string{"legal", "finance"}, "step-done"
	got := slices.Clone(r.Due)
	for i := range got {
		if !got[i].Due.Equal(due) {
			t.Errorf("%s due at %v, want %v", got[i].Key, got[i].Due, due)
		}
		got[i].Due = time.Time{}
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("due\n got %+v\nwant %+v", r.Due, want)
	}

	// Effects are the caller's to change: the playbook is not.
	r.Due[1].Fields["Status"] = "changed"
	r.Due[2].Roles[0] = "changed"
	again := pb.Evaluate(c, l, now)
	if again.Due[1].Fields["Status"] != "Off-boarding" || again.Due[2].Roles[0] != "legal" {
		t.Errorf("editing an effect changed the playbook: %+v", again.Due)
	}
}

// Task due dates count from the step's date, or from the day the tasks are created when the
// step runs later: found late, or held back by its gate. The effect stays due at the step's date.
func TestTaskDueFromCreation(t *testing.T) {
	pb := sop(t)
	c := sopCase("Asia/Tokyo")
	l := doneBeforeOffboarding(c)
	stepDate := utc("2026-10-31T00:00:00Z") // offboarding-tasks: Sat 31 Oct 09:00 JST
	for _, tc := range []struct {
		name, now          string
		customOps, omFinal string // due dates of a 7d and a 21d task
	}{
		{"on time", "2026-10-31T00:00:00Z", "2026-11-07", "2026-11-21"},
		{"later the same local day", "2026-10-31T14:59:00Z", "2026-11-07", "2026-11-21"},
		{"the next local day", "2026-10-31T15:00:00Z", "2026-11-08", "2026-11-22"}, // Sun 1 Nov in Tokyo
		{"ten days late", "2026-11-10T01:00:00Z", "2026-11-17", "2026-12-01"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := pb.Evaluate(c, l, utc(tc.now))
			var tasks *bot.Effect
			for i := range r.Due {
				if r.Due[i].Step == "offboarding-tasks" && r.Due[i].Kind == bot.KindTasks {
					tasks = &r.Due[i]
				}
			}
			if tasks == nil {
				t.Fatalf("no tasks due: %v", dueSteps(r.Due))
			}
			if !tasks.Due.Equal(stepDate) {
				t.Errorf("tasks effect due %v, want the step's date %v", tasks.Due, stepDate)
			}
			got := map[string]string{}
			for _, ts := range tasks.Tasks {
				got[ts.Key[strings.LastIndex(ts.Key, "/")+1:]] = ts.Due
			}
			if got["customer-ops"] != tc.customOps || got["om-final"] != tc.omFinal {
				t.Errorf("customer-ops due %s, om-final due %s; want %s, %s", got["customer-ops"], got["om-final"], tc.customOps, tc.omFinal)
			}
		})
	}
}

func TestTasksDone(t *testing.T) {
	pb := sop(t)
	c := sopCase("America/New_York")
	l := bot.Ledger{}
	for step, n := range map[string]int{"case-opened": 2, "attrition": 3, "termination-notice": 2,
		"offboarding-tasks": 3, "deactivate-access": 2, "final-notice": 2, "hold-reminder": 1,
		"deletion-approval": 3, "purge-handoff": 3} {
		for a := 1; a <= n; a++ {
			l[bot.EffectKey(sopName, step, a, c.ID)] = bot.LedgerEntry{State: bot.StateDone}
		}
	}
	purge := bot.EffectKey(sopName, "purge-handoff", 1, c.ID) + "/purge"
	tests := []struct {
		name  string
		tasks []bot.Task
		done  bool
	}{
		{"no task yet", nil, false},
		{"open", []bot.Task{{Key: purge}}, false},
		{"closed", []bot.Task{{Key: purge, IsClosed: true}}, true},
		{"closed, another still open", []bot.Task{{Key: purge, IsClosed: true}, {Key: purge + "-2"}}, false},
		{"only other steps' tasks closed", []bot.Task{
			{Key: bot.EffectKey(sopName, "purge-handoff-2", 1, c.ID) + "/purge", IsClosed: true},
			{Key: bot.EffectKey("other-playbook", "purge-handoff", 1, c.ID) + "/purge", IsClosed: true},
			{Key: sopName + "/purge-handoff", IsClosed: true},
		}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c.Tasks = tt.tasks
			r := pb.Evaluate(c, l, utc("2026-11-29T14:00:00Z"))
			s := stateOf(t, r, "purge-done")
			if got := s.State == rules.StateDue; got != tt.done {
				t.Errorf("purge-done %s (%s), want due %v", s.State, s.Reason, tt.done)
			}
		})
	}
}

// TestConcurrentEvaluate: one playbook serves every case at once (run with -race).
func TestConcurrentEvaluate(t *testing.T) {
	pb := sop(t)
	zones := []string{"America/New_York", "Asia/Tokyo", "Europe/Paris", "Nowhere/Else", "Australia/Sydney"}
	want := make([]rules.Result, len(zones))
	for i, z := range zones {
		want[i] = pb.Evaluate(sopCase(z), nil, utc("2026-11-01T00:00:00Z"))
	}
	done := make(chan error)
	for g := range 8 {
		go func() {
			for i := range 50 {
				z := (g + i) % len(zones)
				got := pb.Evaluate(sopCase(zones[z]), nil, utc("2026-11-01T00:00:00Z"))
				if !reflect.DeepEqual(got.Steps, want[z].Steps) {
					done <- fmt.Errorf("%s: steps differ", zones[z])
					return
				}
			}
			done <- nil
		}()
	}
	for range 8 {
		if err := <-done; err != nil {
			t.Error(err)
		}
	}
}
