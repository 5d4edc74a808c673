package rules_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"casebot/bot"
	"casebot/rules"
)

// parse parses a playbook written in a test, with strictOptions.
func parse(t testing.TB, src string) *rules.Playbook {
	t.Helper()
	pb, err := rules.Parse("test.yaml", []byte(src), strictOptions)
	if err != nil {
		t.Fatalf("parsing:\n%v", err)
	}
	return pb
}

// local is a time in New York, where the test playbooks' cases live.
func local(s string) time.Time {
	loc, err := time.LoadLocation("America/New_York")
	if err != nil {
		panic(err)
	}
	t, err := time.ParseInLocation("2006-01-02 15:04", s, loc)
	if err != nil {
		panic(err)
	}
	return t
}

const header = `
playbook: sched
applies_to: {object: Case, where: "IsClosed = false"}
fields:
  Case: {CreatedDate: datetime, D: date, T: datetime, Hold: bool, Ok: bool, Mail: string, N: number, S: string}
  Account: {Tenant: string}
timezone: {default: America/New_York}
dates: {d: Case.D, t: Case.T}
`

// TestBusinessDayOffsets: `bd` offsets count the playbook's calendars, from date and datetime
// anchors, forward and back.
func TestBusinessDayOffsets(t *testing.T) {
	for _, tt := range []struct {
		calendar string
		at       string
		d, t     string
		want     string
	}{
		{"", "d + 1bd", "2026-11-25", "", "2026-11-26 09:00"},
		{"calendar: [us]", "d + 1bd", "2026-11-25", "", "2026-11-27 09:00"},
		{"calendar: [us]", "d - 1bd", "2026-11-27", "", "2026-11-25 09:00"},
		{"calendar: [gb]", "d + 2bd", "2026-12-24", "", "2026-12-30 09:00"},
		{"calendar: [jp]", "d + 1bd", "2026-05-01", "", "2026-05-07 09:00"},
		{"calendar: [us, gb]", "d + 1bd", "2026-11-25", "", "2026-11-27 09:00"},
		{"calendar: [us, gb]", "d + 1bd", "2026-12-24", "", "2026-12-29 09:00"},
		// A datetime keeps its local time, across the end of daylight saving time too.
		{"calendar: [us]", "t + 5bd", "", "2026-10-29T14:30:00-04:00", "2026-11-05 14:30"},
		{"calendar: [us]", "t - 1bd", "", "2026-11-27T10:00:00-05:00", "2026-11-25 10:00"},
	} {
		pb := parse(t, header+tt.calendar+"\nsteps:\n  - {id: s, at: "+tt.at+", do: [status: A]}\n")
		c := bot.Case{ID: "500", Fields: bot.Fields{"D": tt.d, "T": tt.t}}
		s := pb.Evaluate(c, nil, utc("2026-01-01T00:00:00Z")).Steps[0]
		if !s.At.Equal(local(tt.want)) {
			t.Errorf("%s %s from %s%s: %v, want %s (%s)", tt.calendar, tt.at, tt.d, tt.t, s.At, tt.want, s.Reason)
		}
	}
}

// TestMonthOffsets: `mo` lands on the month's last day when it is shorter.
func TestMonthOffsets(t *testing.T) {
	for _, tt := range []struct {
		at, d, t, want string
	}{
		{"d + 1mo", "2026-01-31", "", "2026-02-28 09:00"},
		{"d + 1mo", "2028-01-31", "", "2028-02-29 09:00"},
		{"d - 1mo", "2026-03-31", "", "2026-02-28 09:00"},
		{"d + 11mo", "2025-12-31", "", "2026-11-30 09:00"},
		{"d + 12mo", "2026-05-15", "", "2027-05-15 09:00"},
		{"t + 1mo", "", "2026-10-31T10:00:00-04:00", "2026-11-30 10:00"}, // EDT to EST, same local time
	} {
		pb := parse(t, header+"steps:\n  - {id: s, at: "+tt.at+", do: [status: A]}\n")
		c := bot.Case{ID: "500", Fields: bot.Fields{"D": tt.d, "T": tt.t}}
		s := pb.Evaluate(c, nil, utc("2020-01-01T00:00:00Z")).Steps[0]
		if !s.At.Equal(local(tt.want)) {
			t.Errorf("%s from %s%s: %v, want %s (%s)", tt.at, tt.d, tt.t, s.At, tt.want, s.Reason)
		}
	}
}

// TestNonWorking: a date on a weekend or a holiday stays, or moves to the next or previous
// business day, as the playbook or the step says.
func TestNonWorking(t *testing.T) {
	pb := parse(t, header+`calendar: [us]
non_working: later
steps:
  - {id: later, at: d, do: [status: A]}
  - {id: earlier, at: d, non_working: earlier, do: [status: A]}
  - {id: keep, at: d, non_working: keep, do: [status: A]}
  - {id: hours, at: t - 72h, do: [status: A]}
`)
	for _, tt := range []struct {
		d, t                        string
		later, earlier, keep, hours string
	}{
		{"2026-11-28", "2026-12-02T10:00:00-05:00", "2026-11-30 09:00", "2026-11-27 09:00", "2026-11-28 09:00", "2026-11-30 10:00"},
		{"2026-11-26", "2026-11-29T10:00:00-05:00", "2026-11-27 09:00", "2026-11-25 09:00", "2026-11-26 09:00", "2026-11-27 10:00"},
		{"2026-11-24", "2026-11-27T10:00:00-05:00", "2026-11-24 09:00", "2026-11-24 09:00", "2026-11-24 09:00", "2026-11-24 10:00"},
	} {
		r := pb.Evaluate(bot.Case{ID: "500", Fields: bot.Fields{"D": tt.d, "T": tt.t}}, nil, utc("2026-01-01T00:00:00Z"))
		for i, want := range []string{tt.later, tt.earlier, tt.keep, tt.hours} {
			if s := r.Steps[i]; !s.At.Equal(local(want)) {
				t.Errorf("%s: %s at %v, want %s (%s)", tt.d, s.Step, s.At, want, s.Reason)
			}
		}
	}
	r := pb.Evaluate(bot.Case{ID: "500", Fields: bot.Fields{"D": "2026-11-26", "T": "2026-11-28T10:00:00-05:00"}}, nil, utc("2026-01-01T00:00:00Z"))
	s := r.Steps[0]
	want := rules.Shift{From: local("2026-11-26 09:00"), To: local("2026-11-27 09:00"), Rule: rules.Later, Why: "Thanksgiving Day (us)"}
	if sh := s.Timing.Shift; !sh.From.Equal(want.From) || !sh.To.Equal(want.To) || sh.Rule != want.Rule || sh.Why != want.Why {
		t.Errorf("shift %+v, want %+v", sh, want)
	}
	if want := "Scheduled for Fri 27 Nov 2026 09:00 EST: d (Case.D = 2026-11-26) at 09:00 America/New_York, " +
		"moved from Thu 26 Nov to Fri 27 Nov (Thanksgiving Day (us))."; s.Reason != want {
		t.Errorf("reason\n got %q\nwant %q", s.Reason, want)
	}
}

// cycle evaluates the world at now, performs what is due and records what Evaluate asks.
func (w *world) cycle(t testing.TB, pb *rules.Playbook, now time.Time) rules.Result {
	t.Helper()
	r := pb.Evaluate(w.c, w.l, now)
	w.perform(t, r.Due, r.Records, now)
	return r
}

// keys lists what a result asks: due effects and records, as "step/tag" (the action number
// or the tag of the key).
func keys(r rules.Result) (due, records []string) {
	tag := func(key string) string {
		parts := strings.Split(key, "/")
		return parts[1] + "/" + parts[2]
	}
	for _, e := range r.Due {
		due = append(due, tag(e.Key))
	}
	for _, e := range r.Records {
		records = append(records, tag(e.Key)+":"+string(e.State))
	}
	return due, records
}

// TestHolds walks a case through two holds: steps that have not started stop while it is held
// and move later by the time held; a step done before stays where it was.
func TestHolds(t *testing.T) {
	pb := parse(t, header+`hold: Case.Hold
steps:
  - {id: first, at: d, do: [status: A]}
  - {id: second, at: d + 10d, do: [status: B]}
  - {id: third, at: d + 20d, require: Case.Ok, do: [status: C]}
`)
	w := newWorld(bot.Case{ID: "500", Fields: bot.Fields{"D": "2026-11-02", "Hold": false, "Ok": true}})
	type want struct {
		due, records  []string
		states        string // of first, second, third
		second, third string // their dates
		next          string
	}
	for _, tt := range []struct {
		now  string
		hold bool
		want want
	}{
		{"2026-11-02 09:00", false, want{due: []string{"first/1"}, states: "due scheduled scheduled",
			second: "2026-11-12 09:00", third: "2026-11-22 09:00", next: "2026-11-12 09:00"}},
		{"2026-11-04 09:00", true, want{records: []string{"hold/start-1:marked"}, states: "done held held",
			second: "2026-11-12 09:00", third: "2026-11-22 09:00"}},
		{"2026-11-05 09:00", true, want{states: "done held held", second: "2026-11-13 09:00", third: "2026-11-23 09:00"}},
		{"2026-11-07 09:00", false, want{records: []string{"hold/end-1:marked"}, states: "done scheduled scheduled",
			second: "2026-11-15 09:00", third: "2026-11-25 09:00", next: "2026-11-15 09:00"}},
		{"2026-11-08 09:00", true, want{records: []string{"hold/start-2:marked"}, states: "done held held",
			second: "2026-11-15 09:00", third: "2026-11-25 09:00"}},
		{"2026-11-09 12:30", false, want{records: []string{"hold/end-2:marked"}, states: "done scheduled scheduled",
			second: "2026-11-16 12:30", third: "2026-11-26 12:30", next: "2026-11-16 12:30"}},
		{"2026-11-16 12:30", false, want{due: []string{"second/1"}, states: "done due scheduled",
			second: "2026-11-16 12:30", third: "2026-11-26 12:30", next: "2026-11-26 12:30"}},
		// Held again after second started: it stays where it was, third moves.
		{"2026-11-20 12:30", true, want{records: []string{"hold/start-3:marked"}, states: "done done held",
			second: "2026-11-16 12:30", third: "2026-11-26 12:30"}},
		{"2026-11-21 12:30", false, want{records: []string{"hold/end-3:marked"}, states: "done done scheduled",
			second: "2026-11-16 12:30", third: "2026-11-27 12:30", next: "2026-11-27 12:30"}},
	} {
		w.c.Fields["Hold"] = tt.hold
		r := w.cycle(t, pb, local(tt.now))
		due, records := keys(r)
		var states []string
		for _, s := range r.Steps {
			states = append(states, s.State)
		}
		got := want{due: due, records: records, states: strings.Join(states, " "),
			second: r.Steps[1].At.Format("2006-01-02 15:04"), third: r.Steps[2].At.Format("2006-01-02 15:04")}
		if !r.Next.IsZero() {
			got.next = r.Next.Format("2006-01-02 15:04")
		}
		if fmt.Sprint(got) != fmt.Sprint(tt.want) {
			t.Errorf("%s:\n got %+v\nwant %+v\n%s\n%s", tt.now, got, tt.want, r.Steps[1].Reason, r.Steps[2].Reason)
		}
		for _, e := range r.Records {
			if !e.At.Equal(local(tt.now)) || e.Step != "hold" || e.Playbook != "sched" || e.CaseID != "500" {
				t.Errorf("%s: record %+v", tt.now, e)
			}
		}
	}
	r := pb.Evaluate(w.c, w.l, local("2026-11-21 13:00"))
	if s := r.Steps[2]; s.Timing.Held != 5*24*time.Hour+3*time.Hour+30*time.Minute ||
		s.Reason != "Scheduled for Fri 27 Nov 2026 12:30 EST: d (Case.D = 2026-11-02) + 20d at 09:00 America/New_York, plus 5d 3h 30m on hold." {
		t.Errorf("third: held %v, reason %q", s.Timing.Held, s.Reason)
	}
	if got, want := w.l[bot.StepKey("sched", "hold", "end-2", "500")].Detail, "Case.Hold cleared after 1d 3h 30m"; got != want {
		t.Errorf("end-2 detail %q, want %q", got, want)
	}
	w.c.Fields["Hold"] = true
	r = pb.Evaluate(w.c, w.l, local("2026-11-22 09:00"))
	if s := r.Steps[2]; !s.HeldSince.Equal(local("2026-11-22 09:00")) || s.Reason != "On hold since Sun 22 Nov 2026 09:00 EST (Case.Hold is set): "+
		"it does not come due, and its date moves later by the time held; so far Fri 27 Nov 2026 12:30 EST: "+
		"d (Case.D = 2026-11-02) + 20d at 09:00 America/New_York, plus 5d 3h 30m on hold." {
		t.Errorf("third %s since %v: %q", s.State, s.HeldSince, s.Reason)
	}
}

// TestHoldDuringGate: a step waiting for its gate stops reminding while the case is held, and
// after the release waits on with its date moved.
func TestHoldDuringGate(t *testing.T) {
	pb := parse(t, header+`hold: Case.Hold
steps:
  - id: gate
    at: d
    require: Case.Ok
    remind: {every: 1d, to: [legal], template: gate-reminder}
    do: [status: A]
`)
	w := newWorld(bot.Case{ID: "500", Fields: bot.Fields{"D": "2026-11-02", "Hold": false, "Ok": false}})
	for _, tt := range []struct {
		now         string
		hold, ok    bool
		due         []string
		records     []string
		state, next string
	}{
		{"2026-11-02 09:00", false, false, nil, []string{"gate/gate:marked"}, "waiting", "2026-11-03 09:00"},
		{"2026-11-03 09:00", false, false, []string{"gate/remind-1"}, nil, "waiting", "2026-11-04 09:00"},
		{"2026-11-03 10:00", true, false, nil, []string{"hold/start-1:marked"}, "held", ""},
		{"2026-11-05 09:00", true, false, nil, nil, "held", ""},
		// Released after 2 days: the date is 4 November 09:00, reminder 1 (5 November 09:00)
		// was sent, reminder 2 comes on 6 November.
		{"2026-11-05 10:00", false, false, nil, []string{"hold/end-1:marked"}, "waiting", "2026-11-06 09:00"},
		{"2026-11-06 09:00", false, false, []string{"gate/remind-2"}, nil, "waiting", "2026-11-07 09:00"},
		{"2026-11-06 11:00", false, true, []string{"gate/1"}, nil, "due", ""},
	} {
		w.c.Fields["Hold"], w.c.Fields["Ok"] = tt.hold, tt.ok
		r := w.cycle(t, pb, local(tt.now))
		due, records := keys(r)
		next := ""
		if !r.Next.IsZero() {
			next = r.Next.Format("2006-01-02 15:04")
		}
		if !slices.Equal(due, tt.due) || !slices.Equal(records, tt.records) || r.Steps[0].State != tt.state || next != tt.next {
			t.Errorf("%s: due %v records %v %s next %q, want %v %v %s %q\n%s", tt.now, due, records, r.Steps[0].State, next,
				tt.due, tt.records, tt.state, tt.next, r.Steps[0].Reason)
		}
	}
}

// TestCatchUp: a step found due late runs once, is skipped or is escalated.
func TestCatchUp(t *testing.T) {
	const created = "2026-11-10T14:00:00.000+0000" // 09:00 in New York
	for _, tt := range []struct {
		name, settings, step string
		now                  string
		due, records         []string
		state, reason        string
		late                 rules.Late
	}{
		{name: "on time", settings: "catch_up: {policy: skip}", now: "2026-11-12 10:59",
			due: []string{"s/1", "s/2"}, state: "due"},
		{name: "late, run", now: "2026-11-12 11:01", due: []string{"s/1", "s/2"}, state: "due",
			late: rules.Late{Policy: rules.CatchUpRun, Found: local("2026-11-12 11:01")},
			reason: "Due since Thu 12 Nov 2026 09:00 EST: d (Case.D = 2026-11-12) at 09:00 America/New_York. " +
				"It was late: due Thu 12 Nov 2026 09:00 EST, found Thu 12 Nov 2026 11:01 EST; catch_up run: it runs once now."},
		{name: "late, skip", settings: "catch_up: {after: 30m, policy: skip}", now: "2026-11-12 09:31",
			records: []string{"s/1:skipped", "s/2:skipped"}, state: "skipped",
			late:   rules.Late{Policy: rules.CatchUpSkip, Found: local("2026-11-12 09:31")},
			reason: "Skipped: missed: due Thu 12 Nov 2026 09:00 EST, found Thu 12 Nov 2026 09:31 EST."},
		{name: "late, escalate by the step", settings: "escalate_to: [legal, finance]", step: "catch_up: escalate",
			now: "2026-11-13 09:00", due: []string{"s/escalate"}, records: []string{"s/1:skipped", "s/2:skipped"}, state: "skipped",
			late:   rules.Late{Policy: rules.CatchUpEscalate, Found: local("2026-11-13 09:00")},
			reason: "Skipped: escalated: due Thu 12 Nov 2026 09:00 EST, found Fri 13 Nov 2026 09:00 EST."},
		{name: "the step overrides the playbook", settings: "catch_up: {policy: skip}", step: "catch_up: run",
			now: "2026-11-20 09:00", due: []string{"s/1", "s/2"}, state: "due",
			late: rules.Late{Policy: rules.CatchUpRun, Found: local("2026-11-20 09:00")}},
		{name: "dated before the case was created", settings: "catch_up: {after: 30d, policy: skip}", now: "2026-11-10 09:00",
			records: []string{"s/1:skipped", "s/2:skipped"}, state: "skipped",
			late:   rules.Late{Policy: rules.CatchUpSkip, Found: local("2026-11-10 09:00"), BeforeCreation: true},
			reason: "Skipped: missed: due Mon 9 Nov 2026 09:00 EST, found Tue 10 Nov 2026 09:00 EST, before the case was created."},
	} {
		t.Run(tt.name, func(t *testing.T) {
			at := "d"
			if tt.name == "dated before the case was created" {
				at = "d - 3d"
			}
			step := "{id: s, at: " + at + ", do: [status: A, slack: {to: [legal], template: step-done}]"
			if tt.step != "" {
				step += ", " + tt.step
			}
			pb := parse(t, header+tt.settings+"\nsteps:\n  - "+step+"}\n")
			c := bot.Case{ID: "500", Fields: bot.Fields{"D": "2026-11-12", "CreatedDate": created}}
			r := pb.Evaluate(c, nil, local(tt.now))
			due, records := keys(r)
			s := r.Steps[0]
			if !slices.Equal(due, tt.due) || !slices.Equal(records, tt.records) || s.State != tt.state ||
				s.Late.Policy != tt.late.Policy || !s.Late.Found.Equal(tt.late.Found) ||
				s.Late.BeforeCreation != tt.late.BeforeCreation || (tt.reason != "" && s.Reason != tt.reason) {
				t.Errorf("due %v records %v %s %+v\n%s\nwant %v %v %s %+v\n%s", due, records, s.State, s.Late, s.Reason,
					tt.due, tt.records, tt.state, tt.late, tt.reason)
			}
			for _, e := range r.Records {
				if !strings.HasPrefix(e.Detail, strings.TrimSuffix(strings.TrimPrefix(tt.reason, "Skipped: "), ".")) {
					t.Errorf("record detail %q", e.Detail)
				}
			}
			if tt.state != rules.StateSkipped || len(tt.due) == 0 {
				return
			}
			esc := r.Due[0]
			want := bot.Effect{Key: bot.StepKey("sched", "s", "escalate", "500"), Playbook: "sched", Step: "s", CaseID: "500",
				Due: local("2026-11-12 09:00"), Kind: bot.KindSlack, Roles: []string{"legal", "finance"}, Template: rules.MissedStepTemplate}
			if fmt.Sprint(esc) != fmt.Sprint(want) {
				t.Errorf("escalation\n got %+v\nwant %+v", esc, want)
			}
			// The decision is recorded: the message goes out until the ledger says it went.
			w := newWorld(c)
			w.perform(t, nil, r.Records, local(tt.now))
			w.l[esc.Key] = bot.LedgerEntry{Key: esc.Key, State: bot.StateFailed, Retryable: true}
			if due, _ := keys(pb.Evaluate(w.c, w.l, local(tt.now).Add(time.Minute))); !slices.Equal(due, []string{"s/escalate"}) {
				t.Errorf("after a failed attempt: due %v", due)
			}
			w.l[esc.Key] = bot.LedgerEntry{Key: esc.Key, State: bot.StateDone}
			r = pb.Evaluate(w.c, w.l, local(tt.now).Add(time.Hour))
			if due, records := keys(r); len(due)+len(records) != 0 || r.Steps[0].State != rules.StateSkipped {
				t.Errorf("after sending: due %v records %v %s", due, records, r.Steps[0].State)
			}
		})
	}
}

// TestCatchUpGate: a step that came due on time and waited for its gate is not late when the
// gate opens days later, and its `when`, decided when it came due, is not decided again.
func TestCatchUpGate(t *testing.T) {
	pb := parse(t, header+"catch_up: {policy: skip}\nsteps:\n  - {id: s, at: d, when: \"Case.S != 'x'\", require: Case.Ok, do: [status: A]}\n")
	w := newWorld(bot.Case{ID: "500", Fields: bot.Fields{"D": "2026-11-12", "Ok": false, "S": "a"}})
	r := w.cycle(t, pb, local("2026-11-12 09:01"))
	if _, records := keys(r); !slices.Equal(records, []string{"s/gate:marked"}) || r.Steps[0].State != rules.StateWaiting {
		t.Errorf("records %v, %s", records, r.Steps[0].State)
	}
	w.c.Fields["Ok"], w.c.Fields["S"] = true, "x"
	r = w.cycle(t, pb, local("2026-11-19 09:00"))
	if due, records := keys(r); !slices.Equal(due, []string{"s/1"}) || records != nil {
		t.Errorf("due %v, records %v", due, records)
	}
}

// TestReminders: a gate that stays closed reminds at its cadence, in business days, and after
// a downtime sends only the latest reminder.
func TestReminders(t *testing.T) {
	pb := parse(t, header+`calendar: [us]
steps:
  - id: s
    at: d
    require: Case.Ok
    remind: {every: 2bd, to: [legal, finance], template: gate-reminder}
    do: [status: A]
`)
	w := newWorld(bot.Case{ID: "500", Fields: bot.Fields{"D": "2026-11-20", "Ok": false}}) // a Friday
	for _, tt := range []struct {
		now, due, next string
		fail           bool // the engine fails to post it, retryably
	}{
		{now: "2026-11-20 09:00", next: "2026-11-24 09:00"},
		{now: "2026-11-24 08:59", next: "2026-11-24 09:00"},
		{now: "2026-11-24 09:00", due: "s/remind-1", next: "2026-11-27 09:00", fail: true},
		{now: "2026-11-24 09:01", due: "s/remind-1", next: "2026-11-27 09:00"},
		{now: "2026-11-25 09:00", next: "2026-11-27 09:00"},
		// Thanksgiving is no business day; casebot is down from 27 November to 8 December,
		// when reminder 5 (7 December) is the latest.
		{now: "2026-12-08 10:00", due: "s/remind-5", next: "2026-12-09 09:00"},
		{now: "2026-12-09 10:00", due: "s/remind-6", next: "2026-12-11 09:00"},
		{now: "2026-12-10 10:00", next: "2026-12-11 09:00"},
	} {
		r := pb.Evaluate(w.c, w.l, local(tt.now))
		due, _ := keys(r)
		if strings.Join(due, ",") != tt.due || !r.Next.Equal(local(tt.next)) || !r.Steps[0].Remind.Equal(local(tt.next)) {
			t.Errorf("%s: due %v next %v, want %s %s", tt.now, due, r.Next, tt.due, tt.next)
		}
		for _, e := range r.Due {
			if e.Kind != bot.KindSlack || e.Template != "gate-reminder" || !slices.Equal(e.Roles, []string{"legal", "finance"}) || e.Action != 0 {
				t.Errorf("%s: reminder %+v", tt.now, e)
			}
		}
		w.perform(t, r.Due, r.Records, local(tt.now))
		if tt.fail {
			for _, e := range r.Due {
				w.l[e.Key] = bot.LedgerEntry{Key: e.Key, State: bot.StateFailed, Retryable: true}
			}
		}
	}
	r := pb.Evaluate(w.c, w.l, local("2026-12-09 10:00"))
	if want := "Waiting since Fri 20 Nov 2026 09:00 EST: require false: Case.Ok = false. Due Fri 20 Nov 2026 09:00 EST: " +
		"d (Case.D = 2026-11-20) at 09:00 America/New_York. Next reminder Fri 11 Dec 2026 09:00 EST."; r.Steps[0].Reason != want {
		t.Errorf("reason\n got %q\nwant %q", r.Steps[0].Reason, want)
	}
	g := r.Steps[0].Gate
	if g.Kind != "require" || g.Source != "Case.Ok" || !g.Since.Equal(local("2026-11-20 09:00")) ||
		!slices.Equal(g.Inputs, []rules.Input{{Field: rules.FieldRef{Object: "Case", Name: "Ok"}, Value: false}}) {
		t.Errorf("gate %+v", g)
	}
	w.c.Fields["Ok"] = true
	if due, _ := keys(pb.Evaluate(w.c, w.l, local("2026-12-10 09:00"))); !slices.Equal(due, []string{"s/1"}) {
		t.Errorf("gate open: due %v", due)
	}
}

// TestConcurrentCalendars: the holidays of a year are computed by whichever evaluation needs
// them first, while others read them (run with -race).
func TestConcurrentCalendars(t *testing.T) {
	src := header + "calendar: [us, gb, jp]\nsteps:\n  - {id: s, at: d + 30bd, do: [status: A]}\n"
	want := map[int]time.Time{}
	ref := parse(t, src)
	for y := 2020; y < 2040; y++ {
		want[y] = ref.Evaluate(bot.Case{ID: "5", Fields: bot.Fields{"D": fmt.Sprintf("%d-12-01", y)}}, nil, time.Time{}).Steps[0].At
	}
	pb := parse(t, src)
	errs := make(chan error)
	for g := range 8 {
		go func() {
			for i := range 40 {
				y := 2020 + (g*7+i)%20
				got := pb.Evaluate(bot.Case{ID: "5", Fields: bot.Fields{"D": fmt.Sprintf("%d-12-01", y)}}, nil, time.Time{}).Steps[0].At
				if !got.Equal(want[y]) {
					errs <- fmt.Errorf("%d: %v, want %v", y, got, want[y])
					return
				}
			}
			errs <- nil
		}()
	}
	for range 8 {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
}
