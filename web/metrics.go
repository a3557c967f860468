package web

import (
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// Metrics are the service's Prometheus series, on a registry of their own. Create them with NewMetrics
// before the upstream clients, so their transport can be instrumented (Transport).
type Metrics struct {
	registry  *prometheus.Registry
	requests  *prometheus.CounterVec
	latency   *prometheus.HistogramVec
	created   *prometheus.CounterVec
	callbacks *prometheus.CounterVec
	policy    *prometheus.CounterVec
	watchers  *prometheus.GaugeVec
	// rateLimited counts requests refused by a limit: creates ("ip", "global"), event streams ("streams").
	rateLimited *prometheus.CounterVec
	upstream    *prometheus.HistogramVec
	upstreamErr *prometheus.CounterVec
	storeErrors prometheus.Counter
}

// NewMetrics registers every series.
func NewMetrics() *Metrics {
	m := &Metrics{
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
			Name: "verifier_rate_limited_total", Help: "Requests refused by a limit: creates per ip or global, event streams per browser (streams).",
		}, []string{"limit"}),
		upstream: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "verifier_upstream_request_duration_seconds", Help: "Calls to Microsoft, IDEMIA and the result webhook, by service and HTTP status class.",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"service", "code"}),
		upstreamErr: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "verifier_upstream_errors_total", Help: "Upstream calls that failed (no answer, timeout, or a 5xx/429 status), by service.",
		}, []string{"service"}),
		storeErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "verifier_store_errors_total", Help: "Requests that failed because the store was unreachable, and failed readiness checks.",
		}),
	}
	for _, kind := range []string{"presentation", "ipa"} { // export the series before their first event
		m.watchers.WithLabelValues(kind)
		m.created.WithLabelValues(kind)
	}
	for _, limit := range []string{"ip", "global", "streams"} {
		m.rateLimited.WithLabelValues(limit)
	}
	m.registry.MustRegister(m.requests, m.latency, m.created, m.callbacks, m.policy, m.watchers, m.rateLimited,
		m.upstream, m.upstreamErr, m.storeErrors,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// countStoreTrips exports n, the store's round trips to its server so far, as
// verifier_store_round_trips_total (the redis store counts them; a second server on the same Metrics keeps
// the first one's).
func (m *Metrics) countStoreTrips(n func() uint64) {
	_ = m.registry.Register(prometheus.NewCounterFunc(prometheus.CounterOpts{
		Name: "verifier_store_round_trips_total", Help: "Round trips to Redis (a command alone or a pipeline, per node), pub/sub aside.",
	}, func() float64 { return float64(n()) }))
}

func (m *Metrics) observe(route, method string, status int, d time.Duration) {
	m.requests.WithLabelValues(route, method, strconv.Itoa(status)).Inc()
	m.latency.WithLabelValues(route).Observe(d.Seconds())
}

// Transport instruments base: every call is timed under the service that service names (by URL).
func (m *Metrics) Transport(base http.RoundTripper, service func(*http.Request) string) http.RoundTripper {
	if base == nil {
		base = http.DefaultTransport
	}
	return roundTripper(func(r *http.Request) (*http.Response, error) {
		start := time.Now()
		resp, err := base.RoundTrip(r)
		name, code := service(r), "error"
		if resp != nil {
			code = strconv.Itoa(resp.StatusCode/100) + "xx"
		}
		m.upstream.WithLabelValues(name, code).Observe(time.Since(start).Seconds())
		if err != nil || resp.StatusCode >= 500 || resp.StatusCode == http.StatusTooManyRequests {
			m.upstreamErr.WithLabelValues(name).Inc()
		}
		return resp, err
	})
}

type roundTripper func(*http.Request) (*http.Response, error)

func (f roundTripper) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }
