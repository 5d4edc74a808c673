package bench

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// BenchmarkScale runs the real binary, `casebot once`, against `casebot sandbox` (a process of
// its own) seeded with N open cases of the termination SOP, through a proxy that counts the
// calls by kind (issue 11). The config is the example config, pointed at the proxy, with the
// SQLite ledger in a temporary directory, Slack and mail printed (to the benchmark, which keeps
// only the last lines) and the http actions answered by a local stand-in. The four shipped
// playbooks are loaded; the other three run the sandbox's demo cases.
//
// Per N, on the same virtual time (one minute after the cases were seeded, so that the first
// steps of every case come due: the case opened, the account team informed, Legal's
// confirmation):
//
//   - busy: the first cycle over the fresh cases;
//   - idle: a second cycle at the same time, which must find nothing due (0 effects done);
//   - plain: a plain client (net/http, its own login, records decoded as json.RawMessage)
//     replays the idle cycle's queries through the same proxy, following nextRecordsUrl;
//   - daemon: `casebot run` on the same config and virtual time (a clock file), its schedule a
//     day apart: after its first cycle, three cycles kicked with SIGUSR1, each timed as it logs
//     it; the engine keeps its cases' ledgers between a daemon's cycles;
//   - the sandbox's resident memory after the idle cycle, and after 100 idle cycles' worth of
//     the same queries (the idle cycle, the daemon's four, the plain replay and 94 more
//     replays, straight to the sandbox).
func BenchmarkScale(b *testing.B) {
	for _, n := range []int{1000, 10000, 50000} {
		b.Run(fmt.Sprintf("cases=%d", n), func(b *testing.B) {
			for range b.N {
				b.StopTimer()
				scale(b, n)
			}
		})
	}
}

// scale is one run of BenchmarkScale over n cases.
func scale(b *testing.B, n int) {
	sandboxURL, sandbox := startSandbox(b)
	day0 := time.Now().UTC().Truncate(24 * time.Hour)
	start := time.Now()
	seedTermination(b, sandboxCRM(b, sandboxURL, http.DefaultTransport), n, day0)
	b.ReportMetric(time.Since(start).Seconds(), "seed-s/op")
	// Casebot's virtual clock: a minute after the cases' CreatedDate, the sandbox's real clock.
	at := time.Now().UTC().Add(time.Minute).Truncate(time.Second).Format(time.RFC3339)

	proxy := newCountingProxy(b, sandboxURL)
	cfgPath := scaleConfig(b, proxy.url, standIn(b))

	mark := proxy.mark()
	busy := runOnce(b, cfgPath, at)
	busyCalls := proxy.since(mark)
	if busy.done == 0 {
		b.Fatalf("the first cycle did nothing: %s", busy.summary)
	}
	mark = proxy.mark()
	idle := runOnce(b, cfgPath, at)
	idleCalls := proxy.since(mark)
	if idle.done != 0 || idle.failed != 0 {
		b.Fatalf("the second cycle at the same time was not idle: %s", idle.summary)
	}
	rssFirst := vmRSS(b, sandbox.Pid)
	daemon := runDaemon(b, cfgPath, at, proxy)

	var queries []string
	firstData := time.Time{}
	for _, c := range idleCalls {
		if c.kind == kindQuery {
			queries = append(queries, c.url)
		}
		if c.kind != kindLogin && firstData.IsZero() {
			firstData = c.start
		}
	}
	if len(queries) == 0 {
		b.Fatal("the idle cycle made no query through the proxy")
	}
	for _, q := range queries {
		b.Logf("idle query: %s", q)
	}
	plain := newPlainClient(b, proxy.url)
	mark = proxy.mark()
	plainTook, plainPages := plain.replay(b, queries)
	if got := len(proxy.since(mark)); got != plainPages {
		b.Fatalf("the plain client made %d requests through the proxy, read %d pages", got, plainPages)
	}
	direct := newPlainClient(b, sandboxURL)
	for range 100 - 2 - 1 - daemonCycles { // the idle once, the plain replay, the daemon's cycles
		direct.replay(b, queries)
	}
	rss100 := vmRSS(b, sandbox.Pid)

	idleCycle := idle.end.Sub(firstData)
	count := func(calls []proxied) (byKind map[string]int, data, writes int) {
		byKind = map[string]int{}
		for _, c := range calls {
			byKind[c.kind]++
			if c.kind != kindLogin {
				data++
			}
			writes += c.writes
		}
		return byKind, data, writes
	}
	ik, idata, _ := count(idleCalls)
	daemonTook, daemonData := percentile(daemon.took, 50), make([]int, len(daemon.calls))
	for i, calls := range daemon.calls {
		dk, data, _ := count(calls)
		daemonData[i] = data
		b.Logf("cases=%d daemon idle cycle %d: took %v; %v", n, i+1, daemon.took[i], dk)
	}
	slices.Sort(daemonData)
	bk, bdata, bwrites := count(busyCalls)
	b.Logf("cases=%d busy: %s; %v, %d records written; wall %.2fs, peak RSS %.0f MB (floor %.0f MB)", n, busy.summary, bk,
		bwrites, busy.wall.Seconds(), busy.rssMB, busy.floorMB)
	b.Logf("cases=%d idle: %s; %v; wall %.2fs, cycle %.2fs, peak RSS %.0f MB (floor %.0f MB); plain %.2fs (%d pages)", n, idle.summary, ik,
		idle.wall.Seconds(), idleCycle.Seconds(), idle.rssMB, idle.floorMB, plainTook.Seconds(), plainPages)

	b.ReportMetric(float64(idata), "idle-calls/op")
	b.ReportMetric(float64(ik[kindQuery]), "idle-query/op")
	b.ReportMetric(float64(ik[kindQueryMore]), "idle-querymore/op")
	b.ReportMetric(float64(ik[kindRead]), "idle-read/op")
	b.ReportMetric(float64(ik[kindComposite]+ik[kindWrite]), "idle-write/op")
	b.ReportMetric(float64(ik[kindLogin]), "idle-login/op")
	b.ReportMetric(idle.wall.Seconds(), "idle-wall-s/op")
	b.ReportMetric(idleCycle.Seconds(), "idle-cycle-s/op")
	b.ReportMetric(plainTook.Seconds(), "plain-wall-s/op")
	b.ReportMetric(float64(plainPages), "plain-pages/op")
	b.ReportMetric(idleCycle.Seconds()/plainTook.Seconds(), "idle-vs-plain")
	b.ReportMetric(idle.wall.Seconds()/plainTook.Seconds(), "idle-wall-vs-plain")
	b.ReportMetric(idle.rssMB, "idle-rss-MB")

	b.ReportMetric(daemonTook.Seconds(), "daemon-idle-s/op")
	b.ReportMetric(float64(daemonData[len(daemonData)/2]), "daemon-idle-calls/op")
	b.ReportMetric(daemon.rssMB, "daemon-idle-rss-MB")
	b.ReportMetric(daemonTook.Seconds()/plainTook.Seconds(), "daemon-vs-plain")

	b.ReportMetric(float64(bdata), "busy-calls/op")
	b.ReportMetric(float64(bk[kindQuery]), "busy-query/op")
	b.ReportMetric(float64(bk[kindQueryMore]), "busy-querymore/op")
	b.ReportMetric(float64(bk[kindRead]), "busy-read/op")
	b.ReportMetric(float64(bk[kindComposite]), "busy-composite/op")
	b.ReportMetric(float64(bk[kindWrite]), "busy-write/op")
	b.ReportMetric(float64(bwrites), "busy-records-written/op")
	b.ReportMetric(float64(ceil(n, 2000)+ceil(bwrites, 200)), "busy-min-calls/op")
	b.ReportMetric(float64(busy.done), "busy-effects/op")
	b.ReportMetric(busy.wall.Seconds(), "busy-wall-s/op")
	b.ReportMetric(busy.rssMB, "busy-rss-MB")

	b.ReportMetric(rssFirst, "sandbox-rss-first-MB")
	b.ReportMetric(rss100, "sandbox-rss-100-MB")
}

func ceil(a, b int) int { return (a + b - 1) / b }

// The kinds of calls the proxy counts.
const (
	kindLogin     = "login"     // the OAuth token endpoint
	kindQuery     = "query"     // a query's first page: GET …/query?q= (or queryAll)
	kindQueryMore = "querymore" // a query's next page: GET …/query/{locator} (a nextRecordsUrl)
	kindRead      = "read"      // any other GET
	kindComposite = "composite" // POST, PATCH or DELETE of …/composite…: Collections, composite, graph
	kindWrite     = "write"     // any other POST, PATCH or DELETE
)

// proxied is one request the proxy forwarded.
type proxied struct {
	kind, url  string
	writes     int // records written: a collection's records, a composite's or graph's subrequests
	start, end time.Time
}

// countingProxy forwards to the sandbox and records every request.
type countingProxy struct {
	url   string
	mu    sync.Mutex
	calls []proxied
}

func newCountingProxy(b *testing.B, target string) *countingProxy {
	b.Helper()
	to, err := url.Parse(target)
	if err != nil {
		b.Fatal(err)
	}
	rp := &httputil.ReverseProxy{Rewrite: func(r *httputil.ProxyRequest) {
		r.SetURL(to)
		r.Out.Host = r.In.Host // the sandbox answers instance_url with the Host it was asked at: the proxy's
	}}
	p := &countingProxy{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c := proxied{kind: kindOf(r), url: r.URL.RequestURI(), start: time.Now()}
		if c.kind == kindComposite || c.kind == kindWrite {
			body, err := io.ReadAll(r.Body)
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadGateway)
				return
			}
			r.Body = io.NopCloser(bytes.NewReader(body))
			c.writes = written(r, body)
		}
		rp.ServeHTTP(w, r)
		c.end = time.Now()
		p.mu.Lock()
		p.calls = append(p.calls, c)
		p.mu.Unlock()
	}))
	b.Cleanup(srv.Close)
	p.url = srv.URL
	return p
}

// mark is where the calls from now on begin.
func (p *countingProxy) mark() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.calls)
}

// since returns the calls recorded after mark.
func (p *countingProxy) since(mark int) []proxied {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]proxied(nil), p.calls[mark:]...)
}

var queryMore = regexp.MustCompile(`^/services/data/v[^/]+/query(All)?/[^/]+$`)

func kindOf(r *http.Request) string {
	path := r.URL.Path
	switch {
	case strings.HasPrefix(path, "/services/oauth2/token"):
		return kindLogin
	case r.Method == http.MethodGet && queryMore.MatchString(path):
		return kindQueryMore
	case r.Method == http.MethodGet && (strings.HasSuffix(path, "/query") || strings.HasSuffix(path, "/queryAll")):
		return kindQuery
	case r.Method == http.MethodGet || r.Method == http.MethodHead:
		return kindRead
	case strings.Contains(path, "/composite"):
		return kindComposite
	default:
		return kindWrite
	}
}

// written counts the records a write request writes: a collection's records or ids, a
// composite's subrequests (each a collection's records when it carries them), a graph's nodes.
func written(r *http.Request, body []byte) int {
	if r.Method == http.MethodDelete {
		if ids := r.URL.Query().Get("ids"); ids != "" {
			return strings.Count(ids, ",") + 1
		}
		return 1
	}
	type sub struct {
		Body struct {
			Records []json.RawMessage `json:"records"`
		} `json:"body"`
	}
	var req struct {
		Records          []json.RawMessage `json:"records"`
		CompositeRequest []sub             `json:"compositeRequest"`
		Graphs           []struct {
			CompositeRequest []sub `json:"compositeRequest"`
		} `json:"graphs"`
	}
	if json.Unmarshal(body, &req) != nil {
		return 1
	}
	subs := func(ss []sub) int {
		n := 0
		for _, s := range ss {
			n += max(len(s.Body.Records), 1)
		}
		return n
	}
	n := len(req.Records) + subs(req.CompositeRequest)
	for _, g := range req.Graphs {
		n += subs(g.CompositeRequest)
	}
	return max(n, 1)
}

// scaleConfig writes the example config with Salesforce behind the proxy, the ledger in a
// temporary directory and the http actions answered by services, and returns its path.
func scaleConfig(b *testing.B, proxy, services string) string {
	b.Helper()
	example, err := os.ReadFile("../../config/example.yaml")
	if err != nil {
		b.Fatal(err)
	}
	dir := b.TempDir()
	cfg := string(example)
	for _, r := range [][2]string{
		{"login_url: http://127.0.0.1:8090", "login_url: " + proxy},
		{"  path: casebot.db", "  path: " + filepath.Join(dir, "casebot.db")},
		{"http://127.0.0.1:8091", services},
		{"listen: 127.0.0.1:9090", "listen: 127.0.0.1:0"},
		{`schedule: "@every 1m"`, `schedule: "@every 24h"`}, // run's cycles: its first, then the kicked ones
	} {
		if !strings.Contains(cfg, r[0]) {
			b.Fatalf("config/example.yaml has no %q any more", r[0])
		}
		cfg = strings.ReplaceAll(cfg, r[0], r[1])
	}
	path := filepath.Join(dir, "casebot.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		b.Fatal(err)
	}
	return path
}

// onceRun is what a `casebot once` run did and took.
type onceRun struct {
	summary      string // "N open case(s): D effect(s) done, S skipped, F failed…"
	done, failed int
	wall         time.Duration // the process, from start to exit
	end          time.Time
	rssMB        float64 // the process's peak resident memory
	floorMB      float64 // the benchmark's own resident memory when it started the process
}

var summary = regexp.MustCompile(`(?m)^(\d+) open case\(s\): (\d+) effect\(s\) done, (\d+) skipped, (\d+) failed.*$`)

// runOnce runs `casebot once -config cfg -at at` and waits for it. What it prints (Slack and
// mail, printed) is kept only to its last lines.
func runOnce(b *testing.B, cfg, at string) onceRun {
	b.Helper()
	cmd := exec.CommandContext(b.Context(), binary, "once", "-config", cfg, "-at", at)
	out, errs := &tail{}, &tail{}
	cmd.Stdout, cmd.Stderr = out, errs
	// A child's ru_maxrss starts at the high-water mark of the memory it was forked from (Linux
	// carries the parent's into exec): the benchmark's own, reset to what it holds now.
	resetPeakRSS()
	floor := float64(peakRSS()) / (1 << 20)
	start := time.Now()
	err := cmd.Run()
	end := time.Now()
	if err != nil {
		b.Fatalf("casebot once: %v\n%s\n%s", err, out.String(), errs.String())
	}
	m := summary.FindStringSubmatch(out.String())
	if m == nil {
		b.Fatalf("casebot once printed no summary:\n%s\n%s", out.String(), errs.String())
	}
	r := onceRun{summary: m[0], wall: end.Sub(start), end: end, floorMB: floor}
	r.done, _ = strconv.Atoi(m[2])
	r.failed, _ = strconv.Atoi(m[4])
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		r.rssMB = float64(ru.Maxrss) / 1024 // kB on Linux
	}
	if r.rssMB <= floor*1.05 {
		b.Logf("casebot once: peak RSS %.0f MB is no more than the benchmark's own %.0f MB: read it as at most that", r.rssMB, floor)
	}
	return r
}

// daemonCycles is how many idle cycles runDaemon kicks.
const daemonCycles = 3

var (
	cycleLog = regexp.MustCompile(`msg="cycle (done|failed)"`)
	doneLog  = regexp.MustCompile(` done=(\d+) `)
	tookLog  = regexp.MustCompile(` took=(\S+)`)
)

// daemonRun is what the kicked cycles of a `casebot run` took and called.
type daemonRun struct {
	took  []time.Duration // each cycle's, as it logs it (took=)
	calls [][]proxied     // each cycle's calls through the proxy
	rssMB float64         // the daemon's VmRSS after them
}

// runDaemon runs `casebot run -config cfg` at the time at (a clock file): after its first
// cycle, it kicks daemonCycles cycles one after another (SIGUSR1), each of which must be idle
// (0 effects done, none failed), then stops it (SIGTERM) and waits for it. A cycle's calls are
// those from its kick to the next kick, or to the daemon's end.
func runDaemon(b *testing.B, cfg, at string, proxy *countingProxy) daemonRun {
	b.Helper()
	clock := filepath.Join(b.TempDir(), "clock")
	if err := os.WriteFile(clock, []byte(at+"\n"), 0o600); err != nil {
		b.Fatal(err)
	}
	cmd := exec.CommandContext(b.Context(), binary, "run", "-config", cfg, "-clock", clock)
	cmd.Stdout = io.Discard // Slack and mail, printed: an idle cycle prints none
	stderr, err := cmd.StderrPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	lines, exited := make(chan string, 64), make(chan error, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
		exited <- cmd.Wait() // once the log is read to the end, as Wait closes the pipe
	}()
	b.Cleanup(func() { // a failed run's daemon; one stopped already takes no harm
		cmd.Process.Kill()
		for range lines {
		}
	})
	var log []string
	cycle := func() string { // the log line of the end of the next cycle
		timeout := time.After(10 * time.Minute)
		for {
			select {
			case l, ok := <-lines:
				if !ok {
					b.Fatalf("casebot run ended before its cycle was done:\n%s", strings.Join(log, "\n"))
				}
				log = append(log[max(0, len(log)-29):], l)
				if !cycleLog.MatchString(l) {
					continue
				}
				if m := doneLog.FindStringSubmatch(l); m == nil || m[1] != "0" || !strings.Contains(l, " failed=0 ") || strings.Contains(l, "cycle failed") {
					b.Fatalf("a cycle of casebot run at the idle once's time was not idle: %s", l)
				}
				return l
			case <-timeout:
				b.Fatalf("casebot run logged no cycle's end in 10 minutes:\n%s", strings.Join(log, "\n"))
			}
		}
	}
	cycle() // its first: its login, every case's ledger read whole
	var r daemonRun
	marks := []int{}
	for range daemonCycles {
		marks = append(marks, proxy.mark())
		if err := cmd.Process.Signal(syscall.SIGUSR1); err != nil {
			b.Fatal(err)
		}
		m := tookLog.FindStringSubmatch(cycle())
		if m == nil {
			b.Fatalf("casebot run logged a cycle without took=:\n%s", log[len(log)-1])
		}
		took, err := time.ParseDuration(m[1])
		if err != nil {
			b.Fatal(err)
		}
		r.took = append(r.took, took)
	}
	r.rssMB = vmRSS(b, cmd.Process.Pid)
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		b.Fatal(err)
	}
	for l := range lines {
		log = append(log[max(0, len(log)-29):], l)
	}
	if err := <-exited; err != nil {
		b.Fatalf("casebot run, stopped: %v\n%s", err, strings.Join(log, "\n"))
	}
	marks = append(marks, proxy.mark())
	for i := range daemonCycles {
		r.calls = append(r.calls, proxy.since(marks[i])[:marks[i+1]-marks[i]])
	}
	return r
}

// tail keeps the last 64 KB written to it.
type tail struct{ buf []byte }

func (t *tail) Write(p []byte) (int, error) {
	t.buf = append(t.buf, p...)
	if over := len(t.buf) - 64<<10; over > 0 {
		t.buf = append(t.buf[:0], t.buf[over:]...)
	}
	return len(p), nil
}

func (t *tail) String() string { return string(t.buf) }

// vmRSS is the resident memory of process pid in MB (VmRSS).
func vmRSS(b *testing.B, pid int) float64 {
	b.Helper()
	kb, err := statusKB(strconv.Itoa(pid), "VmRSS")
	if err != nil {
		b.Fatal(err)
	}
	return float64(kb) / 1024
}

// plainClient reads queries as plainly as the REST API allows: net/http, a token of its own,
// every page decoded into the least a page is.
type plainClient struct {
	instance, token string
	http            *http.Client
}

func newPlainClient(b *testing.B, loginURL string) *plainClient {
	b.Helper()
	c := &plainClient{http: &http.Client{Timeout: 5 * time.Minute}}
	resp, err := c.http.PostForm(loginURL+"/services/oauth2/token", url.Values{"grant_type": {"client_credentials"},
		"client_id": {"casebot-sandbox"}, "client_secret": {"sandbox-secret"}})
	if err != nil {
		b.Fatal(err)
	}
	defer resp.Body.Close()
	var tok struct {
		AccessToken string `json:"access_token"`
		InstanceURL string `json:"instance_url"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&tok); err != nil || tok.AccessToken == "" {
		b.Fatalf("plain login: %s: %v", resp.Status, err)
	}
	c.instance, c.token = tok.InstanceURL, tok.AccessToken
	return c
}

// replay reads every page of each query (a path with its query string), following
// nextRecordsUrl, and returns how long that took and how many pages it read.
func (c *plainClient) replay(b *testing.B, queries []string) (time.Duration, int) {
	b.Helper()
	start := time.Now()
	pages := 0
	for _, path := range queries {
		for path != "" {
			req, err := http.NewRequestWithContext(b.Context(), http.MethodGet, c.instance+path, nil)
			if err != nil {
				b.Fatal(err)
			}
			req.Header.Set("Authorization", "Bearer "+c.token)
			resp, err := c.http.Do(req)
			if err != nil {
				b.Fatal(err)
			}
			var page struct {
				Done           bool              `json:"done"`
				NextRecordsURL string            `json:"nextRecordsUrl"`
				Records        []json.RawMessage `json:"records"`
			}
			err = json.NewDecoder(resp.Body).Decode(&page)
			resp.Body.Close()
			if err != nil || resp.StatusCode != http.StatusOK {
				b.Fatalf("plain query %s: %s: %v", path, resp.Status, err)
			}
			pages++
			path = page.NextRecordsURL
			if page.Done {
				path = ""
			}
		}
	}
	return time.Since(start), pages
}
