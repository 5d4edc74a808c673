// Package playtest runs playbook tests: YAML files next to the playbooks (*.test.yaml) that put
// a fixture case through the real engine on a virtual clock and compare every effect it
// performs, and every message it renders, with what the test expects.
//
// A test is an exact timeline. The runner starts the clock at `start`, applies the people's
// scripted `events` when their time comes, runs a cycle, and jumps to the next time anything is
// due (or runs a cycle at each time listed in `at`). A cycle runs to a fixed point, so what it
// does opens the gates it opens within the same cycle, as in the daemon. Every effect the engine performs, skips
// or fails becomes one line; lines not listed in `expect`, and listed lines that do not happen,
// fail the test. Rendered messages are compared with golden files, which `casebot test
// -update` rewrites. README.md in this directory describes the file format.
package playtest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"path"
	"slices"
	"strings"
	"time"

	"casebot/bot"
	"casebot/bot/engine"
	"casebot/bot/memledger"
	"casebot/rules"
	"casebot/templates"
)

// Options configure Run.
type Options struct {
	// FS holds the playbooks (*.yaml), their tests (*.test.yaml) and the tests' golden files
	// (testdata/<test file name without .test.yaml>/<name>.golden) at its root.
	FS        fs.FS
	Templates *templates.Set
	// Update, when set, is given every golden file's path in FS and content to write, instead
	// of the files being compared.
	Update func(name string, data []byte) error
}

// Report is what Run found.
type Report struct {
	Tests    []Result   // in file order, then test order
	Coverage []Coverage // one per playbook, by name
}

// Result is the outcome of one test.
type Result struct {
	File, Name string
	Effects    int      // lines in the observed timeline
	Problems   []string // each a readable paragraph; none when the test passed
}

// Passed reports whether the test passed.
func (r Result) Passed() bool { return len(r.Problems) == 0 }

// Coverage says which steps of a playbook no test reached. A step is reached when a test saw
// one of its actions done.
type Coverage struct {
	Playbook   string
	Steps      int
	Tests      int
	NotReached []string // in playbook order
}

// Failed returns how many tests failed.
func (r *Report) Failed() int {
	n := 0
	for _, t := range r.Tests {
		if !t.Passed() {
			n++
		}
	}
	return n
}

// Write prints PASS or FAIL per test with its problems, a coverage line per playbook, and a
// summary line.
func (r *Report) Write(w io.Writer) {
	for _, t := range r.Tests {
		if t.Passed() {
			fmt.Fprintf(w, "PASS %s: %s (%d effects)\n", t.File, t.Name, t.Effects)
			continue
		}
		fmt.Fprintf(w, "FAIL %s: %s\n", t.File, t.Name)
		for _, p := range t.Problems {
			fmt.Fprintf(w, "    %s\n", strings.ReplaceAll(strings.TrimRight(p, "\n"), "\n", "\n    "))
		}
	}
	for _, c := range r.Coverage {
		fmt.Fprintf(w, "coverage: %s %d/%d steps", c.Playbook, c.Steps-len(c.NotReached), c.Steps)
		switch {
		case c.Tests == 0:
			fmt.Fprint(w, " — no tests")
		case len(c.NotReached) > 0:
			fmt.Fprintf(w, " — not reached: %s", strings.Join(c.NotReached, ", "))
		}
		fmt.Fprintln(w)
	}
	if n := r.Failed(); n > 0 {
		fmt.Fprintf(w, "FAIL: %d of %d tests failed\n", n, len(r.Tests))
	} else {
		fmt.Fprintf(w, "ok: %d tests passed\n", len(r.Tests))
	}
}

// maxCycles stops a test whose clock would never reach its end.
const maxCycles = 10000

// Run loads the playbooks and tests in opts.FS and runs every test. The error reports files
// that cannot be loaded (a rules.Errors with every problem at once) or golden files that cannot
// be written; failing tests are in the Report.
func Run(ctx context.Context, opts Options) (*Report, error) {
	roles := map[string]bool{}
	pbs, err := rules.Load(opts.FS, rules.Options{
		KnownTemplateKind: opts.Templates.HasKind,
		KnownRole:         func(r string) bool { roles[r] = true; return true },
	})
	if err != nil {
		return nil, err
	}
	byName := map[string]*rules.Playbook{}
	for _, p := range pbs {
		byName[p.Name] = p
	}
	files, err := fs.Glob(opts.FS, "*"+testSuffix)
	if err != nil {
		return nil, fmt.Errorf("listing tests: %w", err)
	}
	var suites []*suite
	var errs rules.Errors
	roleNames := slices.Sorted(maps.Keys(roles))
	for _, f := range files {
		data, err := fs.ReadFile(opts.FS, f)
		if err != nil {
			return nil, fmt.Errorf("reading tests: %w", err)
		}
		s, err := parseSuite(f, data, byName, roleNames)
		var pe rules.Errors
		if errors.As(err, &pe) {
			errs = append(errs, pe...)
			continue
		}
		suites = append(suites, s)
	}
	if len(errs) > 0 {
		return nil, errs
	}

	r := &runner{opts: opts, goldens: map[string]golden{}}
	rep := &Report{}
	reached := map[string]map[string]bool{}
	tests := map[string]int{}
	for _, s := range suites {
		for _, t := range s.tests {
			res, steps := r.test(ctx, s, t)
			rep.Tests = append(rep.Tests, res)
			if reached[s.pb.Name] == nil {
				reached[s.pb.Name] = map[string]bool{}
			}
			for st := range steps {
				reached[s.pb.Name][st] = true
			}
			tests[s.pb.Name]++
		}
	}
	if err := r.writeGoldens(); err != nil {
		return rep, err
	}
	for _, p := range pbs {
		c := Coverage{Playbook: p.Name, Steps: len(p.Steps), Tests: tests[p.Name]}
		for _, s := range p.Steps {
			if !reached[p.Name][s.ID] {
				c.NotReached = append(c.NotReached, s.ID)
			}
		}
		rep.Coverage = append(rep.Coverage, c)
	}
	return rep, nil
}

// runner runs the tests of one Run.
type runner struct {
	opts    Options
	goldens map[string]golden // path → what -update writes there
}

// golden is the content a test rendered for a golden file.
type golden struct {
	data []byte
	test string
}

// test runs one test and returns its result and the steps it reached.
func (r *runner) test(ctx context.Context, s *suite, t *testCase) (Result, map[string]bool) {
	res := Result{File: s.file, Name: t.name}
	got, world, runErr := r.run(ctx, s, t, nil)
	res.Effects = len(got)
	steps := map[string]bool{}
	for _, g := range got {
		if g.done {
			steps[g.step] = true
		}
	}
	if runErr != nil {
		res.Problems = append(res.Problems, fmt.Sprintf("%s:%d: %v", s.file, t.line, runErr))
	}
	pairs, diff := compare(t.expect, got)
	if diff != "" {
		res.Problems = append(res.Problems, "timeline differs (- want, + got):\n"+diff)
	}
	for _, pr := range pairs {
		w, g := t.expect[pr[0]], got[pr[1]]
		if w.golden == "" {
			continue
		}
		if p := r.golden(s, t, w, g); p != "" {
			res.Problems = append(res.Problems, p)
		}
	}
	if runErr == nil {
		res.Problems = append(res.Problems, finalProblems(s, t, world)...)
	}
	return res, steps
}

// run puts the test's case through the engine and returns the observed timeline. check, when
// not nil, is given each cycle's events with the case as the cycle read it, and stops the run
// with its error.
func (r *runner) run(ctx context.Context, s *suite, t *testCase, check func(before bot.Case, events []engine.Event) error) ([]gotLine, *crm, error) {
	world := newCRM(t.caseRec, s.closed)
	world.addFiles(t.files)
	ch, mail, calls := &chat{}, &mailer{}, &caller{responses: t.answers}
	clk := bot.NewManualClock(t.start)
	var events []engine.Event
	eng, err := engine.New(engine.Options{
		CRM: world, Store: &memledger.Store{}, Chat: ch, Mailer: mail, Caller: calls, Playbooks: []*rules.Playbook{s.pb},
		Templates: r.opts.Templates, Roles: t.roles, Now: clk.Now,
		Observe: func(e engine.Event) { events = append(events, e) },
	})
	if err != nil {
		return nil, world, err
	}
	isStep := func(id string) bool {
		return slices.ContainsFunc(s.pb.Steps, func(st *rules.Step) bool { return st.ID == id })
	}
	var got []gotLine
	now, next := t.start, 0 // next: the first event not yet applied
	for range maxCycles {
		for ; next < len(t.events) && !t.events[next].at.After(now); next++ {
			ev := t.events[next]
			if err := world.set(ev.set); err != nil {
				return got, world, fmt.Errorf("event at line %d: %w", ev.line, err)
			}
			for _, name := range ev.complete {
				if err := world.complete(s.pb.Name, name, isStep); err != nil && !ev.optional {
					return got, world, fmt.Errorf("event at line %d, %s: %w", ev.line, formatTime(ev.at, t.loc), err)
				}
			}
		}
		clk.Set(now)
		var before bot.Case
		if check != nil {
			before = world.snapshot()
		}
		rep, err := eng.Cycle(ctx)
		if err != nil {
			return got, world, fmt.Errorf("cycle at %s: %w", formatTime(now, t.loc), err)
		}
		var checkErr error
		if check != nil {
			// Before lines, which sorts the events: the check reads them in the engine's order.
			checkErr = check(before, events)
		}
		out := outbox{posts: ch.take(), mails: mail.take(), calls: calls.take(), comments: world.takeComments()}
		got = append(got, lines(s.pb, t.loc, events, out)...)
		if checkErr != nil {
			return got, world, checkErr
		}
		events = events[:0]

		var due time.Time
		consider := func(c time.Time) {
			if c.After(now) && (due.IsZero() || c.Before(due)) {
				due = c
			}
		}
		if t.at == nil {
			consider(rep.Next)
		}
		for _, a := range t.at {
			consider(a)
		}
		if next < len(t.events) {
			consider(t.events[next].at)
		}
		if due.IsZero() || t.at == nil && due.After(t.until) {
			return got, world, nil
		}
		now = due
	}
	return got, world, fmt.Errorf("still running after %d cycles", maxCycles)
}

// golden checks (or, with Update, records) the message of an expected line with a golden file.
func (r *runner) golden(s *suite, t *testCase, w wantLine, g gotLine) string {
	name := path.Join(s.golden, w.golden+".golden")
	if !g.hasMessage {
		return fmt.Sprintf("%s:%d:%d: golden:%s is on an effect that renders no message", s.file, w.line, w.col, w.golden)
	}
	data := []byte(g.message + "\n")
	if r.opts.Update != nil {
		if prev, ok := r.goldens[name]; ok && string(prev.data) != string(data) {
			return fmt.Sprintf("%s:%d:%d: %s: this test renders it differently than test %q", s.file, w.line, w.col, name, prev.test)
		}
		r.goldens[name] = golden{data: data, test: t.name}
		return ""
	}
	want, err := fs.ReadFile(r.opts.FS, name)
	if err != nil {
		return fmt.Sprintf("%s:%d:%d: %v (casebot test -update writes it)", s.file, w.line, w.col, err)
	}
	if string(want) == string(data) {
		return ""
	}
	return fmt.Sprintf("%s:%d:%d: message differs from %s (- golden, + rendered):\n%s",
		s.file, w.line, w.col, name, diffLines(splitLines(string(want)), splitLines(string(data))))
}

func (r *runner) writeGoldens() error {
	for _, name := range slices.Sorted(maps.Keys(r.goldens)) {
		if err := r.opts.Update(name, r.goldens[name].data); err != nil {
			return fmt.Errorf("writing golden file %s: %w", name, err)
		}
	}
	return nil
}

func splitLines(s string) []string { return strings.Split(strings.TrimSuffix(s, "\n"), "\n") }

// finalProblems compares the fields the test expects at its end with the case and account.
func finalProblems(s *suite, t *testCase, world *crm) []string {
	var out []string
	for _, want := range t.final {
		got, ok := world.value(want)
		if !ok {
			out = append(out, fmt.Sprintf("%s:%d:%d: final %s: the case has no account", s.file, want.line, want.col, want.ref))
			continue
		}
		typ := s.pb.Fields[want.ref]
		if !sameValue(typ, want.val, got) {
			out = append(out, fmt.Sprintf("%s:%d:%d: final %s = %s, want %s", s.file, want.line, want.col, want.ref,
				formatValue(typ, got), formatValue(typ, want.val)))
		}
	}
	return out
}

// sameValue compares wire values; datetimes by instant, whatever their layout.
func sameValue(typ rules.FieldType, a, b any) bool {
	as, aok := a.(string)
	bs, bok := b.(string)
	if typ == rules.TypeDateTime && aok && bok {
		at, aerr := parseTime(as, time.UTC)
		bt, berr := parseTime(bs, time.UTC)
		if aerr == nil && berr == nil {
			return at.Equal(bt)
		}
	}
	return a == b
}
