// Package engine runs casebot's reconcile cycle: read every open case, evaluate the playbooks
// against the case, the ledger and the clock, perform the effects that are due, and record what
// became of each in the ledger under its deterministic key.
//
// The cycle is level-triggered and idempotent: it remembers nothing between cycles but the
// ledger, so running it twice at the same time changes nothing the second time, and a crash
// between an effect and its ledger entry is repaired by the next cycle (tasks carry their key
// in Salesforce and are found again instead of being created twice).
package engine

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"casebot/bot"
	"casebot/rules"
	"casebot/templates"

	"github.com/prometheus/client_golang/prometheus"
)

// Role is what a playbook role resolves to.
type Role struct {
	User    string // Salesforce username or user id: the owner of tasks for the role
	Channel string // Slack channel the role follows
}

// Options configure an Engine. CRM, Store, Chat, Playbooks and Templates are required.
type Options struct {
	CRM       bot.CRM
	Store     bot.Store
	Chat      bot.Chat
	Playbooks []*rules.Playbook
	Templates *templates.Set
	Roles     map[string]Role
	Now       func() time.Time // default time.Now
	Logger    *slog.Logger     // default discards
	// Observe, when set, is told of every decision the cycle makes (the demo prints them).
	Observe func(Event)
	// Registerer, when set, receives the engine's Prometheus metrics.
	Registerer prometheus.Registerer
}

// Outcome is what became of an effect in a cycle.
type Outcome string

const (
	Done    Outcome = "done"
	Skipped Outcome = "skipped"
	Failed  Outcome = "failed"
)

// Event is one effect's outcome in a cycle.
type Event struct {
	At       time.Time      // the engine's clock when it happened
	Location *time.Location // the case's time zone
	Case     bot.Case
	Step     string
	Title    string // the step's title
	Effect   bot.Effect
	Outcome  Outcome
	Detail   string // what was done, or why not
}

// Report sums up a cycle.
type Report struct {
	Cases                 int
	Done, Skipped, Failed int
	// Next is the earliest time a step of any case comes due; zero when none is scheduled.
	Next time.Time
}

// Engine runs reconcile cycles. It is safe for use by one goroutine at a time.
type Engine struct {
	opts  Options
	log   *slog.Logger
	users map[string]string // username → user id, resolved lazily and kept for the engine's life
	// stopping is set when Run's context is done: the cycle in flight stops between phases.
	stopping atomic.Bool
	metrics  *metrics

	mu      sync.Mutex
	lastEnd time.Time // when the last cycle ended (wall clock)
	lastErr error     // and how
}

// New checks opts and returns an Engine.
func New(opts Options) (*Engine, error) {
	var missing []string
	if opts.CRM == nil {
		missing = append(missing, "CRM")
	}
	if opts.Store == nil {
		missing = append(missing, "Store")
	}
	if opts.Chat == nil {
		missing = append(missing, "Chat")
	}
	if opts.Templates == nil {
		missing = append(missing, "Templates")
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("engine: missing %s", strings.Join(missing, ", "))
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Engine{opts: opts, log: log, users: map[string]string{}, metrics: newMetrics(opts.Registerer)}, nil
}

// LastCycle reports when the last cycle ended and its error; a zero time means none has run.
func (e *Engine) LastCycle() (time.Time, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.lastEnd, e.lastErr
}

// Cycle runs one reconcile cycle over every playbook. A playbook whose cases cannot be read is
// reported in the error and the others still run; effects that fail are recorded in the ledger
// and retried by later cycles when retryable.
func (e *Engine) Cycle(ctx context.Context) (Report, error) {
	start := time.Now()
	var rep Report
	var errs []error
	for _, p := range e.opts.Playbooks {
		if e.stopping.Load() {
			break
		}
		if err := e.cyclePlaybook(ctx, p, &rep); err != nil {
			errs = append(errs, fmt.Errorf("playbook %s: %w", p.Name, err))
		}
	}
	err := errors.Join(errs...)
	end := time.Now()
	e.metrics.cycle(rep, err, end.Sub(start), end)
	e.mu.Lock()
	e.lastEnd, e.lastErr = end, err
	e.mu.Unlock()
	return rep, err
}

// pending is a due effect with what the cycle knows of it.
type pending struct {
	eff   bot.Effect
	c     *bot.Case
	title string
	prev  bot.LedgerEntry // the effect's entry before this cycle (zero when none)
	loc   *time.Location  // the case's time zone
	next  rules.StepState // the case's next scheduled step, for messages; zero when none
}

func (e *Engine) cyclePlaybook(ctx context.Context, p *rules.Playbook, rep *Report) error {
	cases, err := e.opts.CRM.Cases(ctx, p.Query)
	if err != nil {
		return fmt.Errorf("reading cases: %w", err)
	}
	rep.Cases += len(cases)
	ids := make([]string, len(cases))
	for i, c := range cases {
		ids[i] = c.ID
	}
	ledgers, err := e.opts.Store.Entries(ctx, ids)
	if err != nil {
		return fmt.Errorf("reading the ledger: %w", err)
	}
	now := e.opts.Now()
	titles := map[string]string{}
	for _, s := range p.Steps {
		titles[s.ID] = s.Title
	}

	var due []pending
	for i := range cases {
		c := &cases[i]
		l := ledgers[c.ID]
		res := p.Evaluate(*c, l, now)
		loc := p.Zone(*c)
		for _, s := range res.Skips {
			if err := e.opts.Store.Record(ctx, s); err != nil {
				return fmt.Errorf("recording skip of %s: %w", s.Key, err)
			}
			rep.Skipped++
			e.observe(Event{At: now, Location: loc, Case: *c, Step: s.Step, Title: titles[s.Step],
				Effect: bot.Effect{Key: s.Key, Playbook: s.Playbook, Step: s.Step, CaseID: c.ID}, Outcome: Skipped, Detail: s.Detail})
		}
		next := nextScheduled(res.Steps)
		for _, eff := range res.Due {
			due = append(due, pending{eff: eff, c: c, title: titles[eff.Step], prev: l[eff.Key], loc: loc, next: next})
		}
		if !res.Next.IsZero() && (rep.Next.IsZero() || res.Next.Before(rep.Next)) {
			rep.Next = res.Next
		}
	}
	return e.execute(ctx, due, now, rep)
}

// execute performs due effects in phases by action index, so that every action of a step runs
// only after the ones before it succeeded (a step that closes the case closes it last), while
// the writes of one phase across all cases still go out in as few calls as the CRM allows.
func (e *Engine) execute(ctx context.Context, due []pending, now time.Time, rep *Report) error {
	failedSteps := map[string]bool{} // case id + "/" + step → an earlier action failed this cycle
	maxAction := 0
	for _, d := range due {
		maxAction = max(maxAction, d.eff.Action)
	}
	for action := 1; action <= maxAction; action++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		if e.stopping.Load() {
			return nil
		}
		var phase []pending
		for _, d := range due {
			if d.eff.Action == action && !failedSteps[d.c.ID+"/"+d.eff.Step] {
				phase = append(phase, d)
			}
		}
		if len(phase) == 0 {
			continue
		}
		outcomes := e.perform(ctx, phase)
		for i, d := range phase {
			o := outcomes[i]
			entry := bot.LedgerEntry{
				Key: d.eff.Key, CaseID: d.c.ID, Playbook: d.eff.Playbook, Step: d.eff.Step,
				Attempts: d.prev.Attempts + 1, At: now, Result: o.result,
			}
			ev := Event{At: now, Location: d.loc, Case: *d.c, Step: d.eff.Step, Title: d.title, Effect: d.eff}
			if o.err == nil {
				entry.State = bot.StateDone
				ev.Outcome, ev.Detail = Done, o.detail
				rep.Done++
			} else {
				entry.State = bot.StateFailed
				entry.Detail = o.err.Error()
				entry.Retryable = bot.IsRetryable(o.err)
				ev.Outcome, ev.Detail = Failed, o.err.Error()
				rep.Failed++
				failedSteps[d.c.ID+"/"+d.eff.Step] = true
				e.log.Warn("effect failed", "key", d.eff.Key, "retryable", entry.Retryable, "err", o.err)
			}
			if err := e.opts.Store.Record(ctx, entry); err != nil {
				return fmt.Errorf("recording %s: %w", d.eff.Key, err)
			}
			e.observe(ev)
		}
	}
	return nil
}

// outcome is the result of performing one effect.
type outcome struct {
	result string // provider ids for the ledger
	detail string // what was done, for people
	err    error
}

// perform runs one phase: all record writes in one CRM batch, then the chat posts.
func (e *Engine) perform(ctx context.Context, phase []pending) []outcome {
	out := make([]outcome, len(phase))
	var b batch
	for i, d := range phase {
		switch d.eff.Kind {
		case bot.KindUpdate, bot.KindStatus:
			b.update(i, d.eff.Object, d.eff.RecordID, d.eff.Fields)
			out[i].detail = describeFields(d.eff.Object, d.eff.Fields)
		case bot.KindTasks:
			if err := e.addTasks(ctx, &b, i, d); err != nil {
				out[i].err = err
				continue
			}
			out[i].detail = fmt.Sprintf("%d task(s): %s", len(d.eff.Tasks), taskSubjects(d.eff.Tasks))
		case bot.KindSlack:
		default:
			out[i].err = &bot.Error{Op: "perform " + d.eff.Key, Code: "UNKNOWN_KIND", Message: string(d.eff.Kind)}
		}
	}
	b.apply(ctx, e.opts.CRM, out)
	for i, d := range phase {
		if d.eff.Kind == bot.KindSlack && out[i].err == nil {
			out[i] = e.post(ctx, d)
		}
	}
	return out
}

// addTasks adds the effect's tasks that do not exist yet to the batch. Tasks found on the case
// by their key were created by an earlier attempt whose ledger entry was lost.
func (e *Engine) addTasks(ctx context.Context, b *batch, i int, d pending) error {
	existing := map[string]string{}
	for _, t := range d.c.Tasks {
		existing[t.Key] = t.ID
	}
	var owners []string
	for _, t := range d.eff.Tasks {
		if r, ok := e.opts.Roles[t.OwnerRole]; ok && t.OwnerRole != "" {
			owners = append(owners, r.User)
		}
	}
	ids, err := e.userIDs(ctx, owners)
	if err != nil {
		return err
	}
	for _, t := range d.eff.Tasks {
		if id, ok := existing[t.Key]; ok {
			b.known(i, id)
			continue
		}
		f := bot.Fields{
			"WhatId": d.c.ID, "Subject": t.Subject, "Status": "Not Started",
			"Priority": t.Priority, bot.KeyField: t.Key,
		}
		if t.Due != "" {
			f["ActivityDate"] = t.Due
		}
		if t.Description != "" {
			f["Description"] = t.Description
		}
		if t.OwnerRole != "" {
			r, ok := e.opts.Roles[t.OwnerRole]
			if !ok {
				return &bot.Error{Op: "task " + t.Key, Code: "UNKNOWN_ROLE",
					Message: fmt.Sprintf("role %q is not configured", t.OwnerRole)}
			}
			id, ok := ids[r.User]
			if !ok {
				return &bot.Error{Op: "task " + t.Key, Code: "UNKNOWN_USER", Retryable: true,
					Message: fmt.Sprintf("role %q: no active Salesforce user %q", t.OwnerRole, r.User)}
			}
			f["OwnerId"] = id
		}
		b.create(i, "Task", f)
	}
	return nil
}

// userIDs resolves users (usernames or ids) to ids, asking the CRM only for names it has not
// resolved before, so an idle cycle costs no call.
func (e *Engine) userIDs(ctx context.Context, users []string) (map[string]string, error) {
	var ask []string
	for _, u := range users {
		if _, ok := e.users[u]; ok {
			continue
		}
		if !strings.Contains(u, "@") {
			e.users[u] = u // already a user id
			continue
		}
		if !slices.Contains(ask, u) {
			ask = append(ask, u)
		}
	}
	if len(ask) > 0 {
		got, err := e.opts.CRM.UserIDs(ctx, ask)
		if err != nil {
			return nil, fmt.Errorf("resolving task owners: %w", err)
		}
		for u, id := range got {
			e.users[u] = id
		}
	}
	return e.users, nil
}

// post renders the effect's template and posts it to the channel of each role. Channels that
// already have the message from an earlier, partly failed attempt are not posted to again.
func (e *Engine) post(ctx context.Context, d pending) outcome {
	text, err := e.opts.Templates.Render(d.eff.Template, templates.Data{
		Playbook: d.eff.Playbook, Step: d.eff.Step, StepTitle: d.title, Case: *d.c, Due: d.eff.Due,
		Location: d.loc, NextStep: d.next.Title, NextDue: d.next.At,
	})
	if err != nil {
		return outcome{err: &bot.Error{Op: "render " + d.eff.Template, Code: "TEMPLATE", Message: err.Error()}}
	}
	posted := parseResult(d.prev.Result)
	var channels []string
	for _, role := range d.eff.Roles {
		r, ok := e.opts.Roles[role]
		if !ok || r.Channel == "" {
			return outcome{err: &bot.Error{Op: "slack " + d.eff.Key, Code: "UNKNOWN_ROLE",
				Message: fmt.Sprintf("role %q has no Slack channel configured", role)}}
		}
		if !slices.Contains(channels, r.Channel) {
			channels = append(channels, r.Channel)
		}
	}
	var firstErr error
	for _, ch := range channels {
		if _, ok := posted[ch]; ok {
			continue
		}
		ts, err := e.opts.Chat.Post(ctx, bot.Message{Channel: ch, Text: text, Key: d.eff.Key})
		if err != nil {
			if firstErr == nil {
				firstErr = fmt.Errorf("posting to %s: %w", ch, err)
			}
			continue
		}
		posted[ch] = ts
	}
	return outcome{result: formatResult(posted), detail: "told " + strings.Join(channels, ", "), err: firstErr}
}

// parseResult reads "channel=ts,channel=ts" as written by formatResult.
func parseResult(s string) map[string]string {
	m := map[string]string{}
	for _, kv := range strings.Split(s, ",") {
		if k, v, ok := strings.Cut(kv, "="); ok {
			m[k] = v
		}
	}
	return m
}

func formatResult(m map[string]string) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + "=" + m[k]
	}
	return strings.Join(parts, ",")
}

// nextScheduled returns the earliest step that is scheduled but not yet due.
func nextScheduled(steps []rules.StepState) rules.StepState {
	var next rules.StepState
	for _, s := range steps {
		if s.State == rules.StateScheduled && (next.At.IsZero() || s.At.Before(next.At)) {
			next = s
		}
	}
	return next
}

func (e *Engine) observe(ev Event) {
	kind := string(ev.Effect.Kind)
	if kind == "" {
		kind = "step" // a skipped step is decided before any of its actions has a kind
	}
	e.metrics.effects.WithLabelValues(kind, string(ev.Outcome)).Inc()
	if e.opts.Observe != nil {
		e.opts.Observe(ev)
	}
}

func describeFields(object string, f bot.Fields) string {
	keys := make([]string, 0, len(f))
	for k := range f {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s.%s = %v", object, k, f[k])
	}
	return strings.Join(parts, ", ")
}

func taskSubjects(ts []bot.TaskSpec) string {
	s := make([]string, len(ts))
	for i, t := range ts {
		s[i] = t.Subject
	}
	return strings.Join(s, "; ")
}
