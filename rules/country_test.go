package rules_test

import (
	"slices"
	"testing"

	"casebot/bot"
	"casebot/rules"
)

// countryPlaybook counts each case's business days in the calendar of its account's country.
const countryPlaybook = `
playbook: country
applies_to: {object: Case, where: "IsClosed = false"}
fields:
  Case: {D: date}
  Account: {BillingCountry: string}
timezone: {default: America/New_York}
calendar: {field: Account.BillingCountry, default: us}
non_working: later
dates: {d: Case.D}
task_templates:
  work: [{id: w, subject: Work, due: 1bd}]
steps:
  - {id: on, at: d, do: [tasks: work]}
  - {id: after, at: d + 1bd, non_working: keep, do: [status: A]}
  - {id: kept, at: d, non_working: keep, do: [status: K]}
`

// TestCaseCalendar: a step that lands on a holiday of the account's country moves with
// non_working: later, business days and task due dates count that country's holidays, and an
// account with no country casebot knows counts the default's; the date's reason says which
// calendar and why.
func TestCaseCalendar(t *testing.T) {
	pb := parse(t, countryPlaybook)
	for _, tt := range []struct {
		country any // nil: null
		d       string
		on      string // the step at d, moved off a holiday
		after   string // d + 1bd
		taskDue string // the task's 1bd after the step
		reason  string // the reason of step "on"
	}{
		{"BR", "2026-04-21", "2026-04-22 09:00", "2026-04-22 09:00", "2026-04-23",
			"Scheduled for Wed 22 Apr 2026 09:00 EDT: d (Case.D = 2026-04-21) at 09:00 America/New_York, " +
				"calendar br (Account.BillingCountry = 'BR'), moved from Tue 21 Apr to Wed 22 Apr (Tiradentes (br))."},
		{"Brazil", "2026-02-17", "2026-02-18 09:00", "2026-02-18 09:00", "2026-02-19", ""},
		{"Germany", "2026-05-14", "2026-05-15 09:00", "2026-05-15 09:00", "2026-05-18",
			"Scheduled for Fri 15 May 2026 09:00 EDT: d (Case.D = 2026-05-14) at 09:00 America/New_York, " +
				"calendar de (Account.BillingCountry = 'Germany'), moved from Thu 14 May to Fri 15 May (Christi Himmelfahrt (de))."},
		{"japan", "2026-01-12", "2026-01-13 09:00", "2026-01-13 09:00", "2026-01-14", ""},
		// Thanksgiving is a US holiday only.
		{"DE", "2026-11-26", "2026-11-26 09:00", "2026-11-27 09:00", "2026-11-27",
			"Scheduled for Thu 26 Nov 2026 09:00 EST: d (Case.D = 2026-11-26) at 09:00 America/New_York, " +
				"calendar de (Account.BillingCountry = 'DE')."},
		{nil, "2026-11-26", "2026-11-27 09:00", "2026-11-27 09:00", "2026-11-30",
			"Scheduled for Fri 27 Nov 2026 09:00 EST: d (Case.D = 2026-11-26) at 09:00 America/New_York, " +
				"calendar us (the default: Account.BillingCountry is blank), moved from Thu 26 Nov to Fri 27 Nov (Thanksgiving Day (us))."},
		{"Atlantis", "2026-11-26", "2026-11-27 09:00", "2026-11-27 09:00", "2026-11-30",
			"Scheduled for Fri 27 Nov 2026 09:00 EST: d (Case.D = 2026-11-26) at 09:00 America/New_York, " +
				"calendar us (the default: Account.BillingCountry 'Atlantis' is no country with a calendar), " +
				"moved from Thu 26 Nov to Fri 27 Nov (Thanksgiving Day (us))."},
	} {
		c := bot.Case{ID: "500", Fields: bot.Fields{"D": tt.d}, Account: &bot.Account{ID: "001", Fields: bot.Fields{"BillingCountry": tt.country}}}
		r := pb.Evaluate(c, nil, utc("2026-01-01T00:00:00Z"))
		on, after, kept := r.Steps[0], r.Steps[1], r.Steps[2]
		if !on.At.Equal(local(tt.on)) || !after.At.Equal(local(tt.after)) {
			t.Errorf("%v: on %v, after %v; want %s, %s (%s)", tt.country, on.At, after.At, tt.on, tt.after, on.Reason)
		}
		if tt.reason != "" && on.Reason != tt.reason {
			t.Errorf("%v: reason\n got %q\nwant %q", tt.country, on.Reason, tt.reason)
		}
		// A date that keeps its day and counts no business days depends on no calendar.
		if kept.Timing.Calendar != (rules.CaseCalendar{}) {
			t.Errorf("%v: kept: calendar %+v, want none", tt.country, kept.Timing.Calendar)
		}
		r = pb.Evaluate(c, nil, on.At)
		if i := slices.IndexFunc(r.Due, func(e bot.Effect) bool { return e.Step == "on" }); i < 0 ||
			len(r.Due[i].Tasks) != 1 || r.Due[i].Tasks[0].Due != tt.taskDue {
			t.Errorf("%v: due %v, want the task due %s", tt.country, dueSteps(r.Due), tt.taskDue)
		}
	}
}

// TestCaseCalendarListForm: the list form still gives every case the same calendars.
func TestCaseCalendarListForm(t *testing.T) {
	pb := parse(t, header+"calendar: [us, gb]\nnon_working: later\nsteps:\n  - {id: s, at: d, do: [status: A]}\n")
	if !slices.Equal(pb.Calendars, []string{"us", "gb"}) || pb.CalendarField != (rules.FieldRef{}) {
		t.Fatalf("calendars %v, field %v", pb.Calendars, pb.CalendarField)
	}
	c := bot.Case{ID: "500", Fields: bot.Fields{"D": "2026-12-28"}} // Boxing Day observed (gb)
	if s := pb.Evaluate(c, nil, utc("2026-01-01T00:00:00Z")).Steps[0]; !s.At.Equal(local("2026-12-29 09:00")) {
		t.Errorf("at %v, want Tue 29 Dec (%s)", s.At, s.Reason)
	}
}

// TestCaseCalendarNoDefault: without a default, an account with no known country counts
// Monday to Friday.
func TestCaseCalendarNoDefault(t *testing.T) {
	pb := parse(t, header+"calendar: {field: Account.Tenant}\nnon_working: later\nsteps:\n  - {id: s, at: d, do: [status: A]}\n")
	for _, tt := range []struct{ country, want, reason string }{
		{"", "2026-11-26 09:00", "Scheduled for Thu 26 Nov 2026 09:00 EST: d (Case.D = 2026-11-26) at 09:00 America/New_York, " +
			"no holiday calendar (the default: Account.Tenant is blank)."},
		{"US", "2026-11-27 09:00", ""},
	} {
		c := bot.Case{ID: "500", Fields: bot.Fields{"D": "2026-11-26"}, Account: &bot.Account{ID: "001", Fields: bot.Fields{"Tenant": tt.country}}}
		s := pb.Evaluate(c, nil, utc("2026-01-01T00:00:00Z")).Steps[0]
		if !s.At.Equal(local(tt.want)) || tt.reason != "" && s.Reason != tt.reason {
			t.Errorf("%q: at %v, want %s; reason\n got %q\nwant %q", tt.country, s.At, tt.want, s.Reason, tt.reason)
		}
	}
}
