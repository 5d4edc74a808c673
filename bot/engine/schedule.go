package engine

import (
	"context"
	"fmt"
	"time"

	"github.com/robfig/cron/v3"
)

// Run runs a cycle at once and then on schedule (a robfig/cron spec such as "@every 1m") until
// ctx is done. Cycles never overlap: a tick that comes while a cycle runs is skipped. When ctx
// is done, the cycle in flight finishes the effect it is performing, records it and stops:
// the effects it has not begun are left for the next run. Run returns once it has.
func (e *Engine) Run(ctx context.Context, schedule string) error {
	return e.RunKicked(ctx, schedule, nil)
}

// RunKicked is Run, with a cycle also soon after each value received from kicks: a case
// changed outside the schedule (a press in Slack) is acted on without waiting for the next
// tick. Kicks received during a cycle are taken after it (it may have read the case before
// the change), several as one when their channel is buffered and sent to without blocking.
// The schedule then counts from that cycle. A nil kicks never kicks.
func (e *Engine) RunKicked(ctx context.Context, schedule string, kicks <-chan struct{}) error {
	sched, err := cron.ParseStandard(schedule)
	if err != nil {
		return fmt.Errorf("schedule %q: %w", schedule, err)
	}
	for {
		e.runCycle(ctx)
		next := sched.Next(time.Now())
		t := time.NewTimer(time.Until(next))
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		case <-kicks:
			t.Stop()
		}
	}
}

// maxCycle bounds a cycle that shutdown does not cut short.
const maxCycle = 10 * time.Minute

// CycleUntil runs one cycle whose I/O is not cut off by ctx: once ctx is done, the effect in
// flight is finished and recorded and the cycle stops before the next one. once uses it so
// that SIGTERM from cron does not leave a mail sent and unrecorded.
func (e *Engine) CycleUntil(ctx context.Context) (Report, error) {
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), maxCycle)
	defer cancel()
	// A stop belongs to the context it came with: a replica that lost its lease (its Run
	// stopped) and won it back runs again.
	e.stopping.Store(ctx.Err() != nil) // not left to AfterFunc's goroutine for a ctx done already
	stop := context.AfterFunc(ctx, func() { e.stopping.Store(true) })
	defer stop()
	return e.Cycle(cctx)
}

// runCycle runs a cycle with CycleUntil and logs how it went.
func (e *Engine) runCycle(ctx context.Context) {
	start := time.Now()
	rep, err := e.CycleUntil(ctx)
	log := e.log.With("cases", rep.Cases, "done", rep.Done, "skipped", rep.Skipped,
		"failed", rep.Failed, "took", time.Since(start).Round(time.Millisecond), "at", rep.At)
	if !rep.Next.IsZero() {
		log = log.With("next", rep.Next)
	}
	if err != nil {
		log.Error("cycle failed", "why", Diagnose(err), "err", err)
		return
	}
	log.Info("cycle done")
}
