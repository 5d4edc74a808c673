package test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"casebot/connectors/salesforce/sandbox"
)

// sandboxConfig starts a seeded sandbox and writes a config for it (the example config with
// the sandbox's URL, a ledger in dir and the status server on a free port).
// It also returns how many calls the playbooks' http actions made.
func sandboxConfig(t *testing.T, dir string, now func() time.Time) (*sandbox.Server, string, *atomic.Int64) {
	t.Helper()
	sb, err := sandbox.Start(t.Context(), sandbox.Options{Seed: true, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sb.Close() })
	example, err := os.ReadFile("../config/example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	// The playbooks' http actions go to a local stand-in for the services the sandbox
	// command simulates, which answers every call with the fields the shipped playbooks
	// store, the same each time: an outcome must not depend on what else listens here.
	var calls atomic.Int64
	services := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"guids": ["guid-1", "guid-2"], "caseNumber": "SUP-04101", "deactivatedAt": "2026-11-06T15:00:00Z", "remaining": 26}`)
	}))
	t.Cleanup(services.Close)
	conf := strings.ReplaceAll(string(example), "http://127.0.0.1:8091", services.URL)
	for field, value := range map[string]string{
		"login_url": sb.URL(), "path": filepath.Join(dir, "ledger.db"), "listen": "127.0.0.1:0",
	} {
		re := regexp.MustCompile(`(?m)^(\s+` + field + `:).*$`)
		if !re.MatchString(conf) {
			t.Fatalf("example.yaml has no %s to point at the test's sandbox", field)
		}
		conf = re.ReplaceAllString(conf, "${1} "+value)
	}
	cfg := filepath.Join(dir, "casebot.yaml")
	if err := os.WriteFile(cfg, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	return sb, cfg, &calls
}

// TestRunServesStatusAndStopsOnSIGTERM runs the daemon against the sandbox: it runs a cycle at
// start (the seeded cases' first step is due), reports ready with metrics, and on SIGTERM
// finishes and exits 0.
func TestRunServesStatusAndStopsOnSIGTERM(t *testing.T) {
	sb, cfg, _ := sandboxConfig(t, t.TempDir(), time.Now)
	d := startDaemon(t, cfg)
	d.wait(`msg="cycle done" cases=\d+ done=\d+`)

	for _, c := range []struct{ path, want string }{
		{"/healthz", "ok"},
		{"/readyz", "ok: last cycle ended"},
		{"/metrics", `casebot_cycles_total{result="ok"} 1`},
		{"/metrics", "casebot_salesforce_api_calls_max 15000"},
	} {
		if code, body := d.get(c.path); code != 200 || !strings.Contains(body, c.want) {
			t.Errorf("GET %s: %d, want 200 with %q:\n%s", c.path, code, c.want, body)
		}
	}
	if sb.APICalls() == 0 {
		t.Error("the daemon made no Salesforce call")
	}
	d.stop()
}

// daemon is `casebot run` in the background, with its log.
type daemon struct {
	t     *testing.T
	ctx   context.Context
	cmd   *exec.Cmd
	lines chan string
	log   []string
	addr  string // the status server's
}

// startDaemon starts `casebot run -config cfg` and waits for its status server.
func startDaemon(t *testing.T, cfg string) *daemon {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	t.Cleanup(cancel)
	d := &daemon{t: t, ctx: ctx, cmd: exec.CommandContext(ctx, binary, "run", "-config", cfg), lines: make(chan string)}
	stderr, err := d.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	d.cmd.Stdout = io.Discard
	if err := d.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		defer close(d.lines)
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			d.lines <- sc.Text()
		}
	}()
	d.addr = d.wait(`msg="status server listening" addr=(\S+)`)[1]
	return d
}

// wait returns the submatches of the first log line from now on that matches pattern.
func (d *daemon) wait(pattern string) []string {
	d.t.Helper()
	re := regexp.MustCompile(pattern)
	for {
		select {
		case l, ok := <-d.lines:
			if !ok {
				d.t.Fatalf("casebot run ended before logging %q:\n%s", pattern, strings.Join(d.log, "\n"))
			}
			d.log = append(d.log, l)
			if m := re.FindStringSubmatch(l); m != nil {
				return m
			}
		case <-d.ctx.Done():
			d.t.Fatalf("no log line %q in time:\n%s", pattern, strings.Join(d.log, "\n"))
		}
	}
}

// get fetches a path of the status server.
func (d *daemon) get(path string) (int, string) {
	d.t.Helper()
	resp, err := http.Get("http://" + d.addr + path)
	if err != nil {
		d.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

// stop sends SIGTERM and requires a clean exit.
func (d *daemon) stop() {
	d.t.Helper()
	if err := d.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		d.t.Fatal(err)
	}
	d.wait(`msg="casebot stopped"`)
	for range d.lines {
	}
	if err := d.cmd.Wait(); err != nil {
		d.t.Errorf("casebot run after SIGTERM: %v", err)
	}
}

// TestValidate checks the shipped playbooks, then a directory of broken ones: every error is
// reported at once with file:line:col, and the exit code is 1.
func TestValidate(t *testing.T) {
	out := casebot(t, "validate")
	if !strings.Contains(out, "ok  termination-sop") {
		t.Errorf("validate on the shipped playbooks:\n%s", out)
	}

	dir := t.TempDir()
	bad := `playbook: broken
applies_to: {object: Case, where: "Type = 'Termination'"}
fields:
  Case: {Status: string, Termination_Confirmed__c: date}
dates:
  day0: Case.Termination_Confirmed__c
steps:
  - id: one
    at: day0 + 1x
    when: "Case.Status > 3"
    do:
      - slack: {to: [nobody], template: no-such-template}
  - id: one
    at: someday + 1d
    colour: blue
    do:
      - status: Closed
`
	file := filepath.Join(dir, "broken.yaml")
	if err := os.WriteFile(file, []byte(bad), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(binary, "validate", dir)
	outb, err := cmd.Output()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 {
		t.Fatalf("validate on a broken playbook: %v, want exit code 1\n%s", err, outb)
	}
	got := string(outb)
	for _, want := range []*regexp.Regexp{
		regexp.MustCompile(`broken\.yaml:9:\d+: .*unknown unit "x"`),
		regexp.MustCompile(`broken\.yaml:10:\d+: .*`),
		regexp.MustCompile(`broken\.yaml:12:\d+: .*nobody`),
		regexp.MustCompile(`broken\.yaml:12:\d+: .*no-such-template`),
		regexp.MustCompile(`broken\.yaml:13:\d+: .*one`),
		regexp.MustCompile(`broken\.yaml:14:\d+: .*someday`),
		regexp.MustCompile(`broken\.yaml:15:\d+: .*colour`),
	} {
		if !want.MatchString(got) {
			t.Errorf("validate output lacks %s:\n%s", want, got)
		}
	}
}
