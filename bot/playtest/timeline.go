package playtest

import (
	"cmp"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"casebot/bot"
	"casebot/bot/engine"
	"casebot/rules"
)

// gotLine is one observed effect.
type gotLine struct {
	text       string // as the test writes it: "TIME step/action kind details"
	step       string
	done       bool   // an action of the step was performed
	message    string // the rendered message, for golden files
	hasMessage bool
}

// outbox is what casebot sent in one cycle.
type outbox struct {
	posts    []bot.Message
	mails    []bot.Mail
	calls    []call
	comments []string // in the order the engine created them
}

// lines turns the events of one cycle into timeline lines: in step order, then action order
// (the engine performs a cycle's effects phase by phase across steps; the order within a step
// is what a test pins down). A skipped step is one line, not one per action.
func lines(pb *rules.Playbook, loc *time.Location, events []engine.Event, sent outbox) []gotLine {
	// A case comment carries no effect key; the engine creates them in the order of its events.
	comments := map[string]string{}
	for _, ev := range events {
		if ev.Outcome == engine.Done && ev.Effect.Kind == bot.KindComment && len(sent.comments) > 0 {
			comments[ev.Effect.Key], sent.comments = sent.comments[0], sent.comments[1:]
		}
	}
	order := make(map[string]int, len(pb.Steps))
	for i, s := range pb.Steps {
		order[s.ID] = i
	}
	slices.SortStableFunc(events, func(a, b engine.Event) int {
		return cmp.Or(cmp.Compare(stepOrder(order, a.Step), stepOrder(order, b.Step)), cmp.Compare(a.Effect.Action, b.Effect.Action))
	})
	var out []gotLine
	skipped := map[string]bool{}
	for _, ev := range events {
		at := formatTime(ev.At, loc)
		if ev.Outcome == engine.Skipped {
			if !skipped[ev.Step] {
				skipped[ev.Step] = true
				out = append(out, gotLine{text: at + " " + ev.Step + " skipped: " + ev.Detail, step: ev.Step})
			}
			continue
		}
		// Reminders and escalations have no action number: only an action reaches its step.
		g := gotLine{step: ev.Step, done: ev.Outcome == engine.Done && ev.Effect.Action > 0}
		var b strings.Builder
		b.WriteString(at + " " + effectID(ev.Effect) + " " + string(ev.Effect.Kind))
		if ev.Outcome == engine.Failed {
			b.WriteString(" failed: " + ev.Detail)
		} else {
			g.message, g.hasMessage = describe(&b, pb, ev, sent, comments)
		}
		if due := ev.Effect.Due; !due.IsZero() && !due.Equal(ev.At) {
			b.WriteString(" (due " + formatTime(due, loc) + ")")
		}
		g.text = b.String()
		out = append(out, g)
	}
	return out
}

func stepOrder(order map[string]int, step string) int {
	if i, ok := order[step]; ok {
		return i
	}
	return len(order)
}

// effectID is the part of an effect key a timeline shows: "attrition/1" for
// termination-sop/attrition/1/500…, "gate/remind-2" for a reminder.
func effectID(e bot.Effect) string {
	parts := strings.SplitN(e.Key, "/", 4)
	if len(parts) < 3 {
		return e.Key
	}
	return parts[1] + "/" + parts[2]
}

// describe writes what a done effect did and returns its rendered message, if it has one.
func describe(b *strings.Builder, pb *rules.Playbook, ev engine.Event, sent outbox, comments map[string]string) (string, bool) {
	e := ev.Effect
	switch e.Kind {
	case bot.KindStatus:
		fmt.Fprintf(b, " %v", e.Fields["Status"])
	case bot.KindUpdate:
		for _, n := range slices.Sorted(maps.Keys(e.Fields)) {
			ref := rules.FieldRef{Object: e.Object, Name: n}
			b.WriteString(" " + ref.String() + "=" + formatValue(pb.Fields[ref], e.Fields[n]))
		}
	case bot.KindTasks:
		for i, t := range e.Tasks {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(" " + taskLine(t))
		}
	case bot.KindSlack:
		var channels []string
		var text string
		for _, p := range sent.posts {
			if p.Key == e.Key {
				channels = append(channels, p.Channel)
				text = p.Text
			}
		}
		if len(channels) == 0 {
			b.WriteString(" (posted before)")
			return "", false
		}
		b.WriteString(" " + strings.Join(channels, ","))
		return text, true
	case bot.KindEmail:
		for _, m := range sent.mails {
			if m.Key == e.Key {
				b.WriteString(" to " + strings.Join(m.To, ","))
				if len(m.Cc) > 0 {
					b.WriteString(" cc " + strings.Join(m.Cc, ","))
				}
				return "Subject: " + m.Subject + "\n\n" + m.Text, true
			}
		}
		b.WriteString(" (sent before)")
	case bot.KindComment:
		b.WriteString(map[bool]string{true: " public", false: " internal"}[e.Public])
		text, ok := comments[e.Key]
		return text, ok
	case bot.KindQueue:
		b.WriteString(" " + strings.Join(e.Roles, ","))
	case bot.KindHTTP:
		b.WriteString(" " + ev.Detail)
		for _, c := range sent.calls {
			if c.key == e.Key && c.Body != nil {
				return string(c.Body), true
			}
		}
	default:
		if ev.Detail != "" {
			b.WriteString(" " + ev.Detail)
		}
	}
	return "", false
}

// taskLine is "entry (owner role, due date, priority)", leaving out what the task has not and
// the Normal priority.
func taskLine(t bot.TaskSpec) string {
	entry := t.Key[strings.LastIndexByte(t.Key, '/')+1:]
	var attrs []string
	if t.OwnerRole != "" {
		attrs = append(attrs, t.OwnerRole)
	}
	if t.Due != "" {
		attrs = append(attrs, "due "+t.Due)
	}
	if t.Priority != "" && t.Priority != "Normal" {
		attrs = append(attrs, t.Priority)
	}
	if len(attrs) == 0 {
		return entry
	}
	return entry + " (" + strings.Join(attrs, ", ") + ")"
}

// formatValue writes a wire value as the rules do: strings quoted, dates bare.
func formatValue(typ rules.FieldType, v any) string {
	switch v := v.(type) {
	case nil:
		return "null"
	case bool:
		return strconv.FormatBool(v)
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64)
	case string:
		if typ == rules.TypeDate || typ == rules.TypeDateTime {
			return v
		}
		return strconv.Quote(v)
	default:
		return fmt.Sprint(v)
	}
}

// compare matches the expected lines with the observed ones and returns the matched pairs
// (want index, got index) and, when they differ, the difference for people.
func compare(want []wantLine, got []gotLine) ([][2]int, string) {
	a := make([]string, len(want))
	for i, w := range want {
		a[i] = w.text
	}
	b := make([]string, len(got))
	for i, g := range got {
		b[i] = g.text
	}
	ops := diff(a, b)
	var pairs [][2]int
	for _, o := range ops {
		if o.kind == ' ' {
			pairs = append(pairs, [2]int{o.a, o.b})
		}
	}
	return pairs, render(ops, a, b)
}

// diffLines returns the difference of two texts, "" when they are equal.
func diffLines(a, b []string) string { return render(diff(a, b), a, b) }

// op is one line of a diff: ' ' both, '-' only in a, '+' only in b.
type op struct {
	kind byte
	a, b int // indexes in a and b (the one that applies)
}

// diff computes a shortest edit script by longest common subsequence. Timelines are a few
// hundred lines at most, so the quadratic table is small.
func diff(a, b []string) []op {
	n, m := len(a), len(b)
	lcs := make([][]int, n+1)
	for i := range lcs {
		lcs[i] = make([]int, m+1)
	}
	for i := n - 1; i >= 0; i-- {
		for j := m - 1; j >= 0; j-- {
			if a[i] == b[j] {
				lcs[i][j] = lcs[i+1][j+1] + 1
			} else {
				lcs[i][j] = max(lcs[i+1][j], lcs[i][j+1])
			}
		}
	}
	var ops []op
	i, j := 0, 0
	for i < n || j < m {
		switch {
		case i < n && j < m && a[i] == b[j]:
			ops = append(ops, op{' ', i, j})
			i, j = i+1, j+1
		case i < n && (j == m || lcs[i+1][j] >= lcs[i][j+1]):
			ops = append(ops, op{'-', i, j})
			i++
		default:
			ops = append(ops, op{'+', i, j})
			j++
		}
	}
	return ops
}

// diffContext is how many unchanged lines a diff shows around a change.
const diffContext = 2

// render prints the changes with diffContext lines around each; "" when there are none.
func render(ops []op, a, b []string) string {
	show := make([]bool, len(ops))
	changed := false
	for k, o := range ops {
		if o.kind == ' ' {
			continue
		}
		changed = true
		for c := max(0, k-diffContext); c <= min(len(ops)-1, k+diffContext); c++ {
			show[c] = true
		}
	}
	if !changed {
		return ""
	}
	var sb strings.Builder
	for k, o := range ops {
		if !show[k] {
			if k == 0 || show[k-1] {
				sb.WriteString("  …\n")
			}
			continue
		}
		switch o.kind {
		case ' ':
			sb.WriteString("  " + a[o.a] + "\n")
		case '-':
			sb.WriteString("- " + a[o.a] + "\n")
		case '+':
			sb.WriteString("+ " + b[o.b] + "\n")
		}
	}
	return sb.String()
}
