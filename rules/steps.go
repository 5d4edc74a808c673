package rules

import (
	"bytes"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"casebot/bot"
)

// choice reads one of a fixed set of words.
func choice[T ~string](p *parser, n *yaml.Node, what string, list []T) (T, bool) {
	s, ok := p.scalar(n, what)
	if !ok {
		return "", false
	}
	if !slices.Contains(list, T(s)) {
		p.errorf(n, "%s: invalid %q: want %s", what, s, names(list))
		return "", false
	}
	return T(s), true
}

func (p *parser) nonWorking(n *yaml.Node, what string) NonWorking {
	if r, ok := choice(p, n, what, nonWorkingRules); ok {
		return r
	}
	return Keep
}

func (p *parser) catchUp(n *yaml.Node) {
	if n == nil {
		return
	}
	m := p.object(n, "catch_up", nil, []string{"after", "policy"})
	if v := m["after"]; v != nil {
		if s, ok := p.scalar(v, "catch_up.after"); ok {
			d, err := parseDuration(s)
			if err != nil || d <= 0 {
				p.errorf(v, "catch_up.after: invalid %q: want a duration, like 2h, 30m or 1d", s)
			} else {
				p.pb.CatchUp.After = d
			}
		}
	}
	if v := m["policy"]; v != nil {
		if pol, ok := choice(p, v, "catch_up.policy", catchUpPolicies); ok {
			p.pb.CatchUp.Policy = pol
			if pol == CatchUpEscalate {
				p.escalations = append(p.escalations, v)
			}
		}
	}
}

// parseDuration reads a Go duration ("2h", "90m") or a number of days ("1d").
func parseDuration(s string) (time.Duration, error) {
	if days, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.Atoi(days)
		if err != nil || n > maxOffsets[Days] {
			return 0, fmt.Errorf("invalid days %q", s)
		}
		return time.Duration(n) * 24 * time.Hour, nil
	}
	return time.ParseDuration(s)
}

// roles reads a non-empty list of roles.
func (p *parser) roles(n *yaml.Node, what string) []string {
	items, ok := p.sequence(n, what)
	if ok && len(items) == 0 {
		p.errorf(deref(n), "%s: want at least one role", what)
	}
	var roles []string
	for _, it := range items {
		if r, ok := p.role(it, what); ok {
			roles = append(roles, r)
		}
	}
	return roles
}

// template reads the name of a message template of a kind (slack, email, comment).
func (p *parser) template(n *yaml.Node, what string, kind bot.EffectKind) string {
	s, ok := p.text(n, what)
	if ok && !p.knownTemplate(kind, s) {
		p.errorf(n, "%s: unknown %s template %q", what, kind, s)
	}
	return s
}

func (p *parser) knownTemplate(kind bot.EffectKind, name string) bool {
	switch {
	case p.opts.KnownTemplateKind != nil:
		return p.opts.KnownTemplateKind(string(kind), name)
	case kind == bot.KindSlack && p.opts.KnownTemplate != nil:
		return p.opts.KnownTemplate(name)
	}
	return true
}

func (p *parser) steps(n *yaml.Node) {
	if n == nil {
		return
	}
	items, ok := p.sequence(n, "steps")
	if ok && len(items) == 0 {
		p.errorf(n, "steps: want at least one step")
	}
	ids := map[string]int{}
	for i, it := range items {
		if s := p.step(it, i+1, ids); s != nil {
			p.pb.Steps = append(p.pb.Steps, s)
			if s.ID != "" {
				p.pb.steps[s.ID] = s
			}
		}
	}
}

func (p *parser) step(n *yaml.Node, i int, ids map[string]int) *Step {
	what := label(n, "step", i)
	m := p.object(n, what, []string{"id", "at", "do"},
		[]string{"title", "when", "require", "remind", "needs", "guard", "non_working", "catch_up"})
	if m == nil {
		return nil
	}
	s := &Step{Line: deref(n).Line, NonWorking: p.pb.NonWorking, CatchUp: p.pb.CatchUp.Policy}
	if v := m["id"]; v != nil {
		s.ID = p.id(v, what, "step", ids)
	}
	if v := m["title"]; v != nil {
		s.Title, _ = p.text(v, what+": title")
	}
	if s.Title == "" {
		s.Title = s.ID
	}
	if v := m["at"]; v != nil {
		s.At = p.at(v, what+": at")
	}
	if v := m["when"]; v != nil {
		s.When = p.condition(v, what+": when", s.ID)
	}
	if v := m["require"]; v != nil {
		s.Require = p.condition(v, what+": require", s.ID)
	}
	if v := m["remind"]; v != nil {
		s.Remind = p.remind(v, what+": remind")
		if m["require"] == nil {
			p.errorf(v, "%s: remind: reminders are sent while require is false; this step has no require", what)
		}
	}
	if v := m["needs"]; v != nil {
		s.Needs = p.needs(v, what+": needs")
	}
	if v := m["guard"]; v != nil {
		s.Guard = p.guard(v, what+": guard", s.ID)
	}
	if v := m["non_working"]; v != nil {
		s.NonWorking = p.nonWorking(v, what+": non_working")
	}
	if v := m["catch_up"]; v != nil {
		if pol, ok := choice(p, v, what+": catch_up", catchUpPolicies); ok {
			s.CatchUp = pol
			if pol == CatchUpEscalate {
				p.escalations = append(p.escalations, v)
			}
		}
	}
	if v := m["do"]; v != nil {
		s.Actions = p.actions(v, what, s.ID)
	}
	if m["guard"] == nil {
		p.warnHarm(what, s.Actions)
	}
	for _, a := range s.Actions {
		if a.Kind == bot.KindTasks {
			p.taskSteps[s.ID] = true
		}
	}
	return s
}

func (p *parser) remind(n *yaml.Node, what string) *Remind {
	m := p.object(n, what, []string{"every", "to", "template"}, nil)
	if m == nil {
		return nil
	}
	r := &Remind{}
	if v := m["every"]; v != nil {
		r.Every = p.positiveOffset(v, what+": every")
	}
	if v := m["to"]; v != nil {
		r.To = p.roles(v, what+": to")
	}
	if v := m["template"]; v != nil {
		r.Template = p.template(v, what+": template", bot.KindSlack)
	}
	return r
}

func (p *parser) at(n *yaml.Node, what string) At {
	s, ok := p.scalar(n, what)
	if !ok {
		return At{}
	}
	a, err := parseAt(s)
	if err != nil {
		line, col := p.inScalar(n, 1, err.col)
		p.errorAt(line, col, "%s: %s", what, err.msg)
		return At{}
	}
	name, window := a.date, p.atWindow(n, what, a)
	ref, ok := p.pb.Dates[name]
	if !ok {
		if !p.dateNames[name] {
			line, col := p.inScalar(n, 1, strings.Index(s, name))
			known := slices.Sorted(func(yield func(string) bool) {
				for d := range p.dateNames {
					if !yield(d) {
						return
					}
				}
			})
			p.errorAt(line, col, "%s: unknown date %q; dates: %s", what, name, strings.Join(known, ", "))
		}
		return At{}
	}
	return At{Date: name, Field: ref, Type: p.pb.Fields[ref], Window: window, WindowSign: a.windowSign, Offset: a.off}
}

// inScalar maps a position inside a scalar's text (1-based line, 0-based column) to the file.
// Where YAML folding makes that ambiguous it returns the scalar's own position.
func (p *parser) inScalar(n *yaml.Node, line, col int) (int, int) {
	n = deref(n)
	switch {
	case n.Style&yaml.LiteralStyle != 0:
		// The content's indentation is that of its first line; later lines may indent more.
		return n.Line + line, p.indent(n.Line+1) + col + 1
	case line != 1 || n.Style&yaml.FoldedStyle != 0:
		return n.Line, n.Column
	case n.Style&(yaml.DoubleQuotedStyle|yaml.SingleQuotedStyle) != 0:
		return n.Line, n.Column + 1 + col
	default:
		return n.Line, n.Column + col
	}
}

// indent returns the number of leading spaces of a 1-based line of the file.
func (p *parser) indent(line int) int {
	src := p.src
	for range line - 1 {
		i := bytes.IndexByte(src, '\n')
		if i < 0 {
			return 0
		}
		src = src[i+1:]
	}
	return len(src) - len(bytes.TrimLeft(src, " "))
}

// checkCalls checks the steps that done('…') and tasksDone('…') name.
func (p *parser) checkCalls() {
	for _, c := range p.calls {
		switch {
		case c.fn == tasksDoneFunc && !p.taskSteps[c.step]:
			p.errorAt(c.line, c.col, "%s: tasksDone('%s'): no step %q with a tasks action", c.what, c.step, c.step)
		case c.fn == doneFunc && p.pb.steps[c.step] == nil:
			p.errorAt(c.line, c.col, "%s: done('%s'): no step %q", c.what, c.step, c.step)
		}
	}
}

// checkCycles finds gates that wait for each other: the `when` and `require` of a step
// naming, through done('…') and tasksDone('…'), a step that waits for it in turn. Each cycle
// is reported once, at the call in its first step that enters it.
func (p *parser) checkCycles() {
	edges := map[string][]callSite{}
	for _, c := range p.calls {
		if c.from != "" && p.pb.steps[c.step] != nil {
			edges[c.from] = append(edges[c.from], c)
		}
	}
	reported := map[string]bool{}
	for _, s := range p.pb.Steps {
		if reported[s.ID] {
			continue
		}
		for _, c := range edges[s.ID] {
			path := pathTo(edges, c.step, s.ID)
			if path == nil {
				continue
			}
			cycle := append([]string{s.ID}, path...)
			for _, id := range cycle {
				reported[id] = true
			}
			p.errorAt(c.line, c.col, "%s: %s('%s'): gates wait for each other: %s", c.what, c.fn, c.step, strings.Join(cycle, " → "))
			break
		}
	}
}

// pathTo returns the shortest chain of steps from `from` to `to` along edges, both included,
// or nil when there is none.
func pathTo(edges map[string][]callSite, from, to string) []string {
	prev := map[string]string{from: ""}
	queue := []string{from}
	for len(queue) > 0 {
		cur := queue[0]
		queue = queue[1:]
		if cur == to {
			var path []string
			for s := cur; s != ""; s = prev[s] {
				path = append(path, s)
			}
			slices.Reverse(path)
			return path
		}
		for _, c := range edges[cur] {
			if _, seen := prev[c.step]; !seen {
				prev[c.step] = cur
				queue = append(queue, c.step)
			}
		}
	}
	return nil
}

// checkEscalations checks that escalating is possible wherever a catch_up policy says so.
func (p *parser) checkEscalations() {
	for _, n := range p.escalations {
		if len(p.pb.EscalateTo) == 0 {
			p.errorf(n, "catch_up: escalate needs escalate_to: the roles told about missed steps")
		}
		if !p.knownTemplate(bot.KindSlack, MissedStepTemplate) {
			p.errorf(n, "catch_up: escalate needs the slack template %q", MissedStepTemplate)
		}
	}
}
