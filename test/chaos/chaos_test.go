// Package chaos is the chaos harness of issue 7: the real binary runs the four shipped
// playbooks' whole timelines (the demo's, with its scripted people) against the sandbox, an
// SMTP relay, a Slack Web API server and the simulated endpoints, is SIGKILLed at chosen
// requests and moments, and meets Salesforce faults and Slack rate limits; each run's effects
// and final Case and Account fields are compared with those of a run without either. See
// README.md.
package chaos

import (
	"flag"
	"fmt"
	"hash/fnv"
	"maps"
	"math/rand/v2"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"casebot/test/testbin"
)

var (
	baseSeed = flag.Uint64("seed", 1, "the seed every run's kill points and faults derive from")
	cycles   = flag.Bool("cycles", false, "log every child: its virtual time, exit code and summary (and log when it failed)")
	prebuilt = flag.String("binary", "", "a casebot binary to run instead of one built from this tree (another version, to compare)")
)

// binary is the casebot binary built once for all runs.
var binary string

func TestMain(m *testing.M) {
	flag.Parse()
	testbin.Main(m, &binary, *prebuilt)
}

// size is how much chaos the harness makes.
type size struct {
	killRuns, killsPerRun int // each kill run has one delay kill, the others at requests
	minKills              int // fewer kills that happened fail the harness: it would pass vacuously
	faultRuns             []faultRun
	// replicaRuns run two replicas on PostgreSQL, haltsPerRun kill points each, every other
	// one a freeze; each must have killed and frozen the acting replica at least once.
	replicaRuns, haltsPerRun int
}

type faultRun struct {
	name  string
	rates map[fault]float64 // see plan.faults
}

// small is what `make test` runs; large is `make chaos` (CASEBOT_CHAOS=large). Of the fault
// rates: a 503 or an expired session costs the child seconds of its Salesforce client's
// backoff; lock_row, Slack 429 and lost answers are eligible for few requests (writes, posts,
// calls).
var (
	small = size{killRuns: 1, killsPerRun: 6, minKills: 5, replicaRuns: 1, haltsPerRun: 2, faultRuns: []faultRun{
		{"faults", map[fault]float64{faultUnavailable: 0.005, faultRequestLimit: 0.01, faultLockRow: 0.05,
			faultExpiredTwice: 0.01, faultSlackRateLimit: 0.05, faultLostAnswer: 0.03}},
	}}
	large = size{killRuns: 6, killsPerRun: 6, minKills: 30, replicaRuns: 2, haltsPerRun: 4, faultRuns: []faultRun{
		{"faults-503", map[fault]float64{faultUnavailable: 0.04}},
		{"faults-request-limit", map[fault]float64{faultRequestLimit: 0.05}},
		{"faults-lock-row", map[fault]float64{faultLockRow: 0.15}},
		{"faults-expired-session", map[fault]float64{faultExpiredTwice: 0.05}},
		{"faults-slack-429", map[fault]float64{faultSlackRateLimit: 0.3}},
		{"faults-answer-lost", map[fault]float64{faultLostAnswer: 0.1}},
		{"faults-mixed", map[fault]float64{faultUnavailable: 0.01, faultRequestLimit: 0.02, faultLockRow: 0.08,
			faultExpiredTwice: 0.02, faultSlackRateLimit: 0.05, faultLostAnswer: 0.03}},
	}}
)

// TestChaos runs the reference timeline, then the kill and fault runs in parallel, and fails on
// any effect duplicated, missing or unexpected, and any final field that differs.
func TestChaos(t *testing.T) {
	sz, flavour := small, ""
	if os.Getenv("CASEBOT_CHAOS") == "large" {
		sz, flavour = large, "CASEBOT_CHAOS=large "
	}
	ref := run(t, plan{name: "reference"})
	plausible(t, ref)

	var runs []plan
	for i := range sz.killRuns {
		name := fmt.Sprintf("kill-%d", i+1)
		seed := runSeed(name)
		runs = append(runs, plan{name: name, seed: seed, kills: planKills(ref, i, sz.killsPerRun, seed)})
	}
	for i := range sz.replicaRuns {
		name := fmt.Sprintf("replicas-%d", i+1)
		seed := runSeed(name)
		runs = append(runs, plan{name: name, seed: seed, kills: planHalts(ref, i, sz.haltsPerRun, seed), replicas: true})
	}
	for _, f := range sz.faultRuns {
		runs = append(runs, plan{name: f.name, seed: runSeed(f.name), faults: f.rates, lag: time.Hour})
	}
	outcomes := make([]*outcome, len(runs))
	judgements := make([]judgement, len(runs))
	t.Run("runs", func(t *testing.T) {
		for i, p := range runs {
			t.Run(p.name, func(t *testing.T) {
				t.Parallel()
				o := run(t, p)
				j := judge(ref, o)
				outcomes[i], judgements[i] = o, j
				for f := range p.faults {
					if o.faults[f] == 0 {
						t.Errorf("%s drew no %s fault: it tested nothing of it", p.name, f)
					}
				}
				if kills, freezes := halts(o); p.replicas && (kills == 0 || freezes == 0) {
					t.Errorf("%s killed the acting replica %d time(s) and froze it %d time(s): it tested no takeover of either", p.name, kills, freezes)
				}
				for _, f := range o.threadFaults {
					t.Errorf("%s: %s", p.name, f)
				}
				if j.bad() {
					var b strings.Builder
					report(&b, o, j)
					t.Errorf("%s differs from the reference; replay it with\n  %sgo test ./test/chaos -run 'TestChaos/runs/%s$' -seed %d -v\n%s",
						p.name, flavour, p.name, *baseSeed, b.String())
				}
			})
		}
	})

	var b strings.Builder
	report(&b, ref, judge(ref, ref))
	kills, ran := 0, 0
	for i, o := range outcomes {
		if o != nil {
			report(&b, o, judgements[i])
			kills += len(o.kills)
			ran++
		}
	}
	t.Logf("chaos report (seed %d):%s", *baseSeed, b.String())
	// Unless some runs did not run (-run chose some) or failed, which may be why kills are short.
	if ran == len(runs) && !t.Failed() && kills < sz.minKills {
		t.Errorf("%d kills happened, want at least %d", kills, sz.minKills)
	}
}

// run runs a plan's timeline in a world of its own and reads what it left.
func run(t *testing.T, p plan) *outcome {
	start := time.Now()
	w := newWorld(t, p)
	pre := w.existing()
	h := w.timeline()
	o := w.collect(h, pre)
	o.elapsed = time.Since(start)
	return o
}

// runSeed derives a run's seed from the base seed and its name, so that running one run alone
// replays it.
func runSeed(name string) uint64 {
	h := fnv.New64a()
	fmt.Fprintf(h, "%d/%s", *baseSeed, name)
	return h.Sum64()
}

// plausible checks that the reference did what the playbooks do, so that no run passes by
// comparing nothing with nothing.
func plausible(t *testing.T, ref *outcome) {
	t.Helper()
	least := map[string]int{kindTask: 10, kindComment: 3, kindEmailMessage: 3, kindFile: 3, kindMail: 3, kindSlack: 10, kindThread: 3, kindCall: 3}
	for _, k := range kinds {
		tl := compare(ref.effects[k], ref.effects[k])
		if tl.performed < least[k] || tl.bad() || tl.resent > 0 {
			t.Errorf("the reference run's %s effects are not plausible: %d performed (want at least %d), %d duplicated, %d re-sent",
				k, tl.performed, least[k], tl.duplicated, tl.resent)
		}
	}
	if mails, logged := len(ref.effects[kindMail]), len(ref.effects[kindEmailMessage]); mails != logged {
		t.Errorf("the reference sent %d mails and logged %d on cases", mails, logged)
	}
	if ref.history.failures > 0 {
		t.Errorf("the reference run had %d failing cycles", ref.history.failures)
	}
	for _, f := range ref.threadFaults {
		t.Errorf("the reference run's threads: %s", f)
	}
	if t.Failed() {
		t.FailNow()
	}
}

// planKills chooses a kill run's kill points from what the reference did: request kill points
// go round the kinds of request (so that every kind is hit across the runs, the rare ones too),
// each at a random one of the reference's requests of its kind, before or after it is handled;
// the delay kill hits a cycle chosen in proportion to its requests, at a random moment of the
// reference's child at that cycle.
func planKills(ref *outcome, run, n int, seed uint64) []killPoint {
	rng := rand.New(rand.NewPCG(seed, 0x6b11))
	reqKinds := slices.Sorted(maps.Keys(ref.requests))
	var points []killPoint
	for i := 0; len(points) < n-1; i++ {
		kind := reqKinds[(run*(n-1)+i)%len(reqKinds)]
		p := killPoint{Kind: kind, N: 1 + rng.IntN(ref.requests[kind]), After: rng.IntN(2) == 1}
		if !slices.ContainsFunc(points, func(q killPoint) bool { return q.Kind == p.Kind && q.N == p.N }) {
			points = append(points, p)
		}
	}
	total := 0
	for _, count := range ref.requests {
		total += count
	}
	g := 1 + rng.IntN(total)
	for i, c := range ref.history.cycles {
		first := c.children[0]
		if g <= first.seqEnd {
			// Within the first three quarters of the child's time, so that it is still running.
			return append(points, killPoint{Cycle: i, Delay: time.Duration(rng.Int64N(int64(first.wall) * 3 / 4))})
		}
	}
	return points
}
