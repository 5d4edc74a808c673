package cli

import (
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"slices"
	"sort"
	"strings"
	"time"

	"casebot/bot"
	"casebot/rules"
)

// plan prints what casebot will do to the open cases and why, like `terraform plan`: it
// evaluates the playbooks at -at and writes nothing anywhere. By default it prints a summary
// that stays a screen or two whatever the number of cases; -full, the plan of every case, and
// -case, of one.
func plan(ctx context.Context, args []string, std IO, w Wiring) error {
	fs := newFlags("plan", std)
	rf := addReadFlags(fs, "plan")
	caseArg := fs.String("case", "", "only this case, in full: its id or its case number")
	full := fs.Bool("full", false, "the plan of every open case in full, instead of the summary (-diff: every changed case)")
	days := fs.Int("days", planDays, fmt.Sprintf("show the steps due within this many days, in each case's plan (steps due now or blocked are always shown); the summary's default is %d", summaryDays))
	oldDir := fs.String("diff", "", "compare with the playbooks in this directory: show how the change moves each open case")
	fs.Usage = func() {
		fmt.Fprintln(std.Err, "usage: casebot plan [-config FILE] [-case ID_OR_NUMBER | -full] [-at TIME] [-days N] [-diff OLD_DIR]")
		fmt.Fprintln(std.Err, "Sums up the open cases: by state, what comes due in the next days, what waits on whom, what failed.")
		fmt.Fprintln(std.Err, "With -full or -case, the plan of each case: its coming steps with their dates and the reasons for them. Reads only.")
		fs.PrintDefaults()
	}
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageError{fmt.Errorf("unexpected arguments %q", fs.Args())}
	}
	if *days < 0 {
		return usageError{fmt.Errorf("-days %d: want 0 or more", *days)}
	}
	if *full && *caseArg != "" {
		return usageError{errors.New("-full and -case: give one (-case shows one case in full)")}
	}
	daysSet := false
	fs.Visit(func(f *flag.Flag) { daysSet = daysSet || f.Name == "days" })
	src, now, err := rf.open(ctx, std, w)
	if err != nil {
		return err
	}
	defer src.Close()
	if *oldDir != "" {
		return planDiff(ctx, std.Out, src, *oldDir, *caseArg, *full, now)
	}
	if *full || *caseArg != "" {
		_, err = src.writePlans(ctx, std.Out, *caseArg, time.Duration(*days)*24*time.Hour, now)
		return err
	}
	zone, err := src.summaryZone()
	if err != nil {
		return err
	}
	n := summaryDays
	if daysSet {
		n = *days
	}
	sum, err := src.summarize(ctx, now, n, zone)
	if err != nil {
		return err
	}
	sum.write(std.Out)
	return nil
}

// planDays is how many days ahead a plan shows, unless plan -days says otherwise.
const planDays = 45

// writePlans writes the plan at now of every open case, or of caseArg's (an id or a case
// number, the only case read) when it is not "", with the steps due within horizon: what `casebot plan` prints
// and `/casebot plan` answers in Slack. It returns the first case it wrote of; nil when none.
func (s *source) writePlans(ctx context.Context, out io.Writer, caseArg string, horizon time.Duration, now time.Time) (*bot.Case, error) {
	fmt.Fprintf(out, "Plan at %s: steps due by %s, and every step due now or blocked. Nothing is written.\n",
		now.UTC().Format(longLayout), now.Add(horizon).UTC().Format("Mon 2 Jan 2006"))
	var first *bot.Case
	shown := 0
	for _, pb := range s.pbs {
		css, err := s.casesOf(ctx, pb, caseArg, now)
		if err != nil {
			return nil, err
		}
		for _, cs := range css {
			fmt.Fprintln(out)
			shown++
			if first == nil {
				first = &cs.c
			}
			writePlan(out, cs, horizon)
		}
	}
	if shown == 0 {
		if caseArg != "" {
			return nil, notFound{fmt.Errorf("case %s is not an open case of any playbook", caseArg)}
		}
		fmt.Fprintln(out, "No open cases.")
	}
	return first, nil
}

// matches reports whether c is the case arg names (an id or a case number); "" matches all.
func matches(c bot.Case, arg string) bool {
	if arg == "" || strings.EqualFold(c.ID, arg) || (len(arg) == 15 && strings.HasPrefix(c.ID, arg)) {
		return true
	}
	num, _ := c.Fields["CaseNumber"].(string)
	return num != "" && (num == arg || strings.TrimLeft(num, "0") == strings.TrimLeft(arg, "0"))
}

// writePlan writes one case's plan: what is done, what is due now, what waits and for what,
// and what is scheduled within horizon of the evaluation time.
func writePlan(out io.Writer, cs caseState, horizon time.Duration) {
	header(out, cs)
	until := cs.now.Add(horizon)
	var past, now, gated, scheduled, later []int
	for i, st := range cs.res.Steps {
		switch label := cs.label(st); {
		case label == labelDone || label == labelSkipped:
			past = append(past, i)
		case label == labelScheduled && st.At.After(until):
			later = append(later, i)
		case label == labelScheduled:
			scheduled = append(scheduled, i)
		case label == labelWaiting && st.Gate.Kind != "":
			gated = append(gated, i)
		case label == labelWaiting || label == labelHeld:
			// Shown together in the blocked section: many steps wait for the same date.
		default: // due now, skips now, failed
			now = append(now, i)
		}
	}
	for _, list := range [][]int{past, scheduled, later} {
		sort.SliceStable(list, func(a, b int) bool { return cs.res.Steps[list[a]].At.Before(cs.res.Steps[list[b]].At) })
	}

	if len(past) > 0 {
		fmt.Fprintln(out)
		idWidth := 0
		for _, i := range past {
			idWidth = max(idWidth, len(cs.res.Steps[i].Step))
		}
		for _, i := range past {
			st := cs.res.Steps[i]
			fmt.Fprintf(out, "  %-10s %-22s %-*s  %s\n", cs.label(st), shortDate(st.At, cs.loc), idWidth, st.Step, st.Title)
			if st.State == rules.StateSkipped {
				b := block{w: out, indent: "  ", width: 11}
				b.line("", st.Reason)
			}
		}
	}
	for _, group := range [][]int{now, gated, scheduled} {
		for _, i := range group {
			fmt.Fprintln(out)
			cs.writeStep(out, cs.pb.Steps[i], cs.res.Steps[i])
		}
	}
	cs.writeBlocked(out)
	if len(later) > 0 {
		fmt.Fprintln(out)
		b := block{w: out, indent: "  ", hang: 2}
		parts := make([]string, len(later))
		for j, i := range later {
			st := cs.res.Steps[i]
			parts[j] = st.Step + " (" + shortDate(st.At, cs.loc) + ")"
		}
		b.line("", fmt.Sprintf("Later than %s: %s.", until.In(cs.loc).Format("Mon 2 Jan 2006"), strings.Join(parts, ", ")))
	}
}

// titled names a step with its title: "attrition: Customer Attrition box checked".
func titled(st rules.StepState) string {
	if st.Title == "" || st.Title == st.Step {
		return st.Step
	}
	return st.Step + ": " + st.Title
}

// shortDate is a date in the case's zone without the year; "-" when unknown.
func shortDate(t time.Time, loc *time.Location) string {
	if t.IsZero() {
		return "-"
	}
	return t.In(loc).Format(shortLayout)
}

// writeStep writes a step that is due, decided, waiting or scheduled: its state and title, its
// date, why, its conditions and its actions.
func (cs caseState) writeStep(out io.Writer, s *rules.Step, st rules.StepState) {
	fmt.Fprintf(out, "  %-10s %s\n", cs.label(st), titled(st))
	b := block{w: out, indent: "      ", width: 9}
	if !st.At.IsZero() {
		b.line("date", stamp(st.At, cs.loc))
	}
	b.line("why", cs.why(st))
	cs.conditions(&b, s, st)
	if r := s.Reminder(st.Gate.Kind); r != nil && !st.Remind.IsZero() {
		b.line("reminds", fmt.Sprintf("%s while it waits; next %s", cs.reminds(r), stamp(st.Remind, cs.loc)))
	}
	if st.State == rules.StateSkipped {
		return
	}
	for i, a := range s.Actions {
		label := ""
		if i == 0 {
			label = "does"
		}
		text := describeAction(cs.pb, a)
		if note := cs.actionNote(s, i+1); note != "" {
			text += " [" + note + "]"
		}
		b.numbered(label, i+1, text)
	}
}

// actionNote says what the ledger holds for an action of a step that is not finished: "done
// Mon 2 Nov 09:00 EST", "failed after 2 attempts, retried Mon 2 Nov 2026 09:05 EST (…): …",
// "failed for good: … (a permanent error: …)".
func (cs caseState) actionNote(s *rules.Step, action int) string {
	e, ok := cs.l[bot.EffectKey(cs.pb.Name, s.ID, action, cs.c.ID)]
	if !ok {
		return ""
	}
	switch {
	case e.State == bot.StateFailed && e.Retryable:
		return fmt.Sprintf("failed after %s, retried %s: %s", plural(e.Attempts, "attempt"), cs.retryWhen(e), e.Detail)
	case e.State == bot.StateFailed:
		return fmt.Sprintf("failed for good: %s (%s)", e.Detail, permanent)
	case e.State == bot.StateSkipped:
		return "skipped: " + e.Detail
	case e.State == bot.StateClaimed:
		return "decided " + shortDate(e.At, cs.loc) + ", " + unconfirmed
	}
	return string(e.State) + " " + shortDate(e.At, cs.loc)
}

// unconfirmed says what a claimed action is: decided, with what it sends, and not yet done or
// not yet confirmed done.
const unconfirmed = "not confirmed yet: the next cycle asks the provider whether it was done before doing it"

// writeBlocked groups the steps that cannot come due by what they wait for: a gate, a date
// field that is null, or a hold.
func (cs caseState) writeBlocked(out io.Writer) {
	type group struct {
		what  string
		steps []string
	}
	var groups []*group
	add := func(what, step string) {
		for _, g := range groups {
			if g.what == what {
				g.steps = append(g.steps, step)
				return
			}
		}
		groups = append(groups, &group{what: what, steps: []string{step}})
	}
	for i, st := range cs.res.Steps {
		switch {
		case st.State == rules.StateHeld:
			add(fmt.Sprintf("the hold (%s set since %s); their dates move later by the time held",
				cs.pb.Hold, stamp(st.HeldSince, cs.loc)), st.Step)
		case st.State == rules.StateWaiting && st.Gate.Kind != "":
			add(cs.waitsFor(cs.pb.Steps[i], st.Gate), st.Step)
		case st.State == rules.StateWaiting:
			add(dateProblem(cs, st), st.Step)
		}
	}
	if len(groups) == 0 {
		return
	}
	fmt.Fprintln(out)
	fmt.Fprintln(out, "  blocked")
	b := block{w: out, indent: "    ", hang: 2}
	for _, g := range groups {
		verb := " waits for "
		if len(g.steps) > 1 {
			verb = " wait for "
		}
		b.line("", strings.Join(g.steps, ", ")+verb+g.what+".")
	}
}

// waitsFor says what a step whose date has come waits for, and from whom: "what is missing
// from partner_manager since Mon 1 Jun: Notice Period Days is empty".
func (cs caseState) waitsFor(s *rules.Step, g rules.Gate) string {
	since := shortDate(g.Since, cs.loc)
	switch {
	case !g.Until.IsZero():
		return "its guard's date: " + g.Waiting()
	case g.Kind == "needs":
		return fmt.Sprintf("what is missing from %s since %s: %s", strings.Join(s.Needs.To, ", "), since, g.Waiting())
	case g.Kind == "guard":
		return fmt.Sprintf("its guard, not holding since %s (%s is told): %s", since, strings.Join(s.Guard.To, ", "), g.Waiting())
	}
	return fmt.Sprintf("a gate false since %s: %s", since, g.Waiting())
}

// dateProblem says which date a waiting step lacks: "Case.Termination_Confirmed__c (day0) to
// be set".
func dateProblem(cs caseState, st rules.StepState) string {
	t := st.Timing
	v := rules.FieldValue(&cs.c, t.Field)
	if v == nil || v == "" {
		return t.Field.String() + " (" + t.Date + ") to be set"
	}
	return t.Field.String() + " (" + t.Date + ") to hold a valid " + string(cs.pb.Fields[t.Field]) + ", not " + value(v, rules.TypeString)
}

// planDiff evaluates each open case against the playbooks in oldDir and the current ones and
// prints how many cases change, by playbook and step, then the steps whose date, state,
// conditions or actions differ, case by case: the first diffShown cases, or all with full.
func planDiff(ctx context.Context, out io.Writer, src *source, oldDir, caseArg string, full bool, now time.Time) error {
	olds, err := loadPlaybooks([]string{oldDir}, src.tmpl, src.cfg)
	if err != nil {
		return fmt.Errorf("the old playbooks in %s: %w", oldDir, err)
	}
	var sections []diffSection
	for _, cur := range src.pbs {
		i := slices.IndexFunc(olds, func(p *rules.Playbook) bool { return p.Name == cur.Name })
		if i < 0 {
			sec, err := wholePlaybook(ctx, src, cur, caseArg, now, "is new: it would run")
			if err != nil {
				return err
			}
			sections = append(sections, sec...)
			continue
		}
		sec, err := diffPlaybook(ctx, src, olds[i], cur, caseArg, now)
		if err != nil {
			return err
		}
		sections = append(sections, sec...)
	}
	for _, old := range olds {
		if !slices.ContainsFunc(src.pbs, func(p *rules.Playbook) bool { return p.Name == old.Name }) {
			sec, err := wholePlaybook(ctx, src, old, caseArg, now, "is gone: it no longer runs")
			if err != nil {
				return err
			}
			sections = append(sections, sec...)
		}
	}
	fmt.Fprintf(out, "How the open cases change from the playbooks in %s to the current ones, at %s:\n\n", oldDir, now.UTC().Format(longLayout))
	if len(sections) == 0 {
		fmt.Fprintf(out, "No open case changes: the playbooks in %s and the current ones do the same to every open case.\n", oldDir)
		return nil
	}
	writeDiffCounts(out, sections)
	more := "casebot plan -diff " + oldDir + " -full"
	shown := len(sections)
	if !full && shown > diffShown+1 {
		shown = diffShown
	}
	for _, sec := range sections[:shown] {
		fmt.Fprintln(out)
		fmt.Fprintln(out, sec.lines[0])
		b := block{w: out, indent: "  ", hang: 2}
		lines := sec.lines[1:]
		if !full && len(lines) > diffShown+1 {
			lines = append(lines[:diffShown:diffShown], fmt.Sprintf("and %s more: %s", plural(len(sec.lines)-1-diffShown, "case"), more))
		}
		for _, l := range lines {
			b.line("", l)
		}
	}
	if rest := len(sections) - shown; rest > 0 {
		fmt.Fprintln(out)
		fmt.Fprintf(out, "%s: %s\n", plural(rest, "more changed case"), more)
	}
	return nil
}

// diffShown is how many changed cases plan -diff shows without -full, and how many cases of a
// playbook added or removed.
const diffShown = 20

// diffSection is what a playbook change does to one case (or, for a playbook added or removed,
// to each of its cases): a title, then a line per change.
type diffSection struct {
	playbook string
	lines    []string // the title first
	steps    []string // the steps that change; none when the case enters or leaves the playbook
	cases    int      // how many cases it is about: 1, or the cases of a playbook added or removed
}

// writeDiffCounts writes how many cases change, by playbook, and how many of them each step
// changes for: "termination-sop: 3 cases: 3 deletion-approval, 3 final-notice, 2 hold-reminder".
func writeDiffCounts(out io.Writer, sections []diffSection) {
	var books []string
	cases := map[string]int{}
	steps := map[string]map[string]int{}
	whole := map[string]int{} // cases that enter or leave, or of a playbook added or removed
	total := 0
	for _, sec := range sections {
		if _, ok := steps[sec.playbook]; !ok {
			books = append(books, sec.playbook)
			steps[sec.playbook] = map[string]int{}
		}
		cases[sec.playbook] += sec.cases
		total += sec.cases
		if len(sec.steps) == 0 {
			whole[sec.playbook] += sec.cases
		}
		for _, st := range sec.steps {
			steps[sec.playbook][st]++
		}
	}
	fmt.Fprintf(out, "%s change:\n", plural(total, "open case"))
	b := block{w: out, indent: "  ", hang: 2}
	for _, pb := range books {
		n := steps[pb]
		ids := slices.SortedFunc(maps.Keys(n), func(a, b string) int { return cmp.Or(cmp.Compare(n[b], n[a]), cmp.Compare(a, b)) })
		parts := make([]string, 0, len(ids)+1)
		for _, id := range ids {
			parts = append(parts, thousands(n[id])+" "+id)
		}
		if whole[pb] > 0 {
			parts = append(parts, thousands(whole[pb])+" enter or leave the playbook")
		}
		b.line("", pb+": "+plural(cases[pb], "case")+": "+strings.Join(parts, ", "))
	}
}

// wholePlaybook is the section for a playbook added or removed: the open cases it applies to.
func wholePlaybook(ctx context.Context, src *source, pb *rules.Playbook, caseArg string, now time.Time, what string) ([]diffSection, error) {
	css, err := src.casesOf(ctx, pb, caseArg, now)
	if err != nil {
		return nil, err
	}
	var lines []string
	for _, cs := range css {
		lines = append(lines, caseTitle(cs)+": "+stateCounts(cs))
	}
	if len(lines) == 0 {
		return nil, nil
	}
	head := fmt.Sprintf("Playbook %s %s on %s:", pb.Name, what, plural(len(lines), "open case"))
	return []diffSection{{playbook: pb.Name, lines: append([]string{head}, lines...), cases: len(lines)}}, nil
}

// diffPlaybook returns, for each case old or cur applies to that the change moves, a section:
// the case's title, then one line per change.
func diffPlaybook(ctx context.Context, src *source, old, cur *rules.Playbook, caseArg string, now time.Time) ([]diffSection, error) {
	read := func(p *rules.Playbook) (map[string]caseState, []string, error) {
		css, err := src.casesOf(ctx, p, caseArg, now)
		if err != nil {
			return nil, nil, err
		}
		m := map[string]caseState{}
		var ids []string
		for _, cs := range css {
			m[cs.c.ID] = cs
			ids = append(ids, cs.c.ID)
		}
		return m, ids, nil
	}
	before, oldIDs, err := read(old)
	if err != nil {
		return nil, err
	}
	after, ids, err := read(cur)
	if err != nil {
		return nil, err
	}
	for _, id := range oldIDs {
		if _, ok := after[id]; !ok {
			ids = append(ids, id)
		}
	}
	var sections []diffSection
	for _, id := range ids {
		b, inOld := before[id]
		a, inNew := after[id]
		sec := diffSection{playbook: cur.Name, cases: 1}
		switch {
		case !inOld:
			sec.lines = []string{caseTitle(a), fmt.Sprintf("enters playbook %s (applies_to changed): %s", a.pb.Name, stateCounts(a))}
		case !inNew:
			sec.lines = []string{caseTitle(b), fmt.Sprintf("leaves playbook %s (applies_to changed): it no longer runs", b.pb.Name)}
		default:
			if lines, steps := diffSteps(b, a); len(lines) > 0 {
				sec.lines, sec.steps = append([]string{caseTitle(a)}, lines...), steps
			}
		}
		if sec.lines != nil {
			sections = append(sections, sec)
		}
	}
	return sections, nil
}

// stateCounts counts the steps of a case by state: "2 done, 1 due now, 9 scheduled".
func stateCounts(cs caseState) string {
	var lc labelCounts
	lc.steps(cs)
	return lc.String()
}

// caseTitle names a case on one line: "Case 00001001: Termination: Acme Corp · account Acme
// Corp · America/New_York · termination-sop".
func caseTitle(cs caseState) string {
	s := "Case "
	if num, _ := cs.c.Fields["CaseNumber"].(string); num != "" {
		s += num
	} else {
		s += cs.c.ID
	}
	if subj, _ := cs.c.Fields["Subject"].(string); subj != "" {
		s += ": " + subj
	}
	if cs.c.Account != nil {
		if n, _ := cs.c.Account.Fields["Name"].(string); n != "" {
			s += " · account " + n
		}
	}
	return s + " · " + cs.loc.String() + " · " + cs.pb.Name
}

// diffSteps compares the steps of one case under the old and the new playbook, and returns a
// line per change and the steps that change. Steps done or skipped under both are history and
// left out.
func diffSteps(old, cur caseState) (lines, steps []string) {
	for i, s := range cur.pb.Steps {
		st := cur.res.Steps[i]
		os, ost, ok := old.step(s.ID)
		if !ok {
			lines = append(lines, fmt.Sprintf("%s: new step, %s %s", s.ID, cur.label(st), whenOf(st, cur.loc)))
			steps = append(steps, s.ID)
			continue
		}
		if finished(ost) && finished(st) {
			continue
		}
		if ls := diffStep(old, cur, os, s, ost, st); len(ls) > 0 {
			lines = append(lines, ls...)
			steps = append(steps, s.ID)
		}
	}
	for i, s := range old.pb.Steps {
		if _, _, ok := cur.step(s.ID); !ok {
			st := old.res.Steps[i]
			lines = append(lines, fmt.Sprintf("%s: step removed (was %s %s)", s.ID, old.label(st), whenOf(st, old.loc)))
			steps = append(steps, s.ID)
		}
	}
	return lines, steps
}

func finished(st rules.StepState) bool {
	return st.State == rules.StateDone || st.State == rules.StateSkipped
}

// whenOf is a step's date for a one-line change, or "with no date yet".
func whenOf(st rules.StepState, loc *time.Location) string {
	if st.At.IsZero() {
		return "with no date yet"
	}
	return st.At.In(loc).Format(longLayout)
}

// diffStep describes how one step changed: "attrition: Tue 3 Nov 2026 09:00 EST → Wed 4 Nov
// 2026 09:00 EST (at day0 + 1d → day0 + 1bd)", then its state, conditions and actions.
func diffStep(old, cur caseState, os, s *rules.Step, ost, st rules.StepState) []string {
	var lines []string
	var causes []string
	if os.At.String() != s.At.String() {
		causes = append(causes, "at "+os.At.String()+" → "+s.At.String())
	}
	if os.NonWorking != s.NonWorking {
		causes = append(causes, "non_working "+string(os.NonWorking)+" → "+string(s.NonWorking))
	}
	if ost.Timing.Shift.Rule != st.Timing.Shift.Rule || ost.Timing.Shift.Why != st.Timing.Shift.Why {
		causes = append(causes, shiftNote(ost.Timing.Shift)+" → "+shiftNote(st.Timing.Shift))
	}
	if !ost.At.Equal(st.At) {
		l := s.ID + ": " + whenOf(ost, old.loc) + " → " + whenOf(st, cur.loc)
		if len(causes) > 0 {
			l += " (" + strings.Join(causes, "; ") + ")"
		}
		lines = append(lines, l)
	}
	if ol, nl := old.label(ost), cur.label(st); ol != nl {
		lines = append(lines, fmt.Sprintf("%s: %s → %s: %s", s.ID, ol, nl, cur.why(st)))
	}
	for _, c := range []struct {
		kind     string
		old, cur *rules.Condition
	}{{"when", os.When, s.When}, {"require", os.Require, s.Require}} {
		if o, n := condSource(c.old), condSource(c.cur); o != n {
			lines = append(lines, fmt.Sprintf("%s: %s %s → %s", s.ID, c.kind, o, n))
		}
	}
	oa, na := actionList(old.pb, os), actionList(cur.pb, s)
	if len(oa) == len(na) {
		// Same number of actions: compare them one by one.
		for i := range na {
			if oa[i] != na[i] {
				lines = append(lines, fmt.Sprintf("%s: action %d: %s → %s", s.ID, i+1, oa[i], na[i]))
			}
		}
		return lines
	}
	for _, a := range oa {
		if !slices.Contains(na, a) {
			lines = append(lines, s.ID+": no longer "+a)
		}
	}
	for _, a := range na {
		if !slices.Contains(oa, a) {
			lines = append(lines, s.ID+": now also "+a)
		}
	}
	return lines
}

func shiftNote(sh rules.Shift) string {
	if sh.Rule == "" {
		return "not moved"
	}
	return "moved " + string(sh.Rule) + " off " + sh.Why
}

func condSource(c *rules.Condition) string {
	if c == nil {
		return "(none)"
	}
	return c.Source
}

func actionList(pb *rules.Playbook, s *rules.Step) []string {
	out := make([]string, len(s.Actions))
	for i, a := range s.Actions {
		out[i] = describeAction(pb, a)
	}
	return out
}

// permanent says why casebot does not try a failed effect again, and what will.
const permanent = "a permanent error: it is tried again only after casebot retry"
