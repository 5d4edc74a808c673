// Package bottest holds conformance suites for implementations of casebot's ports, so that
// every store (SQLite, PostgreSQL) is held to one contract.
package bottest

import (
	"fmt"
	"reflect"
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
				for i := range each {
					e := entry(fmt.Sprintf("c%d", i%5), fmt.Sprintf("w%d", w), i+1, bot.StateDone)
					if err := s.Record(t.Context(), e); err != nil {
						errs <- err
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
		for _, e := range []bot.LedgerEntry{
			{CaseID: "c1", State: bot.StateDone},
			{Key: "p/s/1/c1", State: bot.StateDone},
			{Key: "p/s/1/c1", CaseID: "c1"},
		} {
			if err := s.Record(t.Context(), e); err == nil {
				t.Errorf("Record(%+v) succeeded, want an error", e)
			}
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

func record(t *testing.T, s bot.Store, e bot.LedgerEntry) {
	t.Helper()
	if err := s.Record(t.Context(), e); err != nil {
		t.Fatalf("Record(%s): %v", e.Key, err)
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

// equal compares ledgers with time.Time.Equal for the times, since a store returns them in UTC.
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
			ge, ok := gl[k]
			if !ok || !ge.At.Equal(we.At) || !ge.RetryAt.Equal(we.RetryAt) {
				return false
			}
			ge.At, we.At = time.Time{}, time.Time{}
			ge.RetryAt, we.RetryAt = time.Time{}, time.Time{}
			if !reflect.DeepEqual(ge, we) {
				return false
			}
		}
	}
	return true
}
