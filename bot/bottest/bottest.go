// Package bottest holds conformance suites for implementations of casebot's ports, so that
// every store (SQLite, PostgreSQL) is held to one contract.
package bottest

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"casebot/bot"
)

// TestStore runs the bot.Store conformance suite. open returns a new, empty store for one
// subtest; the suite closes it.
func TestStore(t *testing.T, open func(t *testing.T) bot.Store) {
	start := func(t *testing.T) bot.Store {
		t.Helper()
		s := open(t)
		t.Cleanup(func() {
			if err := s.Close(); err != nil {
				t.Errorf("Close: %v", err)
			}
		})
		return s
	}

	t.Run("RecordAndRead", func(t *testing.T) {
		s := start(t)
		e := entry("c1", "attrition", 1, bot.StateDone)
		e.Result = "001000000000001AAA,1700000000.000001"
		record(t, s, e)
		expect(t, s, map[string]bot.Ledger{"c1": {e.Key: e}}, "c1")
	})

	t.Run("Replace", func(t *testing.T) {
		s := start(t)
		first := entry("c1", "attrition", 1, bot.StateFailed)
		first.Detail, first.Attempts, first.Retryable = "503 Service Unavailable", 1, true
		record(t, s, first)
		second := entry("c1", "attrition", 1, bot.StateDone)
		second.Result, second.Attempts, second.At = "ts-2", 2, first.At.Add(time.Minute)
		record(t, s, second)
		expect(t, s, map[string]bot.Ledger{"c1": {second.Key: second}}, "c1")
	})

	t.Run("GroupedByCase", func(t *testing.T) {
		s := start(t)
		want := map[string]bot.Ledger{}
		for _, c := range []string{"c1", "c2", "c3"} {
			want[c] = bot.Ledger{}
			for action := 1; action <= 3; action++ {
				e := entry(c, "offboarding-tasks", action, bot.StateDone)
				record(t, s, e)
				want[c][e.Key] = e
			}
		}
		skipped := entry("c2", "hold-reminder", 1, bot.StateSkipped)
		skipped.Detail = "condition false: !Case.Termination_Hold__c"
		record(t, s, skipped)
		want["c2"][skipped.Key] = skipped

		delete(want, "c3")
		expect(t, s, want, "c1", "c2")
	})

	t.Run("UnknownCases", func(t *testing.T) {
		s := start(t)
		e := entry("c1", "attrition", 1, bot.StateDone)
		record(t, s, e)
		// Unknown cases are absent from the result; a repeated id is read once.
		expect(t, s, map[string]bot.Ledger{"c1": {e.Key: e}}, "nobody", "c1", "c1", "nobody-else")
	})

	t.Run("EmptyInput", func(t *testing.T) {
		s := start(t)
		record(t, s, entry("c1", "attrition", 1, bot.StateDone))
		for _, ids := range [][]string{nil, {}} {
			if got := entries(t, s, ids...); len(got) != 0 {
				t.Errorf("Entries(%#v) = %v, want none", ids, got)
			}
		}
	})

	t.Run("ManyCases", func(t *testing.T) {
		// More ids than one statement of most stores takes, so the store has to split them.
		s := start(t)
		const n = 2345 // not a round number: a last, partial batch
		ids := make([]string, n)
		want := map[string]bot.Ledger{}
		for i := range ids {
			ids[i] = fmt.Sprintf("case-%05d", i)
			if i%2 == 0 { // every other case has an entry
				e := entry(ids[i], "attrition", 1, bot.StateDone)
				record(t, s, e)
				want[ids[i]] = bot.Ledger{e.Key: e}
			}
		}
		expect(t, s, want, ids...)
	})

	t.Run("Concurrent", func(t *testing.T) {
		s := start(t)
		const workers, each = 8, 25
		var wg sync.WaitGroup
		errs := make(chan error, workers*each)
		for w := range workers {
			wg.Go(func() {
				// Workers record one entry at a time, or batches of two or three.
				var batch []bot.LedgerEntry
				for i := range each {
					batch = append(batch, entry(fmt.Sprintf("c%d", i%5), fmt.Sprintf("w%d", w), i+1, bot.StateDone))
					if len(batch) > w%3 || i == each-1 {
						if err := s.Record(t.Context(), batch...); err != nil {
							errs <- err
						}
						batch = nil
					}
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Errorf("concurrent Record: %v", err)
		}
		total := 0
		for _, l := range entries(t, s, "c0", "c1", "c2", "c3", "c4") {
			total += len(l)
		}
		if total != workers*each {
			t.Errorf("%d entries after concurrent records, want %d", total, workers*each)
		}
	})

	t.Run("TimeRoundTrip", func(t *testing.T) {
		s := start(t)
		zone := time.FixedZone("UTC-5", -5*60*60)
		// Microseconds: what every store keeps (PostgreSQL's timestamptz keeps no more).
		at := time.Date(2026, 11, 21, 9, 30, 15, 123456000, zone)
		e := entry("c1", "final-notice", 1, bot.StateDone)
		e.At = at
		record(t, s, e)
		got := entries(t, s, "c1")["c1"][e.Key].At
		if !got.Equal(at) {
			t.Errorf("At = %v, want %v", got, at)
		}
		if got.Location() != time.UTC {
			t.Errorf("At is in %v, want UTC", got.Location())
		}
	})

	t.Run("RetryAt", func(t *testing.T) {
		s := start(t)
		retryAt := time.Date(2026, 11, 21, 9, 32, 15, 654321000, time.FixedZone("UTC+2", 2*60*60))
		failed := entry("c1", "attrition", 1, bot.StateFailed)
		failed.Detail, failed.Retryable, failed.RetryAt = "503 Service Unavailable", true, retryAt
		record(t, s, failed)
		done := entry("c1", "attrition", 2, bot.StateDone)
		record(t, s, done)
		expect(t, s, map[string]bot.Ledger{"c1": {failed.Key: failed, done.Key: done}}, "c1")
		got := entries(t, s, "c1")["c1"]
		if g := got[failed.Key].RetryAt; !g.Equal(retryAt) || g.Location() != time.UTC {
			t.Errorf("RetryAt = %v, want %v in UTC", g, retryAt)
		}
		if g := got[done.Key].RetryAt; !g.IsZero() {
			t.Errorf("RetryAt of an entry without one = %v, want zero", g)
		}
		// The retry succeeds: the replaced entry has no retry time any more.
		retried := failed
		retried.State, retried.Detail, retried.Retryable, retried.RetryAt, retried.Attempts = bot.StateDone, "", false, time.Time{}, 2
		record(t, s, retried)
		expect(t, s, map[string]bot.Ledger{"c1": {retried.Key: retried, done.Key: done}}, "c1")
	})

	t.Run("Invalid", func(t *testing.T) {
		s := start(t)
		claimed := claim(entry("c1", "attrition", 1, bot.StateClaimed))
		record(t, s, claimed)
		// A batch is written whole or not at all: the valid entries before the invalid one,
		// a replacement among them, are not written either.
		done := claimed
		done.State, done.Result = bot.StateDone, "500000000000001AAA"
		other := entry("c2", "attrition", 1, bot.StateDone)
		for _, bad := range []bot.LedgerEntry{
			{CaseID: "c1", State: bot.StateDone},
			{Key: "p/s/1/c1", State: bot.StateDone},
			{Key: "p/s/1/c1", CaseID: "c1"},
		} {
			if err := s.Record(t.Context(), bad); err == nil {
				t.Errorf("Record(%+v) succeeded, want an error", bad)
			}
			if err := s.Record(t.Context(), done, other, bad); err == nil {
				t.Errorf("Record of a batch with %+v succeeded, want an error", bad)
			}
		}
		expect(t, s, map[string]bot.Ledger{"c1": {claimed.Key: claimed}}, "c1", "c2")
		expectClaimed(t, s, claimed)
	})

	t.Run("Batch", func(t *testing.T) {
		s := start(t)
		// The claims of a cycle's phase, then their outcomes with a new entry, each in one batch.
		var claims, outcomes []bot.LedgerEntry
		want := map[string]bot.Ledger{}
		for _, c := range []string{"c1", "c2", "c3"} {
			want[c] = bot.Ledger{}
			for action := 1; action <= 3; action++ {
				e := claim(entry(c, "offboarding-tasks", action, bot.StateClaimed))
				claims = append(claims, e)
				e.State, e.Result, e.At = bot.StateDone, fmt.Sprintf("00T00000000000%d", action), e.At.Add(time.Second)
				outcomes = append(outcomes, e)
				want[c][e.Key] = e
			}
		}
		marked := entry("c2", "hold", 1, bot.StateMarked)
		outcomes = append(outcomes, marked)
		want["c2"][marked.Key] = marked
		record(t, s, claims...)
		expectClaimed(t, s, claims...)
		record(t, s, outcomes...)
		expect(t, s, want, "c1", "c2", "c3")
		expectClaimed(t, s)
	})

	t.Run("EmptyBatch", func(t *testing.T) {
		s := start(t)
		for _, es := range [][]bot.LedgerEntry{nil, {}} {
			if err := s.Record(t.Context(), es...); err != nil {
				t.Errorf("Record of %#v: %v", es, err)
			}
		}
		e := entry("c1", "attrition", 1, bot.StateDone)
		record(t, s, e)
		expect(t, s, map[string]bot.Ledger{"c1": {e.Key: e}}, "c1")
	})

	t.Run("PayloadAndClaimed", func(t *testing.T) {
		s := start(t)
		// Microseconds, in another zone: a store returns what it was given, in UTC.
		at := time.Date(2026, 11, 21, 9, 30, 15, 123456000, time.FixedZone("UTC-5", -5*60*60))
		large := entry("c1", "final-notice", 1, bot.StateClaimed)
		large.Payload, large.Claimed = mail(40_000), at
		small := claim(entry("c1", "final-notice", 2, bot.StateClaimed))
		small.Payload = `{"subject":"K\u00fcndigung","text":"Kündigung – 解約 ✓ 🚫\n\"quoted\" \\ back"}`
		never := entry("c1", "attrition", 1, bot.StateDone)
		record(t, s, large, small, never)

		got := entries(t, s, "c1")["c1"]
		ps, err := s.Payloads(t.Context(), []string{large.Key, small.Key, never.Key, "p/s/1/nobody"})
		if err != nil {
			t.Fatal(err)
		}
		if g := ps[large.Key]; g != large.Payload {
			t.Errorf("a payload of %d bytes came back with %d bytes, or other bytes", len(large.Payload), len(g))
		}
		if g := got[large.Key].Claimed; !g.Equal(at) || g.Location() != time.UTC {
			t.Errorf("Claimed = %v, want %v in UTC", g, at)
		}
		if g := ps[small.Key]; g != small.Payload {
			t.Errorf("Payload = %q, want %q", g, small.Payload)
		}
		if g, ok := ps[never.Key]; ok || !got[never.Key].Claimed.IsZero() {
			t.Errorf("an entry never claimed came back with payload %q and claim time %v", g, got[never.Key].Claimed)
		}
		if len(ps) != 2 {
			t.Errorf("Payloads returned %d payloads, want 2: %v", len(ps), ps)
		}
		for _, e := range got {
			if e.Payload != "" {
				t.Errorf("Entries returned the payload of %s: it is read only with Payloads", e.Key)
			}
		}
		if t.Failed() {
			return
		}
		expect(t, s, map[string]bot.Ledger{"c1": {large.Key: large, small.Key: small, never.Key: never}}, "c1")
		expectClaimed(t, s, large, small)
	})

	t.Run("Claimed", func(t *testing.T) {
		s := start(t)
		expectClaimed(t, s)
		// Every state, in several cases; the entries of c2 were claimed once and have their
		// outcome, which keeps the claim's payload and time.
		var all, want []bot.LedgerEntry
		for _, c := range []string{"c1", "c2", "c3"} {
			for action, state := range []bot.EntryState{bot.StateClaimed, bot.StateDone, bot.StateFailed, bot.StateSkipped, bot.StateMarked} {
				e := entry(c, "purge", action+1, state)
				switch {
				case state == bot.StateClaimed && c == "c2":
					e = claim(e)
					e.State = bot.StateDone
				case state == bot.StateClaimed:
					e = claim(e)
					want = append(want, e)
				}
				all = append(all, e)
			}
		}
		record(t, s, all...)
		expectClaimed(t, s, want...)

		// c1's claim gets its outcome: it is claimed no more, and keeps what it sent.
		done := want[0]
		done.State, done.Result = bot.StateDone, "500000000000001AAA"
		record(t, s, done)
		expectClaimed(t, s, want[1:]...)
		if g := entries(t, s, "c1")["c1"][done.Key]; !same(g, done) {
			t.Errorf("the claim's outcome = %+v, want %+v", g, done)
		}
	})

	t.Run("PayloadWrittenOnce", func(t *testing.T) {
		s := start(t)
		claimed := claim(entry("c1", "attrition", 1, bot.StateClaimed))
		record(t, s, claimed)
		done := entry("c1", "attrition", 1, bot.StateDone)
		done.Result = "001000000000001AAA"
		record(t, s, done)
		got := entries(t, s, "c1")["c1"][done.Key]
		if got.State != bot.StateDone || got.Result != done.Result || !got.Claimed.Equal(claimed.Claimed) {
			t.Errorf("an outcome without a claim time after its claim = %+v, want the outcome with the claim's time", got)
		}
		payloads(t, s, map[string]string{done.Key: claimed.Payload}, done.Key)
		again := claim(entry("c1", "attrition", 1, bot.StateClaimed))
		again.Payload = `{"key":"other"}`
		record(t, s, again)
		payloads(t, s, map[string]string{again.Key: again.Payload}, again.Key)
	})

	t.Run("SameKeyInOneBatch", func(t *testing.T) {
		// A claim and its outcome in one batch end as they would one after the other: the
		// outcome, with the claim's time and payload.
		s := start(t)
		claimed := claim(entry("c1", "attrition", 1, bot.StateClaimed))
		done := entry("c1", "attrition", 1, bot.StateDone)
		done.Result = "001000000000001AAA"
		record(t, s, claimed, done)
		want := done
		want.Claimed = claimed.Claimed
		expect(t, s, map[string]bot.Ledger{"c1": {want.Key: want}}, "c1")
		payloads(t, s, map[string]string{done.Key: claimed.Payload}, done.Key)
		expectClaimed(t, s)

		// And a claim after a failure in one batch is claimed again, with its new payload.
		failed := entry("c1", "purge", 1, bot.StateFailed)
		failed.Retryable = true
		again := claim(entry("c1", "purge", 1, bot.StateClaimed))
		again.Payload = `{"key":"again"}`
		record(t, s, failed, again)
		expectClaimed(t, s, again)
		payloads(t, s, map[string]string{again.Key: again.Payload}, again.Key)
	})

	t.Run("ManyEntries", func(t *testing.T) {
		// A busy phase: more entries in one Record than one statement of most stores takes,
		// claims with their payloads and then their outcomes.
		s := start(t)
		const cases, actions = 301, 7 // a last, partial chunk whatever a store's chunk is
		var claims, outcomes []bot.LedgerEntry
		ids := make([]string, cases)
		want := map[string]bot.Ledger{}
		for i := range ids {
			ids[i] = fmt.Sprintf("case-%04d", i)
			want[ids[i]] = bot.Ledger{}
			for action := 1; action <= actions; action++ {
				e := claim(entry(ids[i], "offboarding-tasks", action, bot.StateClaimed))
				claims = append(claims, e)
				e.State, e.Result, e.At = bot.StateDone, fmt.Sprintf("00T%015d", i*actions+action), e.At.Add(time.Second)
				outcomes = append(outcomes, e)
				want[ids[i]][e.Key] = e
			}
		}
		record(t, s, claims...)
		if got, err := s.Claimed(t.Context()); err != nil || len(got) != len(claims) {
			t.Fatalf("Claimed after one Record of %d claims: %d entries (%v)", len(claims), len(got), err)
		}
		record(t, s, outcomes...)
		expect(t, s, want, ids...)
		expectClaimed(t, s)
		keys := make([]string, len(claims))
		wantPayloads := make(map[string]string, len(claims))
		for i, c := range claims {
			keys[i], wantPayloads[c.Key] = c.Key, c.Payload
		}
		payloads(t, s, wantPayloads, keys...)
	})

	t.Run("Positions", func(t *testing.T) {
		s := start(t)
		if p, err := s.Position(t.Context(), "INBOX"); err != nil || p != (bot.MailboxPosition{}) {
			t.Errorf("Position of a mailbox never read = %+v, %v; want zero", p, err)
		}
		for _, p := range []bot.MailboxPosition{{UIDValidity: 7, UID: 41}, {UIDValidity: 7, UID: 42}, {UIDValidity: 1 << 31, UID: 1<<32 - 1}} {
			if err := s.SetPosition(t.Context(), "INBOX", p); err != nil {
				t.Fatal(err)
			}
			if got, err := s.Position(t.Context(), "INBOX"); err != nil || got != p {
				t.Errorf("Position = %+v, %v; want %+v", got, err, p)
			}
		}
		if err := s.SetPosition(t.Context(), "Partners", bot.MailboxPosition{UIDValidity: 3, UID: 9}); err != nil {
			t.Fatal(err)
		}
		if got, _ := s.Position(t.Context(), "INBOX"); got.UID != 1<<32-1 {
			t.Errorf("another mailbox's position changed INBOX's: %+v", got)
		}
	})

	t.Run("ReadAll", func(t *testing.T) {
		s := start(t)
		if ids, err := s.CaseIDs(t.Context()); err != nil || len(ids) != 0 {
			t.Errorf("CaseIDs of an empty store = %v, %v; want none", ids, err)
		}
		if ps, err := s.Positions(t.Context()); err != nil || len(ps) != 0 {
			t.Errorf("Positions of an empty store = %v, %v; want none", ps, err)
		}
		record(t, s, entry("c2", "attrition", 1, bot.StateDone), entry("c1", "attrition", 1, bot.StateDone),
			entry("c1", "attrition", 2, bot.StateDone))
		if ids, err := s.CaseIDs(t.Context()); err != nil || !slices.Equal(ids, []string{"c1", "c2"}) {
			t.Errorf("CaseIDs = %v, %v; want [c1 c2]", ids, err)
		}
		want := map[string]bot.MailboxPosition{"INBOX": {UIDValidity: 7, UID: 41}, "Partners": {UIDValidity: 3, UID: 9}}
		for m, p := range want {
			if err := s.SetPosition(t.Context(), m, p); err != nil {
				t.Fatal(err)
			}
		}
		if got, err := s.Positions(t.Context()); err != nil || !maps.Equal(got, want) {
			t.Errorf("Positions = %v, %v; want %v", got, err, want)
		}
	})

	t.Run("Changes", func(t *testing.T) {
		s := start(t)
		ctx := t.Context()
		g0, err := s.Generation(ctx)
		if err != nil {
			t.Fatal(err)
		}
		changes := func(since int64) (map[string]bot.LedgerEntry, int64) {
			t.Helper()
			es, g, err := s.Changes(ctx, since)
			if err != nil {
				t.Fatal(err)
			}
			out := map[string]bot.LedgerEntry{}
			for _, e := range es {
				if _, twice := out[e.Key]; twice {
					t.Errorf("Changes(%d) returned %s twice", since, e.Key)
				}
				out[e.Key] = e
			}
			return out, g
		}
		if got, g := changes(g0); len(got) != 0 || g != g0 {
			t.Errorf("Changes of an unwritten store = %v at %d, want none at %d", got, g, g0)
		}
		a, b, c := entry("c1", "attrition", 1, bot.StateDone), entry("c1", "attrition", 2, bot.StateDone), entry("c2", "attrition", 1, bot.StateDone)
		record(t, s, a)
		_, g1 := changes(g0)
		c = claim(c)
		record(t, s, b, c)
		got, g2 := changes(g1)
		if !(g0 < g1 && g1 < g2) {
			t.Errorf("generations %d, %d, %d: want each write to take the next", g0, g1, g2)
		}
		if want := map[string]bot.LedgerEntry{b.Key: b, c.Key: c}; !maps.EqualFunc(got, want, same) {
			t.Errorf("Changes(%d) = %v, want the second write's %v", g1, got, want)
		}
		if got, _ := changes(g0); len(got) != 3 {
			t.Errorf("Changes(%d) = %d entries, want the three written since", g0, len(got))
		}
		// An entry written again comes as it is now, in its new generation.
		a2 := a
		a2.State, a2.Result, a2.Attempts = bot.StateFailed, "", 2
		record(t, s, a2)
		if got, g3 := changes(g2); !maps.EqualFunc(got, map[string]bot.LedgerEntry{a.Key: a2}, same) || g3 <= g2 {
			t.Errorf("Changes(%d) = %v at %d, want %v at a later generation", g2, got, g3, a2)
		}
		if g, err := s.Generation(ctx); err != nil || g <= g2 {
			t.Errorf("Generation = %d, %v; want past %d", g, err, g2)
		}
	})

	t.Run("Check", func(t *testing.T) {
		s := start(t)
		if err := s.Check(t.Context()); err != nil {
			t.Errorf("Check of a new store: %v", err)
		}
		record(t, s, entry("c1", "attrition", 1, bot.StateDone))
		if err := s.Check(t.Context()); err != nil {
			t.Errorf("Check after a Record: %v", err)
		}
	})
}

// entry is a ledger entry of the termination SOP playbook for one case.
func entry(caseID, step string, action int, state bot.EntryState) bot.LedgerEntry {
	return bot.LedgerEntry{
		Key:      bot.EffectKey("termination-sop", step, action, caseID),
		CaseID:   caseID,
		Playbook: "termination-sop",
		Step:     step,
		State:    state,
		Attempts: 1,
		At:       time.Date(2026, 11, 3, 14, 0, 0, 0, time.UTC),
	}
}

// claim gives e what a claim carries: the rendered content and the time it was claimed.
func claim(e bot.LedgerEntry) bot.LedgerEntry {
	e.Payload = fmt.Sprintf(`{"key":%q,"to":["legal@example.com"]}`, e.Key)
	e.Claimed = e.At.Add(-time.Minute)
	return e
}

// mail is the JSON payload of a mail whose text is about size bytes, not all of them ASCII.
func mail(size int) string {
	line := "Sehr geehrte Kundin, Ihre Kündigung ist bestätigt – 解約を承りました. "
	text := strings.Repeat(line, size/len(line)+1)
	data, err := json.Marshal(map[string]any{"subject": "Kündigung", "text": text, "to": []string{"kunde@example.de"}})
	if err != nil {
		panic(err)
	}
	return string(data)
}

func record(t *testing.T, s bot.Store, es ...bot.LedgerEntry) {
	t.Helper()
	if err := s.Record(t.Context(), es...); err != nil {
		t.Fatalf("Record of %d entries: %v", len(es), err)
	}
}

func entries(t *testing.T, s bot.Store, caseIDs ...string) map[string]bot.Ledger {
	t.Helper()
	got, err := s.Entries(t.Context(), caseIDs)
	if err != nil {
		t.Fatalf("Entries: %v", err)
	}
	return got
}

// expect checks that the entries of caseIDs are want.
func expect(t *testing.T, s bot.Store, want map[string]bot.Ledger, caseIDs ...string) {
	t.Helper()
	if got := entries(t, s, caseIDs...); !equal(got, want) {
		if len(want) > 10 {
			t.Errorf("Entries of %d ids returned %d cases, want %d", len(caseIDs), len(got), len(want))
			return
		}
		t.Errorf("Entries(%q) =\n%v\nwant\n%v", caseIDs, got, want)
	}
}

// expectClaimed checks that Claimed returns want, in any order.
func expectClaimed(t *testing.T, s bot.Store, want ...bot.LedgerEntry) {
	t.Helper()
	got, err := s.Claimed(t.Context())
	if err != nil {
		t.Fatalf("Claimed: %v", err)
	}
	byKey := func(a, b bot.LedgerEntry) int { return strings.Compare(a.Key, b.Key) }
	got, want = slices.SortedFunc(slices.Values(got), byKey), slices.SortedFunc(slices.Values(want), byKey)
	if !slices.EqualFunc(got, want, same) {
		t.Errorf("Claimed() =\n%v\nwant\n%v", got, want)
	}
}

// equal compares ledgers entry by entry (see same).
func equal(got, want map[string]bot.Ledger) bool {
	if len(got) != len(want) {
		return false
	}
	for c, wl := range want {
		gl, ok := got[c]
		if !ok || len(gl) != len(wl) {
			return false
		}
		for k, we := range wl {
			if ge, ok := gl[k]; !ok || !same(ge, we) {
				return false
			}
		}
	}
	return true
}

// same compares entries with time.Time.Equal for the times, since a store returns them in UTC.
func same(got, want bot.LedgerEntry) bool {
	if !got.At.Equal(want.At) || !got.RetryAt.Equal(want.RetryAt) || !got.Claimed.Equal(want.Claimed) {
		return false
	}
	got.At, got.RetryAt, got.Claimed = time.Time{}, time.Time{}, time.Time{}
	want.At, want.RetryAt, want.Claimed = time.Time{}, time.Time{}, time.Time{}
	want.Payload = "" // entries come back without it: Payloads reads it
	return got == want
}

// payloads checks what Payloads returns for keys.
func payloads(t *testing.T, s bot.Store, want map[string]string, keys ...string) {
	t.Helper()
	got, err := s.Payloads(t.Context(), keys)
	if err != nil {
		t.Fatalf("Payloads: %v", err)
	}
	if !maps.Equal(got, want) {
		t.Errorf("Payloads(%q) = %v, want %v", keys, got, want)
	}
}
