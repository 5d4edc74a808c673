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
	"runtime/debug"
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
	User    string   // Salesforce username or user id: the owner of tasks for the role
	Queue   string   // Salesforce queue name or id: where `queue: role` gives the case
	Channel string   // Slack channel the role follows
	Emails  []string // addresses mail to the role goes to
	// Field resolves the role per case: "Account.Owner.Email" (mail goes to the account's
	// owner), "Case.Account_Manager__c" (a user id: the owner of the role's tasks). The
	// engine reads it in the same query as the playbook's own fields.
	Field string
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
	// stopping is set when Run's context is done: the cycle in flight finishes the effect it
	// is performing and stops.
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
	gate  string          // what the step waits for, in words, for its reminders
	at    time.Time       // when the step came due (a reminder's own Due is later)
	now   time.Time
}

// maxPasses bounds how often a cycle re-reads a playbook's cases while its passes make
// progress: a chain of gates one step long each is settled in as many passes.
const maxPasses = 8

// Retries: a retryable failure is tried again after an exponential backoff from its attempts
// (1m, 2m, 4m … at most 6h) or the provider's Retry-After, whichever is later, and given up
// after MaxAttempts attempts.
const (
	retryBase   = time.Minute
	retryMax    = 6 * time.Hour
	MaxAttempts = 10
)

// recordTimeout bounds a ledger write, which runs on a context a shutdown does not cancel.
const recordTimeout = 30 * time.Second

// settle runs passes over the playbook's cases until one makes no progress, so that a gate
// opened by this cycle's own work (done('step'), a status it set) does not wait for the next
// cycle: one cycle leaves nothing due, and a second at the same time does nothing. An idle
// playbook costs one pass: one query. Only a case that progressed can change, so a later pass
// reads only the cases that progressed in the pass before.
//
// A panic (a bug in a connector, say) fails the playbook's cycle instead of the daemon.
func (e *Engine) settle(ctx context.Context, p *rules.Playbook, rep *Report) (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = e.panicked("settle playbook "+p.Name, v)
		}
	}()
	// Steps that failed in a pass are left alone by the later ones: a retry waits for its
	// RetryAt, which is later.
	failed := map[string]bool{}
	q := e.withRoleFields(p)
	for pass := 0; pass < maxPasses && !e.stopping.Load(); pass++ {
		var r Report
		progressed, err := e.pass(ctx, p, q, failed, &r)
		if err != nil {
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
		if len(progressed) == 0 {
			return nil
		}
		// Reading only the cases that moved pays while their ids fit in one query; more
		// would cost more calls than reading every case again (2,000 a call).
		q.IDs = nil
		if len(progressed) <= maxIDsPerPass {
			q.IDs = progressed
		}
	}
	return nil
}

// pass reads the cases of q and their ledger once, evaluates every case and performs what is
// due. It returns the ids of the cases that progressed: an effect done or a step skipped.
func (e *Engine) pass(ctx context.Context, p *rules.Playbook, q bot.CaseQuery, failed map[string]bool, rep *Report) ([]string, error) {
	cases, err := e.opts.CRM.Cases(ctx, q)
	if err != nil {
		return nil, fmt.Errorf("reading cases: %w", err)
	}
	rep.Cases += len(cases)
	ids := make([]string, len(cases))
	for i, c := range cases {
		ids[i] = c.ID
	}
	ledgers, err := e.opts.Store.Entries(ctx, ids)
	if err != nil {
		return nil, fmt.Errorf("reading the ledger: %w", err)
	}
	now := e.opts.Now()
	titles := map[string]string{}
	for _, s := range p.Steps {
		titles[s.ID] = s.Title
	}

	progressed := map[string]bool{}
	var due []pending
	for i := range cases {
		d, err := e.evaluate(ctx, p, &cases[i], ledgers[cases[i].ID], now, titles, progressed, rep)
		if err != nil {
			return nil, err
		}
		due = append(due, d...)
	}
	err = e.execute(ctx, due, now, failed, progressed, rep)
	var out []string
	for _, c := range cases {
		if progressed[c.ID] {
			out = append(out, c.ID)
		}
	}
	return out, err
}

// evaluate evaluates one case, records what the evaluation decided (skips, marks) and returns
// the case's due effects. A panic fails this case alone: it is logged, and recorded in the
// ledger under the case's "evaluate/panic" key, and the case is left alone this pass.
func (e *Engine) evaluate(ctx context.Context, p *rules.Playbook, c *bot.Case, l bot.Ledger, now time.Time,
	titles map[string]string, progressed map[string]bool, rep *Report) (due []pending, err error) {
	defer func() {
		if v := recover(); v != nil {
			rep.Failed++
			perr := e.panicked("evaluate case "+c.ID, v)
			key := bot.StepKey(p.Name, "evaluate", "panic", c.ID)
			due, err = nil, e.record(ctx, bot.LedgerEntry{Key: key, CaseID: c.ID, Playbook: p.Name,
				State: bot.StateFailed, Detail: perr.Error(), Attempts: l[key].Attempts + 1, At: now})
		}
	}()
	res := p.Evaluate(*c, l, now)
	loc := p.Zone(*c)
	for _, r := range res.Records {
		if err := e.record(ctx, r); err != nil {
			return nil, fmt.Errorf("recording %s: %w", r.Key, err)
		}
		if r.State != bot.StateSkipped {
			continue // a mark (a hold's start or end, a gate's first wait) is no outcome
		}
		rep.Skipped++
		progressed[c.ID] = true
		e.observe(Event{At: now, Location: loc, Case: *c, Step: r.Step, Title: titles[r.Step],
			Effect: bot.Effect{Key: r.Key, Playbook: r.Playbook, Step: r.Step, CaseID: c.ID}, Outcome: Skipped, Detail: r.Detail})
	}
	next := nextScheduled(res.Steps)
	for _, eff := range res.Due {
		st := stepState(res.Steps, eff.Step)
		due = append(due, pending{eff: eff, c: c, title: titles[eff.Step], prev: l[eff.Key], loc: loc,
			next: next, gate: st.Gate.Waiting(), at: st.At, now: now})
	}
	if !res.Next.IsZero() && (rep.Next.IsZero() || res.Next.Before(rep.Next)) {
		rep.Next = res.Next
	}
	return due, nil
}

// execute performs due effects in phases by action index, so that every action of a step runs
// only after the ones before it succeeded (a step that closes the case closes it last), while
// the writes of one phase across all cases still go out in as few calls as the CRM allows.
//
// failedSteps holds "case id/step" for steps with an action that failed in this cycle: their
// remaining actions wait, and so does a retry of the failed one. progressed collects the
// cases with an effect done.
//
// Every effect performed is recorded, even when recording another fails; the errors are
// returned together, and the cycle stops at the end of the phase.
func (e *Engine) execute(ctx context.Context, due []pending, now time.Time, failedSteps, progressed map[string]bool, rep *Report) error {
	maxAction := 0
	for _, d := range due {
		maxAction = max(maxAction, d.eff.Action)
	}
	// Action 0 is what belongs to no action of a step: reminders and escalations. They go last,
	// and only for cases this pass changed nothing else of: a gate the pass opened must not be
	// reminded of a moment before it opens (the next pass, which reads the case again, decides).
	for i := 1; i <= maxAction+1; i++ {
		action := i % (maxAction + 1)
		if err := ctx.Err(); err != nil {
			return err
		}
		if e.stopping.Load() {
			return nil
		}
		var phase []pending
		for _, d := range due {
			if d.eff.Action == action && !failedSteps[d.c.ID+"/"+d.eff.Step] && (action != 0 || !progressed[d.c.ID]) {
				phase = append(phase, d)
			}
		}
		if len(phase) == 0 {
			continue
		}
		outcomes := e.perform(ctx, phase, now)
		var errs []error
		var events []Event // told once all are recorded
		for i, d := range phase {
			o := outcomes[i]
			if o.unperformed {
				continue // stopped before it: the next cycle derives it again
			}
			entry := bot.LedgerEntry{
				Key: d.eff.Key, CaseID: d.c.ID, Playbook: d.eff.Playbook, Step: d.eff.Step,
				Attempts: d.prev.Attempts + 1, At: now, Result: o.result,
			}
			ev := Event{At: now, Location: d.loc, Case: *d.c, Step: d.eff.Step, Title: d.title, Effect: d.eff}
			if o.err == nil {
				entry.State = bot.StateDone
				ev.Outcome, ev.Detail = Done, o.detail
				rep.Done++
				progressed[d.c.ID] = true
			} else {
				e.failure(&entry, o.err, now)
				ev.Outcome, ev.Detail = Failed, entry.Detail
				rep.Failed++
				failedSteps[d.c.ID+"/"+d.eff.Step] = true
			}
			if err := e.record(ctx, entry); err != nil {
				errs = append(errs, fmt.Errorf("recording %s: %w", d.eff.Key, err))
			}
			events = append(events, ev)
		}
		for _, ev := range events {
			e.observe(ev)
		}
		if err := errors.Join(errs...); err != nil {
			return err
		}
	}
	return nil
}

// failure fills in a failed effect's entry: retryable errors get a RetryAt, until the effect
// has had MaxAttempts attempts and fails for good.
func (e *Engine) failure(entry *bot.LedgerEntry, err error, now time.Time) {
	entry.State = bot.StateFailed
	entry.Detail = err.Error()
	// A call cut off by shutdown or a deadline did not fail on its merits: try it again.
	entry.Retryable = bot.IsRetryable(err) || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)
	switch {
	case entry.Retryable && entry.Attempts >= MaxAttempts:
		entry.Retryable = false
		e.log.Error("effect failed for good", "key", entry.Key, "attempts", entry.Attempts, "err", err)
	case entry.Retryable:
		entry.RetryAt = retryAt(now, entry.Attempts, err)
		e.log.Warn("effect failed", "key", entry.Key, "attempts", entry.Attempts, "retry_at", entry.RetryAt, "err", err)
	default:
		e.log.Error("effect failed for good", "key", entry.Key, "attempts", entry.Attempts, "err", err)
	}
}

// retryAt is when an effect that failed retryably after attempts attempts may run again.
func retryAt(now time.Time, attempts int, err error) time.Time {
	wait := retryMax
	if n := attempts - 1; n < 20 { // beyond, the shift would overflow; the cap holds anyway
		wait = min(retryBase<<max(n, 0), retryMax)
	}
	var be *bot.Error
	if errors.As(err, &be) {
		wait = max(wait, be.RetryAfter)
	}
	return now.Add(wait)
}

// record writes a ledger entry on a context of its own: an effect that was performed must be
// recorded even when a shutdown cancels ctx in the meantime, or the next run repeats it.
func (e *Engine) record(ctx context.Context, entry bot.LedgerEntry) error {
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), recordTimeout)
	defer cancel()
	return e.opts.Store.Record(rctx, entry)
}

// panicked logs a recovered panic with its stack and returns it as a permanent error.
func (e *Engine) panicked(op string, v any) error {
	e.log.Error("panic", "op", op, "panic", v, "stack", string(debug.Stack()))
	return &bot.Error{Op: op, Code: "PANIC", Message: fmt.Sprint(v)}
}

// outcome is the result of performing one effect.
type outcome struct {
	result string // provider ids for the ledger
	detail string // what was done, for people
	err    error
	// unperformed: the cycle stopped before the effect; it is neither done nor recorded.
	unperformed bool
}

// perform runs one phase: all record writes in one CRM batch, then the messages, mails and
// calls, then one more batch for what those leave on the case (logged mails, stored values).
// Once Run is stopping (or ctx is done), the messages, mails and calls not yet begun are left
// for the next run. A panic fails the effect it happened in, for good.
func (e *Engine) perform(ctx context.Context, phase []pending, now time.Time) []outcome {
	out := make([]outcome, len(phase))
	users, queues := e.lookups(ctx, phase, now)
	var b batch
	for i, d := range phase {
		e.guard(d, &out[i], func() {
			var err error
			switch d.eff.Kind {
			case bot.KindUpdate, bot.KindStatus:
				b.update(i, d.eff.Object, d.eff.RecordID, d.eff.Fields)
				out[i].detail = describeFields(d.eff.Object, d.eff.Fields)
			case bot.KindTasks:
				err = e.addTasks(&b, i, d, users)
				out[i].detail = fmt.Sprintf("%d task(s): %s", len(d.eff.Tasks), taskSubjects(d.eff.Tasks))
			case bot.KindComment:
				err = e.addComment(&b, i, d, &out[i])
			case bot.KindQueue:
				err = e.addQueue(&b, i, d, queues, &out[i])
			case bot.KindSlack, bot.KindEmail, bot.KindHTTP:
			default:
				err = &bot.Error{Op: "perform " + d.eff.Key, Code: "UNKNOWN_KIND", Message: string(d.eff.Kind)}
			}
			out[i].err = err
		})
	}
	e.apply(ctx, &b, out)

	var after batch
	for i, d := range phase {
		if out[i].err != nil || !outbound(d.eff.Kind) {
			continue
		}
		if e.stopping.Load() || ctx.Err() != nil {
			out[i].unperformed = true
			continue
		}
		e.guard(d, &out[i], func() {
			switch d.eff.Kind {
			case bot.KindSlack:
				out[i] = e.post(ctx, d)
			case bot.KindEmail:
				out[i] = e.mail(ctx, &after, i, d)
			case bot.KindHTTP:
				out[i] = e.call(ctx, &after, i, d)
			}
		})
	}
	e.apply(ctx, &after, out)
	return out
}

// apply sends a batch. A panic while it does fails every effect of the batch that has no
// outcome yet, for good: what was performed before it (a mail sent, say) keeps its result and
// is not performed again.
func (e *Engine) apply(ctx context.Context, b *batch, out []outcome) {
	defer func() {
		if v := recover(); v != nil {
			err := e.panicked("apply writes", v)
			for _, owners := range b.owners {
				for _, i := range owners {
					if out[i].err == nil {
						out[i].err = err
					}
				}
			}
		}
	}()
	b.apply(ctx, e.opts.CRM, out)
}

// outbound reports whether an effect of kind leaves Salesforce: a message, a mail, a call.
func outbound(kind bot.EffectKind) bool {
	return kind == bot.KindSlack || kind == bot.KindEmail || kind == bot.KindHTTP
}

// guard runs f for one effect, turning a panic into a permanent failure of that effect, so
// that one bad case cannot crash-loop the daemon.
func (e *Engine) guard(d pending, o *outcome, f func()) {
	defer func() {
		if v := recover(); v != nil {
			*o = outcome{err: e.panicked("perform "+d.eff.Key, v)}
		}
	}()
	f()
}

// lookup is the outcome of resolving names: the ids known, or why the CRM could not be asked.
type lookup struct {
	ids map[string]string
	err error
}

// lookups resolves the task owners and the queues the effects of a phase need, in one call
// each at most.
func (e *Engine) lookups(ctx context.Context, phase []pending, now time.Time) (users, queues lookup) {
	var owners, names []string
	for _, d := range phase {
		switch d.eff.Kind {
		case bot.KindTasks:
			for _, t := range d.eff.Tasks {
				if r, ok := e.opts.Roles[t.OwnerRole]; ok && t.OwnerRole != "" && roleUser(r, d.c) != "" {
					owners = append(owners, roleUser(r, d.c))
				}
			}
		case bot.KindQueue:
			if len(d.eff.Roles) > 0 {
				names = append(names, e.opts.Roles[d.eff.Roles[0]].Queue)
			}
		}
	}
	if len(owners) > 0 {
		users.ids, users.err = e.users.resolve(ctx, now, owners)
	}
	if len(names) > 0 {
		queues.ids, queues.err = e.queues.resolve(ctx, now, names)
	}
	return users, queues
}

// addComment renders the effect's comment and adds it to the batch.
func (e *Engine) addComment(b *batch, i int, d pending, o *outcome) error {
	text, err := e.opts.Templates.RenderComment(d.eff.Template, e.data(d))
	if err != nil {
		return &bot.Error{Op: "render comment " + d.eff.Template, Code: "TEMPLATE", Message: err.Error()}
	}
	b.create(i, "CaseComment", bot.Fields{
		"ParentId": d.c.ID, "CommentBody": bot.Truncate(text, 4000, ""), "IsPublished": d.eff.Public,
	})
	o.detail = fmt.Sprintf("comment %q", firstLine(text))
	return nil
}

// addQueue gives the case to the queue of the effect's role, resolved in queues.
func (e *Engine) addQueue(b *batch, i int, d pending, queues lookup, o *outcome) error {
	role := d.eff.Roles[0]
	r := e.opts.Roles[role]
	if r.Queue == "" {
		return &bot.Error{Op: "queue " + d.eff.Key, Code: "UNKNOWN_ROLE",
			Message: fmt.Sprintf("role %q has no queue configured", role)}
	}
	if queues.err != nil {
		return queues.err
	}
	id, ok := queues.ids[r.Queue]
	if !ok {
		return &bot.Error{Op: "queue " + d.eff.Key, Code: "UNKNOWN_QUEUE", Retryable: true,
			Message: fmt.Sprintf("role %q: no Salesforce queue %q", role, r.Queue)}
	}
	b.update(i, "Case", d.c.ID, bot.Fields{"OwnerId": id})
	o.detail = fmt.Sprintf("Case.OwnerId = %s (queue %s)", id, r.Queue)
	return nil
}

// addTasks adds the effect's tasks that do not exist yet to the batch, with their owners
// resolved in users. Tasks found on the case by their key were created by an earlier attempt
// whose ledger entry was lost.
func (e *Engine) addTasks(b *batch, i int, d pending, users lookup) error {
	var known []string
	var creates []bot.Fields
	existing := map[string]string{}
	for _, t := range d.c.Tasks {
		existing[t.Key] = t.ID
	}
	for _, t := range d.eff.Tasks {
		if id, ok := existing[t.Key]; ok {
			known = append(known, id)
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
			if users.err != nil {
				return users.err
			}
			user := roleUser(r, d.c)
			if user == "" {
				return &bot.Error{Op: "task " + t.Key, Code: "UNKNOWN_USER",
					Message: fmt.Sprintf("role %q: %s is empty on the case", t.OwnerRole, r.Field)}
			}
			id, ok := users.ids[user]
			if !ok {
				return &bot.Error{Op: "task " + t.Key, Code: "UNKNOWN_USER", Retryable: true,
					Message: fmt.Sprintf("role %q: no active Salesforce user %q", t.OwnerRole, user)}
			}
			f["OwnerId"] = id
		}
		creates = append(creates, f)
	}
	// Nothing goes into the batch until every task of the effect is ready: an error (or a
	// panic) part-way leaves no task of it to be created.
	for _, id := range known {
		b.known(i, id)
	}
	for _, f := range creates {
		b.create(i, "Task", f)
	}
	return nil
}

// maxIDsPerPass is how many case ids a later pass names in its query: about what fits in one
// query's URL.
const maxIDsPerPass = 150

// withRoleFields adds to a playbook's query the fields that the roles it names resolve
// through (only those: another playbook's role field may not exist on every object).
func (e *Engine) withRoleFields(p *rules.Playbook) bot.CaseQuery {
	q := p.Query
	for _, name := range p.Roles() {
		object, path, ok := strings.Cut(e.opts.Roles[name].Field, ".")
		switch {
		case !ok:
		case object == "Case" && !slices.Contains(q.Fields, path):
			q.Fields = append(slices.Clip(q.Fields), path)
		case object == "Account" && !slices.Contains(q.AccountFields, path):
			q.AccountFields = append(slices.Clip(q.AccountFields), path)
		}
	}
	return q
}

// roleUser is the user who owns a role's tasks on a case: the configured user, or the user id
// in the role's field ("" when that field is empty).
func roleUser(r Role, c *bot.Case) string {
	if r.User != "" || r.Field == "" {
		return r.User
	}
	v, _ := fieldValue(c, r.Field).(string)
	return v
}

// fieldValue reads "Case.F", "Account.F" or a relationship path such as "Account.Owner.Email"
// from a case; nil when missing or null. A CRM keeps a path's value under the whole path
// ("Owner.Email"), as bot.Fields says.
func fieldValue(c *bot.Case, path string) any {
	object, rest, _ := strings.Cut(path, ".")
	switch {
	case object == "Case":
		return c.Fields[rest]
	case object == "Account" && c.Account != nil:
		return c.Account.Fields[rest]
	}
	return nil
}

// stepState returns the state of the named step.
func stepState(steps []rules.StepState, step string) rules.StepState {
	for _, s := range steps {
		if s.Step == step {
			return s
		}
	}
	return rules.StepState{}
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
