package test

import (
	"fmt"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"casebot/connectors/postgres/pgtest"
	"casebot/connectors/salesforce"
	"casebot/connectors/salesforce/sandbox"
)

// TestLeaseTakeover runs two replicas of the daemon on one PostgreSQL ledger against the
// sandbox. One acts, the other stands by. The leader is frozen (SIGSTOP) past its lease: the
// other takes over within the bound, and the frozen one, resumed, stands by. Then the new
// leader is killed (SIGKILL) and the first takes over again. No Salesforce write happens twice.
func TestLeaseTakeover(t *testing.T) {
	const lease = 3 * time.Second
	// The lease expires lease after the last renewal; the standby tries every third of it.
	const bound = lease + lease/3 + 2*time.Second
	dsn := pgtest.Start(t).DSN(t)
	sb, cfg, _ := sandboxConfig(t, t.TempDir(), time.Now)
	usePostgres(t, cfg, dsn, lease.String())

	a := startDaemon(t, cfg)
	a.wait(`msg="lease acquired: acting"`)
	a.wait(`msg="cycle done"`)
	b := startDaemon(t, cfg)
	b.wait(`msg="standing by: another replica holds the lease"`)
	leader(t, a, true)
	leader(t, b, false)

	if err := a.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	frozen := time.Now()
	b.wait(`msg="lease acquired: acting"`)
	if took := time.Since(frozen); took > bound {
		t.Errorf("takeover from a frozen leader took %s, want at most %s", took, bound)
	}
	b.wait(`msg="cycle done"`)
	if err := a.cmd.Process.Signal(syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	a.wait(`msg="lease lost: another replica acts; standing by"`)
	leader(t, a, false)
	leader(t, b, true)

	if err := b.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	killed := time.Now()
	go func() {
		for range b.lines {
		}
	}()
	_ = b.cmd.Wait()
	a.wait(`msg="lease acquired: acting"`)
	if took := time.Since(killed); took > bound {
		t.Errorf("takeover from a killed leader took %s, want at most %s", took, bound)
	}
	a.wait(`msg="cycle done"`)
	leader(t, a, true)

	c := sandboxClient(t, sb)
	tasksByKey(t, c, "")
	if comments := commentsByMarker(t, c); len(comments) == 0 {
		t.Error("the replicas made no CaseComment")
	}
	a.stop()
}

// TestLeaseFrozenMidCycle freezes the leader in the middle of a cycle (every Salesforce call
// is slowed down), past its lease. The other replica takes over and finishes the cycle; the
// frozen one, resumed, stands by, its late ledger writes refused. The org then holds the
// comments a single replica makes, each once.
func TestLeaseFrozenMidCycle(t *testing.T) {
	const lease = 2 * time.Second
	pg := pgtest.Start(t)

	// What one replica alone does.
	sb, cfg, _ := sandboxConfig(t, t.TempDir(), time.Now)
	usePostgres(t, cfg, pg.DSN(t), lease.String())
	one := startDaemon(t, cfg)
	one.wait(`msg="cycle done"`)
	one.stop()
	want := commentsByMarker(t, sandboxClient(t, sb))

	sb, cfg, _ = sandboxConfig(t, t.TempDir(), time.Now)
	usePostgres(t, cfg, pg.DSN(t), lease.String())
	// Every Salesforce call slowed down: the leader's first cycle takes seconds. It is frozen
	// once its first comment is in the org, with the rest of its writes still to come.
	sb.SetFaults(sandbox.Faults{Rates: map[sandbox.FaultKind]float64{sandbox.FaultLatency: 1}, Latency: 100 * time.Millisecond})
	a := startDaemon(t, cfg)
	a.wait(`msg="lease acquired: acting"`)
	b := startDaemon(t, cfg)
	b.wait(`msg="standing by: another replica holds the lease"`)
	c, until := sandboxClient(t, sb), time.Now().Add(time.Minute)
	for len(commentsByMarker(t, c)) == 0 { // each look takes the 100 ms the sandbox adds to every call
		if time.Now().After(until) {
			t.Fatalf("the leader made no comment in a minute:\n%s", strings.Join(a.log, "\n"))
		}
	}
	if err := a.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	b.wait(`msg="lease acquired: acting"`)
	b.wait(`msg="cycle (done|failed)"`)
	if err := a.cmd.Process.Signal(syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	a.wait(`msg="lease lost: another replica acts; standing by"`)
	sb.SetFaults(sandbox.Faults{})

	got := commentsByMarker(t, sandboxClient(t, sb))
	if len(got) != len(want) {
		t.Errorf("two replicas made %d distinct comments, one alone %d", len(got), len(want))
	}
	// Frozen in the middle of a cycle, the old leader had writes pending when it resumed:
	// refused by its guards before anything was sent, or by the database (casebot_fence).
	refused := false
	for _, l := range a.log {
		refused = refused || strings.Contains(l, "no longer holds the lease") || strings.Contains(l, "is no longer held by")
	}
	if !refused {
		t.Errorf("the resumed leader logged no refused write:\n%s", strings.Join(a.log, "\n"))
	}
	b.stop()
	a.stop()
}

// TestLeaseStandbyLedgerLost: a standby replica that cannot reach the ledger could not take
// over, so its /readyz says so (503, with the cause) rather than that it stands by.
func TestLeaseStandbyLedgerLost(t *testing.T) {
	const lease = 3 * time.Second
	dsn := pgtest.Start(t).DSN(t)
	_, cfg, _ := sandboxConfig(t, t.TempDir(), time.Now)
	usePostgres(t, cfg, dsn, lease.String())
	a := startDaemon(t, cfg)
	a.wait(`msg="lease acquired: acting"`)
	b := startDaemon(t, cfg)
	b.wait(`msg="standing by: another replica holds the lease"`)
	leader(t, b, false)

	// The ledger's database goes away under both replicas (its connections ended).
	db := regexp.MustCompile(`dbname=(\S+)`)
	conn, err := pgx.Connect(t.Context(), db.ReplaceAllString(dsn, "dbname=postgres"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(t.Context())
	if _, err := conn.Exec(t.Context(), "DROP DATABASE "+db.FindStringSubmatch(dsn)[1]+" WITH (FORCE)"); err != nil {
		t.Fatal(err)
	}
	if code, body := b.get("/readyz"); code != 503 || !strings.Contains(body, "the ledger cannot be used") {
		t.Errorf("standby's /readyz without its ledger: %d %q, want 503 naming the ledger", code, body)
	}
	for _, d := range []*daemon{a, b} {
		_ = d.cmd.Process.Kill()
		go func() {
			for range d.lines {
			}
		}()
		_ = d.cmd.Wait()
	}
}

// TestOnceOutlastsLease runs `casebot once` on a PostgreSQL ledger whose lease is shorter than
// its cycle (every Salesforce call slowed down): once renews the lease as it goes, so none of
// its later effects is refused.
func TestOnceOutlastsLease(t *testing.T) {
	const lease = time.Second
	dsn := pgtest.Start(t).DSN(t)
	sb, cfg, _ := sandboxConfig(t, t.TempDir(), time.Now)
	usePostgres(t, cfg, dsn, lease.String())
	const latency = 100 * time.Millisecond
	sb.SetFaults(sandbox.Faults{Rates: map[sandbox.FaultKind]float64{sandbox.FaultLatency: 1}, Latency: latency})
	stdout, stderr, code := run(t, "once", "-config", cfg)
	calls := 0
	for _, r := range sb.Requests() {
		if r.APICall {
			calls++
		}
	}
	if code != 0 || strings.Contains(stderr, "the lease is lost") || strings.Contains(stderr, "no longer holds the lease") {
		t.Fatalf("casebot once past its lease: exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	if took := time.Duration(calls) * latency; took < 2*lease {
		t.Errorf("the cycle's %d Salesforce calls took %s, not past the lease's %s: nothing was tested", calls, took, lease)
	}
	sb.SetFaults(sandbox.Faults{})
	if len(commentsByMarker(t, sandboxClient(t, sb))) == 0 {
		t.Error("once made no CaseComment")
	}
}

// leader checks what a replica's /readyz and casebot_leader say about whether it acts.
func leader(t *testing.T, d *daemon, acts bool) {
	t.Helper()
	ready, gauge := "ok", "casebot_leader 1"
	if !acts {
		ready, gauge = "standby", "casebot_leader 0"
	}
	if code, body := d.get("/readyz"); code != 200 || !strings.HasPrefix(body, ready) {
		t.Errorf("/readyz: %d %q, want 200 %s…", code, body, ready)
	}
	if _, body := d.get("/metrics"); !strings.Contains(body, gauge+"\n") {
		t.Errorf("/metrics lacks %q", gauge)
	}
}

// commentsByMarker counts the CaseComments casebot made by their case and marker (the last
// line of the text, bot.CommentMarker); it fails the test when one was made twice.
func commentsByMarker(t *testing.T, c *salesforce.Client) map[string]int {
	t.Helper()
	out := map[string]int{}
	for _, rec := range query(t, c, "SELECT ParentId, CommentBody FROM CaseComment") {
		body, _ := rec["CommentBody"].(string)
		lines := strings.Split(strings.TrimSpace(body), "\n")
		k := fmt.Sprint(rec["ParentId"], " ", lines[len(lines)-1])
		if out[k]++; out[k] == 2 {
			t.Errorf("two CaseComments on case and marker %s: a write was applied twice", k)
		}
	}
	return out
}
