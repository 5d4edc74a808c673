package rules_test

import (
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"casebot/bot"
	"casebot/rules"
)

// dueEffects evaluates a one-step playbook once its date has passed and returns its effects.
func dueEffects(t *testing.T, pb *rules.Playbook, c bot.Case) ([]bot.Effect, rules.StepState) {
	t.Helper()
	r := pb.Evaluate(c, nil, local("2026-11-12 09:30"))
	return r.Due, r.Steps[0]
}

func TestHTTPAction(t *testing.T) {
	pb := parse(t, header+`steps:
  - id: suspend
    at: d
    do:
      - http:
          endpoint: tenants
          method: POST
          path: "/tenants/${Account.Tenant}/suspend?case=${Case.Id}"
          body:
            tenant: "${Account.Tenant}"
            count: "${Case.N}"
            note: "case ${Case.S}: ${Case.N} devices"
            flags: [true, 2, "${Case.Ok}", null]
          store: {Case.S: data.status, Case.N: items.0.count}
`)
	c := bot.Case{ID: "500A", Fields: bot.Fields{"D": "2026-11-12", "N": 3.0, "S": `50% "done"`, "Ok": true},
		Account: &bot.Account{ID: "001", Fields: bot.Fields{"Tenant": "acme corp/eu?x=1"}}}
	effs, s := dueEffects(t, pb, c)
	if len(effs) != 1 || effs[0].HTTP == nil {
		t.Fatalf("effects %+v (%s)", effs, s.Reason)
	}
	want := &bot.HTTPCall{
		Endpoint: "tenants",
		Method:   "POST",
		Path:     "/tenants/acme%20corp%2Feu%3Fx=1/suspend?case=500A",
		Body:     []byte(`{"count":3,"flags":[true,2,true,null],"note":"case 50% \"done\": 3 devices","tenant":"acme corp/eu?x=1"}`),
		Store:    map[string]string{"S": "data.status", "N": "items.0.count"},
	}
	if got := effs[0].HTTP; !reflect.DeepEqual(got, want) {
		t.Errorf("call\n got %+v\n     %s\nwant %+v\n     %s", got, got.Body, want, want.Body)
	}

	// A placeholder without a value stops the step: the call would reach the wrong tenant.
	c.Account.Fields["Tenant"] = nil
	effs, s = dueEffects(t, pb, c)
	if len(effs) != 0 || s.State != rules.StateFailed || s.Reason != "Failed: action 1 (http): Account.Tenant is null." {
		t.Errorf("null tenant: %d effects, %s %q", len(effs), s.State, s.Reason)
	}
}

func TestEmailAction(t *testing.T) {
	pb := parse(t, header+`steps:
  - id: notify
    at: d
    do:
      - email: {to: [legal, Case.Mail], cc: [finance, sec_ops], template: notice}
      - comment: {template: note, public: true}
      - queue: legal
      - close: {}
      - close: {status: Closed - Cancelled}
`)
	c := bot.Case{ID: "500", Fields: bot.Fields{"D": "2026-11-12", "Mail": " Jane Doe <jane@example.com> "}}
	effs, s := dueEffects(t, pb, c)
	if len(effs) != 5 {
		t.Fatalf("effects %+v (%s)", effs, s.Reason)
	}
	base := bot.Effect{Playbook: "sched", Step: "notify", CaseID: "500", Due: local("2026-11-12 09:00")}
	want := []bot.Effect{base, base, base, base, base}
	for i := range want {
		want[i].Action, want[i].Key = i+1, bot.EffectKey("sched", "notify", i+1, "500")
	}
	want[0].Kind, want[0].Roles, want[0].Cc, want[0].Addresses, want[0].Template = bot.KindEmail,
		[]string{"legal"}, []string{"finance", "sec_ops"}, []string{"Jane Doe <jane@example.com>"}, "notice"
	want[1].Kind, want[1].Template, want[1].Public = bot.KindComment, "note", true
	want[2].Kind, want[2].Roles = bot.KindQueue, []string{"legal"}
	want[3].Kind, want[3].Object, want[3].RecordID, want[3].Fields = bot.KindStatus, "Case", "500", bot.Fields{"Status": "Closed"}
	want[4].Kind, want[4].Object, want[4].RecordID, want[4].Fields = bot.KindStatus, "Case", "500", bot.Fields{"Status": "Closed - Cancelled"}
	for i := range effs {
		if !effs[i].Due.Equal(want[i].Due) {
			t.Errorf("%s due %v", effs[i].Key, effs[i].Due)
		}
		effs[i].Due = want[i].Due
		if !reflect.DeepEqual(effs[i], want[i]) {
			t.Errorf("effect %d\n got %+v\nwant %+v", i+1, effs[i], want[i])
		}
	}

	for _, tt := range []struct {
		mail   any
		reason string
	}{
		{nil, "Failed: action 1 (email): no address to mail: Case.Mail is null."},
		{"  ", "Failed: action 1 (email): no address to mail: Case.Mail is null."},
		{"jane at example", `Failed: action 1 (email): Case.Mail = "jane at example" is not a mail address.`},
	} {
		c.Fields["Mail"] = tt.mail
		if effs, s := dueEffects(t, pb, c); len(effs) != 0 || s.Reason != tt.reason {
			t.Errorf("%q: %d effects, %q, want %q", tt.mail, len(effs), s.Reason, tt.reason)
		}
	}
}

// TestEmailThread: `thread: true` makes an email's effect answer the case's first mail; it is
// off unless said, and takes only true or false.
func TestEmailThread(t *testing.T) {
	pb := parse(t, header+`steps:
  - id: notify
    at: d
    do:
      - email: {to: [legal], template: notice, thread: true}
      - email: {to: [legal], template: notice, thread: false}
      - email: {to: [legal], template: notice}
`)
	effs, s := dueEffects(t, pb, bot.Case{ID: "500", Fields: bot.Fields{"D": "2026-11-12"}})
	if len(effs) != 3 || !effs[0].Thread || effs[1].Thread || effs[2].Thread {
		t.Errorf("effects %+v (%s), want the first alone to thread", effs, s.Reason)
	}

	_, err := rules.Parse("test.yaml", []byte(header+`steps:
  - id: notify
    at: d
    do:
      - email: {to: [legal], template: notice, thread: "yes"}
`), strictOptions)
	want := `test.yaml:13:56: step "notify" action 1: email: thread: want true or false, got "yes"`
	if err == nil || err.Error() != want {
		t.Errorf("error %v, want %s", err, want)
	}
}

// TestUpdateExpressions: values computed when the action comes due, typed as their fields.
func TestUpdateExpressions(t *testing.T) {
	pb := parse(t, header+`steps:
  - id: u
    at: d
    do:
      - update:
          Case:
            D: {expr: "Now"}
            T: {expr: "Now"}
            N: {expr: "Case.N * 2 + len(Case.S)"}
            S: {expr: "'case ' + Case.S + (Case.Ok ? ' ok' : ' not ok')"}
            Ok: {expr: "Case.N > 1"}
            Mail: nobody@example.com
      - update: {Case: {CreatedDate: {expr: "Case.T"}}}
`)
	c := bot.Case{ID: "500", Fields: bot.Fields{"D": "2026-11-12", "N": 3.0, "S": "abc", "Ok": false}}
	// 23:30 in New York is the next day in UTC: a date is the case's local date.
	r := pb.Evaluate(c, nil, local("2026-11-12 23:30"))
	if len(r.Due) != 2 {
		t.Fatalf("due %+v (%s)", r.Due, r.Steps[0].Reason)
	}
	want := bot.Fields{"D": "2026-11-12", "T": "2026-11-13T04:30:00.000+0000", "N": 9.0, "S": "case abc not ok",
		"Ok": true, "Mail": "nobody@example.com"}
	if !reflect.DeepEqual(r.Due[0].Fields, want) {
		t.Errorf("fields\n got %v\nwant %v", r.Due[0].Fields, want)
	}
	// A null datetime is the zero time, which clears the field.
	if want := (bot.Fields{"CreatedDate": nil}); !reflect.DeepEqual(r.Due[1].Fields, want) {
		t.Errorf("fields %v, want %v", r.Due[1].Fields, want)
	}
	if s := pb.Steps[0].Actions[0].Exprs["N"]; s.Source != "Case.N * 2 + len(Case.S)" || s.Type != rules.TypeNumber {
		t.Errorf("expr %+v", s)
	}
}

// TestConditions: what conditions see besides the fields.
func TestConditions(t *testing.T) {
	const steps = `calendar: [us]
task_templates:
  team:
    - {id: one, subject: One}
    - {id: two, subject: Two}
steps:
  - {id: first, at: d, do: [tasks: team, status: A]}
  - {id: probe, at: d, when: "%s", do: [status: B]}
`
	c := bot.Case{ID: "500", Fields: bot.Fields{"D": "2025-12-20", "T": "2026-11-20T15:00:00.000+0000"},
		Tasks: []bot.Task{
			{Key: bot.EffectKey("sched", "first", 1, "500") + "/one", Subject: "One", Status: "Completed", IsClosed: true},
			{Key: bot.EffectKey("sched", "first", 1, "500") + "/two", Subject: "Two", Status: "Waiting"},
			{Key: bot.EffectKey("other", "first", 1, "500") + "/one", Subject: "Other", IsClosed: true},
		}}
	done := bot.Ledger{
		bot.EffectKey("sched", "first", 1, "500"): {State: bot.StateDone},
		bot.EffectKey("sched", "first", 2, "500"): {State: bot.StateSkipped},
	}
	now := local("2026-11-25 12:00") // the day before Thanksgiving
	for _, tt := range []struct {
		cond string
		l    bot.Ledger
		want bool
	}{
		{"Now == date('2026-11-25T17:00:00Z')", nil, true},
		{"Case.T.Before(Now)", nil, true},
		{"len(Tasks) == 2", nil, true},
		{"all(Tasks, .Step == 'first') && one(Tasks, .Closed) && any(Tasks, .Name == 'two' && .Status == 'Waiting')", nil, true},
		{"done('first')", nil, false},
		{"done('first')", done, true},
		{"tasksDone('first')", done, false},
		{"monthsBetween(Case.D, Now) == 11", nil, true},
		{"monthsBetween(Now, Case.D) == -11", nil, true},
		{"daysBetween(Case.D, Now) == 340", nil, true},
		{"daysBetween(Now, Case.T) == -5", nil, true},
		{"daysBetween(Now, Case.T) == 5", nil, false},
		// Back from Wednesday 25 to Friday 20 November: 24, 23 and 20.
		{"businessDaysBetween(Now, Case.T) == -3", nil, true},
		{"businessDaysBetween(Case.T, Now) == 3", nil, true},
	} {
		pb := parse(t, header+strings.Replace(steps, "%s", strings.ReplaceAll(tt.cond, `"`, `\"`), 1))
		r := pb.Evaluate(c, tt.l, now)
		if got := r.Steps[1].State == rules.StateDue; got != tt.want {
			t.Errorf("%s: %s (%s), want true %v", tt.cond, r.Steps[1].State, r.Steps[1].Reason, tt.want)
		}
	}
}

// TestTemplateKinds: without KnownTemplateKind, only slack templates are checked, with
// KnownTemplate; escalate_to needs the step-failed template and escalating the missed-step one.
func TestTemplateKinds(t *testing.T) {
	const src = header + `escalate_to: [legal]
catch_up: {policy: escalate}
steps:
  - id: s
    at: d
    do:
      - slack: {to: [legal], template: step-done}
      - email: {to: [legal], template: anything}
      - comment: {template: anything}
`
	opts := rules.Options{KnownTemplate: func(s string) bool { return s == "step-done" }}
	_, err := rules.Parse("t.yaml", []byte(src), opts)
	if want := `t.yaml:9:14: escalate_to needs the slack template "step-failed", which reports actions that failed for good
t.yaml:10:20: catch_up: escalate needs the slack template "missed-step"`; err == nil || err.Error() != want {
		t.Errorf("error %v, want %s", err, want)
	}
	opts.KnownTemplate = func(s string) bool {
		return s == "step-done" || s == rules.MissedStepTemplate || s == rules.FailedStepTemplate
	}
	if _, err := rules.Parse("t.yaml", []byte(src), opts); err != nil {
		t.Errorf("error %v", err)
	}
	var asked []string
	opts.KnownTemplateKind = func(kind, name string) bool {
		asked = append(asked, kind+"/"+name)
		return true
	}
	if _, err := rules.Parse("t.yaml", []byte(src), opts); err != nil {
		t.Errorf("error %v", err)
	}
	if want := []string{"slack/step-failed", "slack/step-done", "email/anything", "comment/anything", "slack/missed-step"}; !slices.Equal(asked, want) {
		t.Errorf("asked %v, want %v", asked, want)
	}
}

// TestParseSchedule checks what the schedule settings turn into.
func TestParseSchedule(t *testing.T) {
	pb := parse(t, header+`description: Off-boarding in business days
calendar: [us, gb]
non_working: earlier
hold: Case.Hold
catch_up: {after: 1d, policy: skip}
escalate_to: [legal]
steps:
  - id: a
    at: d + 2bd
    require: Case.Ok
    remind: {every: 1mo, to: [legal], template: gate-reminder}
    non_working: later
    catch_up: escalate
    do: [status: A]
  - {id: b, at: t - 3mo, do: [status: B]}
`)
	if pb.Description != "Off-boarding in business days" || !slices.Equal(pb.Calendars, []string{"us", "gb"}) ||
		pb.NonWorking != rules.Earlier || pb.Hold != (rules.FieldRef{Object: "Case", Name: "Hold"}) ||
		pb.CatchUp != (rules.CatchUp{After: 24 * time.Hour, Policy: rules.CatchUpSkip}) || !slices.Equal(pb.EscalateTo, []string{"legal"}) {
		t.Errorf("playbook %+v", pb)
	}
	a, b := pb.Steps[0], pb.Steps[1]
	if a.At.Offset != (rules.Offset{N: 2, Unit: rules.BusinessDays}) || a.NonWorking != rules.Later || a.CatchUp != rules.CatchUpEscalate ||
		!reflect.DeepEqual(a.Remind, &rules.Remind{Every: rules.Offset{N: 1, Unit: rules.Months}, To: []string{"legal"}, Template: "gate-reminder"}) {
		t.Errorf("step a %+v", a)
	}
	if b.At.String() != "t - 3mo" || b.NonWorking != rules.Earlier || b.CatchUp != rules.CatchUpSkip {
		t.Errorf("step b %+v", b)
	}
}
