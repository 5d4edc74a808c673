package engine

import (
	"context"
	"testing"
	"testing/synctest"
	"time"
)

// A kick runs a cycle at once, between the schedule's ticks, and the schedule counts from
// that cycle.
func TestRunKickedCyclesOnKicks(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		now := day0.Add(15 * time.Hour)
		eng, crm, _, _ := newSOP(t, &now)
		ctx, cancel := context.WithCancel(t.Context())
		kicks := make(chan struct{}, 1)
		done := make(chan error)
		go func() { done <- eng.RunKicked(ctx, "@every 1h", kicks) }()
		cycles := func() int { // each idle cycle is one query
			synctest.Wait()
			crm.mu.Lock()
			defer crm.mu.Unlock()
			return crm.queries
		}
		start := cycles()

		time.Sleep(10 * time.Minute)
		kicks <- struct{}{}
		if got := cycles() - start; got != 1 {
			t.Errorf("%d cycles after a kick, want 1", got)
		}
		time.Sleep(59 * time.Minute) // 69 minutes from the start: the tick moved with the kick
		if got := cycles() - start; got != 1 {
			t.Errorf("%d cycles 59 minutes after the kick, want 1", got)
		}
		time.Sleep(2 * time.Minute)
		if got := cycles() - start; got != 2 {
			t.Errorf("%d cycles an hour after the kick, want 2: the kick and the tick", got)
		}
		cancel()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	})
}
