package rules_test

import (
	"slices"
	"strings"
	"testing"

	"casebot/bot"
	"casebot/rules"
)

func TestLabel(t *testing.T) {
	for _, tt := range []struct{ object, name, want string }{
		{"Case", "Termination_Confirmed__c", "Termination Confirmed"},
		{"Case", "SuppliedEmail", "Supplied Email"},
		{"Case", "CreatedDate", "Created Date"},
		{"Case", "Deactivated_GUIDs__c", "Deactivated GUIDs"},
		{"Case", "HTTPStatus__c", "HTTP Status"},
		{"Case", "Address2Line__c", "Address2 Line"},
		{"Case", "IDsFor__c", "IDs For"},
		{"Case", "Devices_Checked_At__c", "Devices Checked At"},
		{"Case", "Id", "Id"},
		{"Account", "Time_Zone__c", "Time Zone"},
		{"Case", "Odd__Name__c", "Odd Name"},
	} {
		if got := (rules.FieldRef{Object: tt.object, Name: tt.name}).Label(); got != tt.want {
			t.Errorf("Label(%s.%s) = %q, want %q", tt.object, tt.name, got, tt.want)
		}
	}
}

const gatePlaybook = `
playbook: gates
applies_to: {object: Case, where: "IsClosed = false"}
fields:
  Case: {D: date, Deprovision_Date__c: datetime, Active_Devices__c: number, SuppliedEmail: string, Approved__c: bool, Hold__c: bool, Status: string}
  Account: {Tenant_Id__c: string, Tz: string}
timezone: {field: Account.Tz, default: America/New_York}
dates: {d: Case.D}
task_templates:
  team: [{id: a, subject: A}, {id: b, subject: B}]
steps:
  - id: first
    at: d + 1d
    do: [status: A]
  - id: tasks
    at: d + 1d
    do: [tasks: team]
  - id: gated
    at: d
    when: "!Case.Hold__c || Case.Approved__c"
    require: >-
      REQUIRE
    do: [status: B]
`

// TestGateMissing: a closed gate says which of the conditions its require joins with && are
// false, each in words with the case's values by their type, and only those.
func TestGateMissing(t *testing.T) {
	const all = "done('first') && tasksDone('tasks') && !Case.Deprovision_Date__c.IsZero() && Case.SuppliedEmail != '' && " +
		"Case.Approved__c && !Case.Hold__c && Account.Tenant_Id__c != '' && Case.Active_Devices__c == 0 && " +
		"(Case.Status == 'Ready' || done('first'))"
	taskKey := func(n string) string { return bot.EffectKey("gates", "tasks", 1, "500") + "/" + n }
	firstKey := bot.EffectKey("gates", "first", 1, "500")
	for _, tt := range []struct {
		name    string
		require string
		fields  bot.Fields
		account bot.Fields
		tasks   []bot.Task
		ledger  bot.Ledger
		want    []string
	}{
		{name: "everything missing", require: all, want: []string{
			"step first is not done yet",
			"step tasks has created no tasks yet",
			"Deprovision Date is empty",
			"Supplied Email is empty",
			"Approved is not checked",
			"Hold is checked",
			"the account's Tenant Id is empty",
			"Active Devices is 2, needs: Case.Active_Devices__c == 0",
			`Status is "New", step first is not done yet, needs: Case.Status == "Ready" || done("first")`,
		}},
		{name: "only open tasks", require: all,
			fields:  bot.Fields{"Deprovision_Date__c": "2026-11-30T17:00:00.000+0000", "SuppliedEmail": "it@example.test", "Approved__c": true, "Hold__c": false, "Active_Devices__c": 0.0},
			account: bot.Fields{"Tenant_Id__c": "acme"},
			tasks:   []bot.Task{{Key: taskKey("a"), IsClosed: true}, {Key: taskKey("b")}},
			ledger:  bot.Ledger{firstKey: {Key: firstKey, State: bot.StateDone}},
			want:    []string{"the tasks of step tasks are not all closed (1 of 2 closed)"}},
		{name: "dates by their type in the case's zone", require: "daysBetween(Case.D, Case.Deprovision_Date__c) > 40 && Case.Approved__c",
			fields:  bot.Fields{"Deprovision_Date__c": "2026-11-30T17:00:00.000+0000", "Approved__c": true},
			account: bot.Fields{"Tz": "Europe/Paris"},
			want:    []string{"D is Mon 2 Nov 2026, Deprovision Date is Mon 30 Nov 2026 18:00 CET, needs: daysBetween(Case.D, Case.Deprovision_Date__c) > 40"}},
		{name: "one condition, as written", require: "Case.Status in ['Ready', 'Set']",
			want: []string{`Status is "New", needs: Case.Status in ['Ready', 'Set']`}},
		{name: "a guarded part is not what it waits for", require: "len(Tasks) > 0 && Tasks[0].Closed",
			want: []string{"needs: len(Tasks) > 0"}},
		{name: "and, nested", require: "(Case.Approved__c and Case.SuppliedEmail != '') and Case.Active_Devices__c < 1",
			fields: bot.Fields{"Approved__c": true},
			want:   []string{"Supplied Email is empty", "Active Devices is 2, needs: Case.Active_Devices__c < 1"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			pb := parse(t, strings.Replace(gatePlaybook, "REQUIRE", tt.require, 1))
			c := bot.Case{ID: "500", Fields: bot.Fields{"D": "2026-11-02", "Status": "New", "Active_Devices__c": 2.0, "Hold__c": true, "Approved__c": nil},
				Account: &bot.Account{ID: "001", Fields: bot.Fields{"Tz": "America/New_York"}}, Tasks: tt.tasks}
			for k, v := range tt.fields {
				c.Fields[k] = v
			}
			for k, v := range tt.account {
				c.Account.Fields[k] = v
			}
			// The gate was already found closed: `when` was decided then.
			gateKey := bot.StepKey("gates", "gated", "gate", c.ID)
			l := bot.Ledger{gateKey: {Key: gateKey, CaseID: c.ID, Step: "gated", State: bot.StateMarked, At: local("2026-11-02 10:00")}}
			for k, e := range tt.ledger {
				l[k] = e
			}
			st := stateOf(t, pb.Evaluate(c, l, local("2026-11-04 12:00")), "gated")
			if st.State != rules.StateWaiting || st.Gate.Kind != "require" {
				t.Fatalf("state %s, gate %q: want waiting for its require (%s)", st.State, st.Gate.Kind, st.Reason)
			}
			if !slices.Equal(st.Gate.Missing, tt.want) {
				t.Errorf("Missing:\n %q\nwant\n %q", st.Gate.Missing, tt.want)
			}
			if got, want := st.Gate.Waiting(), strings.Join(tt.want, "; "); got != want {
				t.Errorf("Waiting() = %q, want %q", got, want)
			}
		})
	}
}

// TestWhenMissing: a `when` that skips a step says why in the same words; Waiting is only for
// a require.
func TestWhenMissing(t *testing.T) {
	pb := parse(t, strings.Replace(gatePlaybook, "REQUIRE", "true", 1))
	c := bot.Case{ID: "500", Fields: bot.Fields{"D": "2026-11-02", "Hold__c": true, "Approved__c": false}}
	st := stateOf(t, pb.Evaluate(c, nil, local("2026-11-02 09:30")), "gated")
	want := []string{"Hold is checked, Approved is not checked, needs: !Case.Hold__c || Case.Approved__c"}
	if st.State != rules.StateSkipped || !slices.Equal(st.Gate.Missing, want) {
		t.Errorf("state %s, Missing %q; want skipped, %q", st.State, st.Gate.Missing, want)
	}
	if w := st.Gate.Waiting(); w != "" {
		t.Errorf("Waiting() of a when = %q, want \"\"", w)
	}
}

// TestZoneFallback: a zone field that holds no zone name counts the case's dates in the
// default zone and says so.
func TestZoneFallback(t *testing.T) {
	pb := parse(t, strings.Replace(gatePlaybook, "REQUIRE", "true", 1))
	for _, tt := range []struct{ tz, zone, fallback string }{
		{"Europe/Paris", "Europe/Paris", ""},
		{"", "America/New_York", ""},
		{"Eastern Standard Time", "America/New_York", "Eastern Standard Time"},
		{"Local", "America/New_York", "Local"},
	} {
		c := bot.Case{ID: "500", Fields: bot.Fields{"D": "2026-11-02"}, Account: &bot.Account{Fields: bot.Fields{"Tz": tt.tz}}}
		st := stateOf(t, pb.Evaluate(c, nil, local("2026-11-01 12:00")), "first")
		if st.Timing.Zone.String() != tt.zone || st.Timing.ZoneFallback != tt.fallback {
			t.Errorf("Tz %q: zone %s, fallback %q; want %s, %q", tt.tz, st.Timing.Zone, st.Timing.ZoneFallback, tt.zone, tt.fallback)
		}
		note := "at 09:00 America/New_York (the default zone: '" + tt.fallback + "' is not a time zone name)"
		if got := strings.Contains(st.Reason, note); got != (tt.fallback != "") {
			t.Errorf("Tz %q: reason %q: says the zone is the default: %v, want %v", tt.tz, st.Reason, got, !got)
		}
	}
}

func TestPlaybookRoles(t *testing.T) {
	p, err := rules.Parse("roles.yaml", []byte(`playbook: roles
applies_to: {object: Case, where: "Type = 'X'"}
fields:
  Case: {D__c: date, Ok__c: bool}
escalate_to: [legal]
dates: {d: Case.D__c}
task_templates:
  used: [{id: a, subject: A, owner: finance}]
  unused: [{id: b, subject: B, owner: marketing}]
steps:
  - id: one
    at: d
    require: Case.Ok__c
    remind: {every: 1d, to: [partner_ops], template: t}
    do:
      - tasks: used
      - email: {to: [account_team], cc: [cs_ops], template: t}
      - queue: infrastructure
      - slack: {to: [legal, sales_ops], template: t}
`), rules.Options{})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"account_team", "cs_ops", "finance", "infrastructure", "legal", "partner_ops", "sales_ops"}
	if got := p.Roles(); !slices.Equal(got, want) {
		t.Errorf("Roles() = %v, want %v (not marketing: its template is unused)", got, want)
	}
}
