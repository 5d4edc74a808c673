package cli

import (
	"context"
	"fmt"
	"io"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"casebot/bot"
	"casebot/rules"
)

// why tells the story of one step of one case: what it did and when, why it did not run, or
// when it will run and why then. It reads only.
func why(ctx context.Context, args []string, std IO, w Wiring) error {
	fs := newFlags("why", std)
	rf := addReadFlags(fs, "explain")
	fs.Usage = func() {
		fmt.Fprintln(std.Err, "usage: casebot why [-config FILE] [-at TIME] CASE STEP")
		fmt.Fprintln(std.Err, "CASE is a case id or case number; STEP a step id, or playbook/step when several playbooks apply.")
		fs.PrintDefaults()
	}
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 2 {
		fs.Usage()
		return usageError{fmt.Errorf("want CASE and STEP, got %d argument(s)", fs.NArg())}
	}
	src, now, err := rf.open(ctx, std, w)
	if err != nil {
		return err
	}
	defer src.Close()
	_, err = src.writeWhy(ctx, std.Out, fs.Arg(0), fs.Arg(1), now)
	return err
}

// writeWhy writes the story of step stepArg of case caseArg at now: what `casebot why` prints
// and `/casebot why` answers in Slack. It returns the case it told of.
func (s *source) writeWhy(ctx context.Context, out io.Writer, caseArg, stepArg string, now time.Time) (*bot.Case, error) {
	found, err := s.find(ctx, caseArg, now)
	if err != nil {
		return nil, err
	}
	if len(found) == 0 {
		return nil, notFound{fmt.Errorf("case %s: no playbook applies to it and the ledger has nothing on it", caseArg)}
	}
	pbName, stepID, qualified := strings.Cut(stepArg, "/")
	if !qualified {
		stepID, pbName = pbName, ""
	}
	var hits []caseState
	for _, cs := range found {
		if _, _, ok := cs.step(stepID); ok && (pbName == "" || cs.pb.Name == pbName) {
			hits = append(hits, cs)
		}
	}
	if len(hits) == 0 {
		var lists []string
		for _, cs := range found {
			ids := make([]string, len(cs.pb.Steps))
			for i, s := range cs.pb.Steps {
				ids[i] = s.ID
			}
			lists = append(lists, fmt.Sprintf("playbook %s has %s", cs.pb.Name, strings.Join(ids, ", ")))
		}
		return nil, notFound{fmt.Errorf("case %s has no step %q: %s", caseArg, stepArg, strings.Join(lists, "; "))}
	}
	for i, cs := range hits {
		if i > 0 {
			fmt.Fprintln(out)
		}
		step, st, _ := cs.step(stepID)
		cs.story(out, step, st)
	}
	return &hits[0].c, nil
}

// Patterns of what `why` accepts as a case: a record id, or a case number.
var (
	caseNumber = regexp.MustCompile(`^[0-9]{1,15}$`)
)

// find evaluates the case arg names under every playbook that applies to it: each playbook's
// query asks for that case alone, so neither the other open cases nor their ledger entries
// are read. A case no playbook's query returns any more (closed, say) is looked up by id or
// number and explained under the playbooks whose ledger entries it has.
func (s *source) find(ctx context.Context, arg string, now time.Time) ([]caseState, error) {
	where, err := caseCondition(arg)
	if err != nil {
		return nil, err
	}
	var out []caseState
	for _, pb := range s.pbs {
		css, err := s.casesOf(ctx, pb, arg, now)
		if err != nil {
			return nil, err
		}
		out = append(out, css...)
	}
	if len(out) > 0 {
		return out, nil
	}
	for _, pb := range s.pbs {
		q := displayQuery(pb.Query)
		q.Where = where
		cs, err := s.crm.Cases(ctx, q)
		if err != nil {
			return nil, fmt.Errorf("looking up case %s: %w", arg, err)
		}
		ledgers, err := s.ledgers(ctx, cs)
		if err != nil {
			return nil, err
		}
		for _, c := range cs {
			if ranOn(ledgers[c.ID], pb.Name) {
				out = append(out, evaluate(pb, c, ledgers[c.ID], now))
			}
		}
	}
	return out, nil
}

// ranOn reports whether the ledger holds anything of the playbook.
func ranOn(l bot.Ledger, playbook string) bool {
	for _, e := range l {
		if e.Playbook == playbook {
			return true
		}
	}
	return false
}

// story writes everything known about one step of one case.
func (cs caseState) story(out io.Writer, s *rules.Step, st rules.StepState) {
	header(out, cs)
	fmt.Fprintln(out)
	fmt.Fprintf(out, "Step %s\n", titled(st))
	b := block{w: out, indent: "  ", width: 10}
	b.line("defined", fmt.Sprintf("%s line %d: at %s, non_working %s, catch_up %s", cs.pb.File, s.Line, s.At, s.NonWorking, s.CatchUp))
	b.line("state", cs.label(st))
	b.line("in short", cs.verdict(s, st))
	if !st.At.IsZero() {
		b.line("date", stamp(st.At, cs.loc))
	}
	b.line("why", cs.why(st))
	cs.conditions(&b, s, st)
	for _, w := range []struct{ kind, while string }{
		{"require", "the gate is false"}, {"needs", "a field it needs is blank"}, {"guard", "its guard does not hold"},
	} {
		r := s.Reminder(w.kind)
		if r == nil {
			continue
		}
		text := fmt.Sprintf("%s while %s after the date (template %s)", cs.reminds(r), w.while, r.Template)
		if st.Gate.Kind == w.kind && !st.Remind.IsZero() {
			text += "; next " + stamp(st.Remind, cs.loc)
		}
		b.line("reminds", text)
	}

	fmt.Fprintln(out)
	fmt.Fprintln(out, "  actions")
	ab := block{w: out, indent: "    ", width: 0}
	nb := block{w: out, indent: "       ", width: 0}
	for i, a := range s.Actions {
		ab.numbered("", i+1, describeAction(cs.pb, a))
		if a.Kind == bot.KindTasks {
			for _, t := range cs.pb.TaskTemplates[a.Tasks] {
				nb.line("", "task "+taskLine(t))
			}
		}
		nb.line("", cs.actionStory(s, st, i+1))
	}
	if tasks := cs.tasksOf(s.ID); len(tasks) > 0 {
		fmt.Fprintln(out)
		fmt.Fprintln(out, "  tasks it created")
		for _, t := range tasks {
			state := "open"
			if t.IsClosed {
				state = "closed"
			}
			due := ""
			if t.ActivityDate != "" {
				due = ", due " + t.ActivityDate
			}
			ab.line("", fmt.Sprintf("%s %s: %s (%s%s)", t.ID, state, t.Subject, t.Status, due))
		}
	}
	if marks := cs.marks(s.ID); len(marks) > 0 {
		fmt.Fprintln(out)
		fmt.Fprintln(out, "  ledger notes")
		for _, e := range marks {
			ab.line("", cs.markLine(e))
		}
	}
}

// verdict is the one-sentence answer: did it run, will it, when, and what stops it.
func (cs caseState) verdict(s *rules.Step, st rules.StepState) string {
	switch cs.label(st) {
	case labelDone:
		if started := cs.started(s); started.Sub(st.At) > cs.pb.CatchUp.After {
			return fmt.Sprintf("It ran late: due %s, it started %s, %s after its date (casebot was not running, or the case reached the playbook late); catch_up %s.",
				st.At.In(cs.loc).Format(shortLayout), started.In(cs.loc).Format(shortLayout), humanDuration(started.Sub(st.At)), s.CatchUp)
		}
		return "It ran: every action is done (see below for when and what each returned)."
	case labelSkipped:
		return "It did not run and will not: casebot recorded it as skipped."
	case labelSkipsNow:
		return "It will not run: the next cycle records it as skipped."
	case labelDue:
		if st.Late.Policy != "" {
			return "It is late and due now: the next cycle runs it once (catch_up run)."
		}
		return "It is due now: the next cycle performs its actions that are not done yet."
	case labelScheduled:
		text := "It will come due " + stamp(st.At, cs.loc) + ", in " + humanDuration(st.At.Sub(cs.now)) + "."
		if s.When != nil {
			text += " Its when condition is decided then."
		}
		if s.Require != nil {
			text += " If its require condition is false then, it waits until it holds."
		}
		return text
	case labelWaiting:
		switch {
		case st.Gate.Kind == "":
			return "It cannot come due: its date field has no date."
		case !st.Gate.Until.IsZero():
			return "It waits for its guard's date, " + stamp(st.Gate.Until, cs.loc) + ": it does not start before, and nobody is reminded until then."
		case st.Gate.Kind == "needs":
			return "Its date has passed, but a field it needs is blank: it waits, and casebot asks " +
				strings.Join(s.Needs.To, ", ") + " for it; it never acts on a blank."
		case st.Gate.Kind == "guard":
			return "Its date has passed, but its guard does not hold: it waits, never skipped, and " +
				strings.Join(s.Guard.To, ", ") + " is told; casebot checks it every cycle."
		}
		return "Its date has passed, but it waits for its require condition to hold; casebot checks it every cycle."
	case labelHeld:
		return "The case is on hold: it does not come due until the hold is cleared, and then later by the time held."
	case labelRetrying:
		if n, _, e, ok := cs.failure(s.ID, true); ok {
			return fmt.Sprintf("It started, and action %d failed with a transient error: casebot tries it again %s, in %s.",
				n, stamp(e.RetryAt, cs.loc), humanDuration(e.RetryAt.Sub(cs.now)))
		}
	case labelFailed:
		return "It failed for good: casebot tries it again only after casebot retry."
	}
	return st.Reason
}

// started is when the first action of a step was recorded in the ledger; zero when none was.
func (cs caseState) started(s *rules.Step) time.Time {
	var first time.Time
	for i := range s.Actions {
		e, ok := cs.l[bot.EffectKey(cs.pb.Name, s.ID, i+1, cs.c.ID)]
		if ok && (first.IsZero() || e.At.Before(first)) {
			first = e.At
		}
	}
	return first
}

// actionStory says what became of one action: from the ledger, or what it waits for.
func (cs caseState) actionStory(s *rules.Step, st rules.StepState, action int) string {
	e, ok := cs.l[bot.EffectKey(cs.pb.Name, s.ID, action, cs.c.ID)]
	if !ok {
		switch st.State {
		case rules.StateDue:
			return "not run yet: due now"
		case rules.StateRetrying:
			return "not run yet: waits for the action before it"
		case rules.StateSkipped:
			return "not run: the step is skipped"
		}
		return "not run yet"
	}
	when := stamp(e.At, cs.loc)
	switch e.State {
	case bot.StateDone:
		text := "done " + when + " after " + plural(e.Attempts, "attempt")
		if e.Result != "" {
			text += "; result " + strings.ReplaceAll(e.Result, ",", ", ")
		}
		return text
	case bot.StateSkipped:
		return "skipped " + when + ": " + e.Detail
	case bot.StateFailed:
		text := "failed " + when + " after " + plural(e.Attempts, "attempt") + ": " + e.Detail
		if e.Retryable {
			return text + "; a transient error: casebot tries again " + cs.retryWhen(e)
		}
		return text + "; " + permanent
	case bot.StateClaimed:
		return "decided " + when + ", " + unconfirmed
	}
	return string(e.State) + " " + when + ": " + e.Detail
}

// marks returns the step's ledger entries that are not its actions (the first wait for its
// gate, reminders, an escalation), oldest first.
func (cs caseState) marks(step string) []bot.LedgerEntry {
	var out []bot.LedgerEntry
	for _, e := range cs.l {
		if e.Playbook != cs.pb.Name || e.Step != step {
			continue
		}
		if _, err := strconv.Atoi(keyTag(e.Key)); err == nil {
			continue // an action
		}
		out = append(out, e)
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].At.Equal(out[j].At) {
			return out[i].At.Before(out[j].At)
		}
		return out[i].Key < out[j].Key
	})
	return out
}

// keyTag is the third part of a key: the action number, or a tag such as "remind-2".
func keyTag(key string) string {
	parts := strings.SplitN(key, "/", 4)
	if len(parts) < 3 {
		return ""
	}
	return parts[2]
}

func (cs caseState) markLine(e bot.LedgerEntry) string {
	tag := keyTag(e.Key)
	when := stamp(e.At, cs.loc)
	// The tags of the waits: for the gate, "gate", "remind-N" and (for a missed step)
	// "escalate"; for what the step needs and its guard, "needs", "needs-N", "needs-escalate".
	kind, n, _ := strings.Cut(tag, "-")
	var what string
	switch {
	case tag == "gate" || tag == "needs" || tag == "guard":
		what = "started waiting for its " + tag + " " + when + ": " + e.Detail
	case strings.HasSuffix(tag, "escalate"):
		what = "escalation " + string(e.State) + " " + when
	case kind == "remind" || kind == "needs" || kind == "guard":
		what = "reminder " + n + " " + string(e.State) + " " + when
	default:
		what = tag + " " + string(e.State) + " " + when
	}
	if e.Detail != "" && !strings.HasPrefix(what, "started waiting") {
		what += ": " + e.Detail
	}
	return what
}

// taskLine describes a task template entry: "Confirm invoicing (owner finance, due 5bd, High)".
func taskLine(t rules.TaskEntry) string {
	var parts []string
	if t.Owner != "" {
		parts = append(parts, "owner "+t.Owner)
	}
	if t.Due.Unit != "" {
		parts = append(parts, "due "+strings.TrimPrefix(t.Due.String(), "+ ")+" after the step")
	}
	if t.Priority != "" {
		parts = append(parts, t.Priority)
	}
	s := t.ID + ": " + t.Subject
	if len(parts) > 0 {
		s += " (" + strings.Join(parts, ", ") + ")"
	}
	return s
}

// humanDuration rounds a duration for a sentence: "3 days 4 hours", "5 hours", "12 minutes".
func humanDuration(d time.Duration) string {
	days, hours, mins := int(d/(24*time.Hour)), int(d/time.Hour%24), int(d/time.Minute%60)
	var parts []string
	if days > 0 {
		parts = append(parts, plural(days, "day"))
	}
	if hours > 0 {
		parts = append(parts, plural(hours, "hour"))
	}
	if days == 0 && mins > 0 {
		parts = append(parts, plural(mins, "minute"))
	}
	if len(parts) == 0 {
		return "less than a minute"
	}
	return strings.Join(parts, " ")
}

// plural writes a count of something: "1 attempt", "3 attempts", "1,234 cases".
func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return thousands(n) + " " + what + "s"
}
