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
	"cmp"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"runtime"
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

	// ThreadField, when set, is the Case field where each case's Slack threads are kept for
	// people in Salesforce ("#legal 1700000000.000100", a line each), written when a thread
	// starts. The ledger and the roots' metadata are what casebot itself goes by.
	ThreadField string

	chunk int // cases a pass decides and performs together; chunkCases when 0 (tests set it)
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
	// At is the time the cycle ran as: the clock's when it began.
	At                    time.Time
	Read                  int // playbooks whose cases were read
	Cases                 int
	Done, Skipped, Failed int
	// Next is the earliest time a step of any case comes due; zero when none is scheduled.
	Next time.Time
}

// add adds what o did to r, and takes o's Next when it is earlier.
func (r *Report) add(o Report) {
	r.Done += o.Done
	r.Skipped += o.Skipped
	r.Failed += o.Failed
	if !o.Next.IsZero() && (r.Next.IsZero() || o.Next.Before(r.Next)) {
		r.Next = o.Next
	}
}

// parallel calls f with runs [lo, hi) that cover [0, n), the w-th of runs(n) each on a
// goroutine of its own, and returns when all have returned.
func parallel(n int, f func(w, lo, hi int)) {
	workers := runs(n)
	if workers == 1 {
		f(0, 0, n)
		return
	}
	var wg sync.WaitGroup
	for w := range workers {
		lo, hi := n*w/workers, n*(w+1)/workers
		wg.Go(func() { f(w, lo, hi) })
	}
	wg.Wait()
}

// runs is how many runs parallel cuts n items into: one per processor, but fewer than minRun
// items make one run, since a goroutine costs more than they do.
func runs(n int) int {
	return max(1, min(runtime.GOMAXPROCS(0), n/minRun))
}

// minRun is the fewest items parallel gives a goroutine of their own.
const minRun = 64

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
	ledger   ledgerCache

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
	if opts.chunk == 0 {
		opts.chunk = chunkCases
	}
	return &Engine{
		opts: opts, log: log, metrics: newMetrics(opts.Registerer),
		users:  &resolver{what: "users", lookup: opts.CRM.UserIDs, isID: userID.MatchString},
		queues: &resolver{what: "queues", lookup: opts.CRM.QueueIDs, isID: queueID.MatchString},
	}, nil
}

// CheckLedger reports why the ledger can no longer be written, as a *LedgerError; nil when it
// can. A cycle checks it first and does nothing while it fails.
func (e *Engine) CheckLedger(ctx context.Context) error {
	if err := e.opts.Store.Check(ctx); err != nil {
		return &LedgerError{Err: err}
	}
	return nil
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
	rep := Report{At: e.opts.Now()}
	err := e.cycle(ctx, &rep)
	end := time.Now()
	e.metrics.cycle(rep, err, end.Sub(start), end)
	e.mu.Lock()
	e.lastEnd, e.lastErr = end, err
	e.mu.Unlock()
	return rep, err
}

// cycle runs the playbooks, once the ledger is known to be writable.
func (e *Engine) cycle(ctx context.Context, rep *Report) error {
	if err := e.CheckLedger(ctx); err != nil {
		return err
	}
	e.ledger.begin()
	defer e.ledger.end()
	claimed, err := e.opts.Store.Claimed(ctx)
	if err != nil {
		return &LedgerError{Err: fmt.Errorf("reading unconfirmed effects: %w", err)}
	}
	unconfirmed := map[string][]string{} // playbook → cases with claimed effects
	seen := map[[2]string]bool{}         // a set: a list searched per claim was quadratic
	for _, c := range claimed {
		if k := [2]string{c.Playbook, c.CaseID}; !seen[k] {
			seen[k] = true
			unconfirmed[c.Playbook] = append(unconfirmed[c.Playbook], c.CaseID)
		}
	}
	var errs []error
	for _, p := range e.opts.Playbooks {
		if e.stopping.Load() {
			break
		}
		if err := e.settle(ctx, p, unconfirmed[p.Name], rep); err != nil {
			errs = append(errs, fmt.Errorf("playbook %s: %w", p.Name, err))
		}
	}
	return errors.Join(errs...)
}

// LedgerError is a cycle's failure to read or write the ledger: nothing more is done until
// it can be written again.
type LedgerError struct{ Err error }

func (e *LedgerError) Error() string { return "ledger: " + e.Err.Error() }
func (e *LedgerError) Unwrap() error { return e.Err }

// CRMError is a cycle's failure to read the cases.
type CRMError struct{ Err error }

func (e *CRMError) Error() string { return e.Err.Error() }
func (e *CRMError) Unwrap() error { return e.Err }

// Diagnose says in a few words what stops cycles from working, for /readyz and the log:
// the ledger, Salesforce's login, Salesforce out of reach, or something else.
func Diagnose(err error) string {
	var (
		le *LedgerError
		ce *CRMError
		be *bot.Error
	)
	switch {
	case err == nil:
		return ""
	case errors.Is(err, bot.ErrLeaseLost):
		return "another replica took over the ledger's lease: this one stands by"
	case errors.As(err, &le):
		return "the ledger cannot be used: " + le.Err.Error()
	case errors.As(err, &ce) && errors.As(err, &be) && be.Login:
		return "the Salesforce login is refused: " + be.Error()
	case errors.As(err, &ce) && bot.IsRetryable(err):
		return "Salesforce is unreachable or overloaded: " + err.Error()
	case errors.As(err, &ce):
		return "Salesforce refused to give the cases: " + err.Error()
	}
	return "the last cycle failed: " + err.Error()
}

// stepRef names a step of a case.
type stepRef struct{ caseID, step string }

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
	cl    *claim // what it performs, as decided when it was claimed
	fresh bool   // claimed in this pass: no earlier attempt to recover
}

// maxPasses bounds how often a cycle re-reads a playbook's cases while its passes make
// progress: a chain of gates one step long each is settled in as many passes.
const maxPasses = 8

// Retries: a retryable failure is tried again after an exponential backoff from its attempts
// (1m, 2m, 4m … at most 6h, plus jitter) or the provider's Retry-After, whichever is later.
// From loudAttempts attempts on, each failure is logged as an error: something needs a look.
const (
	retryBase    = time.Minute
	retryMax     = 6 * time.Hour
	loudAttempts = 10
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
//
// unconfirmed are the cases with claimed effects: those the query no longer finds (a step
// closed the case before its outcome was recorded) are read once more to confirm them.
func (e *Engine) settle(ctx context.Context, p *rules.Playbook, unconfirmed []string, rep *Report) (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = e.panicked("settle playbook "+p.Name, v)
		}
	}()
	// Steps that failed in a pass are left alone by the later ones: a retry waits for its
	// RetryAt, which is later.
	failed := map[stepRef]bool{}
	q := e.withRoleFields(p)
	th := e.newThreads(p)
	defer func() {
		// The checklists as the last pass left them, also when it failed: what was done is.
		if serr := th.sync(context.WithoutCancel(ctx)); err == nil {
			err = serr
		}
	}()
	for pass := 0; pass < maxPasses && !e.stopping.Load(); pass++ {
		var r Report
		progressed, err := e.pass(ctx, p, th, q, unconfirmed, failed, &r)
		if pass == 0 {
			rep.Cases += r.Cases
			rep.Read += r.Read
		}
		rep.add(r)
		if err != nil {
			return err
		}
		unconfirmed = nil
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

// pass reads the cases of q and their ledger once, evaluates every case, writes what it
// decided (skips, marks, and the claims of the effects it will perform) in one transaction,
// and then performs the due effects. It returns the ids of the cases that progressed: an
// effect done or a step skipped.
//
// Cases in unconfirmed that the query did not return are read by id: only the effects they
// have claimed are performed on them, nothing new is decided.
func (e *Engine) pass(ctx context.Context, p *rules.Playbook, th *threads, q bot.CaseQuery, unconfirmed []string, failed map[stepRef]bool, rep *Report) ([]string, error) {
	cases, err := e.opts.CRM.Cases(ctx, q)
	if err != nil {
		return nil, &CRMError{Err: fmt.Errorf("reading cases: %w", err)}
	}
	rep.Read, rep.Cases = 1, len(cases)
	ids := make([]string, len(cases))
	read := make(map[string]bool, len(cases))
	for i, c := range cases {
		ids[i] = c.ID
		read[c.ID] = true
	}
	var missing []string
	for _, id := range unconfirmed {
		if !read[id] {
			missing = append(missing, id)
		}
	}
	orphans := map[string]bool{}
	if len(missing) > 0 {
		more, err := e.opts.CRM.Cases(ctx, bot.CaseQuery{Object: q.Object, Fields: q.Fields, AccountFields: q.AccountFields,
			IDs: missing, AnyState: true})
		if err != nil {
			return nil, &CRMError{Err: fmt.Errorf("reading cases with unconfirmed effects: %w", err)}
		}
		for _, c := range more {
			orphans[c.ID] = true
			ids = append(ids, c.ID)
		}
		cases = append(cases, more...)
	}
	ledgers, err := e.ledger.entries(ctx, e.opts.Store, ids)
	if err != nil {
		return nil, &LedgerError{Err: fmt.Errorf("reading the ledger: %w", err)}
	}
	now := e.opts.Now()
	titles := map[string]string{}
	for _, s := range p.Steps {
		titles[s.ID] = s.Title
	}

	progressed := map[string]bool{}
	// Each case is evaluated on its own: on every processor, a run of cases each, joined in
	// the order of cases.
	type evaluated struct {
		due     []*pending
		records []bot.LedgerEntry
		events  []Event
		rep     Report
	}
	parts := make([]evaluated, runs(len(cases)))
	parallel(len(cases), func(w, lo, hi int) {
		r := &parts[w]
		for i := lo; i < hi; i++ {
			d, recs, evs := e.evaluate(p, th, &cases[i], ledgers[cases[i].ID], now, titles, orphans[cases[i].ID], &r.rep)
			r.due, r.records, r.events = append(r.due, d...), append(r.records, recs...), append(r.events, evs...)
		}
	})
	var due []*pending
	var records []bot.LedgerEntry
	var events []Event
	for _, r := range parts {
		due, records, events = append(due, r.due...), append(records, r.records...), append(events, r.events...)
		rep.add(r.rep)
	}
	w := e.newWriter()
	w.threads = th
	err = e.decideAndExecute(ctx, w, cases, due, records, events, now, failed, progressed, rep)
	if werr := w.close(); werr != nil && err == nil {
		err = &LedgerError{Err: fmt.Errorf("recording outcomes: %w", werr)}
	}
	var out []string
	for _, c := range cases {
		if progressed[c.ID] {
			out = append(out, c.ID)
		}
	}
	return out, err
}

// chunkCases is how many cases a pass decides and performs together. A pass over more is cut
// into chunks of this many, and the next chunk's effects are rendered and claimed while this
// chunk's are performed: the ledger's work and Salesforce's answers overlap. A multiple of 200
// (a Collections call) keeps a phase's calls full when every case has the same effects.
const chunkCases = 2000

// decided is a chunk of a pass's cases, decided and claimed: the effects to perform, and the
// events of what was decided (skips, effects that failed to render), told once recorded.
type decided struct {
	ready  []*pending
	events []Event
	rep    Report
	err    error
}

// decideAndExecute writes what the pass decided (skips, marks, and the claims of the effects it
// will perform) and then performs the due effects, a chunk of cases at a time: each chunk's
// decisions in one transaction, so that a case's are all or nothing, before any of its effects;
// the next chunk's decided on a goroutine of their own while this chunk's are performed. due,
// records and events are in the order of cases.
func (e *Engine) decideAndExecute(ctx context.Context, w *writer, cases []bot.Case, due []*pending, records []bot.LedgerEntry,
	events []Event, now time.Time, failed map[stepRef]bool, progressed map[string]bool, rep *Report) error {
	size := e.opts.chunk
	chunkOf := make(map[string]int, len(cases))
	for i, c := range cases {
		chunkOf[c.ID] = i / size
	}
	chunks := (len(cases) + size - 1) / size
	dctx, stop := context.WithCancel(ctx)
	defer stop()
	out := make(chan decided, 1) // one chunk decided ahead
	go func() {
		defer close(out)
		for k := range chunks {
			var dueK []*pending
			var recordsK []bot.LedgerEntry
			var eventsK []Event
			due, dueK = cut(due, k, func(d *pending) int { return chunkOf[d.c.ID] })
			records, recordsK = cut(records, k, func(r bot.LedgerEntry) int { return chunkOf[r.CaseID] })
			events, eventsK = cut(events, k, func(ev Event) int { return chunkOf[ev.Case.ID] })
			dc := e.decide(dctx, w, dueK, recordsK, eventsK, now)
			select {
			case out <- dc:
			case <-dctx.Done():
				return
			}
			if dc.err != nil {
				return
			}
		}
	}()
	var err error
	for dc := range out {
		rep.add(dc.rep)
		if err = dc.err; err != nil {
			break
		}
		for _, ev := range dc.events {
			if ev.Outcome == Skipped {
				progressed[ev.Case.ID] = true
			} else {
				failed[stepRef{ev.Case.ID, ev.Step}] = true
			}
		}
		if err = e.execute(ctx, w, dc.ready, now, failed, progressed, rep); err != nil || e.stopping.Load() {
			break
		}
	}
	stop()
	for range out { // the goroutine ends
	}
	return err
}

// cut splits the items of chunk k off the front of items, which are in the order of chunks.
// What it cuts off has no room to grow: appending to it must not overwrite the rest.
func cut[T any](items []T, k int, chunk func(T) int) (rest, of []T) {
	n := 0
	for n < len(items) && chunk(items[n]) <= k {
		n++
	}
	return items[n:], items[:n:n]
}

// decide claims a chunk's due effects (rendering them) and records them with the chunk's
// other decisions in one transaction, which it waits for. The actions of steps are claimed
// now; notices (reminders, escalations) wait for their phase, which sends them only for cases
// this pass changed nothing else of. A panic fails the chunk.
func (e *Engine) decide(ctx context.Context, w *writer, due []*pending, records []bot.LedgerEntry, events []Event, now time.Time) (dc decided) {
	defer func() {
		if v := recover(); v != nil {
			dc = decided{err: e.panicked("decide", v)}
		}
	}()
	notices := slices.DeleteFunc(slices.Clone(due), func(d *pending) bool { return d.eff.Action != 0 })
	due = slices.DeleteFunc(due, func(d *pending) bool { return d.eff.Action == 0 })
	ready, claims, failures, err := e.claims(ctx, due, now, &dc.rep)
	if err != nil {
		return decided{err: err}
	}
	entries := append(records, claims...)
	if err := w.submit(entries, append(events, failures...)).wait(); err != nil {
		return decided{err: &LedgerError{Err: fmt.Errorf("recording %d decision(s): %w", len(entries), err)}}
	}
	dc.ready, dc.events = append(ready, notices...), append(events, failures...)
	return dc
}

// evaluate evaluates one case and returns its due effects, what the evaluation decided
// (skips, marks) and the events of its skips. A panic fails this case alone: it is logged and
// recorded in the ledger under the case's "evaluate/panic" key, and the case is left alone
// this pass. For an orphan (a case read only to confirm its claimed effects) nothing is
// decided: only the effects already claimed are due.
func (e *Engine) evaluate(p *rules.Playbook, th *threads, c *bot.Case, l bot.Ledger, now time.Time,
	titles map[string]string, orphan bool, rep *Report) (due []*pending, records []bot.LedgerEntry, events []Event) {
	defer func() {
		if v := recover(); v != nil {
			rep.Failed++
			perr := e.panicked("evaluate case "+c.ID, v)
			key := bot.StepKey(p.Name, "evaluate", "panic", c.ID)
			due, events = nil, nil
			records = []bot.LedgerEntry{{Key: key, CaseID: c.ID, Playbook: p.Name,
				State: bot.StateFailed, Detail: perr.Error(), Attempts: l[key].Attempts + 1, At: now}}
		}
	}()
	res := p.Evaluate(*c, l, now)
	loc := p.Zone(*c)
	th.see(c, l, res, loc)
	if !orphan {
		records = res.Records
	}
	for _, r := range records {
		if r.State != bot.StateSkipped {
			continue // a mark (a hold's start or end, a gate's first wait) is no outcome
		}
		rep.Skipped++
		events = append(events, Event{At: now, Location: loc, Case: *c, Step: r.Step, Title: titles[r.Step],
			Effect: bot.Effect{Key: r.Key, Playbook: r.Playbook, Step: r.Step, CaseID: c.ID}, Outcome: Skipped, Detail: r.Detail})
	}
	next := nextScheduled(res.Steps)
	for _, eff := range res.Due {
		prev, ok := l[eff.Key]
		if orphan && !ok {
			continue
		}
		st := stepState(res.Steps, eff.Step)
		due = append(due, &pending{eff: eff, c: c, title: titles[eff.Step], prev: prev, loc: loc,
			next: next, gate: st.Gate.Waiting(), at: st.At, now: now})
	}
	if !res.Next.IsZero() && (rep.Next.IsZero() || res.Next.Before(rep.Next)) {
		rep.Next = res.Next
	}
	return due, records, events
}

// execute performs due effects in phases by action index, so that every action of a step runs
// only after the ones before it succeeded (a step that closes the case closes it last), while
// the writes of one phase across all cases still go out in as few calls as the CRM allows.
//
// failedSteps holds the steps with an action that failed in this cycle: their remaining
// actions wait, and so does a retry of the failed one. progressed collects the
// cases with an effect done.
//
// The outcomes of a phase are recorded in one transaction; when that fails the cycle stops.
func (e *Engine) execute(ctx context.Context, w *writer, due []*pending, now time.Time, failedSteps map[stepRef]bool, progressed map[string]bool, rep *Report) error {
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
		w.tell()
		if err := w.failure(); err != nil {
			return &LedgerError{Err: fmt.Errorf("recording outcomes: %w", err)}
		}
		var phase []*pending
		for _, d := range due {
			if d.eff.Action == action && !failedSteps[stepRef{d.c.ID, d.eff.Step}] && (action != 0 || !progressed[d.c.ID]) {
				phase = append(phase, d)
			}
		}
		if action == 0 {
			var claims []bot.LedgerEntry
			var failures []Event
			var err error
			if phase, claims, failures, err = e.claims(ctx, phase, now, rep); err != nil {
				return err
			}
			if err := w.submit(claims, failures).wait(); err != nil {
				return &LedgerError{Err: fmt.Errorf("recording %d claim(s): %w", len(claims), err)}
			}
		}
		if len(phase) == 0 {
			continue
		}
		outcomes := e.perform(ctx, w, phase, now)
		entries := make([]bot.LedgerEntry, 0, len(phase))
		told := make([]Event, 0, len(phase))
		for i, d := range phase {
			o := &outcomes[i]
			if o.unperformed {
				continue // stopped before it: its claim stays, and the next cycle performs it
			}
			result := o.result
			if o.err != nil && result == "" {
				// An attempt that failed before it got anywhere keeps what the ones before it
				// recorded: a mail that went out must never be sent again for want of its mark.
				result = d.prev.Result
			}
			entry := d.entry(bot.StateDone, result, now)
			if o.err == nil {
				rep.Done++
				progressed[d.c.ID] = true
			} else {
				e.failure(&entry, o.err, now)
				o.detail = entry.Detail
				rep.Failed++
				failedSteps[stepRef{d.c.ID, d.eff.Step}] = true
			}
			entries = append(entries, entry)
			outcome := Done
			if o.err != nil {
				outcome = Failed
			}
			told = append(told, Event{At: now, Location: d.loc, Case: *d.c, Step: d.eff.Step, Title: d.title, Effect: d.eff,
				Outcome: outcome, Detail: o.detail})
		}
		// One transaction for the phase's outcomes, written while the next phase runs: a crash
		// before it leaves their claims, which the next cycle confirms with the providers
		// instead of performing again. Their events are told once they are recorded.
		w.submit(append(entries, w.threads.started()...), told)
	}
	return nil
}

// failure fills in a failed effect's entry. A retryable error gets a RetryAt and is tried
// again however often it takes (an outage, an expired session, a used-up allowance all pass);
// only a permanent error fails the effect for good, to be reported and retried by a person.
func (e *Engine) failure(entry *bot.LedgerEntry, err error, now time.Time) {
	entry.State = bot.StateFailed
	entry.Detail = err.Error()
	// A call cut off by shutdown or a deadline did not fail on its merits: try it again.
	entry.Retryable = bot.IsRetryable(err) || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)
	if !entry.Retryable {
		e.metrics.failedForGood.Inc()
		e.log.Error("effect failed for good", "key", entry.Key, "attempts", entry.Attempts, "err", err)
		return
	}
	entry.RetryAt = retryAt(now, entry.Key, entry.Attempts, err)
	log := e.log.Warn
	if entry.Attempts >= loudAttempts {
		log = e.log.Error
	}
	log("effect failed", "key", entry.Key, "attempts", entry.Attempts, "retry_at", entry.RetryAt, "err", err)
}

// retryAt is when an effect that failed retryably after attempts attempts may run again: an
// exponential backoff with up to a quarter more of jitter, or the provider's Retry-After when
// later. The jitter comes from the key, so that effects that failed together spread out while
// a replay of the same history computes the same times.
func retryAt(now time.Time, key string, attempts int, err error) time.Time {
	wait := retryMax
	if n := attempts - 1; n < 20 { // beyond, the shift would overflow; the cap holds anyway
		wait = min(retryBase<<max(n, 0), retryMax)
	}
	h := fnv.New64a()
	h.Write([]byte(key))
	wait += time.Duration(h.Sum64() % uint64(wait/4+1))
	var be *bot.Error
	if errors.As(err, &be) {
		wait = max(wait, be.RetryAfter)
	}
	return now.Add(wait)
}

// record writes ledger entries in one transaction, on a context of its own: an effect that
// was performed must be recorded even when a shutdown cancels ctx in the meantime, or the next
// run has to recover it.
func (e *Engine) record(ctx context.Context, entries ...bot.LedgerEntry) error {
	if len(entries) == 0 {
		return nil
	}
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), recordTimeout)
	defer cancel()
	e.metrics.ledgerWrites.Inc()
	return e.opts.Store.Record(rctx, entries...)
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
func (e *Engine) perform(ctx context.Context, w *writer, phase []*pending, now time.Time) []outcome {
	out := make([]outcome, len(phase))
	users, queues := e.lookups(ctx, phase, now)
	found, findErr := e.find(ctx, phase)
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
				err = e.addComment(&b, i, d, found, findErr, &out[i])
			case bot.KindAttach:
				err = e.addAttach(&b, i, d, found, findErr, &out[i])
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
				out[i] = e.post(ctx, w, d)
			case bot.KindEmail:
				out[i] = e.mail(ctx, w, &after, i, d, found, findErr, now)
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
func (e *Engine) guard(d *pending, o *outcome, f func()) {
	defer func() {
		if v := recover(); v != nil {
			*o = outcome{err: e.panicked("perform "+d.eff.Key, v)}
		}
	}()
	f()
}

// lookup is the outcome of asking the CRM about names or records: what it knows, by name or
// id, or why it could not be asked.
type lookup[T any] struct {
	found map[string]T
	err   error
}

// lookups resolves the task owners and the queues the effects of a phase need, in one call
// each at most.
func (e *Engine) lookups(ctx context.Context, phase []*pending, now time.Time) (users, queues lookup[string]) {
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
		users.found, users.err = e.users.resolve(ctx, now, owners)
	}
	if len(names) > 0 {
		queues.found, queues.err = e.queues.resolve(ctx, now, names)
	}
	return users, queues
}

// addComment adds the effect's comment to the batch, unless an interrupted attempt already
// added it (found by the marker it ends with).
func (e *Engine) addComment(b *batch, i int, d *pending, found map[string]string, findErr error, o *outcome) error {
	o.detail = fmt.Sprintf("comment %q", firstLine(d.cl.Text))
	if done, err := e.foundEarlier(d, found, findErr, o); done || err != nil {
		return err
	}
	b.create(i, "CaseComment", bot.Fields{"ParentId": d.c.ID, "CommentBody": d.cl.Text, "IsPublished": d.eff.Public})
	return nil
}

// addAttach adds the effect's file to the batch as a ContentVersion published to the case,
// unless an interrupted attempt already added it (found by the marker its Description ends
// with: a ContentVersion takes casebot's key in no field of its own).
func (e *Engine) addAttach(b *batch, i int, d *pending, found map[string]string, findErr error, o *outcome) error {
	f := d.eff.Files[0]
	o.detail = fmt.Sprintf("file %q (%s)", f.Title, f.Name)
	if done, err := e.foundEarlier(d, found, findErr, o); done || err != nil {
		return err
	}
	data := []byte(d.cl.Data)
	if f.Path != "" {
		var err error
		if data, err = e.shipped(d.eff, f); err != nil {
			return err
		}
	}
	b.create(i, "ContentVersion", bot.Fields{
		"Title": f.Title, "PathOnClient": f.Name, "VersionData": base64.StdEncoding.EncodeToString(data),
		"FirstPublishLocationId": d.c.ID,
		"Description":            withMarker(fmt.Sprintf("Attached by casebot: %s.", cmp.Or(d.title, d.eff.Step)), bot.CommentMarker(d.eff.Key)),
	})
	return nil
}

// foundEarlier reports whether an interrupted attempt of d already created the record its
// marker names, and then gives o that record's id.
func (e *Engine) foundEarlier(d *pending, found map[string]string, findErr error, o *outcome) (bool, error) {
	if !d.recovering() {
		return false, nil
	}
	if findErr != nil {
		return false, findErr
	}
	id, ok := found[bot.CommentMarker(d.eff.Key)]
	if !ok {
		return false, nil
	}
	e.metrics.recovered.WithLabelValues(string(d.eff.Kind)).Inc()
	o.result, o.detail = id, o.detail+" (added by an interrupted attempt)"
	return true, nil
}

// shipped returns the bytes of a file shipped beside the effect's playbook, as its claim
// decided them: when the playbooks were changed since, so that the file is gone or differs,
// it fails for good rather than send what was not decided.
func (e *Engine) shipped(eff bot.Effect, f bot.File) ([]byte, error) {
	for _, p := range e.opts.Playbooks {
		if p.Name != eff.Playbook {
			continue
		}
		sf, ok := p.Files[f.Path]
		if !ok || sf.SHA256 != f.SHA256 {
			break
		}
		return sf.Data, nil
	}
	return nil, &bot.Error{Op: "read file " + f.Path + " of playbook " + eff.Playbook, Code: "FILE_CHANGED",
		Message: "the file was removed or changed since the effect was decided (sha256 " + f.SHA256 + ")"}
}

// addQueue gives the case to the queue of the effect's role, resolved in queues.
func (e *Engine) addQueue(b *batch, i int, d *pending, queues lookup[string], o *outcome) error {
	role := d.eff.Roles[0]
	r := e.opts.Roles[role]
	if r.Queue == "" {
		return &bot.Error{Op: "queue " + d.eff.Key, Code: "UNKNOWN_ROLE",
			Message: fmt.Sprintf("role %q has no queue configured", role)}
	}
	if queues.err != nil {
		return queues.err
	}
	id, ok := queues.found[r.Queue]
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
func (e *Engine) addTasks(b *batch, i int, d *pending, users lookup[string]) error {
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
			id, ok := users.found[user]
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
	if _, ok := e.opts.Chat.(bot.Threads); ok {
		// What a thread's root shows of the case, and where its thread can start.
		for _, f := range []string{"CaseNumber", "CreatedDate"} {
			if !slices.Contains(q.Fields, f) {
				q.Fields = append(slices.Clip(q.Fields), f)
			}
		}
		if !slices.Contains(q.AccountFields, "Name") {
			q.AccountFields = append(slices.Clip(q.AccountFields), "Name")
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

// observe counts an outcome and tells the observer, whose panic is logged and goes no
// further: what it watches is already recorded.
func (e *Engine) observe(ev Event) {
	kind := string(ev.Effect.Kind)
	if kind == "" {
		kind = "step" // a skipped step is decided before any of its actions has a kind
	}
	e.metrics.effects.WithLabelValues(kind, string(ev.Outcome)).Inc()
	if e.opts.Observe == nil {
		return
	}
	defer func() {
		if v := recover(); v != nil {
			e.panicked("observe "+ev.Effect.Key, v)
		}
	}()
	e.opts.Observe(ev)
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
