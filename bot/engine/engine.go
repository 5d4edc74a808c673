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
	User    string   // Salesforce username or user id: the owner of tasks for the role
	Queue   string   // Salesforce queue name or id: where `queue: role` gives the case
	Channel string   // Slack channel the role follows
	Emails  []string // addresses mail to the role goes to
}

// Renderer renders what effects send: Slack messages (mrkdwn), mails and case comments (plain
// text). *templates.Set is one.
type Renderer interface {
	Render(name string, d templates.Data) (string, error)
	RenderEmail(name string, d templates.Data) (subject, text string, err error)
	RenderComment(name string, d templates.Data) (string, error)
}

// Options configure an Engine. CRM, Store, Chat, Playbooks and Templates are required.
type Options struct {
	CRM       bot.CRM
	Store     bot.Store
	Chat      bot.Chat
	Mailer    bot.Mailer // required when a playbook sends mail
	Caller    bot.Caller // required when a playbook calls an endpoint
	Playbooks []*rules.Playbook
	Templates Renderer
	Roles     map[string]Role
	Now       func() time.Time // default time.Now
	Logger    *slog.Logger     // default discards
	// Observe, when set, is told of every decision the cycle makes (the demo prints them).
	Observe func(Event)
	// Registerer, when set, receives the engine's Prometheus metrics.
	Registerer prometheus.Registerer
	// MessageIDDomain is the right-hand side of the Message-IDs of the mail casebot sends
	// (the domain of its From address); "casebot.localhost" when empty.
	MessageIDDomain string
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
	opts   Options
	log    *slog.Logger
	users  *resolver // usernames → user ids
	queues *resolver // queue names → queue ids
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
	if opts.MessageIDDomain == "" {
		opts.MessageIDDomain = "casebot.localhost"
	}
	return &Engine{
		opts: opts, log: log, metrics: newMetrics(opts.Registerer),
		users:  &resolver{what: "users", lookup: opts.CRM.UserIDs, isID: userID.MatchString},
		queues: &resolver{what: "queues", lookup: opts.CRM.QueueIDs, isID: queueID.MatchString},
	}, nil
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
		if err := e.settle(ctx, p, &rep); err != nil {
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
	gate  string          // the condition the step waits for, for its reminders
	now   time.Time
}

// maxPasses bounds how often a cycle re-reads a playbook's cases while its passes make
// progress: a chain of gates one step long each is settled in as many passes.
const maxPasses = 8

// settle runs passes over the playbook's cases until one makes no progress, so that a gate
// opened by this cycle's own work (done('step'), a status it set) does not wait for the next
// cycle: one cycle leaves nothing due, and a second at the same time does nothing. An idle
// playbook costs one pass: one query.
func (e *Engine) settle(ctx context.Context, p *rules.Playbook, rep *Report) error {
	// Steps that failed in a pass are left alone by the later ones: a retry waits for the
	// next cycle, which spaces retries out by the schedule.
	failed := map[string]bool{}
	for pass := 0; pass < maxPasses && !e.stopping.Load(); pass++ {
		var r Report
		if err := e.pass(ctx, p, failed, &r); err != nil {
			return err
		}
		if pass == 0 {
			rep.Cases += r.Cases
		}
		rep.Done += r.Done
		rep.Skipped += r.Skipped
		rep.Failed += r.Failed
		if !r.Next.IsZero() && (rep.Next.IsZero() || r.Next.Before(rep.Next)) {
			rep.Next = r.Next
		}
		if r.Done+r.Skipped == 0 {
			return nil
		}
	}
	return nil
}

// pass reads the playbook's cases and ledger once, evaluates every case and performs what is
// due.
func (e *Engine) pass(ctx context.Context, p *rules.Playbook, failed map[string]bool, rep *Report) error {
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
		for _, r := range res.Records {
			if err := e.opts.Store.Record(ctx, r); err != nil {
				return fmt.Errorf("recording %s: %w", r.Key, err)
			}
			if r.State != bot.StateSkipped {
				continue // a mark (a hold's start or end, a gate's first wait) is no outcome
			}
			rep.Skipped++
			e.observe(Event{At: now, Location: loc, Case: *c, Step: r.Step, Title: titles[r.Step],
				Effect: bot.Effect{Key: r.Key, Playbook: r.Playbook, Step: r.Step, CaseID: c.ID}, Outcome: Skipped, Detail: r.Detail})
		}
		next := nextScheduled(res.Steps)
		for _, eff := range res.Due {
			due = append(due, pending{eff: eff, c: c, title: titles[eff.Step], prev: l[eff.Key], loc: loc,
				next: next, gate: gateOf(res.Steps, eff.Step), now: now})
		}
		if !res.Next.IsZero() && (rep.Next.IsZero() || res.Next.Before(rep.Next)) {
			rep.Next = res.Next
		}
	}
	return e.execute(ctx, due, now, failed, rep)
}

// execute performs due effects in phases by action index, so that every action of a step runs
// only after the ones before it succeeded (a step that closes the case closes it last), while
// the writes of one phase across all cases still go out in as few calls as the CRM allows.
//
// failedSteps holds "case id/step" for steps with an action that failed in this cycle: their
// remaining actions wait, and so does a retry of the failed one.
func (e *Engine) execute(ctx context.Context, due []pending, now time.Time, failedSteps map[string]bool, rep *Report) error {
	maxAction := 0
	for _, d := range due {
		maxAction = max(maxAction, d.eff.Action)
	}
	// Action 0 is what belongs to no action of a step: reminders and escalations. They go last,
	// and only from a pass that changed nothing else, the last of its cycle: a gate the pass
	// opened must not be reminded of a moment before it opens.
	for i := 1; i <= maxAction+1; i++ {
		action := i % (maxAction + 1)
		if action == 0 && rep.Done+rep.Skipped > 0 { // rep is this pass's
			break
		}
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

// perform runs one phase: all record writes in one CRM batch, then the messages, mails and
// calls, then one more batch for what those leave on the case (logged mails, stored values).
func (e *Engine) perform(ctx context.Context, phase []pending) []outcome {
	out := make([]outcome, len(phase))
	var b batch
	for i, d := range phase {
		var err error
		switch d.eff.Kind {
		case bot.KindUpdate, bot.KindStatus:
			b.update(i, d.eff.Object, d.eff.RecordID, d.eff.Fields)
			out[i].detail = describeFields(d.eff.Object, d.eff.Fields)
		case bot.KindTasks:
			err = e.addTasks(ctx, &b, i, d)
			out[i].detail = fmt.Sprintf("%d task(s): %s", len(d.eff.Tasks), taskSubjects(d.eff.Tasks))
		case bot.KindComment:
			err = e.addComment(&b, i, d, &out[i])
		case bot.KindQueue:
			err = e.addQueue(ctx, &b, i, d, &out[i])
		case bot.KindSlack, bot.KindEmail, bot.KindHTTP:
		default:
			err = &bot.Error{Op: "perform " + d.eff.Key, Code: "UNKNOWN_KIND", Message: string(d.eff.Kind)}
		}
		out[i].err = err
	}
	b.apply(ctx, e.opts.CRM, out)

	var after batch
	for i, d := range phase {
		if out[i].err != nil {
			continue
		}
		switch d.eff.Kind {
		case bot.KindSlack:
			out[i] = e.post(ctx, d)
		case bot.KindEmail:
			out[i] = e.mail(ctx, &after, i, d)
		case bot.KindHTTP:
			out[i] = e.call(ctx, &after, i, d)
		}
	}
	after.apply(ctx, e.opts.CRM, out)
	return out
}

// addComment renders the effect's comment and adds it to the batch.
func (e *Engine) addComment(b *batch, i int, d pending, o *outcome) error {
	text, err := e.opts.Templates.RenderComment(d.eff.Template, e.data(d))
	if err != nil {
		return &bot.Error{Op: "render comment " + d.eff.Template, Code: "TEMPLATE", Message: err.Error()}
	}
	b.create(i, "CaseComment", bot.Fields{
		"ParentId": d.c.ID, "CommentBody": truncate(text, 4000), "IsPublished": d.eff.Public,
	})
	o.detail = fmt.Sprintf("comment %q", firstLine(text))
	return nil
}

// addQueue gives the case to the queue of the effect's role.
func (e *Engine) addQueue(ctx context.Context, b *batch, i int, d pending, o *outcome) error {
	role := d.eff.Roles[0]
	r := e.opts.Roles[role]
	if r.Queue == "" {
		return &bot.Error{Op: "queue " + d.eff.Key, Code: "UNKNOWN_ROLE",
			Message: fmt.Sprintf("role %q has no queue configured", role)}
	}
	ids, err := e.queues.resolve(ctx, []string{r.Queue})
	if err != nil {
		return err
	}
	id, ok := ids[r.Queue]
	if !ok {
		return &bot.Error{Op: "queue " + d.eff.Key, Code: "UNKNOWN_QUEUE", Retryable: true,
			Message: fmt.Sprintf("role %q: no Salesforce queue %q", role, r.Queue)}
	}
	b.update(i, "Case", d.c.ID, bot.Fields{"OwnerId": id})
	o.detail = fmt.Sprintf("Case.OwnerId = %s (queue %s)", id, r.Queue)
	return nil
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
	ids, err := e.users.resolve(ctx, owners)
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

// gateOf returns the require condition a step waits for, or "".
func gateOf(steps []rules.StepState, step string) string {
	for _, s := range steps {
		if s.Step == step && s.Gate.Kind == "require" {
			return s.Gate.Source
		}
	}
	return ""
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
