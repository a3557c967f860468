package web_test

import (
	"net/http"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/entra-verifier/entra-verifier/web"
)

// heapInUse is the heap in use after a full collection.
func heapInUse() int64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return int64(m.HeapInuse)
}

// TestUniqueMethodsAndPathsDoNotGrowMetrics: 2,000 requests, each with a method and a path of its own, leave
// /metrics and the heap within a small constant of where they started (SPEC section 8).
func TestUniqueMethodsAndPathsDoNotGrowMetrics(t *testing.T) {
	h := newServer(t).Handler()
	metricsSize := func() int {
		rec := serve(t, h, http.MethodGet, "/metrics", nil)
		require.Equal(t, http.StatusOK, rec.Code)
		return rec.Body.Len()
	}
	warm := func(method, path string) { serve(t, h, method, path, nil) }
	// Every series the loop can legitimately touch exists before the first measurement.
	for _, p := range []string{"/nowhere", "/api/verifier/presentation-requests/x", "/"} {
		warm("BREW", p)
		warm(http.MethodGet, p)
	}
	metricsSize()
	size, heap := metricsSize(), heapInUse()

	for i := range 2000 {
		method := "M" + strconv.Itoa(i) + strings.Repeat("X", 40)
		warm(method, "/nowhere/"+strconv.Itoa(i))
		warm(method, "/api/verifier/presentation-requests/"+strconv.Itoa(i))
	}

	grown := metricsSize() - size
	assert.Less(t, grown, 2<<10, "/metrics grew by %d bytes", grown)
	heapGrown := heapInUse() - heap
	assert.Less(t, heapGrown, int64(1<<20), "the heap grew by %d bytes", heapGrown)
	body := serve(t, h, http.MethodGet, "/metrics", nil).Body.String()
	assert.True(t, strings.Contains(body, `method="other"`), "invented methods count as other")
	assert.False(t, strings.Contains(body, "M1999"), "no invented method is a label")
	assert.False(t, strings.Contains(body, "/nowhere/"), "no raw path is a label")
}

// TestMethodLabel: the nine standard methods are their own label, anything else is "other".
func TestMethodLabel(t *testing.T) {
	for _, m := range []string{"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "CONNECT", "OPTIONS", "TRACE"} {
		assert.Equal(t, m, web.MethodLabel(m))
	}
	for _, m := range []string{"", "get", "BREW", "PROPFIND", "GET ", strings.Repeat("A", 1000)} {
		assert.Equal(t, "other", web.MethodLabel(m), "%q", m)
	}
}

// FuzzMethodLabel: whatever the method, the label is one of ten known values.
func FuzzMethodLabel(f *testing.F) {
	for _, seed := range []string{"GET", "get", "BREW", "", "\x00", "POST\n"} {
		f.Add(seed)
	}
	known := map[string]bool{"GET": true, "HEAD": true, "POST": true, "PUT": true, "PATCH": true, "DELETE": true,
		"CONNECT": true, "OPTIONS": true, "TRACE": true, "other": true}
	f.Fuzz(func(t *testing.T, method string) {
		label := web.MethodLabel(method)
		if !known[label] {
			t.Fatalf("label %q for method %q is not a known value", label, method)
		}
		if label != "other" && label != method {
			t.Fatalf("method %q labelled %q", method, label)
		}
	})
}

// TestMetricsAddr: with VERIFIER_METRICS_ADDR set, /metrics is served by MetricsHandler only, and the public
// handler answers 404 there; without it, the public handler serves them.
func TestMetricsAddr(t *testing.T) {
	separate := newServer(t, "VERIFIER_METRICS_ADDR", ":9090")
	rec := serve(t, separate.Handler(), http.MethodGet, "/metrics", nil)
	assert.Equal(t, http.StatusNotFound, rec.Code, "not on the public listener")
	assert.NotContains(t, rec.Body.String(), "verifier_http_requests_total")

	rec = serve(t, separate.MetricsHandler(), http.MethodGet, "/metrics", nil)
	assert.Equal(t, http.StatusOK, rec.Code)
	assert.Contains(t, rec.Body.String(), "verifier_http_requests_total", "the public listener's requests are counted")
	assert.Equal(t, http.StatusNotFound, serve(t, separate.MetricsHandler(), http.MethodGet, "/", nil).Code, "only /metrics there")
	assert.Equal(t, http.StatusNotFound, serve(t, separate.MetricsHandler(), http.MethodGet, "/healthz", nil).Code)

	rec = serve(t, newServer(t).Handler(), http.MethodGet, "/metrics", nil)
	assert.Equal(t, http.StatusOK, rec.Code, "on the public listener by default")
}
