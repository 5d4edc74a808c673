package rules

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"time"

	"casebot/bot"
)

// Evaluate computes where case c stands in the playbook at now, given the ledger entries of
// the case. It is pure: its result depends only on its arguments (and on the tz database,
// read once per zone name). It runs for every open case every cycle, so the common path (no
// step changes state) allocates only the result.
//
// Per step, in order:
//   - every action done or skipped in the ledger: done (or skipped);
//   - an action failed and not retryable: failed, nothing more is emitted for the step;
//   - not started (no ledger entry) and its date is null: waiting; not yet reached:
//     scheduled, and Next is the earliest such date; reached: `when` false records the step
//     as skipped (Skips), `require` false keeps it waiting (checked again next cycle);
//   - otherwise its actions not yet done are due, in order (the engine performs them in that
//     order and stops a step at its first failure). A started step finishes even if its date
//     moves.
func (p *Playbook) Evaluate(c bot.Case, l bot.Ledger, now time.Time) Result {
	e := evaluation{p: p, c: c, l: l, now: now, loc: p.zone(&c)}
	e.buf = make([]byte, 0, 96*len(p.Steps))
	res := Result{Steps: make([]StepState, len(p.Steps))}
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

// evaluation is one Evaluate call.
type evaluation struct {
	p   *Playbook
	c   bot.Case // a copy, not a pointer: the escape analysis would move the argument to the heap
	l   bot.Ledger
	now time.Time
	loc *time.Location

	env    map[string]any // what conditions see, built on first use
	keyBuf [128]byte      // scratch for ledger keys
	buf    []byte         // the reasons of the steps so far
}

// dateState says whether a step's anchor could be read.
type dateState int

const (
	dateKnown dateState = iota
	dateNull
	dateInvalid
)

// progress is what the ledger says about the actions of a step.
type progress struct {
	entries, done, skipped int
	failed, retry          int             // 1-based action that failed for good / will be retried; 0: none
	failedEntry, retryEnt  bot.LedgerEntry // their entries
	skipDetail             string
}

func (e *evaluation) step(s *Step, res *Result, st *StepState) {
	st.Step, st.Title = s.ID, s.Title
	at, ds := e.date(s, st)
	st.At = at
	pr := e.progress(s)
	switch {
	case pr.done+pr.skipped == len(s.Actions):
		if pr.done == 0 {
			st.State = StateSkipped
			e.buf = append(e.buf, pr.skipDetail...)
		} else {
			st.State = StateDone
			e.why(st, ds)
		}
		return
	case pr.failed > 0:
		st.State = StateFailed
		e.buf = fmt.Appendf(e.buf, "action %d (%s) failed: %s", pr.failed, s.Actions[pr.failed-1].Kind, pr.failedEntry.Detail)
		return
	}
	if pr.entries == 0 {
		switch {
		case ds != dateKnown:
			st.State = StateWaiting
			e.buf = append(e.buf, "waiting for "...)
			e.why(st, ds)
			return
		case e.now.Before(at):
			st.State = StateScheduled
			if res.Next.IsZero() || at.Before(res.Next) {
				res.Next = at
			}
			e.why(st, ds)
			return
		case !e.decide(s, res, st):
			return
		}
	}
	if ds != dateKnown {
		// Started when the date was known: finish now rather than strand half a step.
		at = e.now
	}
	for i, a := range s.Actions {
		if a.Kind == bot.KindUpdate && a.Object == ObjectAccount && e.c.Account == nil && e.pending(s, i+1) {
			st.State = StateFailed
			e.buf = fmt.Appendf(e.buf, "action %d (update Account): the case has no account", i+1)
			return
		}
	}
	st.State = StateDue
	e.why(st, ds)
	if pr.retry > 0 {
		e.buf = fmt.Appendf(e.buf, "; retrying action %d after %d failed attempts: %s", pr.retry, pr.retryEnt.Attempts, pr.retryEnt.Detail)
	}
	for i := range s.Actions {
		ent, ok := e.entry(s, i+1)
		if ok && (ent.State == bot.StateDone || ent.State == bot.StateSkipped) {
			continue
		}
		res.Due = append(res.Due, e.effect(s, i, at))
	}
}

// date computes a step's date in the case's zone and records how in st.Timing.
func (e *evaluation) date(s *Step, st *StepState) (time.Time, dateState) {
	at := s.At
	st.Timing = Timing{
		Date:     at.Date,
		Field:    at.Field,
		Offset:   at.Offset,
		RunAt:    e.p.RunAt,
		DateOnly: at.Type == TypeDate,
		Zone:     e.loc,
	}
	raw := fieldValue(&e.c, at.Field)
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
	return e.p.due(at, anchor, e.loc), dateKnown
}

// why appends the explanation of a step's date, or says why it has none.
func (e *evaluation) why(st *StepState, ds dateState) {
	switch ds {
	case dateKnown:
		e.buf = st.Timing.appendTo(e.buf)
		return
	}
	e.buf = append(e.buf, st.Timing.Field.Object...)
	e.buf = append(e.buf, '.')
	e.buf = append(e.buf, st.Timing.Field.Name...)
	if ds == dateInvalid {
		e.buf = append(e.buf, ": "...)
		e.buf = appendValue(e.buf, fieldValue(&e.c, st.Timing.Field), TypeString)
		e.buf = append(e.buf, " is not a "...)
		e.buf = append(e.buf, e.p.Fields[st.Timing.Field]...)
	} else if st.State != StateWaiting {
		e.buf = append(e.buf, " is null"...)
	}
}

// decide evaluates the conditions of a step that has come due and not started. It reports
// whether the step's actions are due; if not, it has set the step's state.
func (e *evaluation) decide(s *Step, res *Result, st *StepState) bool {
	if s.When != nil {
		ok, err := e.test(s.When)
		if err != nil {
			st.State = StateFailed
			e.buf = fmt.Appendf(e.buf, "when: %v", err)
			return false
		}
		if !ok {
			st.State = StateSkipped
			start := len(e.buf)
			e.buf = e.explain(e.buf, "when", s.When)
			detail := string(e.buf[start:])
			for i := range s.Actions {
				res.Skips = append(res.Skips, bot.LedgerEntry{
					Key:      bot.EffectKey(e.p.Name, s.ID, i+1, e.c.ID),
					CaseID:   e.c.ID,
					Playbook: e.p.Name,
					Step:     s.ID,
					State:    bot.StateSkipped,
					Detail:   detail,
					At:       e.now,
				})
			}
			return false
		}
	}
	if s.Require != nil {
		ok, err := e.test(s.Require)
		if err != nil {
			st.State = StateFailed
			e.buf = fmt.Appendf(e.buf, "require: %v", err)
			return false
		}
		if !ok {
			st.State = StateWaiting
			e.buf = e.explain(e.buf, "require", s.Require)
			return false
		}
	}
	return true
}

func (e *evaluation) progress(s *Step) progress {
	var pr progress
	for i := range s.Actions {
		ent, ok := e.entry(s, i+1)
		if !ok {
			continue
		}
		pr.entries++
		switch {
		case ent.State == bot.StateDone:
			pr.done++
		case ent.State == bot.StateSkipped:
			pr.skipped++
			pr.skipDetail = ent.Detail
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

// effect builds the effect of action i of step s, due at due.
func (e *evaluation) effect(s *Step, i int, due time.Time) bot.Effect {
	a := &s.Actions[i]
	eff := bot.Effect{
		Key:      bot.EffectKey(e.p.Name, s.ID, i+1, e.c.ID),
		Playbook: e.p.Name,
		Step:     s.ID,
		Action:   i + 1,
		CaseID:   e.c.ID,
		Due:      due,
		Kind:     a.Kind,
	}
	// Effects get their own maps and slices: the engine may merge or edit them, and the
	// playbook is shared by every case.
	switch a.Kind {
	case bot.KindUpdate:
		eff.Object, eff.RecordID, eff.Fields = a.Object, e.c.ID, maps.Clone(a.Fields)
		if a.Object == ObjectAccount {
			eff.RecordID = e.c.Account.ID
		}
	case bot.KindStatus:
		eff.Object, eff.RecordID, eff.Fields = ObjectCase, e.c.ID, bot.Fields{"Status": a.Status}
	case bot.KindTasks:
		eff.Tasks = e.tasks(eff.Key, a.Tasks, due)
	case bot.KindSlack:
		eff.Roles, eff.Template = slices.Clone(a.Roles), a.Template
	}
	return eff
}

// tasks builds the tasks of a template; due dates count from the step's local date.
func (e *evaluation) tasks(key, template string, due time.Time) []bot.TaskSpec {
	entries := e.p.TaskTemplates[template]
	y, m, d := due.In(e.loc).Date()
	specs := make([]bot.TaskSpec, len(entries))
	for i, t := range entries {
		specs[i] = bot.TaskSpec{
			Key:         key + "/" + t.ID,
			Subject:     t.Subject,
			OwnerRole:   t.Owner,
			Priority:    t.Priority,
			Description: t.Description,
		}
		if t.Due.Unit == Days {
			specs[i].Due = time.Date(y, m, d+t.Due.N, 0, 0, 0, 0, time.UTC).Format(bot.DateLayout)
		}
	}
	return specs
}
