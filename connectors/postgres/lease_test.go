package postgres

import (
	"errors"
	"testing"
	"time"

	"casebot/bot"
	"casebot/connectors/postgres/pgtest"
)

// TestLease: of two replicas on one ledger only one acquires; the other takes over once the
// lease expired, and from then on the database refuses the old holder's writes.
func TestLease(t *testing.T) {
	dsn := pgtest.Start(t).DSN(t)
	a, b := open(t, dsn), open(t, dsn)
	defer a.Close()
	defer b.Close()
	const ttl = time.Second
	la, lb := a.Lease(ttl), b.Lease(ttl)
	ctx := t.Context()
	entry := func(n string) bot.LedgerEntry {
		return bot.LedgerEntry{Key: "p/s/" + n + "/c1", CaseID: "c1", Playbook: "p", Step: "s",
			State: bot.StateDone, At: time.Now().UTC()}
	}

	acquire := func(what string, l bot.Lease, want bool) {
		t.Helper()
		if held, err := l.Acquire(ctx); held != want || err != nil {
			t.Fatalf("%s: Acquire = %v, %v; want %v", what, held, err, want)
		}
	}
	record := func(what string, s *Store, n string, want error) {
		t.Helper()
		if err := s.Record(ctx, entry(n)); !errors.Is(err, want) {
			t.Errorf("%s: Record = %v, want %v", what, err, want)
		}
	}

	acquire("first replica", la, true)
	acquire("second replica while the first holds it", lb, false)
	if !la.Held() || lb.Held() {
		t.Fatalf("Held: first %v, second %v; want true, false", la.Held(), lb.Held())
	}
	acquire("renewal", la, true)
	record("holder", a, "1", nil)
	// The second replica was fenced by its failed acquisition: its writes are refused.
	record("replica without the lease", b, "2", bot.ErrLeaseLost)

	// The first stops renewing (paused); past the ttl the second takes over.
	time.Sleep(ttl + 100*time.Millisecond)
	if la.Held() {
		t.Error("Held after the ttl passed without a renewal = true")
	}
	acquire("takeover after expiry", lb, true)
	record("new holder", b, "3", nil)
	// The old holder resumes: its writes and its renewal are refused.
	record("old holder after takeover", a, "4", bot.ErrLeaseLost)
	if err := a.SetPosition(ctx, "INBOX", bot.MailboxPosition{UIDValidity: 1, UID: 9}); !errors.Is(err, bot.ErrLeaseLost) {
		t.Errorf("old holder's SetPosition after takeover: %v, want ErrLeaseLost", err)
	}
	acquire("old holder's renewal after takeover", la, false)
	got, err := a.Entries(ctx, []string{"c1"})
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"1", "3"} {
		if _, ok := got["c1"][entry(n).Key]; !ok {
			t.Errorf("entry %s of a holder is missing", n)
		}
	}
	for _, n := range []string{"2", "4"} {
		if _, ok := got["c1"][entry(n).Key]; ok {
			t.Errorf("entry %s, written without the lease, was recorded", n)
		}
	}
	if p, err := a.Position(ctx, "INBOX"); err != nil || p.UID != 0 {
		t.Errorf("position after a refused SetPosition = %v, %v; want none", p, err)
	}
	var epoch int64
	if err := a.pool.QueryRow(ctx, `SELECT epoch FROM lease`).Scan(&epoch); err != nil || epoch != 2 {
		t.Errorf("epoch after one takeover = %d (%v), want 2", epoch, err)
	}

	// A holder that releases the lease is taken over at once, and writes no more.
	if err := lb.Release(ctx); err != nil {
		t.Fatal(err)
	}
	acquire("takeover after a release", la, true)
	record("holder after its release", b, "5", bot.ErrLeaseLost)
}
