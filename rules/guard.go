package rules

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"casebot/bot"
)

// The slack templates a step waiting for what it needs or for its guard tells its owner with,
// unless it names its own, and the one that tells the escalate_to roles it waited too long.
const (
	NeedsTemplate        = "missing-fields"
	GuardTemplate        = "guard-waiting"
	StillWaitingTemplate = "still-waiting"
)

// Needs are the fields a step never acts without: while one is blank after the step's date,
// the step waits, and Remind's role, the fields' owner, is reminded.
type Needs struct {
	Fields []FieldRef
	Remind
}

// Guard is what must hold before a step that does harm starts: while it does not, the step
// waits (it is never skipped for it), and Remind's role, its owner, is told what does not.
type Guard struct {
	NotBefore At         // not before this date, counted like a step's; Date "" when none
	Fresh     Fresh      // a date field that must be set and recent; Field zero when none
	After     []string   // steps that must be done (or skipped) first
	Condition *Condition // nil when none
	Remind

	notBefore *Step // a step dated NotBefore, whose date Evaluate computes; nil when none
}

// Fresh asks for a date or datetime field that is set and at most Within old.
type Fresh struct {
	Field  FieldRef
	Within Offset
}

// Reminder returns who a step reminds while it waits, by Gate.Kind: "require", "needs" or
// "guard"; nil when no one.
func (s *Step) Reminder(kind string) *Remind {
	switch {
	case kind == "require":
		return s.Remind
	case kind == "needs" && s.Needs != nil:
		return &s.Needs.Remind
	case kind == "guard" && s.Guard != nil:
		return &s.Guard.Remind
	}
	return nil
}

// Reminders returns every reminder of a step: for its gate, what it needs and its guard.
func (s *Step) Reminders() []*Remind {
	var out []*Remind
	for _, kind := range []string{"require", "needs", "guard"} {
		if r := s.Reminder(kind); r != nil {
			out = append(out, r)
		}
	}
	return out
}

// waitTags returns the ledger tags of a wait of a kind (Gate.Kind): the mark of its first
// wait, its reminders (+ N) and its escalation.
func waitTags(kind string) (mark, remind, escalate string) {
	switch kind {
	case "needs":
		return needsTag, needsTag + "-", needsTag + "-" + escalateTag
	case "guard":
		return guardTag, guardTag + "-", guardTag + "-" + escalateTag
	}
	return gateTag, remindTag, escalateTag
}

// The keys of a guard that say what must hold, in the order messages name them, and the keys
// of a guard and of needs that say who is told and how often.
var (
	guardKeys = []string{"not_before", "fresh", "after", "condition"}
	tellKeys  = []string{"every", "escalate_after", "template"}
)

// needs reads `needs: {fields, owner, every, escalate_after, template}`.
func (p *parser) needs(n *yaml.Node, what string) *Needs {
	m := p.object(n, what, []string{"fields", "owner"}, tellKeys)
	if m == nil {
		return nil
	}
	nd := &Needs{Remind: p.tell(m, what, NeedsTemplate)}
	if v := m["fields"]; v != nil {
		items, ok := p.sequence(v, what+": fields")
		if ok && len(items) == 0 {
			p.errorf(deref(v), "%s: fields: want at least one field", what)
		}
		for _, it := range items {
			ref, ok := p.field(it, what+": fields")
			switch {
			case !ok:
			case slices.Contains(nd.Fields, ref):
				p.errorf(it, "%s: fields: %s is listed twice", what, ref)
			default:
				nd.Fields = append(nd.Fields, ref)
			}
		}
	}
	return nd
}

// guard reads `guard: {not_before, fresh, after, condition, owner, every, escalate_after,
// template}` of step.
func (p *parser) guard(n *yaml.Node, what, step string) *Guard {
	m := p.object(n, what, []string{"owner"}, slices.Concat(guardKeys, tellKeys))
	if m == nil {
		return nil
	}
	g := &Guard{Remind: p.tell(m, what, GuardTemplate)}
	if !slices.ContainsFunc(guardKeys, func(k string) bool { return m[k] != nil }) {
		p.errorf(deref(n), "%s: say what must hold: %s", what, names(guardKeys))
	}
	if v := m["not_before"]; v != nil {
		if g.NotBefore = p.at(v, what+": not_before"); g.NotBefore.Date != "" {
			g.notBefore = &Step{ID: step, At: g.NotBefore, NonWorking: Keep}
		}
	}
	if v := m["fresh"]; v != nil {
		f := p.object(v, what+": fresh", []string{"field", "within"}, nil)
		if x := f["field"]; x != nil {
			if ref, ok := p.field(x, what+": fresh: field", TypeDate, TypeDateTime); ok {
				g.Fresh.Field = ref
			}
		}
		if x := f["within"]; x != nil {
			g.Fresh.Within = p.positiveOffset(x, what+": fresh: within")
		}
	}
	if v := m["after"]; v != nil {
		items, ok := p.sequence(v, what+": after")
		if ok && len(items) == 0 {
			p.errorf(deref(v), "%s: after: want at least one step", what)
		}
		for _, it := range items {
			if id, ok := p.scalar(it, what+": after"); ok {
				g.After = append(g.After, id)
				// Checked as done('…') is: the step exists, and no two steps wait for each other.
				p.calls = append(p.calls, callSite{stepCall: stepCall{doneFunc, id}, from: step,
					what: what + ": after", line: it.Line, col: it.Column})
			}
		}
	}
	if v := m["condition"]; v != nil {
		g.Condition = p.condition(v, what+": condition", step)
	}
	return g
}

// tell reads who is told while a step waits for what it needs or for its guard, and how
// often: owner, every (one business day when absent), escalate_after and template (by
// default the one named).
func (p *parser) tell(m map[string]*yaml.Node, what, template string) Remind {
	r := Remind{Every: Offset{N: 1, Unit: BusinessDays}, Template: template}
	if v := m["owner"]; v != nil {
		if role, ok := p.role(v, what+": owner"); ok {
			r.To = []string{role}
		}
	}
	if v := m["every"]; v != nil {
		r.Every = p.positiveOffset(v, what+": every")
	}
	if v := m["escalate_after"]; v != nil {
		r.EscalateAfter = p.positiveOffset(v, what+": escalate_after")
		// escalate_to is read before the steps.
		if len(p.pb.EscalateTo) == 0 {
			p.errorf(v, "%s: escalate_after needs escalate_to: the roles told", what)
		}
		if !p.knownTemplate(bot.KindSlack, StillWaitingTemplate) {
			p.errorf(v, "%s: escalate_after needs the slack template %q", what, StillWaitingTemplate)
		}
	}
	switch v := m["template"]; {
	case v != nil:
		r.Template = p.template(v, what+": template", bot.KindSlack)
	case !p.knownTemplate(bot.KindSlack, template):
		p.errorf(m["owner"], "%s: needs the slack template %q, or a template of its own", what, template)
	}
	return r
}

// positiveOffset reads a positive offset, like 2bd.
func (p *parser) positiveOffset(n *yaml.Node, what string) Offset {
	s, ok := p.scalar(n, what)
	if !ok {
		return Offset{}
	}
	off, ok := parseOffset(s)
	if !ok || off.N <= 0 {
		p.errorf(n, "%s: invalid %q: want a positive offset, like 2bd; units: %s", what, s, unitsHelp)
	}
	return off
}

// harmWords, in the path of an http call, say that it deactivates or removes something.
var harmWords = []string{"deactivat", "suspend", "disable", "delete", "remove", "purge", "erase",
	"withdraw", "cancel", "terminat", "unbind", "revoke"}

// harm says why an action does harm (see Action.Harm): a close, or an http call that deletes
// or whose path says it deactivates or removes. `destructive: true` or `false` overrides.
func (p *parser) harm(a *Action, key string, destructive *yaml.Node, what string) {
	switch h := a.HTTP; {
	case key == "close":
		a.Harm = "closes the case"
	case h == nil || h.Method == "GET":
	case h.Method == "DELETE":
		a.Harm = "deletes (DELETE " + h.Endpoint + " " + h.Path + ")"
	default:
		path := strings.ToLower(h.Path)
		if slices.ContainsFunc(harmWords, func(w string) bool { return strings.Contains(path, w) }) {
			a.Harm = "deactivates or removes (" + h.Method + " " + h.Endpoint + " " + h.Path + ")"
		}
	}
	if destructive == nil {
		return
	}
	switch marked := p.flag(destructive, what+": destructive"); {
	case !marked:
		a.Harm = ""
	case a.Harm == "":
		a.Harm = "is marked destructive"
	}
}

// warnHarm warns about the actions of a step without a guard that do harm.
func (p *parser) warnHarm(what string, actions []Action) {
	for i, a := range actions {
		if a.Harm != "" {
			p.warnings = append(p.warnings, &Error{File: p.file, Line: a.line, Col: a.col, Msg: fmt.Sprintf(
				"%s action %d %s, and the step has no guard: say what must hold before it runs (guard: with %s)",
				what, i+1, a.Harm, names(guardKeys))})
		}
	}
}

// needs reports whether every field step s needs is set. While one is blank the step waits
// and its owner is reminded, unless steps before it remind about every field it lacks
// already: one reminder a field, not one a step.
func (e *evaluation) needs(s *Step, res *Result, st *StepState, at time.Time) bool {
	var blank []FieldRef
	for _, ref := range s.Needs.Fields {
		if v := e.raw(ref); v == nil || v == "" {
			blank = append(blank, ref)
		}
	}
	if blank == nil {
		return true
	}
	st.Gate = Gate{Kind: "needs", Missing: make([]string, len(blank))}
	for i, ref := range blank {
		st.Gate.Missing[i] = subject(ref) + " is empty"
	}
	r := &s.Needs.Remind
	if !slices.ContainsFunc(blank, func(f FieldRef) bool { return !slices.Contains(e.chased, f) }) {
		r = nil
	}
	e.chased = append(e.chased, blank...)
	e.wait(s, res, st, at, r)
	return false
}

// notBefore computes the not_before date of step s's guard: ok is false when it has none, and
// problem, when not "", says why there is no date (its field is blank, or not a date).
func (e *evaluation) notBefore(s *Step) (t time.Time, problem string, ok bool) {
	if s.Guard == nil || s.Guard.notBefore == nil {
		return time.Time{}, "", false
	}
	var nb StepState
	t, ds := e.date(s.Guard.notBefore, &nb, progress{})
	switch ds {
	case dateKnown:
		return t, "", true
	case dateNull:
		return t, subject(s.Guard.NotBefore.Field) + " is empty", true
	}
	mark := len(e.buf)
	e.appendDateProblem(&nb, ds)
	problem = string(e.buf[mark:])
	e.buf = e.buf[:mark]
	return t, problem, true
}

// notYet keeps a step waiting for the not_before date t of its guard, which is still to come.
// Nobody is told: it is no one's to do anything about.
func (e *evaluation) notYet(s *Step, res *Result, st *StepState, t time.Time) {
	st.State = StateWaiting
	st.Gate = Gate{Kind: "guard", Until: t, Missing: []string{
		string(e.appendWhen([]byte("not before "+s.Guard.NotBefore.String()+": "), t))}}
	e.next(res, t)
	e.buf = append(e.buf, "Waiting until "...)
	e.buf = e.appendWhen(e.buf, t)
	e.buf = append(e.buf, ": its guard says not before "...)
	e.buf = append(e.buf, s.Guard.NotBefore.String()...)
	e.buf = append(e.buf, ". "...)
	e.appendDue(st, dateKnown, "Due ", "")
	e.period()
}

// guard reports whether step s's guard holds, its not_before date come (see decide), or not
// computable for the problem notBefore says. While it does not hold, the step waits and its
// owner is told what does not.
func (e *evaluation) guard(s *Step, res *Result, st *StepState, at time.Time, notBefore string) bool {
	g := s.Guard
	var missing []string
	if notBefore != "" {
		missing = append(missing, notBefore)
	}
	if g.Fresh.Field.Name != "" {
		if stale := e.stale(g.Fresh); stale != "" {
			missing = append(missing, stale)
		}
	}
	for _, step := range g.After {
		if !stepDone(e.p, e.l, e.c.ID, step) {
			missing = append(missing, e.callWords(stepCall{doneFunc, step}, false))
		}
	}
	if c := g.Condition; c != nil {
		ok, err := e.test(c)
		if err != nil {
			e.conditionFailed(st, "guard", err)
			return false
		}
		if !ok {
			missing = append(missing, e.missing(c)...)
		}
	}
	if missing == nil {
		return true
	}
	st.Gate = Gate{Kind: "guard", Missing: missing}
	e.wait(s, res, st, at, &g.Remind)
	return false
}

// stale says why a field is not fresh: it is blank, not a date, or older than allowed
// ("Devices Checked At is 94d 3h old, more than 7d"); "" when it is fresh.
func (e *evaluation) stale(f Fresh) string {
	v, _ := e.raw(f.Field).(string)
	if v == "" {
		return subject(f.Field) + " is empty"
	}
	t := e.p.Fields[f.Field]
	at, err := parseTime(v, t, e.loc)
	if err != nil {
		return subject(f.Field) + " is " + strconv.Quote(v) + ", not a " + string(t)
	}
	if !e.now.After(e.cal.add(at.In(e.loc), f.Within)) {
		return ""
	}
	b := appendDuration([]byte(subject(f.Field)+" is "), e.now.Sub(at))
	b = append(b, " old, more than "...)
	b = strconv.AppendInt(b, int64(f.Within.N), 10)
	return string(append(b, f.Within.Unit...))
}
