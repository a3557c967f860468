package web

import (
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// metrics are the service's Prometheus series, on a registry of their own.
type metrics struct {
	registry  *prometheus.Registry
	requests  *prometheus.CounterVec
	latency   *prometheus.HistogramVec
	created   *prometheus.CounterVec
	callbacks *prometheus.CounterVec
	policy    *prometheus.CounterVec
	watchers  *prometheus.GaugeVec
	// rateLimited counts refused creates by limit ("ip" or "global").
	rateLimited *prometheus.CounterVec
}

func newMetrics() *metrics {
	m := &metrics{
		registry: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "verifier_http_requests_total", Help: "HTTP requests by route template, method and status code.",
		}, []string{"route", "method", "code"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "verifier_http_request_duration_seconds", Help: "HTTP request latency by route template.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"route"}),
		created: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "verifier_created_total", Help: "Presentation requests and IPA sessions created.",
		}, []string{"kind"}),
		callbacks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "verifier_callbacks_total", Help: "Callbacks received by kind (entra, ipa) and outcome.",
		}, []string{"kind", "outcome"}),
		policy: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "verifier_presentation_failures_total", Help: "Presentations ending in failed, by reason code.",
		}, []string{"reason"}),
		watchers: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "verifier_sse_watchers", Help: "Open Server-Sent Events streams by kind.",
		}, []string{"kind"}),
		rateLimited: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "verifier_rate_limited_total", Help: "Creates refused by a rate limit (ip or global).",
		}, []string{"limit"}),
	}
	m.registry.MustRegister(m.requests, m.latency, m.created, m.callbacks, m.policy, m.watchers, m.rateLimited,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

func (m *metrics) observe(route, method string, status int, d time.Duration) {
	m.requests.WithLabelValues(route, method, strconv.Itoa(status)).Inc()
	m.latency.WithLabelValues(route).Observe(d.Seconds())
}
