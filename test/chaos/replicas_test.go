package chaos

import (
	"bufio"
	"io"
	"maps"
	"math/rand/v2"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// A replica run (issue 12) runs the timeline with two replicas of `casebot run` on one
// PostgreSQL ledger, reading the virtual time from a file (run -clock). At each time the
// people act, the harness kicks the replica that acts (SIGUSR1) and waits for its cycle at
// that time. Its kill points SIGKILL that replica or freeze it (SIGSTOP) at a request: the other
// must take over within takeoverBound and finish the cycle; a frozen one is resumed after
// that, must stand by, and must have its late writes refused; a killed one is started again
// as the next standby, as Kubernetes would. The effects must be those of the reference.

// leaseTerm is the replicas' store.lease: short, so that takeovers cost the run little.
const leaseTerm = 2 * time.Second

// takeoverBound is the longest a takeover may take: the lease expires leaseTerm after its
// last renewal and the standby tries every third of it; a second for the rest.
const takeoverBound = leaseTerm + leaseTerm/3 + time.Second

// replica is one `casebot run` process of a replica run.
type replica struct {
	c     *child
	lines chan string // its log, a line at a time; closed once it exited and was reaped
	log   []string    // the lines read so far
}

var (
	cycleRE = regexp.MustCompile(`msg="cycle (done|failed)"`)
	atRE    = regexp.MustCompile(` at=(\S+)`)
	casesRE = regexp.MustCompile(` cases=(\d+)`)
	nextRE  = regexp.MustCompile(` next=(\S+)`)
)

// startReplica starts a replica; it takes the lease if none holds it.
func (w *world) startReplica(h *history) *replica {
	h.children++
	cmd := exec.Command(binary, "run", "-config", w.config, "-clock", w.clockFile)
	cmd.Stdout = io.Discard
	stderr, err := cmd.StderrPipe()
	if err != nil {
		w.t.Fatal(err)
	}
	c := &child{id: h.children, cmd: cmd, started: make(chan struct{}), exited: make(chan struct{}),
		frozen: make(chan chan struct{}, 1)}
	if err := cmd.Start(); err != nil {
		w.t.Fatalf("starting casebot run: %v", err)
	}
	close(c.started)
	w.note("replica %d started", c.id)
	r := &replica{c: c, lines: make(chan string, 64)}
	go func() {
		sc := bufio.NewScanner(stderr)
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			r.lines <- sc.Text()
		}
		_ = cmd.Wait() // once its log is read to the end, as Wait closes the pipe
		close(c.exited)
		close(r.lines)
	}()
	w.t.Cleanup(func() {
		select {
		case <-c.exited:
			return
		default:
		}
		_ = cmd.Process.Signal(syscall.SIGCONT) // a frozen one would not end
		_ = cmd.Process.Kill()
		for range r.lines {
		}
	})
	return r
}

// wait returns the first line of the replica's log from now on that matches re, failing the
// run when it ends or says nothing of the kind within limit.
func (w *world) wait(r *replica, re *regexp.Regexp, limit time.Duration) string {
	timeout := time.After(limit)
	for {
		select {
		case l, ok := <-r.lines:
			if !ok {
				w.t.Fatalf("%s: replica %d ended before logging %q:\n%s", w.plan.name, r.c.id, re, r.tail())
			}
			r.log = append(r.log, l)
			if re.MatchString(l) {
				return l
			}
		case <-timeout:
			w.t.Fatalf("%s: replica %d logged no %q in %v:\n%s", w.plan.name, r.c.id, re, limit, r.tail())
		}
	}
}

// note logs what the harness does to the replicas, under -cycles.
func (w *world) note(format string, args ...any) {
	if *cycles {
		w.t.Logf(w.plan.name+": "+format, args...)
	}
}

// tail is the end of a replica's log, for a run that went wrong.
func (r *replica) tail() string {
	return strings.Join(r.log[max(0, len(r.log)-30):], "\n")
}

var (
	acquiredRE = regexp.MustCompile(`msg="lease acquired: acting"`)
	standingRE = regexp.MustCompile(`msg="(standing by: another replica holds the lease|lease lost: another replica acts; standing by)"`)
	refusedRE  = regexp.MustCompile(`the lease is lost: .*epoch \d+ is no longer held`)
)

// replicas is a replica run's two processes: the one that acts, and the one standing by (nil
// after a kill, until the next step starts a new one).
type replicas struct {
	w               *world
	h               *history
	leader, standby *replica
	at              time.Time // the time of the cycle under way
	// end ends the acting replica's turn as the trap's running child: between cycles the
	// requests (the people's, a standby starting, a resumed replica's) are nobody's.
	end func()
}

// setClock writes the replicas' time, whole: renamed into place.
func (w *world) setClock(t time.Time) {
	tmp := w.clockFile + ".new"
	if err := os.WriteFile(tmp, []byte(t.UTC().Format(time.RFC3339Nano)+"\n"), 0o600); err != nil {
		w.t.Fatal(err)
	}
	if err := os.Rename(tmp, w.clockFile); err != nil {
		w.t.Fatal(err)
	}
}

// cycle has a cycle run at the clock's time: by a replica started now when none runs yet (it
// takes the lease and runs one at once), else by the one that acts, kicked; a standby is
// started first when there is none, so that its start is no request of the cycle.
func (rs *replicas) cycle(at time.Time) result {
	w := rs.w
	start := time.Now()
	rs.at = at
	fresh := rs.leader == nil
	switch {
	case fresh:
		rs.leader = w.startReplica(rs.h)
		w.wait(rs.leader, acquiredRE, childTimeout)
	case rs.standby == nil:
		rs.standby = w.startReplica(rs.h)
		w.wait(rs.standby, standingRE, childTimeout)
	}
	rs.end = w.trap.run(rs.leader.c)
	defer func() { rs.end() }() // the leader's at the end: a takeover changes it
	if !fresh {
		if err := rs.leader.c.cmd.Process.Signal(syscall.SIGUSR1); err != nil {
			w.t.Fatalf("%s: kicking replica %d: %v", w.plan.name, rs.leader.c.id, err)
		}
	}
	line := rs.cycleLine()
	r := result{child: rs.leader.c, open: -1, seqEnd: w.trap.sequence(), wall: time.Since(start), stdout: line}
	if cycleRE.FindStringSubmatch(line)[1] == "failed" {
		r.code = 1
		r.stderr = rs.leader.tail()
	}
	if m := casesRE.FindStringSubmatch(line); m != nil {
		r.open, _ = strconv.Atoi(m[1])
	}
	if m := nextRE.FindStringSubmatch(line); m != nil {
		next, err := time.Parse(time.RFC3339Nano, m[1])
		if err != nil {
			w.t.Fatalf("%s: a cycle logged a next due time that is no time: %q", w.plan.name, line)
		}
		r.next = next
	}
	return r
}

// cycleLine returns the line of the end of the acting replica's cycle at rs.at, taking over
// from a replica a kill point halted meanwhile.
func (rs *replicas) cycleLine() string {
	w := rs.w
	for {
		l := rs.leader
		select {
		case line, ok := <-l.lines:
			if !ok {
				if !l.c.killed() {
					w.t.Fatalf("%s: replica %d ended by itself:\n%s", w.plan.name, l.c.id, l.tail())
				}
				rs.halted(l, "killed")
				rs.takeover()
				continue
			}
			l.log = append(l.log, line)
			if cycleRE.MatchString(line) && rs.ranAt(line) {
				return line
			}
		case resumed := <-l.c.frozen:
			p := rs.halted(l, "frozen")
			rs.takeover()
			line := rs.cycleLine() // the new leader's, which may be halted in turn
			rs.resume(l, p, resumed)
			return line
		case <-time.After(childTimeout):
			w.t.Fatalf("%s: replica %d's cycle at %s did not end in %v:\n%s", w.plan.name, l.c.id,
				rs.at.Format(time.RFC3339), childTimeout, l.tail())
		}
	}
}

// halted records that a kill point halted the acting replica (its point is the trap's: read
// under its mutex, as the process's death is no synchronisation).
func (rs *replicas) halted(r *replica, how string) killPoint {
	rs.w.trap.mu.Lock()
	p := *r.c.point
	rs.w.trap.mu.Unlock()
	rs.h.kills = append(rs.h.kills, kill{point: p, at: rs.at, child: r.c.id})
	rs.w.note("replica %d %s %s", r.c.id, how, p)
	return p
}

// ranAt reports whether a cycle's line is of a cycle at rs.at (the log has milliseconds).
func (rs *replicas) ranAt(line string) bool {
	m := atRE.FindStringSubmatch(line)
	if m == nil {
		rs.w.t.Fatalf("%s: a cycle's line says not when it ran: %q", rs.w.plan.name, line)
	}
	at, err := time.Parse(time.RFC3339Nano, m[1])
	return err == nil && at.Equal(rs.at.Truncate(time.Millisecond))
}

// takeover waits for the standby to take the lease from the halted leader, within the bound,
// and makes it the leader; with no standby (a second kill in one cycle), a new one first.
func (rs *replicas) takeover() {
	w := rs.w
	halted := time.Now()
	if rs.standby == nil {
		rs.standby = w.startReplica(rs.h)
	}
	next := rs.standby
	w.wait(next, acquiredRE, childTimeout)
	if took := time.Since(halted); took > takeoverBound {
		w.t.Errorf("%s: replica %d took over %v after the leader was halted, want at most %v", w.plan.name, next.c.id,
			took.Round(time.Millisecond), takeoverBound)
	}
	rs.leader, rs.standby = next, nil
	rs.end = w.trap.run(next.c)
	w.note("replica %d took over in %v", next.c.id, time.Since(halted).Round(time.Millisecond))
}

// resume resumes a frozen replica once another acted in its place: it must stand by, and the
// ledger must have refused what it tried to write late. It is the next standby.
func (rs *replicas) resume(r *replica, p killPoint, resumed chan struct{}) {
	w := rs.w
	if err := r.c.cmd.Process.Signal(syscall.SIGCONT); err != nil {
		w.t.Fatalf("%s: resuming replica %d: %v", w.plan.name, r.c.id, err)
	}
	close(resumed)
	w.note("replica %d resumed", r.c.id)
	w.wait(r, regexp.MustCompile(`msg="lease lost: another replica acts; standing by"`), childTimeout)
	// The database's refusal of a ledger write (casebot_fence), not a connector's refusal to send.
	if isEffect(p.Kind) && !slices.ContainsFunc(r.log, refusedRE.MatchString) {
		w.t.Errorf("%s: replica %d, frozen %s and resumed after a takeover, had nothing refused:\n%s", w.plan.name, r.c.id,
			p, r.tail())
	}
	rs.standby = r
}

// planHalts chooses a replica run's kill points from the reference's requests: going round the
// kinds of request but logins (a replica logs in once, a child of once every cycle), every
// other one a freeze at an effect (so that the frozen replica has a late write to be refused),
// each at a random one of the first three quarters of the reference's requests of its kind
// (replicas make fewer of some kinds), before or after it is handled.
func planHalts(ref *outcome, run, n int, seed uint64) []killPoint {
	rng := rand.New(rand.NewPCG(seed, 0x4e9a))
	var reqKinds, effectKinds []string
	for _, k := range slices.Sorted(maps.Keys(ref.requests)) {
		if k != "sf:login" && ref.requests[k] >= 4 {
			reqKinds = append(reqKinds, k)
			if isEffect(k) {
				effectKinds = append(effectKinds, k)
			}
		}
	}
	var points []killPoint
	for i := 0; len(points) < n; i++ {
		freeze := len(points)%2 == 1
		kind := reqKinds[(run*n+i)%len(reqKinds)]
		if freeze {
			kind = effectKinds[(run*n+i)%len(effectKinds)]
		}
		p := killPoint{Kind: kind, N: 1 + rng.IntN(ref.requests[kind]*3/4), After: rng.IntN(2) == 1, Freeze: freeze}
		if !slices.ContainsFunc(points, func(q killPoint) bool { return q.Kind == p.Kind && q.N == p.N }) {
			points = append(points, p)
		}
	}
	return points
}

// isEffect reports whether a kind of request is an effect's: a write, a post, a mail, a call.
func isEffect(kind string) bool {
	switch kind {
	case "sf:write", "slack:chat.postMessage", "slack:chat.update", "smtp:data", "endpoint":
		return true
	}
	return false
}

// halts counts a run's kills and freezes.
func halts(o *outcome) (kills, freezes int) {
	for _, k := range o.kills {
		if k.point.Freeze {
			freezes++
		} else {
			kills++
		}
	}
	return kills, freezes
}
