package cli

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"casebot/bot"
	"casebot/bot/engine"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// statusHandler serves /healthz (the process answers), /readyz (the ledger can be written and
// the last cycle succeeded; otherwise what is wrong, in words) and /metrics (Prometheus) for
// the daemon.
// A replica without the lease is ready (it takes over when needed) and says it stands by,
// once it can reach the ledger: one that cannot would not take over.
func statusHandler(eng *engine.Engine, reg *prometheus.Registry, lease bot.Lease) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		// The check reads only: a standby's is not fenced.
		if err := eng.CheckLedger(r.Context()); err != nil {
			http.Error(w, "not ready: "+engine.Diagnose(err), http.StatusServiceUnavailable)
			return
		}
		if !lease.Held() {
			fmt.Fprintln(w, "standby: another replica holds the lease")
			return
		}
		end, err := eng.LastCycle()
		switch {
		case end.IsZero():
			http.Error(w, "not ready: the first reconcile cycle has not finished yet", http.StatusServiceUnavailable)
		case err != nil:
			http.Error(w, "not ready: "+engine.Diagnose(err), http.StatusServiceUnavailable)
		default:
			fmt.Fprintf(w, "ok: last cycle ended %s\n", end.UTC().Format(time.RFC3339))
		}
	})
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}))
	return mux
}

// newRegistry returns the daemon's metrics registry with the Go and process collectors.
func newRegistry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return reg
}

// serveStatus listens on addr and serves h until ctx is done. It returns once listening, so a
// port already in use is an error at start-up rather than a log line later.
func serveStatus(ctx context.Context, addr string, h http.Handler, log *slog.Logger) (stopped <-chan struct{}, err error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("status server: %w", err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("status server", "err", err)
		}
	}()
	context.AfterFunc(ctx, func() {
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(sctx)
	})
	log.Info("status server listening", "addr", ln.Addr().String())
	return done, nil
}

// apiUsage is what a CRM that counts its API calls offers.
type apiUsage interface {
	APIUsage() (used, max int)
}

// registerAPIUsage exports the org's daily API budget, the scarce resource every integration
// shares, so that an alert can fire before it runs out.
func registerAPIUsage(reg prometheus.Registerer, u apiUsage) {
	reg.MustRegister(
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "casebot_salesforce_api_calls_used",
			Help: "API calls the org has used today, as Salesforce's last response said.",
		}, func() float64 { used, _ := u.APIUsage(); return float64(used) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "casebot_salesforce_api_calls_max",
			Help: "The org's daily API allowance, as Salesforce's last response said.",
		}, func() float64 { _, max := u.APIUsage(); return float64(max) }),
	)
}
