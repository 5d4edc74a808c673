package chaos

import (
	"fmt"
	"maps"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"slices"
	"sync"
	"syscall"
	"time"
)

// killPoint is a moment at which the harness SIGKILLs the running casebot: at the Nth request
// of a kind the run's children make (before the server handles it, or after the server handled
// it and before the child can read the answer), or a delay after a cycle's first child started.
// In a replica run a kill point may freeze the acting replica (SIGSTOP) instead.
type killPoint struct {
	Kind  string // request kind ("sf:write", "slack:chat.postMessage", "smtp:data", …); "" for a delay kill
	N     int    // the Nth request of Kind in the run, from 1
	After bool   // the server handled it; its answer never reaches the child (a frozen one: until resumed)
	// Freeze stops the child with SIGSTOP until the harness resumes it: a request before is
	// then refused, a request after answered.
	Freeze bool
	// A delay kill kills the first child of cycle Cycle (from 0) Delay after it started.
	Cycle int
	Delay time.Duration
}

func (k killPoint) String() string {
	if k.Kind == "" {
		return fmt.Sprintf("%v into cycle %d", k.Delay.Round(time.Millisecond), k.Cycle)
	}
	when := "before"
	if k.After {
		when = "after"
	}
	if k.Freeze {
		when = "freeze " + when
	}
	return fmt.Sprintf("%s %s #%d", when, k.Kind, k.N)
}

// child is one run of `casebot once`, or one replica (`casebot run`) of a replica run.
type child struct {
	id      int // its place among the run's children, from 1
	cmd     *exec.Cmd
	started chan struct{} // closed once cmd.Start returned
	exited  chan struct{} // closed once the process is reaped
	// A replica's: a freeze point that stopped it hands the harness, here, what to close once
	// it sent SIGCONT. Nil for a child of once.
	frozen chan chan struct{}

	// Under the trap's mutex:
	lastSeq int        // the run's sequence number of the child's latest request
	point   *killPoint // what the harness killed it at, nil when it did not try
}

// kill SIGKILLs the child and returns once it is reaped, so that a request it made is never
// answered to it.
func (c *child) kill() {
	<-c.started
	if c.cmd.Process != nil {
		_ = c.cmd.Process.Kill() // fails only when it has exited already
	}
	<-c.exited
}

// halt stops the child at kill point p: SIGKILL, returning once it is reaped, or SIGSTOP,
// returning once the harness resumed it.
func (c *child) halt(p *killPoint) {
	if !p.Freeze {
		c.kill()
		return
	}
	<-c.started
	if err := c.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		return // it has exited
	}
	resumed := make(chan struct{})
	c.frozen <- resumed
	<-resumed
}

// halted reports whether the child was killed, or (a replica) frozen at a kill point: either
// way it could not record what its last request did. Under the trap's mutex.
func (c *child) halted() bool {
	if c.frozen != nil && c.point != nil {
		return true
	}
	return c.cmd.ProcessState != nil && c.killed()
}

// killed reports whether the child died of SIGKILL (and not of its own accord just before).
func (c *child) killed() bool {
	ws, ok := c.cmd.ProcessState.Sys().(syscall.WaitStatus)
	return ok && ws.Signaled() && ws.Signal() == syscall.SIGKILL
}

// fault is a failure the harness gives one of the child's requests.
type fault string

const (
	faultUnavailable    fault = "503"                    // sandbox: SERVER_UNAVAILABLE, once or in a burst that outlasts the client's retries
	faultRequestLimit   fault = "REQUEST_LIMIT_EXCEEDED" // sandbox
	faultLockRow        fault = "UNABLE_TO_LOCK_ROW"     // sandbox, writes only
	faultExpiredTwice   fault = "expired session ×2"     // sandbox: INVALID_SESSION_ID, and again after the new login
	faultSlackRateLimit fault = "Slack 429"              // slacksim: 429 with Retry-After
	// faultLostAnswer has the server do what a write asks and cut the connection before the
	// answer: what a kill after a request does, to a casebot that lives on.
	faultLostAnswer fault = "answer lost"
)

// verdict is what the trap decided about one request.
type verdict struct {
	child *child     // the running child that made it; nil for the harness's own requests
	seq   int        // its sequence number in the run
	kill  *killPoint // the kill point it reached, nil for none
	fault fault
}

// trap counts the requests the running child makes to the run's servers, kills the child at
// the planned kill points, and draws the faults of a fault run. Requests made while no child
// runs (the people, the harness's own reads) are neither counted nor faulted.
type trap struct {
	mu     sync.Mutex
	child  *child
	seq    int
	counts map[string]int    // requests by kind
	points []killPoint       // request kill points not reached yet
	rates  map[fault]float64 // the fraction of the requests eligible for a fault that get it; nil for none
	rng    *rand.Rand
	drawn  map[fault]int // faults given, by kind
}

func newTrap(points []killPoint, rates map[fault]float64, seed uint64) *trap {
	return &trap{counts: map[string]int{}, points: points, rates: rates,
		rng: rand.New(rand.NewPCG(seed, 0xc4a05)), drawn: map[fault]int{}}
}

// current returns the running child, nil between cycles.
func (tr *trap) current() *child {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	return tr.child
}

// run makes c the running child until its end is called.
func (tr *trap) run(c *child) (end func()) {
	tr.mu.Lock()
	tr.child = c
	tr.mu.Unlock()
	return func() {
		tr.mu.Lock()
		if tr.child == c {
			tr.child = nil
		}
		tr.mu.Unlock()
	}
}

// enter decides the fate of a request of kind from c, which may get one of eligible faults,
// tried in their order. A request of a child that is no longer the running one (still in flight when it was killed)
// is only attributed to it.
func (tr *trap) enter(c *child, kind string, eligible ...fault) verdict {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	if c == nil || c != tr.child {
		return verdict{child: c}
	}
	tr.seq++
	tr.counts[kind]++
	c.lastSeq = tr.seq
	v := verdict{child: c, seq: tr.seq}
	if i := slices.IndexFunc(tr.points, func(p killPoint) bool { return p.Kind == kind && p.N == tr.counts[kind] }); i >= 0 {
		p := tr.points[i]
		tr.points = slices.Delete(tr.points, i, i+1)
		c.point, v.kill = &p, &p
		tr.child = nil // its other requests in flight are not counted
		return v
	}
	for _, f := range eligible {
		if r := tr.rates[f]; r > 0 && tr.rng.Float64() < r {
			v.fault = f
			tr.drawn[f]++
			break
		}
	}
	return v
}

// sequence returns how many requests the run's children made so far.
func (tr *trap) sequence() int {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	return tr.seq
}

// intn draws from the run's random sequence, for the size of a fault.
func (tr *trap) intn(n int) int {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	return tr.rng.IntN(n)
}

// killAfter arms a delay kill of c.
func (tr *trap) killAfter(c *child, p killPoint) (stop func() bool) {
	return time.AfterFunc(p.Delay, func() {
		tr.mu.Lock()
		select {
		case <-c.exited:
			tr.mu.Unlock()
			return
		default:
		}
		if c.point != nil { // a request kill point got it first
			tr.mu.Unlock()
			return
		}
		c.point = &p
		if tr.child == c {
			tr.child = nil
		}
		tr.mu.Unlock()
		c.kill()
	}).Stop
}

// stats returns the requests counted by kind and the faults given by kind.
func (tr *trap) stats() (map[string]int, map[fault]int) {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	return maps.Clone(tr.counts), maps.Clone(tr.drawn)
}

// serve puts next behind the trap: each request of the running child is counted under
// kind(r) and, at a kill point, the child is killed before next handles it, or after next
// handled it into a recorder, so that its answer never reaches the child (a frozen child's
// request before is cut off once it is resumed, one after is answered then). A request may get
// one of the faults eligible(r) names: a lost answer is given here, the others are set up by
// inject before next handles the request.
func (tr *trap) serve(next http.Handler, kind func(*http.Request) string, eligible func(*http.Request) []fault,
	inject func(*http.Request, fault)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var can []fault
		if eligible != nil {
			can = eligible(r)
		}
		v := tr.enter(tr.current(), kind(r), can...)
		switch {
		case v.kill != nil && !v.kill.After:
			v.child.halt(v.kill)
			panic(http.ErrAbortHandler) // a killed child is gone; a resumed one finds no answer
		case v.kill != nil:
			rec := httptest.NewRecorder()
			next.ServeHTTP(rec, r) // the child waits for the answer meanwhile
			v.child.halt(v.kill)
			maps.Copy(w.Header(), rec.Header())
			w.WriteHeader(rec.Code)
			_, _ = w.Write(rec.Body.Bytes())
			return
		case v.fault == faultLostAnswer:
			next.ServeHTTP(httptest.NewRecorder(), r)
			panic(http.ErrAbortHandler) // net/http's way to close the connection without an answer
		case v.fault != "":
			inject(r, v.fault)
		}
		next.ServeHTTP(w, r)
	})
}
