package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"casebot/config"
)

// services simulates the HTTP services the shipped playbooks call, so that the demo and
// `casebot sandbox` run every playbook end to end without a real provisioning system, support
// portal or partner platform:
//
//	POST /provisioning/customers/{tenant}/deactivate  → {"guids": [...]}
//	POST /support/cases                               → {"caseNumber": "SUP-…"}
//	POST /support/tenants/{tenant}/deactivate         → {"deactivatedAt": "…"}
//	POST /partners/partners/{partner}/quota/release   → {"remaining": n}
//
// Like a real service it honours Idempotency-Key: a repeated key gets the first answer.
type services struct {
	now     func() time.Time
	mu      sync.Mutex
	answers map[string][]byte // Idempotency-Key → the answer given
	cases   int
	quota   map[string]int
}

// NewServices returns the simulated services, which date their answers by now. The chaos
// harness (test/chaos) serves them to the real binary, recording each call.
func NewServices(now func() time.Time) http.Handler {
	s := &services{now: now, answers: map[string][]byte{}, quota: map[string]int{}}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /provisioning/customers/{tenant}/deactivate", s.answer(func(r *http.Request) any {
		t := r.PathValue("tenant")
		return map[string]any{"guids": []string{guid(t, 1), guid(t, 2)}}
	}))
	mux.HandleFunc("POST /support/cases", s.answer(func(r *http.Request) any {
		s.cases++
		return map[string]any{"caseNumber": fmt.Sprintf("SUP-%05d", 4100+s.cases)}
	}))
	mux.HandleFunc("POST /support/tenants/{tenant}/deactivate", s.answer(func(r *http.Request) any {
		return map[string]any{"tenant": r.PathValue("tenant"), "deactivatedAt": s.now().UTC().Format(time.RFC3339)}
	}))
	mux.HandleFunc("POST /partners/partners/{partner}/quota/release", s.answer(func(r *http.Request) any {
		p := r.PathValue("partner")
		if _, ok := s.quota[p]; !ok {
			s.quota[p] = 25
		}
		s.quota[p]++
		return map[string]any{"partner": p, "remaining": s.quota[p]}
	}))
	return mux
}

// answer serves f's answer as JSON, once per Idempotency-Key.
func (s *services) answer(f func(r *http.Request) any) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		defer s.mu.Unlock()
		key := r.Header.Get("Idempotency-Key")
		body, seen := s.answers[key]
		if !seen || key == "" {
			var err error
			if body, err = json.Marshal(f(r)); err != nil {
				http.Error(w, err.Error(), http.StatusInternalServerError)
				return
			}
			if key != "" {
				s.answers[key] = body
			}
		}
		w.Header().Set("Content-Type", "application/json")
		w.Write(body)
	}
}

// guid derives a stable GUID-shaped id for a tenant.
func guid(tenant string, n int) string {
	h := fnv.New64a()
	fmt.Fprintf(h, "%s/%d", tenant, n)
	x := h.Sum64()
	return fmt.Sprintf("%08x-%04x-%04x-%04x-%012x", uint32(x>>32), uint16(x>>16), uint16(x), n, x&0xffffffffffff)
}

// startServices serves the simulated services on addr until the returned stop is called.
func startServices(ctx context.Context, addr string, now func() time.Time, log *slog.Logger) (url string, stop func(), err error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", nil, fmt.Errorf("simulated services: %w", err)
	}
	srv := &http.Server{Handler: NewServices(now), ReadHeaderTimeout: 10 * time.Second,
		BaseContext: func(net.Listener) context.Context { return ctx }}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("simulated services", "err", err)
		}
	}()
	return "http://" + ln.Addr().String(), func() { srv.Close() }, nil
}

// exampleServices is where the example config expects the simulated services.
const exampleServices = "http://127.0.0.1:8091"

// pointEndpoints moves the endpoints of the example config to the simulated services at url.
func pointEndpoints(cfg *config.Config, url string) {
	for name, e := range cfg.Endpoints {
		e.URL = strings.Replace(e.URL, exampleServices, url, 1)
		cfg.Endpoints[name] = e
	}
}
