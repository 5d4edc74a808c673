package rules_test

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"casebot/bot"
)

// BenchmarkEvaluate evaluates 10,000 open cases at every stage of the SOP, with the ledgers
// and tasks the engine would have left, as one reconcile cycle does.
func BenchmarkEvaluate(b *testing.B) {
	pb := sop(b)
	now := utc("2026-12-15T15:00:00Z")
	zones := []string{"America/New_York", "Europe/Paris", "Asia/Tokyo", ""}
	// Prototypes: every day of the timeline, in several zones, Legal's confirmation pending
	// or not, the Termination Team done or not. Each is run through daily cycles up to now.
	var protos []*world
	for day := range 45 {
		for z, zone := range zones {
			c := sopCase(zone)
			c.ID = fmt.Sprintf("500%03d%03d", day, z)
			day0 := now.AddDate(0, 0, -day)
			c.Fields["Termination_Confirmed__c"] = day0.Format(bot.DateLayout)
			c.Fields["CreatedDate"] = day0.AddDate(0, 0, -10).Format(bot.DateTimeLayout)
			c.Fields["Deprovision_Date__c"] = day0.AddDate(0, 0, 33).Format(bot.DateTimeLayout)
			if day%10 == 0 {
				c.Fields["Termination_Confirmed__c"] = nil
			}
			w := newWorld(c)
			for at := day0.AddDate(0, 0, -10); at.Before(now); at = at.Add(24 * time.Hour) {
				r := pb.Evaluate(w.c, w.l, at)
				w.perform(b, r.Due, r.Records, at)
				if z%2 == 0 {
					w.closeTasks("purge-handoff")
					w.closeTasks("offboarding-tasks")
					w.closeTasks("deactivate-access")
				}
			}
			protos = append(protos, w)
		}
	}
	// 10,000 cases, each a prototype under its own id.
	type item struct {
		c bot.Case
		l bot.Ledger
	}
	cases := make([]item, 10_000)
	for i := range cases {
		p := protos[i%len(protos)]
		id := fmt.Sprintf("5000000%011d", i)
		c := p.c
		c.ID, c.Fields, c.Tasks = id, maps.Clone(c.Fields), slices.Clone(c.Tasks)
		for j := range c.Tasks {
			c.Tasks[j].Key = strings.Replace(c.Tasks[j].Key, p.c.ID, id, 1)
		}
		l := make(bot.Ledger, len(p.l))
		for k, e := range p.l {
			e.Key, e.CaseID = strings.Replace(k, p.c.ID, id, 1), id
			l[e.Key] = e
		}
		cases[i] = item{c, l}
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		for i := range cases {
			pb.Evaluate(cases[i].c, cases[i].l, now)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(cases)), "ns/case")
}

// TestEvaluateAllocations keeps the common path light: a case with nothing to do costs the
// result's step list, the reasons' buffer and their string, however many steps are done.
func TestEvaluateAllocations(t *testing.T) {
	pb := sop(t)
	w := newWorld(sopCase("America/New_York"))
	for _, at := range []string{"2026-10-20T14:00:00Z", "2026-10-29T13:00:00Z", "2026-10-30T13:00:00Z",
		"2026-10-31T13:00:00Z", "2026-11-01T14:00:00Z"} {
		r := pb.Evaluate(w.c, w.l, utc(at))
		w.perform(t, r.Due, r.Records, utc(at))
	}
	now := utc("2026-11-10T12:00:00Z")
	if r := pb.Evaluate(w.c, w.l, now); len(r.Due) != 0 || r.Next.IsZero() {
		t.Fatalf("not a quiet case: due %v, next %v", dueSteps(r.Due), r.Next)
	}
	if n := testing.AllocsPerRun(100, func() { pb.Evaluate(w.c, w.l, now) }); n > 3 {
		t.Errorf("%v allocations for a case with nothing due, want at most 3", n)
	}
}
