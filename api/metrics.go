package api

import (
	"crypto/sha256"
	"crypto/subtle"
	"net/http"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/spawnit/spawnit/engine"
	"github.com/spawnit/spawnit/pkg/platform"
)

// Metrics are the server's Prometheus metrics, on a registry of their own (so tests
// can run several servers in one process). They implement platform.Observer.
type Metrics struct {
	reg            *prometheus.Registry
	jobs           *prometheus.CounterVec
	jobDuration    *prometheus.HistogramVec
	driftChecks    *prometheus.CounterVec
	httpRequests   *prometheus.CounterVec
	httpDuration   *prometheus.HistogramVec
	sseSubscribers *prometheus.GaugeVec
	sseDropped     *prometheus.CounterVec
}

var _ platform.Observer = (*Metrics)(nil)

// NewMetrics creates and registers the metrics, with Go runtime and process metrics.
func NewMetrics() *Metrics {
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		jobs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "spawnit_jobs_total", Help: "Jobs that ended, by operation and final state.",
		}, []string{"operation", "state"}),
		jobDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "spawnit_job_duration_seconds", Help: "How long jobs ran, by operation.",
			Buckets: []float64{1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800},
		}, []string{"operation"}),
		driftChecks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "spawnit_drift_checks_total", Help: "Completed drift checks, by resulting status.",
		}, []string{"status"}),
		httpRequests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "spawnit_http_requests_total", Help: "HTTP requests, by route, method and status.",
		}, []string{"route", "method", "status"}),
		httpDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "spawnit_http_request_duration_seconds", Help: "HTTP request durations (streams: their whole life), by route and method.",
			Buckets: prometheus.DefBuckets,
		}, []string{"route", "method"}),
		sseSubscribers: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "spawnit_sse_subscribers", Help: "Open Server-Sent Events streams, by stream kind (job, tenant).",
		}, []string{"stream"}),
		sseDropped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "spawnit_sse_dropped_total", Help: "Streams ended because the client could not keep up, by stream kind.",
		}, []string{"stream"}),
	}
	m.reg.MustRegister(m.jobs, m.jobDuration, m.driftChecks, m.httpRequests, m.httpDuration, m.sseSubscribers, m.sseDropped,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	for _, s := range []string{streamJob, streamTenant} {
		m.sseSubscribers.WithLabelValues(s)
		m.sseDropped.WithLabelValues(s)
	}
	return m
}

// JobEnded implements platform.Observer.
func (m *Metrics) JobEnded(info engine.JobInfo) {
	m.jobs.WithLabelValues(string(info.Operation), string(info.State)).Inc()
	if info.StartedAt != nil {
		m.jobDuration.WithLabelValues(string(info.Operation)).Observe(info.Duration().Seconds())
	}
}

// DriftChecked implements platform.Observer.
func (m *Metrics) DriftChecked(report engine.DriftReport) {
	m.driftChecks.WithLabelValues(string(report.Status)).Inc()
}

// Handler serves the metrics in the Prometheus text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}

// Registry is where the metrics live, for callers that add their own.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// MetricsHandler serves the metrics, behind Config.MetricsToken when one is set (401
// without it or with another). It is what /metrics answers, or what a listener of its
// own serves.
func (s *Server) MetricsHandler() http.Handler {
	h := s.metrics.Handler()
	if s.cfg.MetricsToken == "" {
		return h
	}
	// Comparing digests keeps the comparison constant-time whatever the lengths.
	want := sha256.Sum256([]byte(s.cfg.MetricsToken))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		scheme, token, _ := strings.Cut(r.Header.Get("Authorization"), " ")
		got := sha256.Sum256([]byte(strings.TrimSpace(token)))
		if !strings.EqualFold(scheme, "Bearer") || subtle.ConstantTimeCompare(got[:], want[:]) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="spawnit-metrics"`)
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = w.Write([]byte(`{"error":{"code":"unauthenticated","message":"metrics need the operator's bearer token"}}` + "\n"))
			return
		}
		h.ServeHTTP(w, r)
	})
}
