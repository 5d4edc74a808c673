package playtest

import (
	"flag"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"casebot/bot"
	"casebot/bot/engine"
	"casebot/rules"
	"casebot/rules/playbooks"
	"casebot/templates"
)

// timelinesPerPlaybook is how many random timelines `go test` runs through each shipped
// playbook at least; -rapid.checks asks for more.
const timelinesPerPlaybook = 1000

func TestShippedProperties(t *testing.T) {
	tmpl, err := templates.Default()
	if err != nil {
		t.Fatal(err)
	}
	pbs, err := rules.Load(playbooks.FS, rules.Options{KnownTemplateKind: tmpl.HasKind})
	if err != nil {
		t.Fatal(err)
	}
	n, _ := strconv.Atoi(flag.Lookup("rapid.checks").Value.String())
	n = max(n, timelinesPerPlaybook)
	var mu sync.Mutex
	timelines, deep := map[string]int{}, map[string]int{}
	reached = func(playbook string, started map[string]bool) {
		mu.Lock()
		defer mu.Unlock()
		timelines[playbook]++
		if slices.ContainsFunc(deepSteps[playbook], func(id string) bool { return started[id] }) {
			deep[playbook]++
		}
	}
	t.Cleanup(func() { reached = nil })
	for _, pb := range pbs {
		t.Run(pb.Name, func(t *testing.T) {
			CheckTimelines(t, pb, tmpl, n)
			if t.Failed() {
				return
			}
			mu.Lock()
			defer mu.Unlock()
			if _, ok := deepSteps[pb.Name]; !ok {
				return
			}
			t.Logf("%d of %d timelines reach a deep guarded step", deep[pb.Name], timelines[pb.Name])
			// Generated timelines must keep reaching the deepest guarded steps, or their guards
			// go untested: one in fifty at least (they reach one in ten to one in three; before
			// the generator was bent on them, none to three in a thousand).
			if deep[pb.Name]*50 < timelines[pb.Name] {
				t.Errorf("only %d of %d timelines reach a step of %v", deep[pb.Name], timelines[pb.Name], deepSteps[pb.Name])
			}
		})
	}
}

// deepSteps are, by shipped playbook, its deepest guarded steps: the ones a timeline reaches
// only with its gates open, its inputs given, its tasks completed and its dates come.
var deepSteps = map[string][]string{
	"termination-sop":              {"deactivate-access", "purge-handoff", "purge-done", "close"},
	"almaden-partner-cancellation": {"deactivate-tenant"},
	"mimecast-msp-cancellation":    {"withdraw-service", "partner-transfer"},
	"customer-removal":             {"remove-association", "data-handling"},
}

// TestUnguardedFails checks that a violation is caught and shown: a playbook that closes the
// case without a guard fails, with the shrunk timeline that closed it.
func TestUnguardedFails(t *testing.T) {
	// The failure is expected: no fail file for rapid to replay.
	if err := flag.Set("rapid.nofailfile", "true"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { flag.Set("rapid.nofailfile", "false") })
	res, err := Properties(os.DirFS("testdata/unguarded"), testTemplates(t), 200)
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != 1 {
		t.Fatalf("got %d results, want 1", len(res))
	}
	v := res[0].Violation
	for _, want := range []string{"step close action 1 closes the case, and the step has no guard",
		"events:", "effects:", "close/1 status Closed"} {
		if !strings.Contains(v, want) {
			t.Errorf("the violation does not say %q:\n%s", want, v)
		}
	}
}

// TestCheckerCatchesGuards feeds the checker a guarded step that starts too early, before the
// step its guard follows, with a stale fresh field, a blank field it needs and the case on
// hold, its guard's condition false, and then performs an effect twice and acts after a skip.
func TestCheckerCatchesGuards(t *testing.T) {
	src := `playbook: guarded
title: Guarded
applies_to: {object: Case, where: "IsClosed = false"}
fields:
  Case: {Status: string, Requested__c: date, Checked__c: datetime, Hold__c: bool, Tenant__c: string}
timezone: {default: UTC}
run_at: "10:00"
hold: Case.Hold__c
dates: {requested: Case.Requested__c}
steps:
  - id: notify
    title: Told
    at: requested
    do: [{slack: {to: [finance], template: note}}]
  - id: close
    title: Closed
    at: requested + 1d
    needs: {fields: [Case.Tenant__c], owner: finance, template: note}
    guard: {not_before: requested + 3d, after: [notify], fresh: {field: Case.Checked__c, within: 2d}, condition: "Case.Status == 'Approved' && done('notify')", owner: finance, template: note}
    do: [{close: {}}]
`
	pb, err := rules.Parse("guarded.yaml", []byte(src), rules.Options{KnownTemplateKind: testTemplates(t).HasKind})
	if err != nil {
		t.Fatal(err)
	}
	c := newChecker(pb, time.UTC)
	before := bot.Case{ID: defaultCaseID, Fields: bot.Fields{"Requested__c": "2026-03-02",
		"Checked__c": "2026-02-01T10:00:00.000+0000", "Hold__c": true}}
	at := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
	closeKey := "guarded/close/1/" + defaultCaseID
	err = c.cycle(before, []engine.Event{
		{At: at, Step: "close", Outcome: engine.Done, Effect: bot.Effect{Key: closeKey, Action: 1, Kind: bot.KindStatus}},
		{At: at, Step: "close", Outcome: engine.Done, Effect: bot.Effect{Key: closeKey, Action: 1, Kind: bot.KindStatus}},
		{At: at, Step: "notify", Outcome: engine.Skipped, Effect: bot.Effect{Key: "guarded/notify/1/" + defaultCaseID, Action: 1}},
		{At: at, Step: "notify", Outcome: engine.Done, Effect: bot.Effect{Key: "guarded/notify/1/x", Action: 1, Kind: bot.KindSlack}},
	})
	if err == nil {
		t.Fatal("no violation found")
	}
	for _, want := range []string{"the case is on hold", "Case.Tenant__c it needs is blank",
		"due no earlier than", "not before", "Case.Checked__c", "wants step notify done first",
		"its guard's condition Case.Status == 'Approved' && done('notify') is false",
		"performed twice", "performed action 1 after it was skipped"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("the violations do not say %q:\n%v", want, err)
		}
	}
}
