package cli

import (
	"context"
	"fmt"
	"sort"
	"time"

	"casebot/bot"
)

// retry makes the effects of a case that failed for good due again, once a person has fixed
// their cause (a validation rule, a missing user, a template): the next cycle performs them,
// from the claim they were decided with, and the rest of their step follows.
func retry(ctx context.Context, args []string, std IO, w Wiring) error {
	fs := newFlags("retry", std)
	configPath := fs.String("config", "", "config file (default: the example config)")
	fs.Usage = func() {
		fmt.Fprintln(std.Err, "usage: casebot retry [-config FILE] CASE [STEP]")
		fmt.Fprintln(std.Err, "CASE is a case id or case number; STEP a step id (default: every step of the case that failed for good).")
		fs.PrintDefaults()
	}
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() < 1 || fs.NArg() > 2 {
		fs.Usage()
		return usageError{fmt.Errorf("want CASE and an optional STEP, got %d argument(s)", fs.NArg())}
	}
	caseArg, stepArg := fs.Arg(0), fs.Arg(1)
	set, err := loadSetup(*configPath, std, w)
	if err != nil {
		return err
	}
	store, err := w.Store(ctx, set.cfg.Store)
	if err != nil {
		return err
	}
	src := &source{setup: set, store: store}
	defer src.Close()
	now := time.Now()
	found, err := src.find(ctx, caseArg, now)
	if err != nil {
		return err
	}
	var again []bot.LedgerEntry
	for _, cs := range found {
		for _, e := range cs.l {
			if e.Playbook == cs.pb.Name && e.State == bot.StateFailed && !e.Retryable && (stepArg == "" || e.Step == stepArg) {
				again = append(again, e)
			}
		}
	}
	if len(again) == 0 {
		what := "no effect"
		if stepArg != "" {
			what = "step " + stepArg + " has no effect"
		}
		return fmt.Errorf("case %s: %s that failed for good", caseArg, what)
	}
	sort.Slice(again, func(i, j int) bool { return again[i].Key < again[j].Key })
	for i, e := range again {
		fmt.Fprintf(std.Out, "%s: due again (it failed for good after %d attempt(s): %s)\n", e.Key, e.Attempts, e.Detail)
		e.Retryable, e.RetryAt, e.Attempts = true, time.Time{}, 0
		e.Detail = "retry asked " + now.UTC().Format(time.RFC3339) + " after: " + e.Detail
		again[i] = e
	}
	if err := store.Record(ctx, again...); err != nil {
		return fmt.Errorf("recording the retry: %w", err)
	}
	fmt.Fprintln(std.Out, "The next cycle performs them.")
	return nil
}
