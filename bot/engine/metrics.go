package engine

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the engine's Prometheus metrics, registered on the Registerer the caller passes
// (never the global one).
type metrics struct {
	cycles    *prometheus.CounterVec
	duration  prometheus.Histogram
	effects   *prometheus.CounterVec
	openCases prometheus.Gauge
	lastOK    prometheus.Gauge

	failedForGood prometheus.Counter
	recovered     *prometheus.CounterVec
	ledgerWrites  prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		cycles: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "casebot_cycles_total", Help: "Reconcile cycles run, by result (ok or error).",
		}, []string{"result"}),
		duration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "casebot_cycle_duration_seconds", Help: "How long a reconcile cycle took.",
			Buckets: prometheus.ExponentialBuckets(0.05, 2, 12),
		}),
		effects: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "casebot_effects_total", Help: "Effects performed, skipped or failed, by kind.",
		}, []string{"kind", "outcome"}),
		openCases: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "casebot_open_cases", Help: "Open cases the playbooks applied to in the last cycle.",
		}),
		lastOK: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "casebot_last_successful_cycle_timestamp_seconds", Help: "When the last cycle without error ended.",
		}),
		failedForGood: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "casebot_effects_failed_for_good_total", Help: "Effects that failed with a permanent error and wait for casebot retry.",
		}),
		recovered: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "casebot_effects_recovered_total",
			Help: "Effects of an interrupted attempt that the provider already had, by kind: confirmed, not performed again.",
		}, []string{"kind"}),
		ledgerWrites: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "casebot_ledger_transactions_total", Help: "Ledger write transactions (one per batch of entries).",
		}),
	}
	if reg != nil {
		reg.MustRegister(m.cycles, m.duration, m.effects, m.openCases, m.lastOK, m.failedForGood, m.recovered, m.ledgerWrites)
	}
	return m
}

func (m *metrics) cycle(rep Report, err error, took time.Duration, end time.Time) {
	m.duration.Observe(took.Seconds())
	m.openCases.Set(float64(rep.Cases))
	if err != nil {
		m.cycles.WithLabelValues("error").Inc()
		return
	}
	m.cycles.WithLabelValues("ok").Inc()
	m.lastOK.Set(float64(end.Unix()))
}
