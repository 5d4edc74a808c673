package engine

import (
	"context"
	"fmt"
	"maps"
	"os"
	"reflect"
	"runtime"
	"slices"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"casebot/bot"
	"casebot/rules"
	"casebot/templates"
)

const caseID = "500000000000001AAA"

var roleNames = []string{"account_team", "cs_ops", "sales_ops", "legal", "finance", "sec_ops",
	"customer_ops", "marketing", "order_management", "infrastructure"}

// day0 is when Legal confirmed the test case's termination: Monday 2 November 2026.
var day0 = time.Date(2026, 11, 2, 0, 0, 0, 0, time.UTC)

// newSOP returns an engine running testdata/sop.yaml (the first version of the shipped SOP,
// frozen so these tests do not move with the playbook) over one Acme case in New York.
func newSOP(t *testing.T, clock *time.Time) (*Engine, *fakeCRM, *memStore, *fakeChat) {
	t.Helper()
	pbs, err := rules.Load(os.DirFS("testdata"), rules.Options{})
	if err != nil {
		t.Fatal(err)
	}
	tmpl, err := templates.Default()
	if err != nil {
		t.Fatal(err)
	}
	roles := map[string]Role{}
	users := map[string]string{}
	for i, r := range roleNames {
		user := strings.ReplaceAll(r, "_", "") + "@example.test"
		roles[r] = Role{User: user, Channel: "#" + r}
		users[user] = "005" + strings.Repeat("0", 14) + string(rune('A'+i))
	}
	crm := &fakeCRM{users: users, fail: map[string]error{}, cases: []*bot.Case{{
		ID: caseID,
		Fields: bot.Fields{
			"CaseNumber": "00001001", "Subject": "Termination: Acme Corp", "Status": "New",
			"CreatedDate":              "2026-11-02T13:00:00.000+0000",
			"Contract_End_Date__c":     "2026-12-12",
			"Termination_Confirmed__c": day0.Format(bot.DateLayout),
			"Deprovision_Date__c":      "2026-11-30T22:00:00.000+0000",
			"Termination_Hold__c":      false, "Data_Deletion_Approved__c": false,
		},
		Account: &bot.Account{ID: "001000000000001AAA", Fields: bot.Fields{
			"Name": "Acme Corp", "Type": "Customer - Direct", "Customer_Attrition__c": false,
			"Time_Zone__c": "America/New_York",
		}},
	}}}
	store, chat := newMemStore(), &fakeChat{fail: map[string]error{}}
	eng, err := New(Options{CRM: crm, Store: store, Chat: chat, Playbooks: pbs, Templates: tmpl,
		Roles: roles, Now: func() time.Time { return *clock }})
	if err != nil {
		t.Fatal(err)
	}
	return eng, crm, store, chat
}

func cycle(t *testing.T, e *Engine) Report {
	t.Helper()
	rep, err := e.Cycle(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

func key(step string, action int) string {
	return bot.EffectKey("termination-sop", step, action, caseID)
}

// Day 4, 10:00 in New York: the first five steps are due at once. The first cycle performs them
// in two write batches (one per action index), then finds nothing more; the second cycle at
// the same time does nothing.
func TestCycleTwiceAtSameTimeChangesNothing(t *testing.T) {
	now := day0.Add(4*24*time.Hour + 15*time.Hour)
	eng, crm, _, chat := newSOP(t, &now)

	rep := cycle(t, eng)
	if rep.Cases != 1 || rep.Done != 12 || rep.Failed != 0 || rep.Skipped != 0 {
		t.Fatalf("first cycle: %+v, want 1 case and 12 effects done", rep)
	}
	c := crm.cases[0]
	if c.Fields["Status"] != "Off-boarding" || c.Account.Fields["Customer_Attrition__c"] != true || len(c.Tasks) != 7 {
		t.Errorf("after the first cycle: status %v, attrition %v, %d tasks", c.Fields["Status"], c.Account.Fields["Customer_Attrition__c"], len(c.Tasks))
	}
	if len(crm.applies) != 2 {
		t.Errorf("%d write batches, want 2 (one per action index with writes)", len(crm.applies))
	}
	for i, batch := range crm.applies {
		seen := map[string]bool{}
		for _, w := range batch {
			if w.Op == bot.OpUpdate {
				if seen[w.Object+w.ID] {
					t.Errorf("batch %d updates %s %s twice", i, w.Object, w.ID)
				}
				seen[w.Object+w.ID] = true
			}
		}
	}
	if !rep.Next.Equal(time.Date(2026, 11, 27, 14, 0, 0, 0, time.UTC)) {
		t.Errorf("next = %v, want the hold reminder on day 25, 09:00 in New York", rep.Next)
	}

	writes, posts, queries := len(crm.writes()), len(chat.posts), crm.queries
	rep = cycle(t, eng)
	if rep.Done != 0 || rep.Failed != 0 || rep.Skipped != 0 {
		t.Errorf("second cycle did something: %+v", rep)
	}
	if len(crm.writes()) != writes || len(chat.posts) != posts || crm.queries != queries+1 {
		t.Errorf("second cycle: %d writes, %d posts, %d queries; want none, none, one",
			len(crm.writes())-writes, len(chat.posts)-posts, crm.queries-queries)
	}
}

// A step's later actions wait for its earlier ones: when the account update fails, the status
// and the Slack message of that step wait for the next cycle, which retries the update.
func TestFailedActionHoldsTheRestOfItsStep(t *testing.T) {
	now := day0.Add(24*time.Hour + 15*time.Hour)
	eng, crm, store, chat := newSOP(t, &now)
	crm.fail["Account/001000000000001AAA"] = &bot.Error{Op: "update", Code: "UNABLE_TO_LOCK_ROW", Retryable: true}

	rep := cycle(t, eng)
	if rep.Failed != 1 {
		t.Fatalf("report %+v, want one failure", rep)
	}
	e := store.get(key("attrition", 1))
	if e.State != bot.StateFailed || !e.Retryable || e.Attempts != 1 || !strings.Contains(e.Detail, "UNABLE_TO_LOCK_ROW") {
		t.Errorf("ledger entry of the failed update: %+v", e)
	}
	for _, a := range []int{2, 3} {
		if e := store.get(key("attrition", a)); e.State != bot.StateClaimed || e.Attempts != 0 {
			t.Errorf("action %d of the failed step ran: %+v, want only its claim", a, e)
		}
	}
	if crm.cases[0].Fields["Status"] != "Legal Review" {
		t.Errorf("status = %v: the failed step's status must wait", crm.cases[0].Fields["Status"])
	}
	if got := chat.channels("/attrition/"); len(got) != 0 {
		t.Errorf("the failed step posted to %v", got)
	}
	// The retry waits a minute and some jitter, and the cycle says when.
	if wait := e.RetryAt.Sub(now); wait < time.Minute || wait > time.Minute+15*time.Second || !rep.Next.Equal(e.RetryAt) {
		t.Errorf("retry at %v, next %v; want both a minute (and up to 15s) later", e.RetryAt, rep.Next)
	}
	if rep = cycle(t, eng); rep.Done+rep.Failed != 0 {
		t.Errorf("a cycle before the retry time: %+v", rep)
	}

	now = e.RetryAt
	rep = cycle(t, eng)
	if rep.Done != 3 || rep.Failed != 0 {
		t.Fatalf("retry cycle: %+v, want the step's three actions done", rep)
	}
	if e := store.get(key("attrition", 1)); e.State != bot.StateDone || e.Attempts != 2 {
		t.Errorf("after the retry: %+v", e)
	}
	if crm.cases[0].Fields["Status"] != "Attrition Confirmed" || crm.cases[0].Account.Fields["Customer_Attrition__c"] != true {
		t.Errorf("after the retry: %v", crm.cases[0].Fields["Status"])
	}
}

// A task created just before a crash (its ledger entry lost) is found on the case by its key and
// not created again.
func TestTasksFoundOnTheCaseAreNotCreatedAgain(t *testing.T) {
	now := day0.Add(3*24*time.Hour + 15*time.Hour)
	eng, crm, store, _ := newSOP(t, &now)
	crm.cases[0].Tasks = []bot.Task{{ID: "00T000000000000XYZ", Key: key("offboarding-tasks", 1) + "/finance", Subject: "Confirm invoicing and payment status"}}

	cycle(t, eng)
	var created []string
	for _, w := range crm.writes() {
		if w.Op == bot.OpCreate {
			created = append(created, w.Fields[bot.KeyField].(string))
		}
	}
	if len(created) != 5 || slices.Contains(created, key("offboarding-tasks", 1)+"/finance") {
		t.Errorf("created %d tasks %v, want the 5 missing ones", len(created), created)
	}
	e := store.get(key("offboarding-tasks", 1))
	if e.State != bot.StateDone || !strings.Contains(e.Result, "00T000000000000XYZ") || strings.Count(e.Result, ",") != 5 {
		t.Errorf("ledger entry %+v, want done with all six task ids", e)
	}
}

// A message that reached some channels before failing is posted only to the others on retry.
func TestSlackRetryPostsOnlyWhereMissing(t *testing.T) {
	now := day0.Add(24*time.Hour + 15*time.Hour)
	eng, _, store, chat := newSOP(t, &now)
	chat.fail["#finance"] = &bot.Error{Op: "post", Code: "ratelimited", Retryable: true}

	cycle(t, eng)
	e := store.get(key("attrition", 3))
	if e.State != bot.StateFailed || !e.Retryable || !strings.Contains(e.Result, "#legal=") {
		t.Fatalf("after a partial post: %+v", e)
	}
	now = e.RetryAt
	cycle(t, eng)
	if got := chat.channels("/attrition/"); !slices.Equal(got, []string{"#legal", "#finance"}) {
		t.Errorf("posted to %v, want #legal once and then #finance", got)
	}
	if e := store.get(key("attrition", 3)); e.State != bot.StateDone || !strings.Contains(e.Result, "#finance=") {
		t.Errorf("after the retry: %+v", e)
	}
}

// Task owners are resolved once and remembered: a later step asks only for new usernames. An
// unknown owner fails the effect (retryably: the admin may fix the config) with a clear reason.
func TestTaskOwners(t *testing.T) {
	now := day0.Add(4*24*time.Hour + 15*time.Hour)
	eng, crm, store, _ := newSOP(t, &now)
	cycle(t, eng)
	if len(crm.userCalls) != 1 {
		t.Fatalf("%d UserIDs calls, want 1", len(crm.userCalls))
	}
	for _, w := range crm.writes() {
		if w.Op == bot.OpCreate && !strings.HasPrefix(w.Fields["OwnerId"].(string), "005") {
			t.Errorf("task %v has owner %v", w.Fields["Subject"], w.Fields["OwnerId"])
		}
	}

	delete(crm.users, "infrastructure@example.test")
	now = day0.Add(31*24*time.Hour + 15*time.Hour)
	cycle(t, eng) // approves data deletion, which opens the purge hand-off's gate in the same cycle
	if len(crm.userCalls) != 2 || !slices.Equal(crm.userCalls[1], []string{"infrastructure@example.test"}) {
		t.Errorf("UserIDs calls %v, want a second one for the new owner only", crm.userCalls)
	}
	e := store.get(key("purge-handoff", 1))
	if e.State != bot.StateFailed || !e.Retryable || !strings.Contains(e.Detail, `role "infrastructure": no active Salesforce user "infrastructure@example.test"`) {
		t.Errorf("purge task with an unknown owner: %+v", e)
	}
}

// Run cycles at once and then on the schedule, and returns when its context is done.
func TestRunCyclesOnSchedule(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		now := day0.Add(15 * time.Hour)
		eng, crm, _, _ := newSOP(t, &now)
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error)
		go func() { done <- eng.Run(ctx, "@every 1m") }()
		time.Sleep(3*time.Minute + 30*time.Second)
		synctest.Wait()
		cancel()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		// Four cycles: at start (two passes: the second finds nothing more to do), then
		// three idle ones of a single query each.
		if crm.queries != 5 {
			t.Errorf("%d queries in 3.5 minutes of @every 1m, want 5: four cycles, one at start", crm.queries)
		}
	})
}

func TestRunRejectsABadSchedule(t *testing.T) {
	now := day0
	eng, _, _, _ := newSOP(t, &now)
	if err := eng.Run(t.Context(), "every minute"); err == nil || !strings.Contains(err.Error(), `schedule "every minute"`) {
		t.Errorf("err = %v", err)
	}
}

// TestParallelPassesAsOne: a pass evaluates and renders its cases on every processor. Over
// enough cases to cut them into runs, the writes, posts and ledger are those of one processor,
// in the same order.
func TestParallelPassesAsOne(t *testing.T) {
	type world struct {
		writes []bot.Write
		posts  []bot.Message
		ledger map[string]bot.Ledger
	}
	run := func(procs int) world {
		defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(procs))
		clock := day0.Add(15 * time.Hour)
		eng, crm, store, chat := newSOP(t, &clock)
		one := crm.cases[0]
		ids := []string{one.ID}
		for i := 1; i < 4*minRun; i++ {
			c := *one
			c.ID = fmt.Sprintf("500%015d", i)
			c.Fields = maps.Clone(one.Fields)
			a := *one.Account
			a.ID = fmt.Sprintf("001%015d", i)
			a.Fields = maps.Clone(one.Account.Fields)
			c.Account = &a
			crm.cases = append(crm.cases, &c)
			ids = append(ids, c.ID)
		}
		for range 6 {
			cycle(t, eng)
			clock = clock.AddDate(0, 0, 1)
		}
		ledger, err := store.Entries(t.Context(), ids)
		if err != nil {
			t.Fatal(err)
		}
		return world{writes: crm.writes(), posts: chat.posts, ledger: ledger}
	}
	one, many := run(1), run(4)
	if len(one.writes) < 4*minRun {
		t.Fatalf("%d writes: the cases did too little to tell", len(one.writes))
	}
	if !reflect.DeepEqual(one.writes, many.writes) {
		t.Errorf("writes differ: %d on one processor, %d on four", len(one.writes), len(many.writes))
	}
	if !reflect.DeepEqual(one.posts, many.posts) {
		t.Errorf("posts differ: %d on one processor, %d on four", len(one.posts), len(many.posts))
	}
	if !reflect.DeepEqual(one.ledger, many.ledger) {
		t.Errorf("ledgers differ")
	}
}

// What cut cuts off can be appended to without overwriting the items after it, which the
// next chunks take.
func TestCutLeavesTheRest(t *testing.T) {
	items := []int{0, 0, 1, 1, 2}
	rest, of := cut(items, 0, func(i int) int { return i })
	of = append(of, 9)
	if !slices.Equal(rest, []int{1, 1, 2}) || !slices.Equal(of, []int{0, 0, 9}) {
		t.Errorf("rest %v, cut %v", rest, of)
	}
	rest, of = cut(rest, 1, func(i int) int { return i })
	if !slices.Equal(rest, []int{2}) || !slices.Equal(of, []int{1, 1}) {
		t.Errorf("rest %v, cut %v", rest, of)
	}
}
