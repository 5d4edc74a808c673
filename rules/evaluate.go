package rules

import (
	"slices"
	"strconv"
	"strings"
	"time"

	"casebot/bot"
)

// Tags of the ledger keys (bot.StepKey) of what is not an action of a step.
const (
	holdStep    = "hold"   // the "step" of hold marks: playbook/hold/start-1/case-id
	holdStart   = "start-" // + N: when hold N started
	holdEnd     = "end-"   // + N: when hold N ended
	gateTag     = "gate"   // when a step first found its require false
	needsTag    = "needs"  // when it first found a field it needs blank; + "-" N: reminders
	guardTag    = "guard"  // when it first found its guard not holding; likewise
	remindTag   = "remind-"
	escalateTag = "escalate"
	failedTag   = "failed-" // + action + "-" + the failure's Unix time
)

// escalatedPrefix starts the Detail of the skips of an escalated step.
const escalatedPrefix = "escalated: "

// Evaluate computes where case c stands in the playbook at now, given the ledger entries of
// the case. It is pure: its result depends only on its arguments (and on the tz database and
// the holiday calendars, computed once per zone name and year). It runs for every open case
// every cycle, so the common path (no step changes state) allocates only the result.
//
// Holds come first: with a hold field set and no open hold in the ledger, Records gets a hold
// start; cleared with one open, a hold end. Then per step, in order:
//   - every action done or skipped in the ledger: done (or skipped);
//   - an action failed and not retryable: failed, nothing more is emitted for the step;
//   - an action failed and retryable, its RetryAt still to come: retrying, nothing of the step
//     is due before then (RetryAt is a next due time); once it has come, due as below;
//   - not started (no ledger entry): held while the case is on hold; waiting while its date
//     is null; scheduled before its date (Next is the earliest such date); once its date is
//     reached it comes due: `when` false records the step as skipped; found late (see
//     CatchUp) it runs, or is recorded as skipped, or escalated; `require` false keeps it
//     waiting, checked again next cycle, with reminders;
//   - otherwise its actions not yet done are due, in order (the engine performs them in that
//     order and stops a step at its first failure). A started step finishes even if its date
//     moves.
//
// A step's date is its anchor plus its offset, plus the time the case was on hold before the
// step started, moved off a non-working day as its non_working rule says.
func (p *Playbook) Evaluate(c bot.Case, l bot.Ledger, now time.Time) Result {
	e := evaluation{p: p, c: c, l: l, now: now}
	e.loc, e.zoneFallback = p.zone(&c)
	e.cal, e.calendar = p.caseCalendar(&c)
	// Room for a reason that names a window and a case's calendar besides the date.
	e.buf = make([]byte, 0, 256*len(p.Steps))
	res := Result{Steps: make([]StepState, len(p.Steps))}
	if p.Hold.Name != "" {
		e.readHolds(&res)
	}
	var small [16][2]int
	spans := small[:0]
	for i, s := range p.Steps {
		start := len(e.buf)
		e.step(s, &res, &res.Steps[i])
		spans = append(spans, [2]int{start, len(e.buf)})
	}
	// Every reason is a piece of one string: one allocation instead of one per step.
	text := string(e.buf)
	for i, sp := range spans {
		res.Steps[i].Reason = text[sp[0]:sp[1]]
	}
	return res
}

// Holds evaluates condition c of the playbook on case cs with ledger l at now, as a step's
// evaluation does: for checks made outside the engine, such as the property tests.
func (p *Playbook) Holds(c *Condition, cs bot.Case, l bot.Ledger, now time.Time) (bool, error) {
	e := evaluation{p: p, c: cs, l: l, now: now}
	e.loc, e.zoneFallback = p.zone(&cs)
	e.cal, e.calendar = p.caseCalendar(&cs)
	return e.test(c)
}

// evaluation is one Evaluate call.
type evaluation struct {
	p   *Playbook
	c   bot.Case // a copy, not a pointer: the escape analysis would move the argument to the heap
	l   bot.Ledger
	now time.Time
	loc *time.Location

	zoneFallback string // the zone field's value when it is not a zone name

	cal      *calendar    // the case's business days
	calendar CaseCalendar // which calendar cal is, and why

	holds     []holdSpan // the case's holds, oldest first
	heldSince time.Time  // when the open hold started; zero when the case is not held
	chased    []FieldRef // blank fields a step before this one reminds about

	env    map[string]any // what expressions see, built on first use
	keyBuf [128]byte      // scratch for ledger keys
	buf    []byte         // the reasons of the steps so far
}

// holdSpan is one hold; end is zero while it lasts.
type holdSpan struct{ start, end time.Time }

// dateState says whether a step's anchor could be read.
type dateState int

const (
	dateKnown dateState = iota
	dateNull
	dateInvalid
	dateRefused // its window's field holds what cannot be a window
)

// progress is what the ledger says about the actions of a step.
type progress struct {
	entries, done, skipped int
	claimed                int             // actions decided and not yet confirmed
	failed, retry          int             // 1-based action that failed for good / will be retried; 0: none
	failedEntry, retryEnt  bot.LedgerEntry // their entries
	skipDetail             string
	started                time.Time // the earliest At of its entries
}

func (e *evaluation) step(s *Step, res *Result, st *StepState) {
	st.Step, st.Title = s.ID, s.Title
	pr := e.progress(s)
	at, ds := e.date(s, st, pr)
	st.At = at
	switch {
	case pr.skipped > 0 && pr.done+pr.claimed == 0:
		// A skip is decided for the whole step; even a ledger that holds the skip of only
		// some actions (written before skips were one transaction) never resumes the rest.
		st.State = StateSkipped
		e.buf = append(e.buf, "Skipped: "...)
		e.buf = append(e.buf, pr.skipDetail...)
		e.period()
		if strings.HasPrefix(pr.skipDetail, escalatedPrefix) {
			e.escalate(s, res, at)
		}
		return
	case pr.done+pr.skipped == len(s.Actions):
		if pr.done > 0 {
			st.State = StateDone
			e.buf = append(e.buf, "Done; "...)
			e.appendDue(st, ds, "due ", "its date is unknown now: ")
			e.period()
			return
		}
	case pr.failed > 0:
		st.State = StateFailed
		e.failed(pr.failed, s, pr.failedEntry.Detail)
		e.reportFailure(s, res, pr.failed, pr.failedEntry)
		return
	}
	if pr.entries == 0 {
		switch {
		case !e.heldSince.IsZero():
			st.State, st.HeldSince = StateHeld, e.heldSince
			e.held(st, ds)
			return
		case ds == dateRefused:
			// Refused rather than counted with the default: the field says the default is
			// not this case's window.
			st.State = StateFailed
			e.buf = append(e.buf, "Failed: "...)
			e.appendDateProblem(st, ds)
			e.buf = append(e.buf, "; the step does not run until it is fixed"...)
			e.period()
			return
		case ds != dateKnown:
			st.State = StateWaiting
			e.buf = append(e.buf, "Waiting for a date: "...)
			e.appendDateProblem(st, ds)
			e.period()
			return
		case e.now.Before(at):
			st.State = StateScheduled
			e.next(res, at)
			e.buf = append(e.buf, "Scheduled for "...)
			e.appendDue(st, ds, "", "")
			e.period()
			return
		case !e.decide(s, res, st, at):
			return
		}
	}
	if ds != dateKnown {
		// Started when the date was known: finish now rather than strand half a step.
		at = e.now
	}
	// A failed action backs off until its RetryAt: nothing of the step runs before then.
	backoff := pr.retry > 0 && e.now.Before(pr.retryEnt.RetryAt)
	mark := len(res.Due)
	for i := range s.Actions {
		if backoff || !e.pending(s, i+1) {
			continue
		}
		eff, err := e.effect(s, i, at)
		if err != nil {
			res.Due = res.Due[:mark]
			st.State = StateFailed
			e.failed(i+1, s, err.Error())
			return
		}
		res.Due = append(res.Due, eff)
	}
	st.State = StateDue
	if backoff {
		st.State = StateRetrying
	}
	e.appendDue(st, ds, "Due since ", "Due: it started, so it finishes although ")
	e.period()
	if st.Late.Policy != "" {
		e.buf = append(e.buf, " It was late: "...)
		e.buf = e.appendLate(e.buf, st.Late, at)
		e.buf = append(e.buf, "; catch_up run: it runs once now."...)
	}
	if pr.retry > 0 {
		e.buf = append(e.buf, " Retrying action "...)
		e.buf = strconv.AppendInt(e.buf, int64(pr.retry), 10)
		if backoff {
			e.buf = append(e.buf, " at "...)
			e.buf = e.appendWhen(e.buf, pr.retryEnt.RetryAt)
			e.next(res, pr.retryEnt.RetryAt)
		}
		e.buf = append(e.buf, " after "...)
		e.buf = strconv.AppendInt(e.buf, int64(pr.retryEnt.Attempts), 10)
		e.buf = append(e.buf, " failed attempts: "...)
		e.buf = append(e.buf, pr.retryEnt.Detail...)
		e.period()
	}
}

// date computes a step's date in the case's zone and records how in st.Timing.
func (e *evaluation) date(s *Step, st *StepState, pr progress) (time.Time, dateState) {
	at := s.At
	st.Timing = Timing{
		Date:         at.Date,
		Field:        at.Field,
		Offset:       at.Offset,
		RunAt:        e.p.RunAt,
		DateOnly:     at.Type == TypeDate,
		Zone:         e.loc,
		ZoneFallback: e.zoneFallback,
	}
	if at.Offset.Unit == BusinessDays || s.NonWorking != Keep {
		st.Timing.Calendar = e.calendar
	}
	if at.Window != nil {
		w, ok := at.Window.value(&e.c, at.WindowSign)
		st.Timing.Window = w
		if !ok {
			return time.Time{}, dateRefused
		}
		if w.Offset.Unit == BusinessDays {
			st.Timing.Calendar = e.calendar
		}
	}
	raw := FieldValue(&e.c, at.Field)
	if raw == nil || raw == "" {
		return time.Time{}, dateNull
	}
	v, ok := raw.(string)
	if !ok {
		return time.Time{}, dateInvalid
	}
	st.Timing.Value = v
	anchor, err := parseTime(v, at.Type, e.loc)
	if err != nil {
		return time.Time{}, dateInvalid
	}
	t := e.p.due(at, anchor, e.loc, e.cal, st.Timing.Window.Offset)
	st.Timing.Computed = t
	if len(e.holds) > 0 {
		st.Timing.Held = e.heldBefore(pr)
		t = t.Add(st.Timing.Held)
	}
	t, st.Timing.Shift = e.cal.shift(t, s.NonWorking)
	return t, dateKnown
}

// decide runs what happens when a step that has not started comes due. It reports whether
// the step's actions are due; if not, it has set the step's state.
func (e *evaluation) decide(s *Step, res *Result, st *StepState, at time.Time) bool {
	// What a step needs comes first, every cycle from its date on, so that a blank is filled by
	// the time the step may run: nothing is decided on a blank, not even `when`.
	if s.Needs != nil && !e.needs(s, res, st, at) {
		return false
	}
	// Before its guard's not_before date a step is as good as not due: nothing is decided or
	// reminded. From that date on it counts as due since then.
	notBefore, problem, ok := e.notBefore(s)
	if ok && problem == "" {
		if e.now.Before(notBefore) {
			e.notYet(s, res, st, notBefore)
			return false
		}
		at = later(at, notBefore)
	}
	_, gated := e.tagged(s.ID, gateTag, 0)
	_, guarded := e.tagged(s.ID, guardTag, 0)
	// A step that already waited for its gate or its guard came due then: `when` was decided
	// and it was not late. One that waited for what it needs came due when it first did.
	if !gated && !guarded {
		if s.When != nil {
			ok, err := e.test(s.When)
			if err != nil {
				e.conditionFailed(st, "when", err)
				return false
			}
			if !ok {
				st.State, st.Gate = StateSkipped, e.gate("when", s.When)
				e.skip(s, res, st, string(e.appendGate(nil, st.Gate)))
				return false
			}
		}
		found := e.now
		if mark, needed := e.tagged(s.ID, needsTag, 0); needed {
			found = mark.At
		}
		if late, before := e.late(at, found); late {
			st.Late = Late{Policy: s.CatchUp, Found: found, BeforeCreation: before}
			if s.CatchUp != CatchUpRun {
				prefix := "missed: "
				if s.CatchUp == CatchUpEscalate {
					prefix = escalatedPrefix
				}
				st.State = StateSkipped
				e.skip(s, res, st, string(e.appendLate([]byte(prefix), st.Late, at)))
				if s.CatchUp == CatchUpEscalate {
					e.escalate(s, res, at)
				}
				return false
			}
		}
	}
	if s.Require != nil {
		ok, err := e.test(s.Require)
		if err != nil {
			e.conditionFailed(st, "require", err)
			return false
		}
		if !ok {
			st.Gate = e.gate("require", s.Require)
			e.wait(s, res, st, at, s.Remind)
			return false
		}
	}
	// The guard comes last: what must hold before harm is checked right before the step starts.
	return s.Guard == nil || e.guard(s, res, st, at, problem)
}

// wait keeps a step waiting for what st.Gate says: it records when the step first waited for
// it, reminds r's roles from the date from on, and once it has waited r.EscalateAfter (from
// then, or from its first wait when later) tells the escalate_to roles. A nil r tells no one.
func (e *evaluation) wait(s *Step, res *Result, st *StepState, from time.Time, r *Remind) {
	markTag, remindAs, escalateAs := waitTags(st.Gate.Kind)
	st.State = StateWaiting
	mark, waited := e.tagged(s.ID, markTag, 0)
	st.Gate.Since = mark.At
	if !waited {
		st.Gate.Since = e.now
		res.Records = append(res.Records, e.record(s.ID, bot.StepKey(e.p.Name, s.ID, markTag, e.c.ID),
			bot.StateMarked, string(e.appendGate(nil, st.Gate))))
	}
	if r != nil {
		e.remind(s, r, remindAs, res, st, from)
		if r.EscalateAfter.Unit != "" {
			when := e.cal.add(later(from, st.Gate.Since), r.EscalateAfter)
			switch {
			case e.now.Before(when):
				e.next(res, when)
			case e.unsent(res, s.ID, escalateAs, 0):
				res.Due = append(res.Due, e.notice(s, bot.StepKey(e.p.Name, s.ID, escalateAs, e.c.ID), when,
					e.p.EscalateTo, StillWaitingTemplate))
			}
		}
	}
	e.waiting(st)
}

// late reports whether a step first found due at found is late: more than CatchUp.After past
// its date, or dated before the case was created.
func (e *evaluation) late(at, found time.Time) (late, beforeCreation bool) {
	if e.p.created.Name != "" {
		if s, ok := FieldValue(&e.c, e.p.created).(string); ok {
			if created, err := parseTime(s, e.p.Fields[e.p.created], e.loc); err == nil && at.Before(created) {
				return true, true
			}
		}
	}
	return found.Sub(at) > e.p.CatchUp.After, false
}

// skip records every action of a step as skipped, for the reason detail.
func (e *evaluation) skip(s *Step, res *Result, st *StepState, detail string) {
	for i := range s.Actions {
		res.Records = append(res.Records, e.record(s.ID, bot.EffectKey(e.p.Name, s.ID, i+1, e.c.ID), bot.StateSkipped, detail))
	}
	st.State = StateSkipped
	e.buf = append(e.buf, "Skipped: "...)
	e.buf = append(e.buf, detail...)
	e.period()
}

// escalate emits the message that tells the escalate_to roles about a missed step, until the
// ledger says it was sent.
func (e *evaluation) escalate(s *Step, res *Result, at time.Time) {
	if !e.unsent(res, s.ID, escalateTag, 0) {
		return
	}
	res.Due = append(res.Due, e.notice(s, bot.StepKey(e.p.Name, s.ID, escalateTag, e.c.ID), at,
		e.p.EscalateTo, MissedStepTemplate))
}

// reportFailure tells the escalate_to roles, once per failure, that an action failed for good
// and waits for a person (`casebot retry` once the cause is fixed). The failure's time is in
// the key, so a retried action that fails again is reported again.
func (e *evaluation) reportFailure(s *Step, res *Result, action int, ent bot.LedgerEntry) {
	tag := failedTag + strconv.Itoa(action) + "-"
	n := int(ent.At.Unix())
	if len(e.p.EscalateTo) == 0 || !e.unsent(res, s.ID, tag, n) {
		return
	}
	eff := e.notice(s, bot.StepKey(e.p.Name, s.ID, tag+strconv.Itoa(n), e.c.ID), ent.At, e.p.EscalateTo, FailedStepTemplate)
	eff.Problem = ent.Detail
	res.Due = append(res.Due, eff)
}

// remind emits the latest reminder r of a waiting step that is due and not yet sent, under
// tag + N, and schedules the next one. Reminder N is due at from plus N times the cadence;
// after a downtime only the latest is sent, not every one missed.
func (e *evaluation) remind(s *Step, r *Remind, tag string, res *Result, st *StepState, from time.Time) {
	when := func(n int) time.Time { return e.cal.add(from, Offset{N: n * r.Every.N, Unit: r.Every.Unit}) }
	// The largest n with when(n) not after now: double, then halve.
	lo, hi := 0, 1
	for !when(hi).After(e.now) {
		lo, hi = hi, hi*2
	}
	for hi-lo > 1 {
		if mid := (lo + hi) / 2; when(mid).After(e.now) {
			hi = mid
		} else {
			lo = mid
		}
	}
	if lo > 0 && e.unsent(res, s.ID, tag, lo) {
		key := bot.StepKey(e.p.Name, s.ID, tag+strconv.Itoa(lo), e.c.ID)
		res.Due = append(res.Due, e.notice(s, key, when(lo), r.To, r.Template))
	}
	st.Remind = when(lo + 1)
	e.next(res, st.Remind)
}

// notice is a Slack message about a step that is not one of its actions.
func (e *evaluation) notice(s *Step, key string, due time.Time, roles []string, template string) bot.Effect {
	return bot.Effect{Key: key, Playbook: e.p.Name, Step: s.ID, CaseID: e.c.ID, Due: due,
		Kind: bot.KindSlack, Roles: slices.Clone(roles), Template: template}
}

// unsent reports whether a step's notice is to be sent: not in the ledger, claimed and not
// confirmed, or failed and to be retried, once its RetryAt has come (until then, RetryAt is a
// next due time).
func (e *evaluation) unsent(res *Result, step, tag string, n int) bool {
	ent, ok := e.tagged(step, tag, n)
	if !ok || ent.State == bot.StateClaimed {
		return true
	}
	if ent.State != bot.StateFailed || !ent.Retryable {
		return false
	}
	if e.now.Before(ent.RetryAt) {
		e.next(res, ent.RetryAt)
		return false
	}
	return true
}

func (e *evaluation) next(res *Result, t time.Time) {
	if res.Next.IsZero() || t.Before(res.Next) {
		res.Next = t
	}
}

func (e *evaluation) record(step, key string, state bot.EntryState, detail string) bot.LedgerEntry {
	return bot.LedgerEntry{Key: key, CaseID: e.c.ID, Playbook: e.p.Name, Step: step, State: state,
		Detail: detail, At: e.now}
}

// readHolds reads the case's holds from the ledger and records a hold starting or ending.
func (e *evaluation) readHolds(res *Result) {
	for n := 1; ; n++ {
		start, ok := e.tagged(holdStep, holdStart, n)
		if !ok {
			break
		}
		sp := holdSpan{start: start.At}
		if end, ok := e.tagged(holdStep, holdEnd, n); ok {
			sp.end = end.At
		}
		e.holds = append(e.holds, sp)
	}
	held, _ := FieldValue(&e.c, e.p.Hold).(bool)
	n := len(e.holds)
	open := n > 0 && e.holds[n-1].end.IsZero()
	switch {
	case held && !open:
		res.Records = append(res.Records, e.record(holdStep, bot.StepKey(e.p.Name, holdStep, holdStart+strconv.Itoa(n+1), e.c.ID),
			bot.StateMarked, e.p.Hold.String()+" set"))
		e.holds = append(e.holds, holdSpan{start: e.now})
		open = true
	case !held && open:
		d := e.now.Sub(e.holds[n-1].start)
		res.Records = append(res.Records, e.record(holdStep, bot.StepKey(e.p.Name, holdStep, holdEnd+strconv.Itoa(n), e.c.ID),
			bot.StateMarked, string(appendDuration([]byte(e.p.Hold.String()+" cleared after "), d))))
		e.holds[n-1].end = e.now
		open = false
	}
	if open {
		e.heldSince = e.holds[len(e.holds)-1].start
	}
}

// heldBefore is the time the case was on hold before a step started (all of it when the step
// has not started), an open hold counting up to now.
func (e *evaluation) heldBefore(pr progress) time.Duration {
	var d time.Duration
	for _, h := range e.holds {
		if pr.entries > 0 && !h.start.Before(pr.started) {
			continue
		}
		end := h.end
		if end.IsZero() {
			end = e.now
		}
		d += end.Sub(h.start)
	}
	return d
}

func (e *evaluation) progress(s *Step) progress {
	var pr progress
	for i := range s.Actions {
		ent, ok := e.entry(s, i+1)
		if !ok {
			continue
		}
		pr.entries++
		if !ent.At.IsZero() && (pr.started.IsZero() || ent.At.Before(pr.started)) {
			pr.started = ent.At
		}
		switch {
		case ent.State == bot.StateDone:
			pr.done++
		case ent.State == bot.StateSkipped:
			pr.skipped++
			pr.skipDetail = ent.Detail
		case ent.State == bot.StateClaimed:
			pr.claimed++
		case ent.State == bot.StateFailed && !ent.Retryable:
			if pr.failed == 0 {
				pr.failed, pr.failedEntry = i+1, ent
			}
		case ent.State == bot.StateFailed:
			if pr.retry == 0 {
				pr.retry, pr.retryEnt = i+1, ent
			}
		}
	}
	return pr
}

// pending reports whether an action is neither done nor skipped.
func (e *evaluation) pending(s *Step, action int) bool {
	ent, ok := e.entry(s, action)
	return !ok || (ent.State != bot.StateDone && ent.State != bot.StateSkipped)
}

// entry looks up the ledger entry of an action without building its key as a string.
func (e *evaluation) entry(s *Step, action int) (bot.LedgerEntry, bool) {
	if len(e.l) == 0 {
		return bot.LedgerEntry{}, false
	}
	key := appendKey(e.keyBuf[:0], e.p.Name, s.ID, action, e.c.ID)
	ent, ok := e.l[string(key)]
	return ent, ok
}

// tagged looks up the entry under bot.StepKey(playbook, step, tag+N, case), N left out when 0.
func (e *evaluation) tagged(step, tag string, n int) (bot.LedgerEntry, bool) {
	if len(e.l) == 0 {
		return bot.LedgerEntry{}, false
	}
	b := append(e.keyBuf[:0], e.p.Name...)
	b = append(b, '/')
	b = append(b, step...)
	b = append(b, '/')
	b = append(b, tag...)
	if n > 0 {
		b = strconv.AppendInt(b, int64(n), 10)
	}
	b = append(b, '/')
	b = append(b, e.c.ID...)
	ent, ok := e.l[string(b)]
	return ent, ok
}

// appendKey appends bot.EffectKey(playbook, step, action, caseID); a test keeps the two equal.
func appendKey(b []byte, playbook, step string, action int, caseID string) []byte {
	b = append(b, playbook...)
	b = append(b, '/')
	b = append(b, step...)
	b = append(b, '/')
	b = strconv.AppendInt(b, int64(action), 10)
	b = append(b, '/')
	return append(b, caseID...)
}
