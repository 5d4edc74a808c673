package bottest

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"casebot/bot"
)

// busy is how many cases a busy cycle acts on.
const busy = 10_000

// BenchRecord records a busy cycle's ledger writes: each case claims three actions with their
// rendered content, then records their outcomes, six entries a case. One transaction an entry
// is how casebot recorded before batches; a batch of 200 is one transaction per Salesforce
// Collections call. open returns a new, empty store; the benchmark closes it.
func BenchRecord(b *testing.B, open func(b *testing.B) bot.Store) {
	for _, size := range []int{1, 200} {
		b.Run(fmt.Sprintf("batch=%d", size), func(b *testing.B) {
			s := open(b)
			defer s.Close()
			var entries, transactions int
			for b.Loop() {
				b.StopTimer()
				es := cycle(entries, "final-notice")
				b.StartTimer()
				for batch := range slices.Chunk(es, size) {
					if err := s.Record(b.Context(), batch...); err != nil {
						b.Fatal(err)
					}
					transactions++
				}
				entries += len(es)
			}
			b.ReportMetric(float64(entries)/b.Elapsed().Seconds(), "entries/s")
			b.ReportMetric(float64(transactions)/float64(b.N), "transactions/op")
		})
	}
}

// BenchEntries reads the ledger of a busy cycle's cases, as a cycle does before it evaluates
// them.
func BenchEntries(b *testing.B, open func(b *testing.B) bot.Store) {
	s := open(b)
	defer s.Close()
	// Two steps of a cycle each: six entries a case.
	es := append(cycle(0, "attrition"), cycle(0, "final-notice")...)
	for batch := range slices.Chunk(es, 200) {
		if err := s.Record(b.Context(), batch...); err != nil {
			b.Fatal(err)
		}
	}
	ids := make([]string, busy)
	for i := range ids {
		ids[i] = caseID(0, i)
	}
	var entries int
	for b.Loop() {
		got, err := s.Entries(b.Context(), ids)
		if err != nil {
			b.Fatal(err)
		}
		for _, l := range got {
			entries += len(l)
		}
	}
	b.ReportMetric(float64(entries)/b.Elapsed().Seconds(), "entries/s")
	b.ReportMetric(float64(entries)/float64(b.N), "entries/op")
}

// cycle is a busy cycle's entries for a step of every case, in the order a cycle records them:
// every claim, then every outcome, which replaces its claim. Keys are new from one cycle to the
// next: first is the count of entries recorded before.
func cycle(first int, step string) []bot.LedgerEntry {
	at := time.Date(2026, 11, 3, 14, 0, 0, 0, time.UTC)
	payload := `{"to":["legal@example.com"],"subject":"Termination","text":"` + strings.Repeat("Dear customer, ", 64) + `"}`
	claims := make([]bot.LedgerEntry, 0, 3*busy)
	for i := range busy {
		c := caseID(first, i)
		for action := 1; action <= 3; action++ {
			claims = append(claims, bot.LedgerEntry{
				Key: bot.EffectKey("termination-sop", step, action, c), CaseID: c,
				Playbook: "termination-sop", Step: step, State: bot.StateClaimed,
				Attempts: 1, At: at, Payload: payload, Claimed: at,
			})
		}
	}
	outcomes := slices.Clone(claims)
	for i := range outcomes {
		outcomes[i].State, outcomes[i].Result, outcomes[i].At = bot.StateDone, "500000000000001AAA", at.Add(time.Second)
	}
	return append(claims, outcomes...)
}

// caseID is the id of case i of the cycle that starts after first entries.
func caseID(first, i int) string {
	return fmt.Sprintf("500%015d", first+i)
}
