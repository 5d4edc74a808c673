package sandbox

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// FaultKind is a failure the sandbox can give a data API call on demand, so that clients can
// be tested against the ways a real org fails.
type FaultKind string

const (
	// FaultUnavailable answers 503 SERVER_UNAVAILABLE, as Salesforce does when an instance is
	// overloaded or in maintenance.
	FaultUnavailable FaultKind = "unavailable"
	// FaultRequestLimit answers 403 REQUEST_LIMIT_EXCEEDED, as when the daily allowance (or a
	// concurrency limit) is used up.
	FaultRequestLimit FaultKind = "request_limit"
	// FaultLockRow fails the call's first record write with UNABLE_TO_LOCK_ROW: a 400 for a
	// single-record call, a per-record error in sObject Collections, a failed subrequest in a
	// composite. Only calls that write are eligible; a call that then writes nothing (its
	// body did not parse) passes unharmed.
	FaultLockRow FaultKind = "lock_row"
	// FaultExpireSession answers 401 INVALID_SESSION_ID and revokes the access token the call
	// presented: only a new login (or a refresh) gets a working token.
	FaultExpireSession FaultKind = "expire_session"
	// FaultLatency delays the answer by Faults.Latency (1s when that is zero) and then answers
	// normally; the delay ends early when the client goes away.
	FaultLatency FaultKind = "latency"
)

// failureKinds are the kinds that fail a call, in the order a random draw walks them.
var failureKinds = [...]FaultKind{FaultExpireSession, FaultRequestLimit, FaultUnavailable, FaultLockRow}

// defaultLatency is the delay of a latency fault when Faults.Latency is zero.
const defaultLatency = time.Second

// Faults are random faults given to a fraction of data API calls (the OAuth, identity and
// version endpoints never fail). A call gets at most one failing kind and, independently, may
// be delayed. Faulted calls are in the request log with their Fault. How they count against
// the daily allowance follows Salesforce: a 503, a 401 or a refused (403) call is not counted;
// a lock failure is an answered call and is counted, and so is a delayed one.
type Faults struct {
	// Rates is the fraction (0..1) of data calls that get each kind. The failing kinds'
	// rates may sum to at most 1; FaultLockRow's applies to writing calls only.
	Rates map[FaultKind]float64
	// Latency is the delay of a latency fault; a latency rate needs it non-zero.
	Latency time.Duration
	// Seed seeds the random draws, so that the same calls get the same faults in every run.
	Seed int64
}

// Validate reports what is wrong with f, all at once.
func (f Faults) Validate() error {
	var errs []error
	failing := 0.0
	for kind, rate := range f.Rates {
		switch {
		case !slices.Contains(failureKinds[:], kind) && kind != FaultLatency:
			errs = append(errs, fmt.Errorf("unknown fault kind %q (known: %s)", kind, knownKinds()))
		case !(rate >= 0 && rate <= 1):
			errs = append(errs, fmt.Errorf("fault %s: rate %v is not between 0 and 1", kind, rate))
		case kind == FaultLatency:
			if rate > 0 && f.Latency <= 0 {
				errs = append(errs, fmt.Errorf("fault %s: a rate of %v needs a latency above zero", kind, rate))
			}
		default:
			failing += rate
		}
	}
	if f.Latency < 0 {
		errs = append(errs, fmt.Errorf("latency %v is negative", f.Latency))
	}
	if failing > 1+1e-9 {
		errs = append(errs, fmt.Errorf("the failing faults' rates add up to %v, more than 1", failing))
	}
	return errors.Join(errs...)
}

func knownKinds() string {
	names := make([]string, 0, len(failureKinds)+1)
	for _, k := range failureKinds {
		names = append(names, string(k))
	}
	return strings.Join(append(names, string(FaultLatency)), ", ")
}

// ParseFaults reads faults from a command-line spec: comma-separated kind=rate pairs,
// "latency=DURATION" (every call delayed) or "latency=DURATION@RATE", and "seed=N", as in
// "unavailable=0.1,lock_row=0.05,latency=200ms,seed=7". The empty spec is no faults.
func ParseFaults(spec string) (Faults, error) {
	f := Faults{Rates: map[FaultKind]float64{}}
	var errs []error
	seen := map[string]bool{}
	for item := range strings.SplitSeq(spec, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		key, value, ok := strings.Cut(item, "=")
		key, value = strings.TrimSpace(key), strings.TrimSpace(value)
		if !ok || value == "" {
			errs = append(errs, fmt.Errorf("fault %q: want name=value", item))
			continue
		}
		if seen[key] {
			errs = append(errs, fmt.Errorf("fault %q given twice", key))
			continue
		}
		seen[key] = true
		switch kind := FaultKind(key); {
		case key == "seed":
			n, err := strconv.ParseInt(value, 10, 64)
			if err != nil {
				errs = append(errs, fmt.Errorf("seed %q is not an integer", value))
			}
			f.Seed = n
		case kind == FaultLatency:
			dur, rate, hasRate := strings.Cut(value, "@")
			d, err := time.ParseDuration(dur)
			if err != nil || d <= 0 {
				errs = append(errs, fmt.Errorf("latency %q is not a positive duration such as 200ms", dur))
			}
			f.Latency, f.Rates[FaultLatency] = d, 1
			if hasRate {
				f.Rates[FaultLatency] = parseRate(kind, rate, &errs)
			}
		case slices.Contains(failureKinds[:], kind):
			f.Rates[kind] = parseRate(kind, value, &errs)
		default:
			errs = append(errs, fmt.Errorf("unknown fault %q (known: %s, seed)", key, knownKinds()))
		}
	}
	if len(errs) == 0 {
		if err := f.Validate(); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return Faults{}, fmt.Errorf("reading the faults %q: %w", spec, err)
	}
	return f, nil
}

func parseRate(kind FaultKind, s string, errs *[]error) float64 {
	r, err := strconv.ParseFloat(s, 64)
	if err != nil || !(r >= 0 && r <= 1) {
		*errs = append(*errs, fmt.Errorf("fault %s: rate %q is not a number between 0 and 1", kind, s))
	}
	return r
}

// faultState is the server's fault configuration and what is still injected. The Server's
// mutex guards it.
type faultState struct {
	cfg      Faults
	rng      *rand.Rand
	injected []injection // in the order Inject was called
}

type injection struct {
	kind FaultKind
	n    int
}

func (fs *faultState) set(f Faults) {
	fs.cfg = Faults{Rates: make(map[FaultKind]float64, len(f.Rates)), Latency: f.Latency, Seed: f.Seed}
	for k, v := range f.Rates {
		fs.cfg.Rates[k] = v
	}
	fs.rng = rand.New(rand.NewPCG(uint64(f.Seed), 0x5a4d_b0c5))
}

// SetFaults replaces the random faults (and restarts their random sequence from f.Seed).
// Injected faults are kept. It panics when f is not valid (see Faults.Validate): a test's or
// a caller's mistake; ParseFaults returns the error instead.
func (s *Server) SetFaults(f Faults) {
	if err := f.Validate(); err != nil {
		panic("sandbox.SetFaults: " + err.Error())
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults.set(f)
}

// Inject makes the next n eligible data calls get kind, before any random fault: every data
// call is eligible, but for lock_row only calls that write. Injections are used in the order
// they were made; a latency injection delays a call that another injection may also fail.
// n ≤ 0 injects nothing. It panics on an unknown kind.
func (s *Server) Inject(kind FaultKind, n int) {
	if kind != FaultLatency && !slices.Contains(failureKinds[:], kind) {
		panic(fmt.Sprintf("sandbox.Inject: unknown fault kind %q (known: %s)", kind, knownKinds()))
	}
	if n <= 0 {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults.injected = append(s.faults.injected, injection{kind: kind, n: n})
}

// drawFault decides the fault of a data call (write: whether its method may write) and its
// added latency: injected faults first, then the random ones. The random draws are made for
// every call whatever the injections, so that injecting does not shift the random sequence.
func (s *Server) drawFault(write bool) (FaultKind, time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	fs := &s.faults
	var (
		fault   FaultKind
		delayed bool
	)
	for i := range fs.injected {
		in := &fs.injected[i]
		switch {
		case in.kind == FaultLatency && !delayed:
			delayed = true
			in.n--
		case in.kind == FaultLatency, fault != "", in.kind == FaultLockRow && !write:
		default:
			fault = in.kind
			in.n--
		}
	}
	fs.injected = slices.DeleteFunc(fs.injected, func(in injection) bool { return in.n == 0 })

	if rate := fs.cfg.Rates[FaultLatency]; rate > 0 && fs.rng.Float64() < rate {
		delayed = true
	}
	failing := 0.0
	for _, k := range failureKinds {
		failing += fs.cfg.Rates[k]
	}
	if failing > 0 {
		u, cum := fs.rng.Float64(), 0.0
		for _, k := range failureKinds {
			if k == FaultLockRow && !write {
				continue
			}
			cum += fs.cfg.Rates[k]
			if fault == "" && u < cum {
				fault = k
			}
		}
	}
	if !delayed {
		return fault, 0
	}
	if fs.cfg.Latency > 0 {
		return fault, fs.cfg.Latency
	}
	return fault, defaultLatency
}

// sleep waits for d, or until ctx ends; it reports whether the full wait passed.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// lockFault is a lock_row fault a call carries into its transaction: the first record the
// call writes cannot be locked.
type lockFault struct{ taken bool }

// errLocked is Salesforce's error for a record another transaction holds locked.
func errLocked(id string) *apiError {
	msg := "unable to obtain exclusive access to this record"
	if id != "" {
		msg += " or 1 records: " + id
	}
	return &apiError{Status: http.StatusBadRequest, Code: "UNABLE_TO_LOCK_ROW", Message: msg, Fields: []string{}}
}
