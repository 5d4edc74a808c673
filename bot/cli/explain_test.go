package cli

import (
	"bytes"
	"slices"
	"strings"
	"testing"
	"time"

	"casebot/bot"
	"casebot/rules"
)

const testPlaybook = `playbook: sample
applies_to: {object: Case, where: "Type = 'Termination'"}
fields:
  Case: {CaseNumber: string, Subject: string, Status: string, Day0__c: date, Hold__c: bool, Approved__c: bool, Contact__c: string, Count__c: number}
  Account: {Name: string, Tenant__c: string, Attrition__c: bool, Tz__c: string}
timezone: {field: Account.Tz__c, default: America/New_York}
run_at: "09:00"
calendar: [us]
hold: Case.Hold__c
dates:
  day0: Case.Day0__c
task_templates:
  team:
    - {id: a, subject: First, owner: finance, due: 5bd}
    - {id: b, subject: Second, owner: legal, due: 2d}
    - {id: c, subject: Third, owner: finance}
steps:
  - id: update
    at: day0 + 1d
    when: "!Account.Attrition__c"
    do:
      - update: {Account: {Attrition__c: true}}
      - update: {Case: {Contact__c: null, Count__c: 3}}
      - update: {Case: {Subject: {expr: "Case.Subject + ' (closed)'"}}}
  - id: status
    at: day0 + 2bd
    require: "Case.Approved__c && done('update') && tasksDone('tasks')"
    do:
      - status: Attrition Confirmed
      - close: {}
  - id: tasks
    at: day0 + 3d
    do:
      - tasks: team
      - queue: infrastructure
  - id: messages
    at: day0 - 72h
    do:
      - slack: {to: [legal, finance], template: step-done}
      - email: {to: [account_team, Case.Contact__c], cc: [legal], template: final}
      - comment: {template: note, public: true}
      - comment: {template: note}
      - http: {endpoint: provisioning, method: POST, path: "/t/${Account.Tenant__c}", store: {Case.Contact__c: response.id}}
`

func parseTestPlaybook(t *testing.T) *rules.Playbook {
	t.Helper()
	pb, err := rules.Parse("sample.yaml", []byte(testPlaybook), rules.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return pb
}

func TestDescribeAction(t *testing.T) {
	pb := parseTestPlaybook(t)
	want := map[string][]string{
		"update": {
			"set Account.Attrition__c = true",
			"set Case.Count__c = 3; clear Case.Contact__c",
			"set Case.Subject = Case.Subject + ' (closed)'",
		},
		"status": {"set Case.Status = Attrition Confirmed", "set Case.Status = Closed"},
		"tasks":  {"3 tasks from team for finance, legal", "give the case to the infrastructure queue"},
		"messages": {
			"slack legal, finance (template step-done)",
			"mail account_team, Case.Contact__c cc legal (template final)",
			"public case comment (template note)",
			"internal case comment (template note)",
			"POST provisioning /t/${Account.Tenant__c}; store Case.Contact__c ← response.id",
		},
	}
	for _, s := range pb.Steps {
		got := actionList(pb, s)
		if strings.Join(got, "\n") != strings.Join(want[s.ID], "\n") {
			t.Errorf("step %s:\n got %q\nwant %q", s.ID, got, want[s.ID])
		}
	}
}

// testCase is a case of the sample playbook: day 0 Monday 2 November 2026 in New York.
func testCase() bot.Case {
	return bot.Case{ID: "500000000000001AAA",
		Fields: bot.Fields{"CaseNumber": "00001001", "Subject": "Termination: Acme", "Status": "New",
			"Day0__c": "2026-11-02", "Hold__c": false, "Approved__c": false, "Contact__c": "x@example.test", "Count__c": 2.0},
		Account: &bot.Account{ID: "001000000000001AAA", Fields: bot.Fields{"Name": "Acme", "Tenant__c": "acme", "Attrition__c": false}},
	}
}

func TestWhyAndLabel(t *testing.T) {
	pb := parseTestPlaybook(t)
	ny, _ := time.LoadLocation("America/New_York")
	at := time.Date(2026, 11, 3, 9, 0, 0, 0, ny)
	timing := rules.Timing{Date: "day0", Field: rules.FieldRef{Object: "Case", Name: "Day0__c"}, Value: "2026-11-02",
		Offset: rules.Offset{N: 1, Unit: rules.Days}, RunAt: rules.Clock{Hour: 9}, DateOnly: true, Zone: ny, Computed: at}
	shifted := timing
	shifted.Held = 26 * time.Hour
	shifted.Shift = rules.Shift{From: at, To: at.AddDate(0, 0, 3), Rule: rules.Later, Why: "weekend"}
	failedKey := bot.EffectKey("sample", "update", 2, "c1")
	now := at.Add(time.Hour)
	cases := []struct {
		name      string
		st        rules.StepState
		records   []bot.LedgerEntry
		ledger    bot.Ledger
		wantLabel string
		wantWhy   string
	}{
		{name: "scheduled", st: rules.StepState{Step: "update", State: rules.StateScheduled, At: at, Timing: timing},
			wantLabel: "scheduled", wantWhy: "day0 (Case.Day0__c = 2026-11-02) + 1d at 09:00 America/New_York."},
		{name: "held and shifted", st: rules.StepState{Step: "update", State: rules.StateScheduled, At: at, Timing: shifted},
			wantLabel: "scheduled", wantWhy: "day0 (Case.Day0__c = 2026-11-02) + 1d at 09:00 America/New_York, plus 1 day 2 hours on hold, moved later from Tue 3 Nov to Fri 6 Nov (weekend)."},
		{name: "due late", st: rules.StepState{Step: "update", State: rules.StateDue, At: at, Timing: timing,
			Late: rules.Late{Policy: rules.CatchUpRun, Found: at.Add(50 * time.Hour)}},
			wantLabel: "due now", wantWhy: "day0 (Case.Day0__c = 2026-11-02) + 1d at 09:00 America/New_York. Late: first found due Thu 5 Nov 2026 11:00 EST (Thu 5 Nov 16:00 UTC); catch_up run: it runs once now."},
		{name: "waiting on a gate", st: rules.StepState{Step: "status", State: rules.StateWaiting, At: at, Timing: timing,
			Gate: rules.Gate{Kind: "require", Source: "Case.Approved__c", Since: at.Add(time.Hour)}},
			wantLabel: "waiting", wantWhy: "day0 (Case.Day0__c = 2026-11-02) + 1d at 09:00 America/New_York. Its require condition has been false since Tue 3 Nov 2026 10:00 EST (Tue 3 Nov 15:00 UTC)."},
		{name: "waiting for a date", st: rules.StepState{Step: "status", State: rules.StateWaiting, Reason: "Waiting for a date: Case.Day0__c is null."},
			wantLabel: "waiting", wantWhy: "Waiting for a date: Case.Day0__c is null."},
		{name: "skips now", st: rules.StepState{Step: "update", State: rules.StateSkipped, At: at, Gate: rules.Gate{Kind: "when"}},
			records:   []bot.LedgerEntry{{Step: "update", State: bot.StateSkipped}},
			wantLabel: "skips now", wantWhy: "Its date has come and its when condition is false: it is skipped, and stays skipped when the fields change."},
		{name: "skipped before", st: rules.StepState{Step: "update", State: rules.StateSkipped, At: at, Reason: "Skipped: missed: due Tue 3 Nov."},
			wantLabel: "skipped", wantWhy: "Skipped: missed: due Tue 3 Nov."},
		{name: "failed for good", st: rules.StepState{Step: "update", State: rules.StateFailed, At: at, Reason: "Failed: action 2 (update): INVALID."},
			ledger:    bot.Ledger{failedKey: {Key: failedKey, State: bot.StateFailed, Detail: "INVALID", Attempts: 5}},
			wantLabel: "failed", wantWhy: "Action 2 (update) failed after 5 attempts (INVALID), a permanent error: it is tried again only after casebot retry; the step's later actions wait for it."},
		{name: "retrying", st: rules.StepState{Step: "update", State: rules.StateRetrying, At: at, Timing: timing},
			ledger: bot.Ledger{failedKey: {Key: failedKey, State: bot.StateFailed, Detail: "UNABLE_TO_LOCK_ROW", Attempts: 2,
				Retryable: true, RetryAt: now.Add(4 * time.Minute)}},
			wantLabel: "retrying", wantWhy: "day0 (Case.Day0__c = 2026-11-02) + 1d at 09:00 America/New_York. Action 2 (update) failed after 2 attempts with an error worth retrying (UNABLE_TO_LOCK_ROW): casebot tries it again Tue 3 Nov 2026 10:04 EST (Tue 3 Nov 15:04 UTC); the step's later actions wait for it."},
		{name: "failed to build", st: rules.StepState{Step: "update", State: rules.StateFailed, Reason: "Failed: when: division by zero."},
			wantLabel: "failed", wantWhy: "Failed: when: division by zero."},
		{name: "held", st: rules.StepState{Step: "update", State: rules.StateHeld, At: at, Reason: "On hold since Mon 2 Nov."},
			wantLabel: "held", wantWhy: "On hold since Mon 2 Nov."},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cs := caseState{pb: pb, c: bot.Case{ID: "c1"}, l: c.ledger, loc: ny, now: now,
				res: rules.Result{Steps: []rules.StepState{c.st}, Records: c.records}}
			if got := cs.label(c.st); got != c.wantLabel {
				t.Errorf("label = %q, want %q", got, c.wantLabel)
			}
			if got := cs.why(c.st); got != c.wantWhy {
				t.Errorf("why =\n %q\nwant\n %q", got, c.wantWhy)
			}
		})
	}
}

// TestWritePlan evaluates the sample playbook for a case and checks what the plan says of each
// step: its state, date, conditions with values, actions, and the blocked section.
func TestWritePlan(t *testing.T) {
	pb := parseTestPlaybook(t)
	now := time.Date(2026, 11, 4, 15, 0, 0, 0, time.UTC) // Wed 4 Nov 10:00 in New York
	c := testCase()
	c.Fields["Count__c"] = nil
	doneKey := bot.EffectKey("sample", "messages", 1, c.ID)
	l := bot.Ledger{doneKey: {Key: doneKey, State: bot.StateDone, At: now.Add(-time.Hour), Attempts: 1, Result: "ts1"}}
	var out bytes.Buffer
	writePlan(&out, evaluate(pb, c, l, now), 2*24*time.Hour)
	got := out.String()
	for _, want := range []string{
		"Case 00001001: Termination: Acme\n",
		"  account Acme · zone America/New_York · playbook sample · id 500000000000001AAA\n",
		"  status New · now Wed 4 Nov 2026 10:00 EST (Wed 4 Nov 15:00 UTC)\n",
		"  due now    update\n",
		"      date     Tue 3 Nov 2026 09:00 EST (Tue 3 Nov 14:00 UTC)\n",
		"      when     !Account.Attrition__c — true: Account.Attrition__c = false\n",
		"  waiting    status\n",
		"  scheduled  tasks\n",
		"1. 3 tasks from team for finance, legal\n",
		"  due now    messages\n",
		"1. slack legal, finance (template step-done) [done Wed 4 Nov 09:00 EST]\n",
		"  blocked\n    status waits for a gate false since Wed 4 Nov 10:00 EST: Approved is not checked; step update\n      is not done yet; step tasks has created no tasks yet.\n",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("plan lacks %q:\n%s", want, got)
		}
	}

	// expect checks the plan of case c with ledger l, its lines joined.
	expect := func(what string, c bot.Case, l bot.Ledger, wants ...string) {
		t.Helper()
		var out bytes.Buffer
		writePlan(&out, evaluate(pb, c, l, now), 2*24*time.Hour)
		got := strings.Join(strings.Fields(out.String()), " ")
		for _, want := range wants {
			if !strings.Contains(got, want) {
				t.Errorf("plan %s lacks %q:\n%s", what, want, out.String())
			}
		}
	}
	// Only what the gate waits for, in words.
	expect("", c, l, "require Case.Approved__c && done('update') && tasksDone('tasks') — false: Approved is not checked; step update is not done yet; step tasks has created no tasks yet")
	c.Fields["Approved__c"] = true
	expect("with Approved__c set", c, l, "— false: step update is not done yet; step tasks has created no tasks yet")

	// An action backing off shows when it is tried again; one given up on says so.
	failed := bot.EffectKey("sample", "messages", 2, c.ID)
	l[failed] = bot.LedgerEntry{Key: failed, State: bot.StateFailed, Retryable: true, Attempts: 2, Detail: "smtp: 451",
		At: now.Add(-time.Minute), RetryAt: now.Add(4 * time.Minute)}
	expect("of a step backing off", c, l, "retrying messages",
		"2. mail account_team, Case.Contact__c cc legal (template final) [failed after 2 attempts, retried Wed 4 Nov 2026 10:04 EST (Wed 4 Nov 15:04 UTC): smtp: 451]")
	l[failed] = bot.LedgerEntry{Key: failed, State: bot.StateFailed, Attempts: 5, Detail: "smtp: 451"}
	expect("of a step given up on", c, l, "[failed for good: smtp: 451 (a permanent error: it is tried again only after casebot retry)]")

	// With the date field cleared: every step waits for it, in one line.
	c.Fields["Day0__c"] = nil
	out.Reset()
	writePlan(&out, evaluate(pb, c, nil, now), 0)
	if want := "    update, status, tasks, messages wait for Case.Day0__c (day0) to be set.\n"; !strings.Contains(out.String(), want) {
		t.Errorf("plan without a date lacks %q:\n%s", want, out.String())
	}

	// On hold: the held steps are grouped under the hold.
	c = testCase()
	c.Fields["Hold__c"] = true
	out.Reset()
	writePlan(&out, evaluate(pb, c, nil, now), 0)
	if want := "update, status, tasks, messages wait for the hold (Case.Hold__c set since Wed 4 Nov"; !strings.Contains(strings.Join(strings.Fields(out.String()), " "), want) {
		t.Errorf("plan on hold lacks %q:\n%s", want, out.String())
	}
}

func TestDiffSteps(t *testing.T) {
	old := parseTestPlaybook(t)
	changed := strings.NewReplacer(
		"at: day0 + 3d", "at: day0 + 4bd",
		"- slack: {to: [legal, finance], template: step-done}", "- slack: {to: [legal], template: step-done}",
		"    when: \"!Account.Attrition__c\"\n", "",
	).Replace(testPlaybook) + "  - id: extra\n    at: day0 + 10d\n    do:\n      - status: Extra\n"
	cur, err := rules.Parse("sample.yaml", []byte(changed), rules.Options{})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 11, 2, 15, 0, 0, 0, time.UTC)
	got, steps := diffSteps(evaluate(old, testCase(), nil, now), evaluate(cur, testCase(), nil, now))
	if want := []string{"update", "tasks", "messages", "extra"}; !slices.Equal(steps, want) {
		t.Errorf("the steps that change: %q, want %q", steps, want)
	}
	want := []string{
		"update: when !Account.Attrition__c → (none)",
		"tasks: Thu 5 Nov 2026 09:00 EST → Fri 6 Nov 2026 09:00 EST (at day0 + 3d → day0 + 4bd)",
		"messages: action 1: slack legal, finance (template step-done) → slack legal (template step-done)",
		"extra: new step, scheduled Thu 12 Nov 2026 09:00 EST",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("diff:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if got, _ := diffSteps(evaluate(old, testCase(), nil, now), evaluate(old, testCase(), nil, now)); len(got) != 0 {
		t.Errorf("the same playbook differs from itself: %q", got)
	}
}

func TestWrap(t *testing.T) {
	for _, c := range []struct {
		text  string
		width int
		want  []string
	}{
		{"", 10, []string{""}},
		{"one two three", 7, []string{"one two", "three"}},
		{"a verylongwordindeed b", 5, []string{"a", "verylongwordindeed", "b"}},
		{"é é é", 3, []string{"é é", "é"}},
	} {
		if got := wrap(c.text, c.width); strings.Join(got, "|") != strings.Join(c.want, "|") {
			t.Errorf("wrap(%q, %d) = %q, want %q", c.text, c.width, got, c.want)
		}
	}
}

func TestHumanDuration(t *testing.T) {
	for d, want := range map[time.Duration]string{
		30 * time.Second:                "less than a minute",
		12 * time.Minute:                "12 minutes",
		time.Hour + time.Minute:         "1 hour 1 minute",
		49*time.Hour + 10*time.Minute:   "2 days 1 hour",
		24 * time.Hour:                  "1 day",
		21*24*time.Hour + 6*time.Hour:   "21 days 6 hours",
		5*time.Hour + 30*time.Minute:    "5 hours 30 minutes",
		3*24*time.Hour + 59*time.Minute: "3 days",
	} {
		if got := humanDuration(d); got != want {
			t.Errorf("humanDuration(%v) = %q, want %q", d, got, want)
		}
	}
}

func TestMatches(t *testing.T) {
	c := bot.Case{ID: "500Sb000000000OIAQ", Fields: bot.Fields{"CaseNumber": "00001001"}}
	for arg, want := range map[string]bool{
		"":                   true,
		"500Sb000000000OIAQ": true,
		"500sb000000000oiaq": true,
		"500Sb000000000OIA":  false,
		"500Sb000000000O":    true, // the 15-character id
		"00001001":           true,
		"1001":               true,
		"1002":               false,
		"0":                  false,
	} {
		if got := matches(c, arg); got != want {
			t.Errorf("matches(%q) = %v, want %v", arg, got, want)
		}
	}
}

func TestStamp(t *testing.T) {
	ny, _ := time.LoadLocation("America/New_York")
	at := time.Date(2026, 11, 3, 14, 0, 0, 0, time.UTC)
	if got, want := stamp(at, ny), "Tue 3 Nov 2026 09:00 EST (Tue 3 Nov 14:00 UTC)"; got != want {
		t.Errorf("stamp in New York = %q, want %q", got, want)
	}
	if got, want := stamp(at, time.UTC), "Tue 3 Nov 2026 14:00 UTC"; got != want {
		t.Errorf("stamp in UTC = %q, want %q", got, want)
	}
}

// TestStory checks what why says of a step from the ledger: each action's outcome, whether a
// failure is retried, the reminders sent, and that the step ran late.
func TestStory(t *testing.T) {
	pb := parseTestPlaybook(t)
	c := testCase()
	at := time.Date(2026, 11, 2, 14, 0, 0, 0, time.UTC) // messages was due Fri 30 Oct
	key := func(n int) string { return bot.EffectKey("sample", "messages", n, c.ID) }
	remind := bot.StepKey("sample", "messages", "remind-1", c.ID)
	l := bot.Ledger{
		key(1): {Key: key(1), Playbook: "sample", Step: "messages", State: bot.StateDone, At: at, Attempts: 1, Result: "#legal=1,#finance=2"},
		key(2): {Key: key(2), Playbook: "sample", Step: "messages", State: bot.StateFailed, At: at, Attempts: 3, Retryable: true, Detail: "smtp: 451 try later"},
		key(3): {Key: key(3), Playbook: "sample", Step: "messages", State: bot.StateClaimed, At: at, Claimed: at},
		remind: {Key: remind, Playbook: "sample", Step: "messages", State: bot.StateDone, At: at.Add(-time.Hour)},
	}
	// expect checks the story of the step with the ledger as it is, its lines joined.
	expect := func(what string, wants ...string) {
		t.Helper()
		cs := evaluate(pb, c, l, at.Add(time.Minute))
		s, st, _ := cs.step("messages")
		var out bytes.Buffer
		cs.story(&out, s, st)
		got := strings.Join(strings.Fields(out.String()), " ")
		for _, want := range wants {
			if !strings.Contains(got, want) {
				t.Errorf("story %s lacks %q:\n%s", what, want, out.String())
			}
		}
	}
	expect("",
		"Step messages",
		"state due now",
		"1. slack legal, finance (template step-done) done Mon 2 Nov 2026 09:00 EST (Mon 2 Nov 14:00 UTC) after 1 attempt; result #legal=1, #finance=2",
		"failed Mon 2 Nov 2026 09:00 EST (Mon 2 Nov 14:00 UTC) after 3 attempts: smtp: 451 try later; a transient error: casebot tries again now (its retry time has come)",
		"3. public case comment (template note) decided Mon 2 Nov 2026 09:00 EST (Mon 2 Nov 14:00 UTC), not confirmed yet: the next cycle asks the provider whether it was done before doing it",
		"4. internal case comment (template note) not run yet: due now",
		"ledger notes reminder 1 done Mon 2 Nov 2026 08:00 EST")

	// Backing off until 09:05: the step is retrying, and says until when.
	e := l[key(2)]
	e.RetryAt = at.Add(5 * time.Minute)
	l[key(2)] = e
	expect("of a step backing off",
		"state retrying",
		"in short It started, and action 2 failed with a transient error: casebot tries it again Mon 2 Nov 2026 09:05 EST (Mon 2 Nov 14:05 UTC), in 4 minutes.",
		"after 3 attempts: smtp: 451 try later; a transient error: casebot tries again Mon 2 Nov 2026 09:05 EST (Mon 2 Nov 14:05 UTC)",
		"4. internal case comment (template note) not run yet: waits for the action before it")
	// Given up: no retry time.
	e.Retryable, e.RetryAt = false, time.Time{}
	l[key(2)] = e
	expect("of a step given up on", "smtp: 451 try later; a permanent error: it is tried again only after casebot retry")

	// Every action done three days after the date: it ran late.
	for n := range pb.Steps[3].Actions {
		l[key(n+1)] = bot.LedgerEntry{Key: key(n + 1), Playbook: "sample", Step: "messages", State: bot.StateDone, At: at, Attempts: 1}
	}
	cs := evaluate(pb, c, l, at.Add(time.Minute))
	s, _, _ := cs.step("messages")
	if got, want := cs.verdict(s, cs.res.Steps[3]), "It ran late: due Fri 30 Oct 10:00 EDT, it started Mon 2 Nov 09:00 EST, 3 days"; !strings.HasPrefix(got, want) {
		t.Errorf("verdict = %q, want it to start with %q", got, want)
	}
}

// TestZoneFallbackShown: a case whose zone field holds no zone name is shown in the default
// zone, and plan and why say why.
func TestZoneFallbackShown(t *testing.T) {
	pb := parseTestPlaybook(t)
	now := time.Date(2026, 11, 4, 15, 0, 0, 0, time.UTC)
	for _, tt := range []struct{ tz, want string }{
		{"Eastern Standard Time", "  zone America/New_York: the account's Tz__c 'Eastern Standard Time' is not a time zone name\n"},
		{"Europe/Paris", ""},
		{"", ""},
	} {
		c := testCase()
		c.Account.Fields["Tz__c"] = tt.tz
		var out bytes.Buffer
		writePlan(&out, evaluate(pb, c, nil, now), 0)
		if got := strings.Contains(out.String(), "is not a time zone name"); got != (tt.want != "") || !strings.Contains(out.String(), tt.want) {
			t.Errorf("Tz__c %q: plan lacks %q or says it needlessly:\n%s", tt.tz, tt.want, out.String())
		}
		cs := evaluate(pb, c, nil, now)
		s, st, _ := cs.step("tasks")
		out.Reset()
		cs.story(&out, s, st)
		if !strings.Contains(out.String(), tt.want) {
			t.Errorf("Tz__c %q: why lacks %q:\n%s", tt.tz, tt.want, out.String())
		}
	}
}

const guardedPlaybook = `playbook: guarded
applies_to: {object: Case, where: "Type = 'Removal'"}
fields:
  Case: {CaseNumber: string, Subject: string, Status: string, Day0__c: date, End__c: date, Period__c: number, Scenario__c: string, Checked__c: datetime}
timezone: {default: America/New_York}
escalate_to: [legal]
dates: {day0: Case.Day0__c, end: Case.End__c}
steps:
  - id: schedule
    at: day0
    needs: {fields: [Case.Period__c, Case.Scenario__c], owner: partner_manager, escalate_after: 5bd}
    do: [status: Scheduled]
  - id: remove
    at: day0 + 1d
    guard: {fresh: {field: Case.Checked__c, within: 7d}, owner: partner_ops}
    do: [close: {}]
  - id: later
    at: day0 + 20d
    needs: {fields: [Case.Period__c], owner: partner_manager}
    guard: {not_before: end, owner: partner_ops}
    do: [status: Later]
`

// TestPlanMissingFromWhom: plan says what a step needs that is blank and from whom, what its
// guard waits for and who is told, and what a step to come will need.
func TestPlanMissingFromWhom(t *testing.T) {
	pb, err := rules.Parse("guarded.yaml", []byte(guardedPlaybook), rules.Options{})
	if err != nil {
		t.Fatal(err)
	}
	c := bot.Case{ID: "500000000000002AAA", Fields: bot.Fields{"CaseNumber": "00001002", "Subject": "Unbind", "Status": "New",
		"Day0__c": "2026-11-02", "End__c": "2026-12-31", "Period__c": nil, "Scenario__c": "Violation", "Checked__c": nil}}
	plan := func(now time.Time) string {
		var out bytes.Buffer
		writePlan(&out, evaluate(pb, c, nil, now), 30*24*time.Hour)
		return strings.Join(strings.Fields(out.String()), " ")
	}
	got := plan(time.Date(2026, 11, 4, 15, 0, 0, 0, time.UTC))
	for _, want := range []string{
		"needs Case.Period__c, Case.Scenario__c — missing from partner_manager: Period is empty",
		"reminds partner_manager every 1bd (legal after 5bd) while it waits; next Thu 5 Nov 2026 09:00 EST",
		"guard Case.Checked__c set and at most 7d old — does not hold: Checked is empty",
		"needs Case.Period__c — blank now, to come from partner_manager: Period",
		"guard not before end",
		"schedule waits for what is missing from partner_manager since Wed 4 Nov 10:00 EST: Period is empty.",
		"remove waits for its guard, not holding since Wed 4 Nov 10:00 EST (partner_ops is told): Checked is empty.",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("plan lacks %q:\n%s", want, got)
		}
	}

	// Past its own date, the last step waits for its guard's: quietly, and plan and why say so.
	c.Fields["Period__c"] = 30.0
	now := time.Date(2026, 11, 25, 15, 0, 0, 0, time.UTC)
	if want := "later waits for its guard's date: not before end: Thu 31 Dec 2026 09:00 EST."; !strings.Contains(plan(now), want) {
		t.Errorf("plan lacks %q:\n%s", want, plan(now))
	}
	cs := evaluate(pb, c, nil, now)
	s, st, _ := cs.step("later")
	if got, want := cs.verdict(s, st), "It waits for its guard's date, Thu 31 Dec 2026 09:00 EST (Thu 31 Dec 14:00 UTC): it does not start before, and nobody is reminded until then."; got != want {
		t.Errorf("verdict = %q, want %q", got, want)
	}
	s, st, _ = cs.step("remove")
	if got, want := cs.why(st), "Its guard has not held since Wed 25 Nov 2026 10:00 EST (Wed 25 Nov 15:00 UTC)."; !strings.HasSuffix(got, want) {
		t.Errorf("why = %q, want it to end with %q", got, want)
	}
	if got := cs.verdict(s, st); !strings.Contains(got, "partner_ops is told") {
		t.Errorf("verdict = %q, want it to say who is told", got)
	}
}

// A case is asked for by its number at any width the org gives it, or by id; nothing else
// reaches the SOQL.
func TestCaseCondition(t *testing.T) {
	for _, tt := range []struct{ arg, want string }{
		{"1026", "CaseNumber IN ('1026', '01026', '001026', '0001026', '00001026', '000001026', '0000001026')"},
		{"00001026", "CaseNumber IN ('00001026', '1026', '01026', '001026', '0001026', '000001026', '0000001026')"},
		{"500Sb000000000OIAQ", "Id = '500Sb000000000OIAQ'"},
		{"123456789012345", "(CaseNumber IN ('123456789012345') OR Id = '123456789012345')"},
		{"1' OR Name != '", ""},
	} {
		got, err := caseCondition(tt.arg)
		if got != tt.want || (err == nil) != (tt.want != "") {
			t.Errorf("caseCondition(%q) = %q, %v; want %q", tt.arg, got, err, tt.want)
		}
	}
}
