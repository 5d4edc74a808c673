package engine

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"casebot/bot"
	"casebot/rules"
	"casebot/templates"
)

// addCases adds n copies of the SOP test case, with their own ids and accounts, edited by
// edit, and returns their ids.
func addCases(crm *fakeCRM, n int, edit func(c *bot.Case)) []string {
	base := crm.cases[0]
	var ids []string
	for i := range n {
		c := &bot.Case{ID: fmt.Sprintf("500%012dAAA", i+2), Fields: maps.Clone(base.Fields),
			Account: &bot.Account{ID: fmt.Sprintf("001%012dAAA", i+2), Fields: maps.Clone(base.Account.Fields)}}
		if edit != nil {
			edit(c)
		}
		crm.cases = append(crm.cases, c)
		ids = append(ids, c.ID)
	}
	return ids
}

// logTo sends the engine's log to a buffer.
func logTo(e *Engine) *bytes.Buffer {
	var buf bytes.Buffer
	e.log = slog.New(slog.NewTextHandler(&buf, nil))
	return &buf
}

// Twenty cases whose off-boarding tasks need an owner Salesforce does not know cost one
// UserIDs query, not one per case and cycle; the unknown name is asked again only after
// missTTL, and then a user created meanwhile is found.
func TestUnknownOwnersAreLookedUpOnce(t *testing.T) {
	start := day0.Add(3*24*time.Hour + 15*time.Hour)
	now := start
	eng, crm, store, _ := newSOP(t, &now)
	ids := append([]string{caseID}, addCases(crm, 19, nil)...)
	finance := crm.users["finance@example.test"]
	delete(crm.users, "finance@example.test")
	tasksKey := func(id string) string { return bot.EffectKey("termination-sop", "offboarding-tasks", 1, id) }

	cycle(t, eng)
	if len(crm.userCalls) != 1 {
		t.Fatalf("%d UserIDs calls for 20 cases, want 1", len(crm.userCalls))
	}
	for _, id := range ids {
		if e := store.get(tasksKey(id)); e.State != bot.StateFailed || !e.Retryable || !strings.Contains(e.Detail, "UNKNOWN_USER") {
			t.Fatalf("tasks of %s: %+v, want a retryable UNKNOWN_USER", id, e)
		}
	}

	now = start.Add(time.Minute + 15*time.Second) // the retry is due, jitter included; the miss is remembered
	cycle(t, eng)
	if len(crm.userCalls) != 1 {
		t.Errorf("%d UserIDs calls after a retry within %v, want still 1", len(crm.userCalls), missTTL)
	}
	if e := store.get(tasksKey(caseID)); e.State != bot.StateFailed || e.Attempts != 2 || !e.Retryable {
		t.Errorf("after the retry: %+v", e)
	}

	crm.users["finance@example.test"] = finance // the admin creates the user
	now = start.Add(missTTL + time.Minute)
	cycle(t, eng)
	if len(crm.userCalls) != 2 || !slices.Equal(crm.userCalls[1], []string{"finance@example.test"}) {
		t.Errorf("UserIDs calls %v, want a second one for the unknown name only", crm.userCalls)
	}
	for _, id := range ids {
		if e := store.get(tasksKey(id)); e.State != bot.StateDone {
			t.Errorf("tasks of %s once the user exists: %+v", id, e)
		}
	}
}

// A retryable failure is retried after a growing backoff (or the provider's Retry-After when
// longer), not every cycle, and however often it takes: an outage must not end a termination.
// Only a permanent error fails an effect for good, which is logged and counted, and the step
// shows failed.
func TestRetryBackoffNeverGivesUpOnRetryableErrors(t *testing.T) {
	now := day0.Add(24*time.Hour + 15*time.Hour)
	eng, crm, store, _ := newSOP(t, &now)
	logs := logTo(eng)
	lock := &bot.Error{Op: "update Account", Code: "UNABLE_TO_LOCK_ROW", Retryable: true, RetryAfter: 90 * time.Second}
	var refuse error = lock
	crm.check = func(w bot.Write) error {
		if w.Object == "Account" {
			return refuse
		}
		return nil
	}
	k := key("attrition", 1)
	accountWrites := func() int {
		n := 0
		for _, w := range crm.writes() {
			if w.Object == "Account" {
				n++
			}
		}
		return n
	}
	const attempts = 14
	for attempt := 1; attempt <= attempts; attempt++ {
		cycle(t, eng)
		e := store.get(k)
		if e.Attempts != attempt || accountWrites() != attempt {
			t.Fatalf("attempt %d: entry %+v after %d writes", attempt, e, accountWrites())
		}
		wait := max(min(time.Minute<<(attempt-1), 6*time.Hour), 90*time.Second)
		if got := e.RetryAt.Sub(now); !e.Retryable || got < wait || got > wait+wait/4 {
			t.Fatalf("attempt %d: retry after %v (retryable %v), want %v plus at most a quarter", attempt, got, e.Retryable, wait)
		}
		now = e.RetryAt.Add(-time.Second)
		if cycle(t, eng); accountWrites() != attempt {
			t.Fatalf("attempt %d retried before its time", attempt)
		}
		now = e.RetryAt
	}
	if !strings.Contains(logs.String(), `level=ERROR msg="effect failed"`) {
		t.Errorf("an effect failing for hours was not logged as an error:\n%s", logs)
	}

	refuse = &bot.Error{Op: "update Account", Code: "FIELD_CUSTOM_VALIDATION_EXCEPTION", Message: "locked account"}
	cycle(t, eng)
	e := store.get(k)
	if e.Retryable || e.State != bot.StateFailed || !strings.Contains(e.Detail, "FIELD_CUSTOM_VALIDATION_EXCEPTION") {
		t.Fatalf("after a permanent error: %+v, want failed for good", e)
	}
	if !strings.Contains(logs.String(), `level=ERROR msg="effect failed for good"`) {
		t.Errorf("failing for good was not logged as an error:\n%s", logs)
	}
	now = now.Add(24 * time.Hour)
	cycle(t, eng)
	if accountWrites() != attempts+1 {
		t.Errorf("%d writes: tried again after a permanent error", accountWrites())
	}
	ledgers, err := store.Entries(t.Context(), []string{caseID})
	if err != nil {
		t.Fatal(err)
	}
	cases, _ := crm.Cases(t.Context(), bot.CaseQuery{})
	res := eng.opts.Playbooks[0].Evaluate(cases[0], ledgers[caseID], now)
	if st := stepState(res.Steps, "attrition"); st.State != rules.StateFailed {
		t.Errorf("step state %s %q, want failed", st.State, st.Reason)
	}
}

func TestRetryAt(t *testing.T) {
	now := day0
	limit := &bot.Error{Code: "REQUEST_LIMIT_EXCEEDED", Retryable: true, RetryAfter: 2 * time.Hour}
	for _, tt := range []struct {
		attempts int
		err      error
		want     time.Duration
	}{
		{1, errors.New("x"), time.Minute},
		{2, errors.New("x"), 2 * time.Minute},
		{5, errors.New("x"), 16 * time.Minute},
		{9, errors.New("x"), 256 * time.Minute},
		{10, errors.New("x"), 6 * time.Hour},
		{64, errors.New("x"), 6 * time.Hour},
		{1, fmt.Errorf("posting: %w", limit), 2 * time.Hour},
		{8, limit, 128 * time.Minute},
	} {
		spread := map[time.Duration]bool{}
		for i := range 20 {
			key := fmt.Sprintf("p/s/1/case-%d", i)
			got := retryAt(now, key, tt.attempts, tt.err).Sub(now)
			if got < tt.want || got > tt.want+tt.want/4 {
				t.Errorf("retryAt(%s, %d attempts, %v) = now + %v, want + %v plus at most a quarter", key, tt.attempts, tt.err, got, tt.want)
			}
			if again := retryAt(now, key, tt.attempts, tt.err).Sub(now); again != got {
				t.Errorf("retryAt(%s) = %v, then %v: want the same", key, got, again)
			}
			spread[got] = true
		}
		if len(spread) < 5 && !errors.Is(tt.err, limit) {
			t.Errorf("%d attempts: 20 keys retry at only %d different times: no jitter", tt.attempts, len(spread))
		}
	}
}

// A ledger that refuses the cycle's decisions stops the cycle before anything is performed:
// nothing is done that the ledger does not know was decided.
func TestLedgerRefusingDecisionsPerformsNothing(t *testing.T) {
	now := day0.Add(4*24*time.Hour + 15*time.Hour)
	eng, crm, store, chat := newSOP(t, &now)
	store.fail = map[string]error{key("case-opened", 1): errors.New("disk I/O error")}
	_, err := eng.Cycle(t.Context())
	var le *LedgerError
	if !errors.As(err, &le) || !strings.Contains(err.Error(), "disk I/O error") {
		t.Fatalf("cycle error %v, want a ledger error", err)
	}
	if len(crm.applies) != 0 || len(chat.posts) != 0 {
		t.Errorf("%d write batches and %d posts after the ledger refused the decisions, want none", len(crm.applies), len(chat.posts))
	}
	if n := len(store.All()); n != 0 {
		t.Errorf("ledger has %d entries, want none: the decisions are one transaction", n)
	}
}

// An effect performed when the cycle's context is cancelled is still recorded, and the
// messages not yet begun are left alone.
func TestCancelRecordsTheEffectInFlight(t *testing.T) {
	now := day0.Add(24*time.Hour + 15*time.Hour)
	eng, _, store, chat := newSOP(t, &now)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	chat.onPost = func(bot.Message) { cancel() }
	if _, err := eng.Cycle(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("cycle error %v, want context.Canceled", err)
	}
	if e := store.get(key("case-opened", 2)); e.State != bot.StateDone || strings.Count(e.Result, "=") != 4 {
		t.Errorf("the message in flight: %+v, want recorded with its four channels", e)
	}
	if e := store.get(key("attrition", 3)); e.State != bot.StateClaimed || e.Result != "" {
		t.Errorf("a later message ran: %+v, want only its claim", e)
	}
}

// When Run is stopped, the cycle finishes the message in flight and records it; the messages
// of the phase not yet begun are not performed (their claims wait for the next run), and Run
// returns.
func TestStopLeavesTheRestOfThePhase(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		now := day0.Add(24*time.Hour + 15*time.Hour)
		eng, _, store, chat := newSOP(t, &now)
		others := addCases(eng.opts.CRM.(*fakeCRM), 2, nil)
		ctx, cancel := context.WithCancel(t.Context())
		var once sync.Once
		chat.onPost = func(bot.Message) {
			once.Do(func() {
				cancel()        // SIGTERM
				synctest.Wait() // until Run has seen it
			})
		}
		done := make(chan error)
		go func() { done <- eng.Run(ctx, "@every 1m") }()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		if len(chat.posts) != 4 {
			t.Errorf("%d posts, want the four channels of the message in flight", len(chat.posts))
		}
		first := store.get(key("case-opened", 2))
		if first.State != bot.StateDone {
			t.Errorf("the message in flight: %+v", first)
		}
		for _, id := range others {
			if e := store.get(bot.EffectKey("termination-sop", "case-opened", 2, id)); e.State != bot.StateClaimed || e.Attempts != 0 {
				t.Errorf("a message not begun: %+v, want only its claim", e)
			}
			if e := store.get(bot.EffectKey("termination-sop", "case-opened", 1, id)); e.State != bot.StateDone {
				t.Errorf("the phase's writes, performed before the stop: %+v", e)
			}
		}
	})
}

// The engine keeps its cases' ledgers between cycles and reads what was written since: a
// case's ledger is read whole once, and a write by someone else (casebot retry, another
// process) is seen by the next cycle.
func TestLedgerKeptBetweenCycles(t *testing.T) {
	now := day0.Add(24*time.Hour + 15*time.Hour)
	eng, crm, store, _ := newSOP(t, &now)
	refuse := true
	crm.check = func(w bot.Write) error {
		if w.Object == "Account" && refuse {
			return &bot.Error{Op: "update Account", Code: "FIELD_CUSTOM_VALIDATION_EXCEPTION", Message: "locked account"}
		}
		return nil
	}
	cycle(t, eng)
	k := key("attrition", 1)
	if e := store.get(k); e.State != bot.StateFailed || e.Retryable {
		t.Fatalf("%+v, want failed for good", e)
	}
	cycle(t, eng)
	if store.read != 1 {
		t.Errorf("the case's ledger was read whole %d times in two cycles, want once", store.read)
	}
	// casebot retry, in another process: the failed entry due again.
	e := store.get(k)
	e.Retryable, e.RetryAt, e.Attempts = true, time.Time{}, 0
	if err := store.Record(t.Context(), e); err != nil {
		t.Fatal(err)
	}
	refuse = false
	cycle(t, eng)
	if e := store.get(k); e.State != bot.StateDone {
		t.Errorf("after the retry written by another process: %+v, want done", e)
	}
	if store.read != 1 {
		t.Errorf("the case's ledger was read whole %d times, want once", store.read)
	}
}

// A replica whose Run was stopped (its lease lost) and that runs again once it won the lease
// back acts: the stop of the first Run does not cut its cycles short.
func TestRunAgainAfterAStop(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		now := day0.Add(24*time.Hour + 15*time.Hour)
		eng, _, store, chat := newSOP(t, &now)
		ctx, cancel := context.WithCancel(t.Context())
		chat.onPost = func(bot.Message) { cancel() } // the lease is lost mid-cycle
		if err := eng.Run(ctx, "@every 1m"); err != nil {
			t.Fatal(err)
		}
		chat.onPost = nil
		ctx, cancel = context.WithCancel(t.Context())
		defer cancel()
		rep, err := eng.CycleUntil(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if rep.Read == 0 || rep.Cases == 0 {
			t.Errorf("the cycle after the stop read %d playbooks and %d cases: it did nothing", rep.Read, rep.Cases)
		}
		if e := store.get(key("attrition", 3)); e.State != bot.StateDone {
			t.Errorf("a message left by the stop: %+v, want sent by the next Run", e)
		}
	})
}

// Two steps set the case's status in one phase, merged into one write; Salesforce refuses the
// value of one of them. Each step's own update is then sent again on its own: the other step
// succeeds.
func TestMergedUpdateFailureIsSplit(t *testing.T) {
	now := day0.Add(4*24*time.Hour + 15*time.Hour)
	eng, crm, store, _ := newSOP(t, &now)
	crm.check = func(w bot.Write) error {
		if w.Object == "Case" && w.Fields["Status"] == "Termination Notified" {
			return &bot.Error{Op: "update Case", Code: "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST", Message: "Status"}
		}
		return nil
	}
	cycle(t, eng)
	if e := store.get(key("case-opened", 1)); e.State != bot.StateDone || e.Result != caseID {
		t.Errorf("the step whose value is fine: %+v, want done", e)
	}
	if e := store.get(key("termination-notice", 1)); e.State != bot.StateFailed || e.Retryable ||
		!strings.Contains(e.Detail, "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST") {
		t.Errorf("the step whose value is refused: %+v, want failed for good", e)
	}
	if len(crm.applies) < 3 {
		t.Fatalf("%d write batches, want the merged one and one per step", len(crm.applies))
	}
	for i, want := range []string{"Legal Review", "Termination Notified"} {
		ws := crm.applies[1+i]
		if len(ws) != 1 || ws[0].Object != "Case" || ws[0].ID != caseID || len(ws[0].Fields) != 1 || ws[0].Fields["Status"] != want {
			t.Errorf("extra batch %d: %+v, want the Case update of one step, Status %s", i+1, ws, want)
		}
	}
}

// panicRenderer panics when asked for one template.
type panicRenderer struct {
	Renderer
	name string
}

func (r panicRenderer) RenderComment(name string, d templates.Data) (string, error) {
	if name == r.name {
		panic("template exploded")
	}
	return r.Renderer.RenderComment(name, d)
}

// A panic while rendering an effect fails that effect for good, with the panic in its ledger
// entry; nothing of its step is performed (a step that cannot be completed is not begun), and
// the cycle goes on.
func TestPanicFailsOneEffect(t *testing.T) {
	now := time.Date(2026, 11, 3, 9, 0, 0, 0, time.UTC)
	eng, _, store, _, mailer, _ := newActions(t, &now)
	eng.opts.Templates = panicRenderer{Renderer: eng.opts.Templates, name: "record"}
	logs := logTo(eng)
	rep, err := eng.Cycle(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	e := store.get(actionKey("notify", 2))
	if e.State != bot.StateFailed || e.Retryable || !strings.Contains(e.Detail, "PANIC: template exploded") {
		t.Errorf("the comment that panicked: %+v, want failed for good with the panic", e)
	}
	if rep.Failed != 1 || len(mailer.mails) != 0 || store.get(actionKey("notify", 1)).State != bot.StateClaimed {
		t.Errorf("report %+v, %d mails: the mail of the same step must wait", rep, len(mailer.mails))
	}
	if !strings.Contains(logs.String(), "template exploded") || !strings.Contains(logs.String(), "level=ERROR msg=panic") {
		t.Errorf("the panic was not logged:\n%s", logs)
	}
}

// An observer that panics (the demo's printer, say) is logged and breaks nothing: every
// outcome is recorded and the cycle goes on.
func TestPanickingObserverBreaksNothing(t *testing.T) {
	now := day0.Add(24*time.Hour + 15*time.Hour)
	eng, _, store, _ := newSOP(t, &now)
	logs := logTo(eng)
	bad := addCases(eng.opts.CRM.(*fakeCRM), 1, func(c *bot.Case) { c.Account.Fields["Customer_Attrition__c"] = true })[0]
	eng.opts.Observe = func(ev Event) {
		if ev.Case.ID == bad && ev.Outcome == Skipped {
			panic(fmt.Sprintf("observer failed on %s", ev.Effect.Key))
		}
	}
	rep, err := eng.Cycle(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if e := store.get(bot.EffectKey("termination-sop", "attrition", 1, bad)); e.State != bot.StateSkipped {
		t.Errorf("the skipped step of the case whose event panicked: %+v", e)
	}
	if rep.Failed != 0 || store.get(key("attrition", 3)).State != bot.StateDone {
		t.Errorf("report %+v: the other case's steps must be done", rep)
	}
	if !strings.Contains(logs.String(), "observer failed on") {
		t.Errorf("the panic was not logged:\n%s", logs)
	}
}

// A logged mail is dated when it was sent, not when its step came due.
func TestLoggedMailIsDatedWhenSent(t *testing.T) {
	now := time.Date(2026, 11, 3, 11, 30, 0, 0, time.UTC) // the step came due at 08:00
	eng, crm, _, _, _, _ := newActions(t, &now)
	cycle(t, eng)
	for _, w := range crm.created {
		if w.Object == "EmailMessage" && w.Fields["MessageDate"] != "2026-11-03T11:30:00.000+0000" {
			t.Errorf("MessageDate %v, want the time it was sent", w.Fields["MessageDate"])
		}
	}
}

// A cycle that makes progress on 1 of 500 cases reads only that case again.
func TestLaterPassesReadOnlyProgressedCases(t *testing.T) {
	now := day0.Add(24*time.Hour + 15*time.Hour)
	eng, crm, _, _ := newSOP(t, &now)
	addCases(crm, 499, func(c *bot.Case) { // not confirmed yet: nothing is due
		c.Fields["CreatedDate"], c.Fields["Termination_Confirmed__c"], c.Fields["Deprovision_Date__c"] = nil, nil, nil
	})
	rep := cycle(t, eng)
	if rep.Cases != 500 || rep.Done != 5 {
		t.Fatalf("report %+v, want 500 cases and the five effects of one", rep)
	}
	if len(crm.asked) != 2 || len(crm.asked[0].IDs) != 0 || !slices.Equal(crm.asked[1].IDs, []string{caseID}) {
		t.Errorf("%d queries, ids %v: want all cases, then only the one that progressed", len(crm.asked), crm.asked[len(crm.asked)-1].IDs)
	}
}

// When more cases progressed than fit in one query's id list, the next pass reads every case
// again: one query of 2,000 costs less than many of 150 ids.
func TestLaterPassesReadAllWhenManyProgressed(t *testing.T) {
	now := day0.Add(24*time.Hour + 15*time.Hour)
	eng, crm, _, _ := newSOP(t, &now)
	addCases(crm, maxIDsPerPass, func(*bot.Case) {}) // every case has the same steps due
	cycle(t, eng)
	if len(crm.asked) < 2 || len(crm.asked[1].IDs) != 0 {
		t.Errorf("%d queries; the second names %d ids, want none (a full read) for %d progressed cases",
			len(crm.asked), len(crm.asked[1].IDs), maxIDsPerPass+1)
	}
}

// A reminder is sent in a pass that progressed on other cases: only the cases that progress
// wait for the next pass.
func TestReminderNotHeldByOtherCases(t *testing.T) {
	now := time.Date(2026, 11, 4, 9, 0, 0, 0, time.UTC) // day 2: the gate is due and closed
	eng, crm, _, chat, _, _ := newActions(t, &now)
	cycle(t, eng)
	crm.cases = append(crm.cases, &bot.Case{ID: "500000000000003AAA",
		Fields: maps.Clone(crm.cases[0].Fields), Account: &bot.Account{ID: "001000000000003AAA", Fields: maps.Clone(crm.cases[0].Account.Fields)}})
	crm.cases[1].Fields["Termination_Confirmed__c"] = "2026-11-04" // notified today
	crm.cases[1].Fields["Status"] = "New"
	now = now.Add(24 * time.Hour)
	cycle(t, eng)
	if got := chat.channels("/approval/remind-1/" + actionsCase); !slices.Equal(got, []string{"#legal"}) {
		t.Errorf("reminder of the waiting case went to %v, want #legal", got)
	}
	if crm.cases[1].Fields["Status"] != "Working" {
		t.Errorf("the new case's status %v: it was not settled", crm.cases[1].Fields["Status"])
	}
}

// A write cut off by shutdown or a deadline failed through no fault of its own: it is retried.
func TestCancelledCallIsRetried(t *testing.T) {
	now := day0.Add(24*time.Hour + 15*time.Hour)
	eng, crm, store, _ := newSOP(t, &now)
	crm.fail["Account/001000000000001AAA"] = fmt.Errorf("update Account: %w", context.Canceled)
	cycle(t, eng)
	e := store.get(key("attrition", 1))
	if e.State != bot.StateFailed || !e.Retryable || e.RetryAt.IsZero() {
		t.Errorf("a cancelled write: %+v, want failed and retryable", e)
	}
	crm.fail["Account/001000000000001AAA"] = fmt.Errorf("update Account: %w", context.DeadlineExceeded)
	now = e.RetryAt
	cycle(t, eng)
	if e := store.get(key("attrition", 1)); !e.Retryable || e.Attempts != 2 {
		t.Errorf("a write past its deadline: %+v, want retryable after a second attempt", e)
	}
}

// A panic in the batch that logs a sent mail fails that mail for good and keeps its result:
// the mail is not sent again.
func TestPanicWhileLoggingAMail(t *testing.T) {
	now := time.Date(2026, 11, 3, 9, 0, 0, 0, time.UTC)
	eng, crm, store, _, mailer, _ := newActions(t, &now)
	crm.panicOn = "EmailMessage"
	cycle(t, eng)
	e := store.get(actionKey("notify", 1))
	if e.State != bot.StateFailed || e.Retryable || !strings.Contains(e.Detail, "PANIC") || !strings.Contains(e.Result, "sent=") {
		t.Errorf("mail whose log panicked: %+v", e)
	}
	cycle(t, eng)
	if len(mailer.mails) != 1 {
		t.Errorf("%d mails sent, want 1", len(mailer.mails))
	}
}

// Diagnose names what stops cycles, in the words /readyz and the log use.
func TestDiagnose(t *testing.T) {
	for _, tt := range []struct {
		err  error
		want string
	}{
		{nil, ""},
		{&LedgerError{Err: errors.New("ledger file x.db was removed")}, "the ledger cannot be used: ledger file x.db was removed"},
		{fmt.Errorf("playbook p: %w", &CRMError{Err: fmt.Errorf("reading cases: %w",
			&bot.Error{Op: "log in to Salesforce", Code: "invalid_client", Login: true})}),
			"the Salesforce login is refused: log in to Salesforce: invalid_client"},
		{&CRMError{Err: &bot.Error{Op: "query Case", Code: "TRANSPORT", Message: "connection refused", Retryable: true}},
			"Salesforce is unreachable or overloaded: query Case: TRANSPORT: connection refused"},
		{&CRMError{Err: &bot.Error{Op: "query Case", Code: "INVALID_FIELD"}}, "Salesforce refused to give the cases: query Case: INVALID_FIELD"},
		{errors.New("boom"), "the last cycle failed: boom"},
		{&LedgerError{Err: fmt.Errorf("recording 3 outcome(s): %w", bot.ErrLeaseLost)},
			"another replica took over the ledger's lease: this one stands by"},
	} {
		if got := Diagnose(tt.err); got != tt.want {
			t.Errorf("Diagnose(%v) = %q, want %q", tt.err, got, tt.want)
		}
	}
}
