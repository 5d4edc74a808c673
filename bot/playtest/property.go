package playtest

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"maps"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"pgregory.net/rapid"

	"casebot/bot"
	"casebot/bot/engine"
	"casebot/rules"
	"casebot/templates"
)

// Property tests put each playbook through many random timelines (rapid generates them and
// shrinks a failing one) and check, after every cycle, what must hold whatever people do:
//
//   - the engine never errors;
//   - an action that does harm belongs to a step with a guard;
//   - a guarded step starts only once its guard's not_before date has come, its fresh field is
//     set and recent enough, the steps it must follow are done or skipped, and its condition
//     holds on the case as it was then;
//   - a step starts only with every field it needs filled in, and not while the case is held;
//   - a step never starts before its date;
//   - no effect key is performed twice, and a skipped step performs no action.
//
// Dates are checked against the earliest the rules could make them (holds only delay, business
// days are at least calendar days), so the check needs no second copy of the calendars.

// PropertyResult is what the timelines of one playbook found.
type PropertyResult struct {
	Playbook  string
	Timelines int
	Violation string // the shrunk timeline that broke an invariant, readable; "" when none
}

// Properties runs timelines random timelines through each playbook in fsys.
func Properties(fsys fs.FS, tmpl *templates.Set, timelines int) ([]PropertyResult, error) {
	pbs, err := rules.Load(fsys, rules.Options{KnownTemplateKind: tmpl.HasKind})
	if err != nil {
		return nil, err
	}
	var out []PropertyResult
	for _, pb := range pbs {
		v := CheckTimelines(&quietTB{name: "property/" + pb.Name}, pb, tmpl, timelines)
		out = append(out, PropertyResult{Playbook: pb.Name, Timelines: timelines, Violation: v})
	}
	return out, nil
}

// rapidInit lets rapid run outside `go test`: it reads testing.Short and its own flags.
var rapidInit sync.Once

// CheckTimelines runs n random timelines of pb under rapid, which reports to t, and returns the
// shrunk timeline that broke an invariant, readable; "" when none did.
func CheckTimelines(t rapid.TB, pb *rules.Playbook, tmpl *templates.Set, n int) string {
	t.Helper()
	rapidInit.Do(func() {
		if !flag.Parsed() {
			testing.Init()
			// casebot's own flags have been read by its flag sets: parse nothing here.
			_ = flag.CommandLine.Parse(nil)
			_ = flag.Set("rapid.nofailfile", "true")
		}
	})
	// rapid takes the count from its flag only; no test runs property checks in parallel.
	_ = flag.Set("rapid.checks", strconv.Itoa(n))
	var violation string
	// rapid runs the shrunk timeline last, so the last violation is the shortest.
	rapid.Check(t, timelineProperty(pb, tmpl, func(v string) { violation = v }))
	return violation
}

// reached, when set (by tests), is told after every timeline which steps of the playbook
// performed an action in it: how deep generated timelines reach.
var reached func(playbook string, started map[string]bool)

// timelineProperty generates a case and what people do to it, runs it and fails with the
// timeline, also given to report, when an invariant breaks.
func timelineProperty(pb *rules.Playbook, tmpl *templates.Set, report func(string)) func(*rapid.T) {
	lits, wants := literals(pb), wanted(pb)
	refs := slices.SortedFunc(maps.Keys(pb.Fields), func(a, b rules.FieldRef) int {
		return strings.Compare(a.String(), b.String())
	})
	s := &suite{pb: pb, closed: []string{"Closed"}}
	roles := defaultRoles(pb.Roles())
	return func(rt *rapid.T) {
		t := genTimeline(rt, pb, refs, lits, wants)
		t.roles = roles
		c := newChecker(pb, t.loc)
		r := &runner{opts: Options{Templates: tmpl}, goldens: map[string]golden{}}
		got, _, err := r.run(context.Background(), s, t, c.cycle)
		if reached != nil {
			reached(pb.Name, c.started)
		}
		if err != nil {
			v := err.Error() + "\n" + describeTimeline(t, got)
			report(v)
			rt.Fatal(v)
		}
	}
}

// Where generated timelines happen: a year of start times, and each timeline long enough for
// the steps dated within a week of its start (anchors up to 40 days before it reach the
// later ones, late).
var (
	epoch   = time.Date(2026, 1, 5, 0, 0, 0, 0, time.UTC)
	horizon = 7 * 24 * time.Hour
	// deepHorizon is the length of a timeline bent on reaching the deep steps.
	deepHorizon = 3 * 24 * time.Hour
	// longHorizon is the length of a timeline that lasts months: its dates lie up to 75 days
	// ahead (a far contract end, a de-provision date two months out), and the steps dated by
	// them must wait for them, whatever people fill in meanwhile.
	longHorizon = 100 * 24 * time.Hour
)

// Real zones, and the values a zone field may hold that are none; likewise countries.
var (
	zoneValues    = []string{"America/New_York", "Europe/London", "Asia/Tokyo", "America/Sao_Paulo", "Australia/Sydney", "Asia/Kolkata", "Pacific/Chatham", "Eastern Standard Time", ""}
	countryValues = []string{"US", "United States", "BR", "Brazil", "GB", "DE", "JP", "IN", "Atlantis", ""}
	numberValues  = []float64{0, 1, 3, 7, 11, 12, 30, 45, 90, 400}
)

// compared finds the string literals conditions compare fields with: the values people give
// those fields.
var compared = regexp.MustCompile(`((?:Case|Account)\.\w+)\s*[!=]=\s*(?:'([^'\\]*)'|"([^"\\]*)")`)

// literals returns, by field, the strings the playbook's conditions compare it with, the
// statuses its steps set and, for the fields mail goes to, an address.
func literals(pb *rules.Playbook) map[string][]string {
	out := map[string][]string{}
	add := func(field, v string) {
		if !slices.Contains(out[field], v) {
			out[field] = append(out[field], v)
		}
	}
	cond := func(c *rules.Condition) {
		if c == nil {
			return
		}
		for _, m := range compared.FindAllStringSubmatch(c.Source, -1) {
			add(m[1], m[2]+m[3])
		}
	}
	for _, st := range pb.Steps {
		cond(st.When)
		cond(st.Require)
		if st.Guard != nil {
			cond(st.Guard.Condition)
		}
		for _, a := range st.Actions {
			if a.Status != "" {
				add("Case.Status", a.Status)
			}
			for _, ref := range a.Addresses {
				add(ref.String(), "customer@example.test")
			}
		}
	}
	return out
}

// gated finds what gates and guards test a field for: a bool true (or, negated, false), a
// number zero.
var gated = regexp.MustCompile(`(!?)((?:Case|Account)\.\w+)(\.\w+\(|\s*[!=]=\s*0\b)?`)

// equals finds the strings conditions want a field to be.
var equals = regexp.MustCompile(`((?:Case|Account)\.\w+)\s*==\s*'([^'\\]*)'`)

// aged finds the fields conditions count months from.
var aged = regexp.MustCompile(`monthsBetween\(((?:Case|Account)\.\w+)`)

// wanted returns, by field, the values that open the playbook's gates (require) and guards
// (their condition; a hold cleared): what a timeline bent on reaching the deep steps gives.
func wanted(pb *rules.Playbook) map[string][]any {
	out := map[string][]any{}
	add := func(field string, v any) {
		if !slices.Contains(out[field], v) {
			out[field] = append(out[field], v)
		}
	}
	cond := func(c *rules.Condition) {
		if c == nil {
			return
		}
		// A string as often as gates and guards want it: the value most of them want first.
		for _, m := range equals.FindAllStringSubmatch(c.Source, -1) {
			out[m[1]] = append(out[m[1]], m[2])
		}
		for _, m := range gated.FindAllStringSubmatch(c.Source, -1) {
			ref, ok := fieldRef(pb, m[2])
			if !ok {
				continue
			}
			switch typ := pb.Fields[ref]; {
			case typ == rules.TypeBool && m[3] == "":
				add(m[2], m[1] == "")
			case typ == rules.TypeNumber && strings.Contains(m[3], "=="):
				add(m[2], float64(0))
			}
		}
	}
	for _, st := range pb.Steps {
		cond(st.Require)
		if st.Guard != nil {
			cond(st.Guard.Condition)
		}
	}
	for _, st := range pb.Steps {
		if w := st.At.Window; w != nil {
			add(w.Field.String(), float64(w.Default.N))
		}
	}
	if pb.Hold.Name != "" {
		out[pb.Hold.String()] = []any{false}
	}
	return out
}

func fieldRef(pb *rules.Playbook, s string) (rules.FieldRef, bool) {
	object, name, _ := strings.Cut(s, ".")
	ref := rules.FieldRef{Object: object, Name: name}
	_, ok := pb.Fields[ref]
	return ref, ok
}

// gen draws the values of one timeline. A timeline bent on reaching the deep steps (most of
// them) gives the values that open gates and guards most of the time, leaves few fields blank
// and dates its case mostly in the past, so that steps come due at once or within the week.
type gen struct {
	rt     *rapid.T
	pb     *rules.Playbook
	lits   map[string][]string
	wants  map[string][]any
	fresh  map[rules.FieldRef]bool // the fields guards want recent
	filled map[string]bool         // the fields gates, guards and needs read
	aged   map[string]bool         // the fields conditions count months from
	biased bool
	long   bool // a timeline bent on the deep steps that lasts months (longHorizon)
}

// genTimeline draws a case (every declared field, blanks included, its account's zone and
// country among real ones and not), a start around which its dates lie, and things people do:
// up to eight of any kind (set or clear a field, hold or release the case, complete a step's
// tasks) and, in a timeline bent on the deep steps, the tasks of each step completed and a
// few fields set to what opens gates and guards, at random times.
func genTimeline(rt *rapid.T, pb *rules.Playbook, refs []rules.FieldRef, lits map[string][]string, wants map[string][]any) *testCase {
	g := &gen{rt: rt, pb: pb, lits: lits, wants: wants, fresh: map[rules.FieldRef]bool{},
		filled: map[string]bool{}, aged: map[string]bool{},
		biased: rapid.IntRange(0, 4).Draw(rt, "deep") != 0}
	// One in twelve: a cycle a business day for months costs as much as forty short timelines.
	g.long = g.biased && rapid.IntRange(0, 11).Draw(rt, "months") == 0
	read := func(c *rules.Condition) {
		if c != nil {
			for _, m := range aged.FindAllStringSubmatch(c.Source, -1) {
				g.aged[m[1]] = true
			}
			for _, m := range gated.FindAllStringSubmatch(c.Source, -1) {
				g.filled[m[2]] = true
			}
		}
	}
	for _, st := range pb.Steps {
		read(st.When)
		read(st.Require)
		if st.Needs != nil {
			for _, ref := range st.Needs.Fields {
				g.filled[ref.String()] = true
			}
		}
		if st.Guard != nil {
			read(st.Guard.Condition)
			if st.Guard.Fresh.Field.Name != "" {
				g.fresh[st.Guard.Fresh.Field] = true
			}
		}
	}
	start := epoch.Add(time.Duration(rapid.IntRange(0, 365*24).Draw(rt, "start hour")) * time.Hour)
	c := bot.Case{ID: defaultCaseID, Fields: bot.Fields{"Status": "New", "CaseNumber": "00001001"},
		Account: &bot.Account{ID: defaultAccountID, Fields: bot.Fields{}}}
	for _, ref := range refs {
		rec := c.Fields
		if ref.Object == rules.ObjectAccount {
			rec = c.Account.Fields
		}
		rec[ref.Name] = g.value(ref, start)
	}
	span := horizon
	switch {
	case g.long:
		span = longHorizon
	case g.biased:
		// Dated mostly in the past, steps come due at once: a shorter timeline reaches them,
		// and costs fewer cycles.
		span = deepHorizon
	}
	t := &testCase{caseRec: c, start: start, until: start.Add(span), answers: map[string]map[string]any{}}
	t.loc = pb.Zone(c)
	if g.biased && rapid.IntRange(0, 7).Draw(rt, "endpoints answer") != 0 {
		g.answer(t, start)
	}
	var stepsWithTasks []string
	for _, st := range pb.Steps {
		if slices.ContainsFunc(st.Actions, func(a rules.Action) bool { return a.Kind == bot.KindTasks }) {
			stepsWithTasks = append(stepsWithTasks, st.ID)
		}
	}
	hour := func() time.Time {
		if g.biased {
			return start.Add(time.Duration(g.uniform(0, int(span/time.Hour), "event hour")) * time.Hour)
		}
		return start.Add(time.Duration(rapid.IntRange(0, int(horizon/time.Hour)).Draw(rt, "event hour")) * time.Hour)
	}
	most := 8
	if g.biased {
		most = 5
	}
	n := rapid.IntRange(0, most).Draw(rt, "events")
	for range n {
		ev := event{at: hour(), optional: true}
		switch kind := rapid.IntRange(0, 2).Draw(rt, "event kind"); {
		case kind == 1 && pb.Hold.Name != "":
			hold := rapid.Bool().Draw(rt, "hold")
			ev.set = []fieldValue{{ref: pb.Hold, val: hold}}
			// Bent on the deep steps, a hold is mostly released within two days.
			if hold && g.biased && rapid.IntRange(0, 3).Draw(rt, "release") != 0 {
				t.events = append(t.events, event{at: ev.at.Add(time.Duration(g.uniform(1, 48, "held hours")) * time.Hour),
					optional: true, set: []fieldValue{{ref: pb.Hold, val: false}}})
			}
		case kind == 2 && len(stepsWithTasks) > 0:
			ev.complete = []string{rapid.SampledFrom(stepsWithTasks).Draw(rt, "complete")}
		default:
			ref := rapid.SampledFrom(refs).Draw(rt, "field")
			ev.set = []fieldValue{{ref: ref, val: g.value(ref, ev.at)}}
		}
		t.events = append(t.events, ev)
	}
	if g.biased {
		// Tasks are completed only once open: each step's, at two random times.
		for _, id := range stepsWithTasks {
			for range rapid.IntRange(0, 2).Draw(rt, "completions") {
				t.events = append(t.events, event{at: hour(), optional: true, complete: []string{id}})
			}
		}
		// A field a gate or guard waits for set as it wants, a fresh one checked anew.
		var open []rules.FieldRef
		for _, ref := range refs {
			if len(wants[ref.String()]) > 0 || g.fresh[ref] {
				open = append(open, ref)
			}
		}
		for range rapid.IntRange(0, 6).Draw(rt, "gate events") {
			if len(open) == 0 {
				break
			}
			ref := rapid.SampledFrom(open).Draw(rt, "gate field")
			at := hour()
			t.events = append(t.events, event{at: at, optional: true, set: []fieldValue{{ref: ref, val: g.value(ref, at)}}})
		}
	}
	slices.SortStableFunc(t.events, func(a, b event) int { return a.at.Compare(b.at) })
	return t
}

// value draws a wire value of the field's type, blank an eighth of the time. Dates lie
// mostly from 40 days before near to 30 days after, so that some cases arrive late, and
// otherwise up to two years before, for the subscriptions a year old. Bent on the deep steps,
// a value is blank a sixteenth of the time, what gates want three times in four, dates mostly
// in the 45 days before near and a field a guard wants fresh within the 3 days before; in a
// timeline that lasts months, dates lie from 40 days before to 75 days after near.
func (g *gen) value(ref rules.FieldRef, near time.Time) any {
	rt, pb, label := g.rt, g.pb, ref.String()
	blanks := 7
	switch {
	case g.biased && g.filled[label]:
		blanks = 31
	case g.biased:
		blanks = 15
	}
	if rapid.IntRange(0, blanks).Draw(rt, label+" blank") == 0 {
		return nil
	}
	switch {
	case ref == pb.TimeZone.Field:
		return rapid.SampledFrom(zoneValues).Draw(rt, label)
	case ref == pb.CalendarField:
		return rapid.SampledFrom(countryValues).Draw(rt, label)
	}
	if w := g.wants[label]; g.biased && len(w) > 0 && rapid.IntRange(0, 7).Draw(rt, label+" wanted") != 0 {
		return rapid.SampledFrom(w).Draw(rt, label)
	}
	days := func() int {
		switch {
		case !g.biased:
			if rapid.IntRange(0, 3).Draw(rt, label+" long ago") == 0 {
				return rapid.IntRange(-730, -40).Draw(rt, label)
			}
			return rapid.IntRange(-40, 30).Draw(rt, label)
		case g.fresh[ref]:
			return g.uniform(-3, 0, label)
		case g.aged[label] && rapid.IntRange(0, 3).Draw(rt, label+" long ago") != 0:
			// A date conditions count months from, a subscription's start, is mostly long ago.
			return g.uniform(-730, -300, label)
		case g.long:
			// Months ahead as often as just past: the contract ends far out, or Legal
			// confirmed weeks ago.
			return g.uniform(-40, 75, label)
		case rapid.IntRange(0, 9).Draw(rt, label+" long ago") == 0:
			// Seldom, and mostly not years: steps dated long ago remind for every business
			// day since, which costs time.
			return rapid.IntRange(-730, -40).Draw(rt, label)
		}
		return g.uniform(-36, 3, label)
	}
	switch pb.Fields[ref] {
	case rules.TypeBool:
		return rapid.Bool().Draw(rt, label)
	case rules.TypeNumber:
		return rapid.SampledFrom(numberValues).Draw(rt, label)
	case rules.TypeDate:
		return near.AddDate(0, 0, days()).Format(bot.DateLayout)
	case rules.TypeDateTime:
		at := near.AddDate(0, 0, days()).Add(time.Duration(rapid.IntRange(0, 23).Draw(rt, label+" hour")) * time.Hour)
		return at.Format(bot.DateTimeLayout)
	}
	// Bent on the deep steps, a string is mostly a value conditions compare it with, not '',
	// and the case is seldom closed already.
	lits := slices.DeleteFunc(slices.Clone(g.lits[label]), func(s string) bool {
		return s == "" || label == "Case.Status" && s == "Closed" && rapid.IntRange(0, 7).Draw(rt, "closed") != 0
	})
	if g.biased {
		if len(lits) > 0 && rapid.IntRange(0, 3).Draw(rt, label+" literal") != 0 {
			return rapid.SampledFrom(lits).Draw(rt, label)
		}
		return rapid.SampledFrom(append([]string{"other"}, lits...)).Draw(rt, label)
	}
	return rapid.SampledFrom(append([]string{"other"}, g.lits[label]...)).Draw(rt, label)
}

// uniform draws an int in [lo, hi] about evenly: rapid draws wide ranges mostly near lo.
func (g *gen) uniform(lo, hi int, label string) int {
	v, m := 0, 1
	for m <= hi-lo {
		v, m = v*16+rapid.IntRange(0, 15).Draw(g.rt, label), m*16
	}
	return lo + v%(hi-lo+1)
}

// answer makes every endpoint answer what the playbook's calls store: a value of each stored
// field's type.
func (g *gen) answer(t *testCase, now time.Time) {
	for _, st := range g.pb.Steps {
		for _, a := range st.Actions {
			if a.HTTP == nil {
				continue
			}
			for field, path := range a.HTTP.Store {
				var v any = "ANS-1"
				if !strings.Contains(field, ".") {
					field = rules.ObjectCase + "." + field
				}
				if ref, ok := fieldRef(g.pb, field); ok {
					switch g.pb.Fields[ref] {
					case rules.TypeDate:
						v = now.Format(bot.DateLayout)
					case rules.TypeDateTime:
						v = now.UTC().Format(time.RFC3339)
					case rules.TypeNumber:
						v = float64(1)
					case rules.TypeBool:
						v = true
					}
				}
				obj := t.answers[a.HTTP.Endpoint]
				if obj == nil {
					obj = map[string]any{}
					t.answers[a.HTTP.Endpoint] = obj
				}
				keys := strings.Split(strings.TrimPrefix(path, "response."), ".")
				for _, k := range keys[:len(keys)-1] {
					next, _ := obj[k].(map[string]any)
					if next == nil {
						next = map[string]any{}
						obj[k] = next
					}
					obj = next
				}
				obj[keys[len(keys)-1]] = v
			}
		}
	}
}

// describeTimeline writes a timeline for people: the case, what people did and what casebot
// did, every time in the case's zone.
func describeTimeline(t *testCase, got []gotLine) string {
	var b strings.Builder
	fmt.Fprintf(&b, "timeline from %s to %s (%s)\ncase:\n", formatTime(t.start, t.loc), formatTime(t.until, t.loc), t.loc)
	writeFields := func(object string, f bot.Fields) {
		for _, k := range slices.Sorted(maps.Keys(f)) {
			fmt.Fprintf(&b, "  %s.%s = %s\n", object, k, formatValue("", f[k]))
		}
	}
	writeFields(rules.ObjectCase, t.caseRec.Fields)
	writeFields(rules.ObjectAccount, t.caseRec.Account.Fields)
	b.WriteString("events:\n")
	for _, ev := range t.events {
		for _, v := range ev.set {
			fmt.Fprintf(&b, "  %s set %s = %s\n", formatTime(ev.at, t.loc), v.ref, formatValue("", v.val))
		}
		for _, c := range ev.complete {
			fmt.Fprintf(&b, "  %s complete tasks of %s\n", formatTime(ev.at, t.loc), c)
		}
	}
	b.WriteString("effects:\n")
	for _, g := range got {
		b.WriteString("  " + g.text + "\n")
	}
	return b.String()
}

// snapshot returns a copy of the case as it is now.
func (m *crm) snapshot() bot.Case {
	m.mu.Lock()
	defer m.mu.Unlock()
	return newCRM(m.c, nil).c
}

// checker follows one timeline's events and says which invariant one breaks.
type checker struct {
	pb      *rules.Playbook
	loc     *time.Location
	steps   map[string]*rules.Step
	keys    map[string]bool // effect keys performed
	started map[string]bool
	actions map[string]int // actions performed, by step
	skipped map[string]bool
}

func newChecker(pb *rules.Playbook, loc *time.Location) *checker {
	c := &checker{pb: pb, loc: loc, steps: map[string]*rules.Step{}, keys: map[string]bool{},
		started: map[string]bool{}, actions: map[string]int{}, skipped: map[string]bool{}}
	for _, s := range pb.Steps {
		c.steps[s.ID] = s
	}
	return c
}

// cycle checks the events of one cycle in the order the engine decided them, with the case as
// the cycle read it and as its own updates changed it since.
func (c *checker) cycle(before bot.Case, events []engine.Event) error {
	view := before
	var errs []error
	for _, ev := range events {
		st := c.steps[ev.Step]
		if st == nil {
			continue
		}
		if ev.Location != nil {
			c.loc = ev.Location // people may change the case's zone
		}
		if ev.Outcome == engine.Skipped {
			c.skipped[st.ID] = true
			if c.actions[st.ID] > 0 {
				errs = append(errs, fmt.Errorf("step %s was skipped after it performed an action", st.ID))
			}
			continue
		}
		if ev.Outcome != engine.Done {
			continue
		}
		e := ev.Effect
		if c.keys[e.Key] {
			errs = append(errs, fmt.Errorf("effect %s was performed twice", e.Key))
		}
		c.keys[e.Key] = true
		if e.Action <= 0 {
			continue // a reminder or an escalation
		}
		if c.skipped[st.ID] {
			errs = append(errs, fmt.Errorf("step %s performed action %d after it was skipped", st.ID, e.Action))
		}
		if !c.started[st.ID] {
			c.started[st.ID] = true
			for _, p := range c.start(st, view, ev.At) {
				errs = append(errs, fmt.Errorf("step %s started at %s although %s", st.ID, formatTime(ev.At, c.loc), p))
			}
		}
		if h := st.Actions[e.Action-1].Harm; h != "" && st.Guard == nil {
			errs = append(errs, fmt.Errorf("step %s action %d %s, and the step has no guard", st.ID, e.Action, h))
		}
		c.actions[st.ID]++
		apply(&view, e)
	}
	return errors.Join(errs...)
}

// apply makes the engine's own writes part of the case the rest of the cycle is checked on.
func apply(c *bot.Case, e bot.Effect) {
	switch {
	case e.Kind == bot.KindStatus:
		c.Fields = maps.Clone(c.Fields)
		c.Fields["Status"] = e.Fields["Status"]
	case e.Kind != bot.KindUpdate:
	case e.Object == rules.ObjectAccount && c.Account != nil:
		a := *c.Account
		a.Fields = maps.Clone(a.Fields)
		maps.Copy(a.Fields, e.Fields)
		c.Account = &a
	case e.Object == rules.ObjectCase:
		c.Fields = maps.Clone(c.Fields)
		maps.Copy(c.Fields, e.Fields)
	}
}

// start says what forbade step st to start at now, on the case as it was then.
func (c *checker) start(st *rules.Step, view bot.Case, now time.Time) []string {
	var out []string
	if c.pb.Hold.Name != "" && rules.FieldValue(&view, c.pb.Hold) == true {
		out = append(out, "the case is on hold")
	}
	if st.Needs != nil {
		for _, ref := range st.Needs.Fields {
			if v := rules.FieldValue(&view, ref); v == nil || v == "" {
				out = append(out, ref.String()+" it needs is blank")
			}
		}
	}
	if due, ok := c.earliest(st.At, st.NonWorking, view); ok && now.Before(due) {
		out = append(out, "it is due no earlier than "+formatTime(due, c.loc))
	}
	g := st.Guard
	if g == nil {
		return out
	}
	if g.NotBefore.Date != "" {
		switch nb, ok := c.earliest(g.NotBefore, rules.Keep, view); {
		case !ok:
			out = append(out, "its guard's not_before "+g.NotBefore.String()+" has no date")
		case now.Before(nb):
			out = append(out, "its guard says not before "+formatTime(nb, c.loc))
		}
	}
	if f := g.Fresh; f.Field.Name != "" {
		switch last, ok := c.instant(view, f.Field); {
		case !ok:
			out = append(out, "its guard's fresh field "+f.Field.String()+" is not set")
		case now.After(latest(last, f.Within)):
			out = append(out, fmt.Sprintf("its guard's fresh field %s (%s) is older than %d%s",
				f.Field, formatTime(last, c.loc), f.Within.N, f.Within.Unit))
		}
	}
	for _, after := range g.After {
		if !c.skipped[after] && c.actions[after] < len(c.steps[after].Actions) {
			out = append(out, "its guard wants step "+after+" done first")
		}
	}
	if cond := g.Condition; cond != nil {
		switch ok, err := c.pb.Holds(cond, view, c.ledger(view.ID), now); {
		case err != nil:
			out = append(out, "its guard's condition "+cond.Source+" could not be evaluated: "+err.Error())
		case !ok:
			out = append(out, "its guard's condition "+cond.Source+" is false")
		}
	}
	return out
}

// ledger is what the checker saw performed and skipped, as the ledger the engine reads would
// say it: what done('step') in a guard's condition reads.
func (c *checker) ledger(caseID string) bot.Ledger {
	l := bot.Ledger{}
	for id, st := range c.steps {
		for i := range st.Actions {
			key := bot.EffectKey(c.pb.Name, id, i+1, caseID)
			switch {
			case c.skipped[id]:
				l[key] = bot.LedgerEntry{Key: key, State: bot.StateSkipped}
			case i < c.actions[id]:
				l[key] = bot.LedgerEntry{Key: key, State: bot.StateDone}
			}
		}
	}
	return l
}

// instant reads a date or datetime field: a date is its first instant in the case's zone.
func (c *checker) instant(view bot.Case, ref rules.FieldRef) (time.Time, bool) {
	s, _ := rules.FieldValue(&view, ref).(string)
	if s == "" {
		return time.Time{}, false
	}
	for _, l := range []string{bot.DateLayout, bot.DateTimeLayout, time.RFC3339} {
		if t, err := time.ParseInLocation(l, s, c.loc); err == nil {
			return t, true
		}
	}
	return time.Time{}, false
}

// earliest is the earliest the rules can date at on the case: its anchor (a date at the
// playbook's run_at), its window and its offset, business days counted as calendar days (or,
// backwards, as many as weekends and holidays could make them), and a week for a move off a
// non-working day to an earlier one. ok is false when the anchor is blank.
func (c *checker) earliest(at rules.At, nw rules.NonWorking, view bot.Case) (time.Time, bool) {
	t, ok := c.instant(view, at.Field)
	if !ok {
		return t, false
	}
	if at.Type == rules.TypeDate {
		t = time.Date(t.Year(), t.Month(), t.Day(), c.pb.RunAt.Hour, c.pb.RunAt.Minute, 0, 0, c.loc)
	}
	if w := at.Window; w != nil {
		n := w.Default.N
		if v, ok := rules.FieldValue(&view, w.Field).(float64); ok {
			set := min(max(int(v), w.Min), w.Max)
			// Whether a value out of range is clamped or replaced, the earliest is the smaller.
			if at.WindowSign > 0 {
				n = min(n, set)
			} else {
				n = max(n, set)
			}
		}
		t = shortest(t, rules.Offset{N: at.WindowSign * n, Unit: w.Default.Unit})
	}
	t = shortest(t, at.Offset)
	if nw == rules.Earlier {
		t = t.AddDate(0, 0, -7)
	}
	// An hour for a daylight saving change between anchor and date.
	return t.Add(-time.Hour), true
}

// shortest moves t by o at the least the rules could.
func shortest(t time.Time, o rules.Offset) time.Time {
	switch o.Unit {
	case rules.Hours:
		return t.Add(time.Duration(o.N) * time.Hour)
	case rules.Days:
		return t.AddDate(0, 0, o.N)
	case rules.BusinessDays:
		if o.N >= 0 {
			return t.AddDate(0, 0, o.N)
		}
		return t.AddDate(0, 0, 2*o.N-7)
	case rules.Months:
		return t.AddDate(0, o.N, -3)
	}
	return t
}

// latest is the latest a fresh field set at t is still fresh within o: the longest o can be.
func latest(t time.Time, o rules.Offset) time.Time {
	end := shortest(t, rules.Offset{N: -o.N, Unit: o.Unit})
	return t.Add(t.Sub(end)).Add(24 * time.Hour)
}

// quietTB is a rapid.TB for `casebot test`, which prints the violation CheckTimelines returns
// instead of rapid's log.
type quietTB struct {
	name   string
	failed atomic.Bool
}

var _ rapid.TB = (*quietTB)(nil)

func (q *quietTB) Helper()               {}
func (q *quietTB) Name() string          { return q.name }
func (q *quietTB) Log(...any)            {}
func (q *quietTB) Logf(string, ...any)   {}
func (q *quietTB) Error(...any)          { q.Fail() }
func (q *quietTB) Errorf(string, ...any) { q.Fail() }
func (q *quietTB) Fatal(...any)          { q.Fail() }
func (q *quietTB) Fatalf(string, ...any) { q.Fail() }
func (q *quietTB) Skip(...any)           {}
func (q *quietTB) Skipf(string, ...any)  {}
func (q *quietTB) SkipNow()              {}
func (q *quietTB) Fail()                 { q.failed.Store(true) }
func (q *quietTB) Failed() bool          { return q.failed.Load() }

// FailNow returns: rapid calls it only last, once it has reported.
func (q *quietTB) FailNow() { q.Fail() }
