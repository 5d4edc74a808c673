package engine

import (
	"errors"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"casebot/bot"
)

// crashWorld is an engine's fakes over a whole timeline, and what people do in between.
type crashWorld struct {
	opts   Options
	crm    *fakeCRM
	store  *memStore
	chat   *fakeChat
	mailer *fakeMailer
	caller *fakeCaller
	now    *time.Time
	times  []time.Time                      // when a cycle runs
	people func(now time.Time, c *bot.Case) // what people do to a case before a cycle
}

// effects is what a timeline left behind, by kind: each item with how often it was done.
type effects map[string]map[string]int

func (w *crashWorld) effects() effects {
	out := effects{"task": {}, "comment": {}, "email log": {}, "slack": {}, "mail": {}, "call": {}, "fields": {}}
	for _, c := range w.crm.cases {
		for _, t := range c.Tasks {
			out["task"][t.Key]++
		}
		out["fields"][fmt.Sprint(c.ID, sortedFields(c.Fields))]++
		if c.Account != nil {
			out["fields"][fmt.Sprint(c.Account.ID, sortedFields(c.Account.Fields))]++
		}
	}
	for _, wr := range w.crm.created {
		switch wr.Object {
		case "CaseComment":
			out["comment"][wr.Fields["CommentBody"].(string)]++
		case "EmailMessage":
			out["email log"][wr.Fields["MessageIdentifier"].(string)]++
		}
	}
	for _, p := range w.chat.posts {
		out["slack"][p.Channel+" "+p.Key]++
	}
	for _, m := range w.mailer.mails {
		out["mail"][m.MessageID+" "+m.Subject]++
	}
	for _, c := range w.caller.calls {
		out["call"][c]++
	}
	return out
}

// ledger is the state and attempts of every ledger entry of the world's cases, by key.
func (w *crashWorld) ledger(t *testing.T) map[string]string {
	var ids []string
	for _, c := range w.crm.cases {
		ids = append(ids, c.ID)
	}
	ledgers, err := w.store.Entries(t.Context(), ids)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, l := range ledgers {
		for k, e := range l {
			out[k] = fmt.Sprint(e.State, " ", e.Attempts)
		}
	}
	return out
}

func sortedFields(f bot.Fields) string {
	keys := slices.Sorted(maps.Keys(f))
	var b strings.Builder
	for _, k := range keys {
		fmt.Fprintf(&b, "%s=%v;", k, f[k])
	}
	return b.String()
}

// run runs the timeline; the process dies at the store's crashAt-th write (0: never) and is
// restarted at once, at the same time, as cron or systemd would. It reports whether it died.
func (w *crashWorld) run(t *testing.T, crashAt int) bool {
	t.Helper()
	dead := &atomic.Bool{}
	w.crm.dead, w.store.dead, w.chat.dead, w.mailer.dead, w.caller.dead = dead, dead, dead, dead, dead
	w.store.crashAt = crashAt
	eng, err := New(w.opts)
	if err != nil {
		t.Fatal(err)
	}
	crashed := false
	for _, at := range w.times {
		*w.now = at
		for _, c := range w.crm.cases {
			w.people(at, c)
		}
		_, err := eng.Cycle(t.Context())
		if dead.Load() {
			crashed = true
			dead.Store(false)
			w.store.crashAt = 0
			if eng, err = New(w.opts); err != nil { // a new process: nothing in memory
				t.Fatal(err)
			}
			_, err = eng.Cycle(t.Context())
		}
		if err != nil {
			t.Fatalf("at %v: %v", at, err)
		}
	}
	return crashed
}

// compare reports, per kind, what the run did that the reference did not, twice, or not at all.
// Mail is the exception casebot documents: sent again, with the same Message-ID, when the
// process died between the relay's acceptance and the ledger write.
func compare(t *testing.T, crashAt int, want, got effects) {
	t.Helper()
	for kind, items := range want {
		for item, n := range items {
			switch m := got[kind][item]; {
			case m == 0:
				t.Errorf("crash at write %d: %s missing: %s", crashAt, kind, item)
			case m > n && kind != "mail" && kind != "call":
				t.Errorf("crash at write %d: %s done %d times, want %d: %s", crashAt, kind, m, n, item)
			case kind == "mail" && m > n+1:
				t.Errorf("crash at write %d: mail sent %d times, want %d (one more only when the process died right after sending): %s", crashAt, m, n, item)
			}
		}
		for item := range got[kind] {
			if _, ok := items[item]; !ok {
				t.Errorf("crash at write %d: %s not in the reference run: %s", crashAt, kind, item)
			}
		}
	}
}

// A crash at every ledger write of a whole timeline (the process dies: that write and every
// call after it fail) followed by a restart leaves exactly the effects of a run without a
// crash: no record, post or call lost or doubled, the same final fields, and mail sent again
// only in the documented window, with the same Message-ID.
//
// In "chunked", three cases are each a chunk of their own (a case's effects are decided while
// the case before's are performed), against a reference that decides them together.
func TestCrashAtEveryLedgerWrite(t *testing.T) {
	for _, name := range []string{"sop", "actions", "chunked"} {
		t.Run(name, func(t *testing.T) {
			ref := newCrashWorld(t, name)
			chunked := name == "chunked"
			world := func() *crashWorld {
				w := newCrashWorld(t, name)
				if chunked {
					w.opts.chunk = 1
				}
				return w
			}
			if ref.run(t, 0) {
				t.Fatal("the reference run crashed")
			}
			want, writes := ref.effects(), ref.store.writes
			for _, kind := range []string{"slack", "fields"} {
				if len(want[kind]) == 0 {
					t.Fatalf("the reference run did no %s: %v", kind, want)
				}
			}
			if chunked {
				w := world()
				w.run(t, 0)
				compare(t, 0, want, w.effects())
				if got, want := w.ledger(t), ref.ledger(t); !maps.Equal(got, want) {
					t.Errorf("ledger %v, want %v", got, want)
				}
				writes = w.store.writes
			}
			// Writes queued while the ledger writes others are written together, so a run's
			// count of writes varies a little: a crash point beyond a run's writes is none.
			crashes := 0
			for n := 1; n <= writes; n++ {
				w := world()
				if !w.run(t, n) {
					if w.store.writes >= n {
						t.Fatalf("crash at write %d of %d did not happen", n, w.store.writes)
					}
					continue
				}
				crashes++
				compare(t, n, want, w.effects())
			}
			if crashes < writes*3/4 {
				t.Errorf("%d crashes of %d crash points", crashes, writes)
			}
			t.Logf("%d crash points, %d kinds of effect", crashes, len(want))
		})
	}
}

// newCrashWorld builds the world of a named timeline: the SOP over 40 days, Legal approving
// the deletion and the teams closing their tasks, or every kind of action with a reminder and
// an approval.
func newCrashWorld(t *testing.T, name string) *crashWorld {
	w := &crashWorld{now: new(time.Time)}
	var eng *Engine
	switch name {
	case "sop", "chunked":
		eng, w.crm, w.store, w.chat = newSOP(t, w.now)
		if name == "chunked" {
			for i := 2; i <= 3; i++ {
				c := *w.crm.cases[0]
				c.ID, c.Fields = fmt.Sprintf("%s%d", caseID[:len(caseID)-4], i)+"AAA", maps.Clone(c.Fields)
				c.Fields["CaseNumber"] = fmt.Sprintf("0000100%d", i)
				account := *c.Account
				account.ID, account.Fields = fmt.Sprintf("00100000000000%dAAA", i), maps.Clone(account.Fields)
				c.Account = &account
				w.crm.cases = append(w.crm.cases, &c)
			}
		}
		w.mailer, w.caller = &fakeMailer{}, &fakeCaller{}
		for d := 1; d <= 40; d++ {
			w.times = append(w.times, day0.AddDate(0, 0, d).Add(15*time.Hour))
		}
		w.people = func(now time.Time, c *bot.Case) {
			if now.Sub(day0) >= 30*24*time.Hour {
				c.Fields["Data_Deletion_Approved__c"] = true
			}
			for i := range c.Tasks {
				c.Tasks[i].Status, c.Tasks[i].IsClosed = "Completed", true
			}
		}
	default:
		eng, w.crm, w.store, w.chat, w.mailer, w.caller = newActions(t, w.now)
		for d := 1; d <= 5; d++ {
			w.times = append(w.times, time.Date(2026, 11, 2+d, 9, 0, 0, 0, time.UTC))
		}
		w.people = func(now time.Time, c *bot.Case) {
			if now.Day() >= 6 {
				c.Fields["Legal_Approved__c"] = true
			}
		}
	}
	eng.opts.Mailer, eng.opts.Caller = w.mailer, w.caller
	w.opts = eng.opts
	return w
}

// restart kills the process that runs eng when the store records key done, and returns a new
// engine on the same world, which nothing in memory survives.
func crashOnDone(t *testing.T, eng *Engine, key string) (restart func() *Engine) {
	t.Helper()
	dead := &atomic.Bool{}
	crm, store, chat := eng.opts.CRM.(*fakeCRM), eng.opts.Store.(*memStore), eng.opts.Chat.(*fakeChat)
	crm.dead, store.dead, chat.dead = dead, dead, dead
	store.crashOnDone = key
	return func() *Engine {
		t.Helper()
		if !dead.Load() {
			t.Fatal("the process did not die")
		}
		dead.Store(false)
		store.crashOnDone = ""
		next, err := New(eng.opts)
		if err != nil {
			t.Fatal(err)
		}
		return next
	}
}

// The attrition step's first action makes its own `when` false. A crash after it, before its
// outcome is recorded, used to record the whole step as skipped on restart: "Attrition
// Confirmed" and the Slack posts never happened. The claim makes the step decided: it finishes.
func TestStepWhoseActionFalsifiesItsWhenIsNotLost(t *testing.T) {
	now := day0.Add(24*time.Hour + 15*time.Hour)
	eng, crm, store, chat := newSOP(t, &now)
	restart := crashOnDone(t, eng, key("attrition", 1))
	if _, err := eng.Cycle(t.Context()); err == nil {
		t.Fatal("the cycle that crashed reported no error")
	}
	if crm.cases[0].Account.Fields["Customer_Attrition__c"] != true || store.get(key("attrition", 1)).State != bot.StateClaimed {
		t.Fatalf("before the restart: account %v, entry %+v", crm.cases[0].Account.Fields, store.get(key("attrition", 1)))
	}
	cycle(t, restart())
	for a := 1; a <= 3; a++ {
		if e := store.get(key("attrition", a)); e.State != bot.StateDone {
			t.Errorf("attrition/%d after the restart: %+v, want done", a, e)
		}
	}
	if crm.cases[0].Fields["Status"] != "Attrition Confirmed" || !slices.Equal(chat.channels("/attrition/3/"), []string{"#legal", "#finance"}) {
		t.Errorf("status %v, posts %v: the step was lost", crm.cases[0].Fields["Status"], chat.channels("/attrition/3/"))
	}
}

// A ledger written before skips were one transaction can hold the skip of some actions of a
// step only. The rest never run: a skipped step is never resumed.
func TestPartlySkippedStepNeverResumes(t *testing.T) {
	now := day0.Add(24*time.Hour + 15*time.Hour)
	eng, crm, store, chat := newSOP(t, &now)
	partial := bot.LedgerEntry{Key: key("attrition", 1), CaseID: caseID, Playbook: "termination-sop",
		Step: "attrition", State: bot.StateSkipped, Detail: "when false: !Account.Customer_Attrition__c", At: now.Add(-time.Hour)}
	if err := store.Store.Record(t.Context(), partial); err != nil {
		t.Fatal(err)
	}
	cycle(t, eng)
	for a := 2; a <= 3; a++ {
		if e := store.get(key("attrition", a)); e.State != "" {
			t.Errorf("attrition/%d of a skipped step: %+v", a, e)
		}
	}
	if crm.cases[0].Fields["Status"] == "Attrition Confirmed" || len(chat.channels("/attrition/")) != 0 {
		t.Errorf("the skipped step ran: status %v, posts %v", crm.cases[0].Fields["Status"], chat.channels("/attrition/"))
	}
}

// A step that closes the case, interrupted after the close and before its outcome is recorded:
// the query no longer finds the closed case, so the restart reads it by id, confirms the close
// and records it, and `why` tells the truth.
func TestCloseInterruptedIsConfirmed(t *testing.T) {
	now := time.Date(2026, 11, 3, 9, 0, 0, 0, time.UTC)
	eng, crm, store, _, _, _ := newActions(t, &now)
	cycle(t, eng)
	now = time.Date(2026, 11, 4, 9, 0, 0, 0, time.UTC)
	crm.cases[0].Fields["Legal_Approved__c"] = true
	restart := crashOnDone(t, eng, actionKey("approval", 1))
	eng.Cycle(t.Context())
	if crm.cases[0].Fields["Status"] != "Closed" || store.get(actionKey("approval", 1)).State != bot.StateClaimed {
		t.Fatalf("before the restart: status %v, entry %+v", crm.cases[0].Fields["Status"], store.get(actionKey("approval", 1)))
	}
	asked := len(crm.asked)
	cycle(t, restart())
	if e := store.get(actionKey("approval", 1)); e.State != bot.StateDone {
		t.Errorf("the close after the restart: %+v, want done", e)
	}
	if !slices.ContainsFunc(crm.asked[asked:], func(q bot.CaseQuery) bool { return q.AnyState && slices.Equal(q.IDs, []string{actionsCase}) }) {
		t.Errorf("queries %+v: the closed case was not read by id", crm.asked[asked:])
	}
	if claimed, _ := store.Claimed(t.Context()); len(claimed) != 0 {
		t.Errorf("still unconfirmed: %+v", claimed)
	}
	asked = len(crm.asked)
	cycle(t, eng)
	if len(crm.asked) != asked+1 {
		t.Errorf("%d queries once nothing is unconfirmed, want 1", len(crm.asked)-asked)
	}
}

// What an effect sends is rendered once, when it is claimed: a retry a day later sends the
// same bytes, not a text with another date in it.
func TestRetrySendsWhatWasClaimed(t *testing.T) {
	now := time.Date(2026, 11, 3, 9, 0, 0, 0, time.UTC)
	eng, crm, store, _, _, _ := newActions(t, &now)
	crm.fail["CaseComment/"] = &bot.Error{Op: "create CaseComment", Code: "UNABLE_TO_LOCK_ROW", Retryable: true}
	cycle(t, eng)
	claimed := store.get(actionKey("notify", 2))
	payload := store.get(actionKey("notify", 2)).Payload
	if claimed.State != bot.StateFailed || payload == "" {
		t.Fatalf("the failed comment: %+v, payload %q", claimed, payload)
	}
	now = now.Add(26 * time.Hour)
	cycle(t, eng)
	var bodies []string
	for _, w := range crm.created {
		if w.Object == "CaseComment" {
			bodies = append(bodies, w.Fields["CommentBody"].(string))
		}
	}
	if len(bodies) != 1 || !strings.Contains(bodies[0], "rendered Tue 3 Nov 2026") {
		t.Errorf("comments %q, want one rendered when it was claimed", bodies)
	}
	if e := store.get(actionKey("notify", 2)); e.State != bot.StateDone || e.Payload != payload {
		t.Errorf("after the retry: %+v", e)
	}
}

// A ledger whose file was removed or replaced stops the cycle before anything is read or done.
func TestUnwritableLedgerStopsTheCycle(t *testing.T) {
	now := day0.Add(24*time.Hour + 15*time.Hour)
	eng, crm, store, chat := newSOP(t, &now)
	store.broken = fmt.Errorf("ledger file casebot.db was removed")
	_, err := eng.Cycle(t.Context())
	var le *LedgerError
	if !errors.As(err, &le) || !strings.Contains(err.Error(), "was removed") {
		t.Fatalf("cycle error %v, want the ledger's", err)
	}
	if crm.queries+len(crm.applies)+len(chat.posts) != 0 {
		t.Errorf("%d queries, %d write batches, %d posts with a ledger that cannot be written", crm.queries, len(crm.applies), len(chat.posts))
	}
}

// A busy cycle writes the ledger in a few transactions per pass (the decisions, then one per
// phase), however many cases and effects it has.
func TestLedgerWritesAreBatched(t *testing.T) {
	now := day0.Add(4*24*time.Hour + 15*time.Hour)
	for _, n := range []int{1, 50} {
		eng, crm, store, _ := newSOP(t, &now)
		addCases(crm, n-1, nil)
		rep := cycle(t, eng)
		if rep.Done < 10*n {
			t.Fatalf("%d cases: %+v, want a busy cycle", n, rep)
		}
		if store.batches > 12 {
			t.Errorf("%d cases, %d effects: %d ledger transactions, want a few per pass", n, rep.Done+rep.Skipped, store.batches)
		}
	}
}

// A claim read back from the ledger is the effect that was decided, whatever its kind: every
// attempt performs the same thing.
func TestClaimRoundTrip(t *testing.T) {
	due := time.Date(2026, 11, 3, 14, 0, 0, 0, time.FixedZone("EST", -5*60*60))
	for _, eff := range []bot.Effect{
		{Kind: bot.KindUpdate, Object: "Account", RecordID: "001000000000001AAA", Fields: bot.Fields{"Customer_Attrition__c": true, "Note__c": nil, "Count__c": 3.0}},
		{Kind: bot.KindTasks, Tasks: []bot.TaskSpec{{Key: "k/1", Subject: "Confirm", OwnerRole: "finance", Due: "2026-11-12", Priority: "High", Description: "Kündigung – 解約"}}},
		{Kind: bot.KindEmail, Roles: []string{"account_team"}, Cc: []string{"legal"}, Addresses: []string{"it@acme.example"}, Template: "final"},
		{Kind: bot.KindComment, Template: "note", Public: true},
		{Kind: bot.KindSlack, Roles: []string{"legal"}, Template: "step-failed", Problem: "INVALID_FIELD: <!channel>"},
		{Kind: bot.KindHTTP, HTTP: &bot.HTTPCall{Endpoint: "provisioning", Method: "POST", Path: "/t/acme%2F1", Body: []byte(`{"reason":"termination"}`), Store: map[string]string{"Case.GUIDs__c": "guids"}}},
		{Kind: bot.KindEmail, Roles: []string{"customer"}, Template: "uninstall", Files: []bot.File{
			{Name: "removal.ps1", ContentType: "text/plain; charset=utf-8", Path: "scripts/removal.ps1", SHA256: "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"}}},
		{Kind: bot.KindAttach, Files: []bot.File{{Name: "guids.txt", ContentType: "text/plain; charset=utf-8", Template: "guids", Title: "Deactivated GUIDs"}}},
	} {
		eff.Key, eff.Playbook, eff.Step, eff.Action, eff.CaseID, eff.Due = key("s", 2), "termination-sop", "s", 2, caseID, due
		cl := claim{Effect: eff, Subject: "Termination", Text: "Dear customer", To: []string{"a@x.example"}, MessageID: "<m@x>", Data: "g-1\ng-2\n"}
		payload, err := cl.encode()
		if err != nil {
			t.Fatal(err)
		}
		got, err := decodeClaim(string(payload), bot.Effect{Key: eff.Key, Playbook: eff.Playbook, Step: eff.Step, Action: eff.Action, CaseID: eff.CaseID})
		if err != nil {
			t.Fatal(err)
		}
		if !got.Effect.Due.Equal(due) {
			t.Errorf("%s: due %v, want %v", eff.Kind, got.Effect.Due, due)
		}
		got.Effect.Due, eff.Due = time.Time{}, time.Time{}
		if !reflect.DeepEqual(got.Effect, eff) || got.Text != cl.Text || got.MessageID != cl.MessageID || got.Data != cl.Data {
			t.Errorf("%s: claim read back as\n%#v\nwant\n%#v", eff.Kind, got.Effect, eff)
		}
	}
}
