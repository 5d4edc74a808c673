package cli

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"time"
)

// A plan summary is what `casebot plan` prints unless asked for every case (-full) or one
// (-case): the plan of each of 50,000 open cases is over 100 MB, and the summary stays a
// screen or two whatever the number of cases. It counts the cases of each playbook by where
// they stand and their steps by plan's labels, and sorts what comes due, what waits on whom
// and what failed with the digest's lines (linesOf), counting them by day and step.

// Bounds of a summary: every list is cut at one of these, and the rest counted.
const (
	summaryDays     = 7  // days ahead, today included, unless plan -days says otherwise
	summaryExamples = 3  // cases named per step and day
	summaryFailed   = 10 // failures listed
)

// Where a case stands, by its most pressing step: each case is counted once, under the first
// of standings any of its steps is in.
const (
	standFailed    = labelFailed
	standRetrying  = labelRetrying
	standDue       = labelDue
	standWaiting   = "waiting on a gate"
	standHeld      = labelHeld
	standScheduled = labelScheduled
	standUndated   = "waiting for a date"
	standFinished  = "finished"
)

var standings = []string{standFailed, standRetrying, standDue, standWaiting, standHeld, standScheduled, standUndated, standFinished}

// standing says where a case stands: its most pressing step's state; finished when every step
// is done or skipped.
func (cs caseState) standing() string {
	best := len(standings) - 1
	for _, st := range cs.res.Steps {
		var s string
		switch cs.label(st) {
		case labelFailed:
			s = standFailed
		case labelRetrying:
			s = standRetrying
		case labelDue, labelSkipsNow:
			s = standDue
		case labelWaiting:
			s = standUndated
			if st.Gate.Kind != "" {
				s = standWaiting
			}
		case labelHeld:
			s = standHeld
		case labelScheduled:
			s = standScheduled
		default:
			continue
		}
		best = min(best, slices.Index(standings, s))
	}
	return standings[best]
}

// labelCounts counts labels in the order they are first seen: "2 done, 1 due now, 9 scheduled".
type labelCounts struct {
	order []string
	n     map[string]int
}

func (lc *labelCounts) add(label string, n int) {
	if lc.n == nil {
		lc.n = map[string]int{}
	}
	if _, ok := lc.n[label]; !ok {
		lc.order = append(lc.order, label)
	}
	lc.n[label] += n
}

// steps counts the steps of a case by their labels.
func (lc *labelCounts) steps(cs caseState) {
	for _, st := range cs.res.Steps {
		lc.add(cs.label(st), 1)
	}
}

// sorted orders the labels as a step goes: done and skipped first, scheduled last.
func (lc labelCounts) sorted() labelCounts {
	order := []string{labelDone, labelSkipped, labelSkipsNow, labelDue, labelRetrying, labelFailed, labelWaiting, labelHeld, labelScheduled}
	lc.order = slices.Clone(lc.order)
	slices.SortStableFunc(lc.order, func(a, b string) int {
		return cmp.Compare(slices.Index(order, a), slices.Index(order, b))
	})
	return lc
}

func (lc labelCounts) String() string {
	parts := make([]string, len(lc.order))
	for i, l := range lc.order {
		parts[i] = thousands(lc.n[l]) + " " + l
	}
	return strings.Join(parts, ", ")
}

// planSummary is the summary of the open cases of every playbook, gathered case by case.
type planSummary struct {
	now   time.Time
	zone  *time.Location // where its days begin and end: the digest's readers' zone
	days  int
	end   time.Time // what comes due before it is counted
	cases int
	books []bookCounts
	steps labelCounts
	due   map[dueKey]*dueGroup
	wait  map[waitKey]*waitGroup
	fail  []digestLine
}

// bookCounts are a playbook's open cases, by where they stand.
type bookCounts struct {
	name  string
	cases int
	by    map[string]int
}

type dueKey struct {
	day  time.Time
	step string // its title, as the digest counts it
}

// dueGroup is the steps of one title coming due on one day: how many, and the first cases.
type dueGroup struct {
	n     int
	first []digestLine // at most summaryExamples, earliest first
}

type waitKey struct{ who, step string }

// waitGroup is the cases waiting on the same people for the same step.
type waitGroup struct {
	n       int
	longest digestLine // the one waiting since the earliest
}

// summarize reads and evaluates the open cases of every playbook at now and sums them up,
// with what comes due in the days (today included) from now in zone.
func (s *source) summarize(ctx context.Context, now time.Time, days int, zone *time.Location) (*planSummary, error) {
	sum := &planSummary{now: now, zone: zone, days: max(days, 1),
		due: map[dueKey]*dueGroup{}, wait: map[waitKey]*waitGroup{}}
	sum.end = startOfDay(now, zone).AddDate(0, 0, sum.days)
	for _, pb := range s.pbs {
		css, err := s.cases(ctx, pb, now)
		if err != nil {
			return nil, err
		}
		bc := bookCounts{name: pb.Name, cases: len(css), by: map[string]int{}}
		for _, cs := range css {
			bc.by[cs.standing()]++
			sum.steps.steps(cs)
			sum.add(linesOf(cs, sum.end, plainText))
		}
		sum.cases += len(css)
		sum.books = append(sum.books, bc)
	}
	return sum, nil
}

// add counts one case's lines.
func (sum *planSummary) add(ls caseLines) {
	for _, l := range ls.due {
		k := dueKey{day: startOfDay(l.at, sum.zone), step: l.step}
		g := sum.due[k]
		if g == nil {
			g = &dueGroup{}
			sum.due[k] = g
		}
		g.n++
		if len(g.first) < summaryExamples || earlier(l, g.first[len(g.first)-1]) {
			g.first = append(g.first, l)
			slices.SortStableFunc(g.first, lineOrder)
			g.first = g.first[:min(len(g.first), summaryExamples)]
		}
	}
	for _, l := range ls.waiting {
		k := waitKey{who: l.who, step: l.step}
		g := sum.wait[k]
		if g == nil {
			g = &waitGroup{longest: l}
			sum.wait[k] = g
		}
		g.n++
		if earlier(l, g.longest) {
			g.longest = l
		}
	}
	sum.fail = append(sum.fail, ls.failed...)
}

// lineOrder orders lines by time, then by case number.
func lineOrder(a, b digestLine) int { return cmp.Or(a.at.Compare(b.at), cmp.Compare(a.num, b.num)) }

func earlier(a, b digestLine) bool { return lineOrder(a, b) < 0 }

// write writes the summary.
func (sum *planSummary) write(out io.Writer) {
	fmt.Fprintf(out, "Plan at %s: a summary of %s. Nothing is written.\n",
		sum.now.UTC().Format(longLayout), plural(sum.cases, "open case"))

	fmt.Fprintln(out)
	fmt.Fprintln(out, "Open cases by playbook, each counted once by its most pressing step")
	width := 0
	for _, bc := range sum.books {
		width = max(width, len(bc.name))
	}
	for _, bc := range sum.books {
		b := block{w: out, indent: "  ", width: width + 2, hang: 2}
		if bc.cases == 0 {
			b.line(bc.name, "no open cases")
			continue
		}
		var lc labelCounts
		for _, s := range standings {
			if bc.by[s] > 0 {
				lc.add(s, bc.by[s])
			}
		}
		b.line(bc.name, thousands(bc.cases)+": "+lc.String())
	}
	if sum.cases > 0 {
		b := block{w: out, indent: "  ", width: width + 2, hang: 2}
		b.line("steps", sum.steps.sorted().String())
	}

	sum.writeDue(out)
	sum.writeWaiting(out)
	if len(sum.fail) > 0 {
		fmt.Fprintln(out)
		fmt.Fprintln(out, "Failed, waiting for their cause to be fixed and casebot retry")
		byTime(sum.fail)
		var lines strings.Builder
		writeLines(&lines, sum.fail, summaryFailed, "", plainText)
		b := block{w: out, indent: "  ", hang: 2}
		for _, l := range strings.Split(strings.TrimSuffix(lines.String(), "\n"), "\n") {
			b.line("", l)
		}
	}

	if sum.cases > 0 {
		fmt.Fprintln(out)
		b := block{w: out}
		b.line("", fmt.Sprintf("The plan of each of the %s, with why each date is what it is: casebot plan -full; of one case: casebot plan -case ID; why a step runs when it does: casebot why CASE STEP.",
			plural(sum.cases, "case")))
	}
}

// writeDue writes what comes due by day, each day's steps the most frequent first, with the
// first cases of each and the rest counted.
func (sum *planSummary) writeDue(out io.Writer) {
	last := sum.end.AddDate(0, 0, -1)
	fmt.Fprintln(out)
	fmt.Fprintf(out, "Coming due from today to %s (%s in %s; plan -days N for more)\n",
		last.Format("Mon 2 Jan"), plural(sum.days, "day"), sum.zone)
	if len(sum.due) == 0 {
		fmt.Fprintln(out, "  Nothing.")
		return
	}
	keys := slices.SortedFunc(maps.Keys(sum.due), func(a, b dueKey) int {
		return cmp.Or(a.day.Compare(b.day), cmp.Compare(sum.due[b].n, sum.due[a].n), cmp.Compare(a.step, b.step))
	})
	var day time.Time
	for _, k := range keys {
		if !k.day.Equal(day) {
			day = k.day
			total := 0
			for kk, g := range sum.due {
				if kk.day.Equal(day) {
					total += g.n
				}
			}
			fmt.Fprintf(out, "  %s: %s\n", day.Format("Mon 2 Jan"), plural(total, "step"))
		}
		g := sum.due[k]
		b := block{w: out, indent: "  ", width: 9, hang: 2}
		b.line(fmt.Sprintf("%7s", thousands(g.n)), k.step+": "+examples(g.first, g.n))
	}
}

// examples names the first cases of n by number, for casebot why: "00001001, 00001002 and 3
// more".
func examples(first []digestLine, n int) string {
	names := make([]string, len(first))
	for i, l := range first {
		names[i] = cmp.Or(l.num, l.about)
	}
	s := strings.Join(names, ", ")
	if rest := n - len(first); rest > 0 {
		s += " and " + thousands(rest) + " more"
	}
	return s
}

// writeWaiting writes whom the cases wait on, for which step, how many and since when; the
// longest wait first.
func (sum *planSummary) writeWaiting(out io.Writer) {
	if len(sum.wait) == 0 {
		return
	}
	fmt.Fprintln(out)
	fmt.Fprintln(out, "Waiting on someone, the longest wait first")
	keys := slices.SortedFunc(maps.Keys(sum.wait), func(a, b waitKey) int {
		return cmp.Or(lineOrder(sum.wait[a].longest, sum.wait[b].longest), cmp.Compare(a.who, b.who), cmp.Compare(a.step, b.step))
	})
	width := 0
	for _, k := range keys {
		width = max(width, len(k.who))
	}
	for _, k := range keys {
		g := sum.wait[k]
		b := block{w: out, indent: "  ", width: width + 2, hang: 2}
		what := k.step + ": "
		if k.who == onHold {
			what = ""
		}
		since := "waiting since "
		if g.n > 1 {
			since = "the longest waiting since "
		}
		b.line(k.who, fmt.Sprintf("%s%s, %s%s (%s, %s)", what, plural(g.n, "case"), since,
			g.longest.at.In(sum.zone).Format(shortLayout), g.longest.about, humanDuration(sum.now.Sub(g.longest.at))))
	}
}

// summaryZone is where a summary's days begin and end: the zone of the digest's readers.
func (s *source) summaryZone() (*time.Location, error) {
	loc, err := time.LoadLocation(s.cfg.Slack.Digest.Zone)
	if err != nil {
		return nil, fmt.Errorf("slack.digest.zone: %w", err)
	}
	return loc, nil
}
