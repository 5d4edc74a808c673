package chaos

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"casebot/bot"
	"casebot/bot/cli"
	"casebot/config"
	"casebot/connectors/postgres/pgtest"
	"casebot/connectors/salesforce"
	"casebot/connectors/salesforce/sandbox"
	"casebot/connectors/slack/slacksim"
	"casebot/rules"
	"casebot/rules/playbooks"
)

// Bounds of a timeline: the demo's cases close within a month of virtual time; these only
// stop a run that no longer progresses.
const (
	virtualLimit = 90 * 24 * time.Hour
	maxChildren  = 3000
	// sameTimeTries is how often a failing cycle is run again at the same virtual time, as a
	// frequent cron would, before the clock moves on by cronInterval.
	sameTimeTries = 3
	cronInterval  = time.Minute
	// childTimeout bounds one child: a cycle takes well under a second, or a few seconds of
	// the Salesforce client's backoff in a fault run.
	childTimeout = time.Minute
)

const slackToken = "xoxb-chaos"

// plan is what a run does to casebot.
type plan struct {
	name  string
	seed  uint64
	kills []killPoint // request and delay kill points
	// faults are the fraction of the requests eligible for each fault that get it; none for a
	// kill run.
	faults map[fault]float64
	// lag is how much later than the reference's a final datetime field may be: retries after
	// faults come minutes later by design, and a timestamp says when, not what.
	lag time.Duration
	// replicas runs two replicas of `casebot run` on a PostgreSQL ledger instead of a child of
	// once a cycle: its kill points kill or freeze the one that acts (replicas_test.go).
	replicas bool
}

// world is one run's servers, all on 127.0.0.1, and the config the child reads.
type world struct {
	t     *testing.T
	plan  plan
	clock *bot.ManualClock
	sb    *sandbox.Server
	slack *slacksim.Server
	// channels are the names of slacksim's channels by id: ids depend on the order they
	// were made in.
	channels map[string]string
	relay    *relay
	calls    *callLog
	trap     *trap
	crm      *salesforce.CRM    // the people's and the harness's view of the sandbox
	client   *salesforce.Client // the same, for reading what casebot left
	config   string
	// clockFile holds the virtual time the replicas of a replica run read (run -clock).
	clockFile string
}

func newWorld(t *testing.T, p plan) *world {
	t.Helper()
	w := &world{t: t, plan: p, clock: bot.NewManualClock(cli.DemoStart), calls: &callLog{}}
	var requestKills []killPoint
	for _, k := range p.kills {
		if k.Kind != "" {
			requestKills = append(requestKills, k)
		}
	}
	w.trap = newTrap(requestKills, p.faults, p.seed)

	sb, err := sandbox.New(sandbox.Options{Seed: true, Now: w.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	w.sb = sb
	sfURL := w.serve(w.trap.serve(sb.Handler(), salesforceKind, salesforceFaults, w.injectSalesforce))

	w.slack = slacksim.New(slacksim.Options{Token: slackToken, Now: w.clock.Now, Seed: p.seed})
	t.Cleanup(w.slack.Close)
	example, err := config.Example(".")
	if err != nil {
		t.Fatal(err)
	}
	w.channels = map[string]string{}
	for _, r := range example.Roles {
		if r.Slack != "" {
			w.channels[w.slack.AddChannel(r.Slack, true)] = r.Slack
		}
	}
	simURL, err := url.Parse(w.slack.URL())
	if err != nil {
		t.Fatal(err)
	}
	simURL.Path = ""
	slackURL := w.serve(w.trap.serve(httputil.NewSingleHostReverseProxy(simURL), slackKind, slackFaults, w.injectSlack)) + "/api/"

	servicesURL := w.serve(w.trap.serve(w.calls.record(cli.NewServices(w.clock.Now)),
		func(*http.Request) string { return "endpoint" }, func(*http.Request) []fault { return []fault{faultLostAnswer} }, nil))

	if w.relay, err = startRelay(w.trap); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.relay.Close() })

	dsn := ""
	if p.replicas {
		dsn = pgtest.Start(t).DSN(t)
	}
	w.config = writeConfig(t, sfURL, slackURL, servicesURL, w.relay.addr.Port, dsn)
	w.clockFile = filepath.Join(filepath.Dir(w.config), "clock")
	// Retrying quickly and often, the harness's own calls ride out a fault injected for a
	// child that the child left unused.
	w.client, err = salesforce.New(salesforce.Options{LoginURL: sfURL, Grant: "client_credentials",
		ClientID: "casebot-sandbox", ClientSecret: "sandbox-secret", MaxRetries: 8, RetryDelay: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	w.crm = salesforce.NewCRM(w.client)
	return w
}

// serve serves h on 127.0.0.1 for the rest of the test and returns its URL.
func (w *world) serve(h http.Handler) string {
	srv := httptest.NewServer(h)
	w.t.Cleanup(srv.Close)
	return srv.URL
}

// salesforceKind names a sandbox request: a login, a query, a write or another read.
func salesforceKind(r *http.Request) string {
	switch {
	case !isData(r):
		return "sf:login"
	case strings.Contains(r.URL.Path, "/query"):
		return "sf:query"
	case r.Method == http.MethodGet:
		return "sf:read"
	}
	return "sf:write"
}

var dataPath = regexp.MustCompile(`^/services/data/v[0-9.]+/.`)

// isData reports whether r is a data API call, the only calls the sandbox faults.
func isData(r *http.Request) bool { return dataPath.MatchString(r.URL.Path) }

func salesforceFaults(r *http.Request) []fault {
	if !isData(r) {
		return nil
	}
	can := []fault{faultUnavailable, faultRequestLimit, faultExpiredTwice}
	if r.Method != http.MethodGet {
		can = append(can, faultLockRow, faultLostAnswer)
	}
	return can
}

// injectSalesforce has the sandbox give f to the data call about to reach it (the child makes
// one call at a time, so the injection is its).
func (w *world) injectSalesforce(_ *http.Request, f fault) {
	switch f {
	case faultUnavailable:
		// Once, which the client's own retries absorb, or in a burst that outlasts them.
		w.sb.Inject(sandbox.FaultUnavailable, []int{1, 4}[w.trap.intn(2)])
	case faultRequestLimit:
		w.sb.Inject(sandbox.FaultRequestLimit, 1)
	case faultLockRow:
		w.sb.Inject(sandbox.FaultLockRow, 1)
	case faultExpiredTwice:
		w.sb.Inject(sandbox.FaultExpireSession, 2)
	}
}

func slackKind(r *http.Request) string { return "slack:" + strings.TrimPrefix(r.URL.Path, "/api/") }

func slackFaults(r *http.Request) []fault {
	if r.URL.Path == "/api/chat.postMessage" {
		return []fault{faultSlackRateLimit, faultLostAnswer}
	}
	return nil
}

// injectSlack has slacksim answer the call about to reach it (a post, a reply, a checklist's
// edit, a search) 429, with a Retry-After of up to a minute and a half.
func (w *world) injectSlack(*http.Request, fault) {
	w.slack.Inject(slacksim.Fault{Kind: slacksim.RateLimit, Next: 1, RetryAfter: time.Duration(1+w.trap.intn(90)) * time.Second})
}

// writeConfig writes the child's config: the example config pointed at the run's servers,
// with a ledger of its own: a SQLite file, or the PostgreSQL database of dsn, which replicas
// share under a short lease, their cycles run when the harness kicks them.
func writeConfig(t *testing.T, sfURL, slackURL, servicesURL string, smtpPort int, dsn string) string {
	t.Helper()
	raw, err := os.ReadFile("../../config/example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	raw = bytes.ReplaceAll(raw, []byte("http://127.0.0.1:8091"), []byte(servicesURL))
	var cfg map[string]any
	if err := yaml.Unmarshal(raw, &cfg); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	cfg["salesforce"].(map[string]any)["login_url"] = sfURL
	cfg["store"] = map[string]any{"driver": "sqlite", "path": filepath.Join(dir, "ledger.db")}
	if dsn != "" {
		if err := os.WriteFile(filepath.Join(dir, "postgres-dsn"), []byte(dsn), 0o600); err != nil {
			t.Fatal(err)
		}
		cfg["store"] = map[string]any{"driver": "postgres", "dsn_file": "postgres-dsn", "lease": leaseTerm.String()}
		cfg["schedule"] = "@every 24h"
	}
	// slacksim does not limit: unpaced, a run's hundreds of messages take no minutes.
	cfg["slack"] = map[string]any{"token": slackToken, "api_url": slackURL, "pace": "-1s"}
	cfg["mail"] = map[string]any{"smtp": map[string]any{"host": "127.0.0.1", "port": smtpPort, "tls": "none",
		"from": "casebot@example.test"}}
	cfg["http"] = map[string]any{"listen": "127.0.0.1:0"}
	out, err := yaml.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, "casebot.yaml")
	if err := os.WriteFile(file, out, 0o600); err != nil {
		t.Fatal(err)
	}
	return file
}

// call is one call the endpoint server handled.
type call struct {
	key, method, path string
}

// callLog records the calls the simulated services handle.
type callLog struct {
	mu    sync.Mutex
	calls []call
}

func (l *callLog) record(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		l.mu.Lock()
		l.calls = append(l.calls, call{key: r.Header.Get("Idempotency-Key"), method: r.Method, path: r.URL.Path})
		l.mu.Unlock()
		next.ServeHTTP(w, r)
	})
}

func (l *callLog) all() []call {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]call(nil), l.calls...)
}

// result is what one child did, as far as the harness can tell.
type result struct {
	child  *child
	killed bool
	code   int       // exit code; -1 when killed
	open   int       // open cases it reported; -1 without a summary
	next   time.Time // the next due time it reported; zero when none
	seqEnd int       // the run's request count when it ended
	wall   time.Duration
	stdout string
	stderr string
}

var summaryRE = regexp.MustCompile(`(?m)^(\d+) open case\(s\): \d+ effect\(s\) done.*?(?:; next due (\S+))?$`)

// once runs `casebot once` at the clock's time. The first child of a cycle may be killed by
// a delay kill point.
func (w *world) once(id int, delay *killPoint) result {
	var stdout, stderr bytes.Buffer
	cmd := exec.Command(binary, "once", "-config", w.config, "-at", w.clock.Now().UTC().Format(time.RFC3339Nano))
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	c := &child{id: id, cmd: cmd, started: make(chan struct{}), exited: make(chan struct{})}
	end := w.trap.run(c)
	defer end()
	start := time.Now()
	err := cmd.Start()
	close(c.started)
	if err != nil {
		close(c.exited)
		w.t.Fatalf("starting casebot: %v", err)
	}
	if delay != nil {
		defer w.trap.killAfter(c, *delay)()
	}
	// A child that hangs is asked for its goroutines (SIGQUIT) and reported.
	hung := time.AfterFunc(childTimeout, func() { _ = cmd.Process.Signal(syscall.SIGQUIT) })
	err = cmd.Wait()
	close(c.exited)
	if !hung.Stop() {
		w.t.Fatalf("%s: casebot once at %s hung for %v:\n%s", w.plan.name, w.clock.Now().UTC().Format(time.RFC3339),
			childTimeout, stderr.String())
	}
	r := result{child: c, killed: c.killed(), code: cmd.ProcessState.ExitCode(), open: -1, seqEnd: w.trap.sequence(),
		wall: time.Since(start), stdout: stdout.String(), stderr: stderr.String()}
	if _, ok := err.(*exec.ExitError); err != nil && !ok {
		w.t.Fatalf("running casebot: %v", err)
	}
	if m := summaryRE.FindStringSubmatch(r.stdout); m != nil {
		r.open, _ = strconv.Atoi(m[1])
		if m[2] != "" {
			if r.next, err = time.Parse(time.RFC3339, m[2]); err != nil {
				w.t.Fatalf("casebot once printed a next due time that is no time: %q", m[0])
			}
		}
	}
	return r
}

// cycleRecord is one cycle of a timeline: a virtual time and the children run at it.
type cycleRecord struct {
	at       time.Time
	children []result
}

// history is what a timeline did.
type history struct {
	cycles   []cycleRecord
	children int // children run: casebot processes started
	failures int // children that exited non-zero without being killed, or cycles that failed
	kills    []kill
}

// timeline runs the demo's timeline with the real binary: people act in the sandbox, then a
// cycle runs at the clock's time (again at the same time when its child was killed, as cron
// would run it, or when it failed), and the clock moves to the earlier of the next due time
// the cycle reported and the people's next time, until no case is open. A cycle is a child of
// once, or in a replica run the cycle of the replica that acts.
func (w *world) timeline() *history {
	t := w.t
	ctx := context.Background()
	pbs, people := w.people()
	h := &history{}
	attempt := w.onceAttempt(h)
	if w.plan.replicas {
		rs := &replicas{w: w, h: h}
		attempt = func(_ int, now time.Time, _ bool) (result, bool) {
			w.setClock(now)
			return rs.cycle(now), false
		}
	}
	for cycle := 0; ; cycle++ {
		now := w.clock.Now()
		if now.Sub(cli.DemoStart) > virtualLimit || h.children > maxChildren || cycle > maxChildren {
			// What the run did so far is still compared: it shows what is missing.
			t.Errorf("%s: the cases did not close by %s after %d children; the last said:\n%s", w.plan.name,
				now.Format(time.RFC3339), h.children, lastWords(h))
			return h
		}
		if _, err := people.Act(ctx, pbs, now); err != nil {
			t.Fatalf("%s: the people at %s: %v", w.plan.name, now.Format(time.RFC3339), err)
		}
		rec := cycleRecord{at: now}
		var last result
		for tries := 0; ; {
			var killed bool
			last, killed = attempt(cycle, now, len(rec.children) == 0)
			if *cycles {
				w.log(now, last)
			}
			rec.children = append(rec.children, last)
			if killed {
				continue
			}
			if last.code == 0 {
				break
			}
			h.failures++
			if tries++; tries == sameTimeTries {
				break
			}
		}
		h.cycles = append(h.cycles, rec)
		if last.code == 0 && last.open == -1 {
			t.Fatalf("%s: the cycle reported no open cases:\n%s", w.plan.name, last.stdout)
		}
		if last.code == 0 && last.open == 0 {
			return h
		}
		next := people.Next(now)
		if last.code != 0 {
			next = now.Add(cronInterval)
		} else if !last.next.IsZero() && last.next.Before(next) {
			next = last.next
		}
		if !next.After(now) { // a next due time printed to the second, before now's fraction
			next = now.Add(time.Second)
		}
		w.clock.Set(next)
	}
}

// onceAttempt returns the attempts of a run with a child of once a cycle: the first child of
// the cycle a delay kill point names is killed after its delay. killed says that the child
// was killed and is to run again at once.
func (w *world) onceAttempt(h *history) func(cycle int, now time.Time, first bool) (r result, killed bool) {
	delays := map[int]killPoint{}
	for _, k := range w.plan.kills {
		if k.Kind == "" {
			delays[k.Cycle] = k
		}
	}
	return func(cycle int, now time.Time, first bool) (result, bool) {
		var delay *killPoint
		if k, ok := delays[cycle]; ok && first {
			delay = &k
		}
		h.children++
		r := w.once(h.children, delay)
		if r.killed {
			h.kills = append(h.kills, kill{point: *r.child.point, at: now, child: r.child.id})
		}
		return r, r.killed
	}
}

// people returns the shipped playbooks and the demo's people, who act on them.
func (w *world) people() ([]*rules.Playbook, *cli.People) {
	pbs, err := rules.Load(playbooks.FS, rules.Options{})
	if err != nil {
		w.t.Fatal(err)
	}
	return pbs, cli.NewPeople(w.crm)
}

// log logs what a child did, with its log when it failed.
func (w *world) log(at time.Time, r result) {
	line := fmt.Sprintf("%s %s child %d: exit %d", w.plan.name, at.UTC().Format("Jan 2 15:04:05"), r.child.id, r.code)
	if r.killed {
		line += " (killed " + r.child.point.String() + ")"
	}
	line += ": " + strings.TrimSpace(r.stdout)
	if r.code > 0 {
		line += "\n" + r.stderr
	}
	w.t.Log(line)
}

// lastWords is what the last child printed, for a run that went wrong.
func lastWords(h *history) string {
	if len(h.cycles) == 0 {
		return "(no child ran)"
	}
	cs := h.cycles[len(h.cycles)-1].children
	r := cs[len(cs)-1]
	return fmt.Sprintf("exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
}
