package web_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/entra-verifier/entra-verifier/store"
	"github.com/entra-verifier/entra-verifier/web"
)

// TestReadiness: /readyz pings the store within 2 s and answers 503 (counted as a store error) when it
// does not answer; /healthz does not depend on the store.
func TestReadiness(t *testing.T) {
	tests := []struct {
		name   string
		ping   error
		status int
		body   map[string]any
		errors string
	}{
		{"store answers", nil, http.StatusOK, map[string]any{"status": "ready"}, "0"},
		{"store down", store.ErrUnavailable, http.StatusServiceUnavailable, map[string]any{"status": "unavailable", "store": "unreachable"}, "1"},
		{"store slow", context.DeadlineExceeded, http.StatusServiceUnavailable, map[string]any{"status": "unavailable", "store": "unreachable"}, "1"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var deadline time.Duration
			h := unitServer(t, web.Options{Store: &storeFake{ping: func(ctx context.Context) error {
				d, ok := ctx.Deadline()
				require.True(t, ok, "the ping is bounded")
				deadline = time.Until(d)
				return tc.ping
			}}}).Handler()
			rec := do(h, http.MethodGet, "/readyz", nil, nil)
			assert.Equal(t, tc.status, rec.Code)
			var body map[string]any
			require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &body))
			assert.Equal(t, tc.body, body)
			assert.True(t, deadline > 0 && deadline <= 2*time.Second, "ping deadline %s", deadline)
			assert.Equal(t, tc.errors, metric(t, h, "verifier_store_errors_total"))

			rec = do(h, http.MethodGet, "/healthz", nil, nil)
			assert.Equal(t, http.StatusOK, rec.Code)
			assert.JSONEq(t, `{"status":"ok"}`, rec.Body.String())
		})
	}
}

func TestNewHTTPServerBoundsEveryPhase(t *testing.T) {
	h := http.NotFoundHandler()
	s := web.NewHTTPServer(":8443", h)
	assert.Equal(t, ":8443", s.Addr)
	assert.NotNil(t, s.Handler)
	for name, d := range map[string]time.Duration{
		"ReadHeaderTimeout": s.ReadHeaderTimeout, "ReadTimeout": s.ReadTimeout, "WriteTimeout": s.WriteTimeout, "IdleTimeout": s.IdleTimeout,
	} {
		assert.Positive(t, d, name)
	}
	assert.Less(t, s.ReadHeaderTimeout, s.ReadTimeout)
	assert.Equal(t, 64<<10, s.MaxHeaderBytes)
}

func TestNewRefusesBadTrustedProxies(t *testing.T) {
	cfg := testConfig(t)
	cfg.TrustedProxies = []string{"not-a-network"}
	_, err := web.New(web.Options{Config: cfg, Store: &storeFake{}})
	assert.Error(t, err)
}

// TestSandboxMode: every answer is marked SANDBOX and the simulated phone is served under /sandbox/ as an
// HTML page.
func TestSandboxMode(t *testing.T) {
	phone := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte("phone at " + r.URL.Path))
	})
	h := unitServer(t, web.Options{Sandbox: &web.Sandbox{Phone: phone}}).Handler()
	rec := do(h, http.MethodGet, "/sandbox/wallet", nil, nil)
	assert.Equal(t, http.StatusOK, rec.Code)
	assert.Equal(t, "phone at /sandbox/wallet", rec.Body.String())
	assert.Contains(t, rec.Header().Get("Content-Security-Policy"), "frame-ancestors 'none'")
	for _, path := range []string{"/healthz", "/no/such/route", "/"} {
		assert.Equal(t, "true", do(h, http.MethodGet, path, nil, nil).Header().Get("X-Verifier-Sandbox"), path)
	}
	rec = do(h, http.MethodGet, "/", nil, nil)
	assert.Contains(t, rec.Body.String(), `data-sandbox="true"`)

	plain := unitServer(t, web.Options{}).Handler()
	assert.Empty(t, do(plain, http.MethodGet, "/healthz", nil, nil).Header().Get("X-Verifier-Sandbox"))
	assert.Equal(t, http.StatusNotFound, do(plain, http.MethodGet, "/sandbox/wallet", nil, nil).Code)
}

// TestHalvesOff: a half that is not configured has no routes.
func TestHalvesOff(t *testing.T) {
	cfg := testConfig(t)
	presentationsOnly, err := web.New(web.Options{Config: cfg, Store: &storeFake{}, Presentations: &presentationsFake{}})
	require.NoError(t, err)
	sessionsOnly, err := web.New(web.Options{Config: cfg, Store: &storeFake{}, Sessions: &sessionsFake{}})
	require.NoError(t, err)
	tests := []struct {
		name   string
		h      http.Handler
		path   string
		status int
	}{
		{"presentations only: IPA", presentationsOnly.Handler(), "/api/ipa/sessions", http.StatusNotFound},
		{"presentations only: IPA done page", presentationsOnly.Handler(), "/ipa/done", http.StatusNotFound},
		{"presentations only: presentations", presentationsOnly.Handler(), "/api/verifier/presentation-requests", http.StatusForbidden},
		{"sessions only: presentations", sessionsOnly.Handler(), "/api/verifier/presentation-requests", http.StatusNotFound},
		{"sessions only: Entra callback", sessionsOnly.Handler(), "/api/verifier/callback", http.StatusNotFound},
		{"sessions only: IPA", sessionsOnly.Handler(), "/api/ipa/sessions", http.StatusForbidden},
	}
	for _, tc := range tests {
		// Cross-site, so that a mounted create answers 403 without calling its fake.
		rec := do(tc.h, http.MethodPost, tc.path, nil, map[string]string{"Sec-Fetch-Site": "cross-site"})
		if tc.path == "/ipa/done" {
			rec = do(tc.h, http.MethodGet, tc.path, nil, nil)
		}
		assert.Equal(t, tc.status, rec.Code, tc.name)
	}
}

// TestStaticAssets: files are served with a day's caching, directories are not listed.
func TestStaticAssets(t *testing.T) {
	h := unitServer(t, web.Options{}).Handler()
	for _, tc := range []struct {
		path, contentType string
	}{{"/static/app.css", "text/css"}, {"/static/app.js", "javascript"}, {"/static/favicon.svg", "image/svg+xml"}} {
		rec := do(h, http.MethodGet, tc.path, nil, nil)
		assert.Equal(t, http.StatusOK, rec.Code, tc.path)
		assert.Contains(t, rec.Header().Get("Content-Type"), tc.contentType, tc.path)
		assert.Equal(t, "public, max-age=86400", rec.Header().Get("Cache-Control"), tc.path)
		assert.NotEmpty(t, rec.Body.Bytes(), tc.path)
	}
	for _, path := range []string{"/static/", "/static/missing.css"} {
		assert.Equal(t, http.StatusNotFound, do(h, http.MethodGet, path, nil, nil).Code, path)
	}
	// The page links its assets with their fingerprint.
	assert.Regexp(t, `/static/app\.css\?v=[0-9a-f]{12}`, do(h, http.MethodGet, "/", nil, nil).Body.String())
}

// TestMetricsTransport: upstream calls are timed by service and status class; no answer, a 5xx and a 429
// count as upstream errors.
func TestMetricsTransport(t *testing.T) {
	m := web.NewMetrics()
	answers := map[string]int{"/ok": http.StatusOK, "/busy": http.StatusTooManyRequests, "/down": http.StatusBadGateway}
	base := roundTripFunc(func(r *http.Request) (*http.Response, error) {
		status, ok := answers[r.URL.Path]
		if !ok {
			return nil, errors.New("connection refused")
		}
		return &http.Response{StatusCode: status, Body: http.NoBody, Request: r}, nil
	})
	rt := m.Transport(base, func(r *http.Request) string { return r.URL.Host })
	for _, path := range []string{"/ok", "/ok", "/busy", "/down", "/nowhere"} {
		req := httptest.NewRequest(http.MethodGet, "https://entra.example"+path, nil)
		resp, err := rt.RoundTrip(req)
		if path == "/nowhere" {
			assert.Error(t, err)
			continue
		}
		require.NoError(t, err)
		assert.Equal(t, answers[path], resp.StatusCode)
	}
	h := unitServer(t, web.Options{Metrics: m}).Handler()
	for series, want := range map[string]string{
		`verifier_upstream_request_duration_seconds_count{code="2xx",service="entra.example"}`:   "2",
		`verifier_upstream_request_duration_seconds_count{code="4xx",service="entra.example"}`:   "1",
		`verifier_upstream_request_duration_seconds_count{code="5xx",service="entra.example"}`:   "1",
		`verifier_upstream_request_duration_seconds_count{code="error",service="entra.example"}`: "1",
		`verifier_upstream_errors_total{service="entra.example"}`:                                "3",
	} {
		assert.Equal(t, want, metric(t, h, series), series)
	}

	// With no base, the default transport is used.
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) }))
	t.Cleanup(srv.Close)
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, srv.URL, nil)
	require.NoError(t, err)
	resp, err := m.Transport(nil, func(*http.Request) string { return "local" }).RoundTrip(req)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusNoContent, resp.StatusCode)
	assert.Equal(t, "1", metric(t, h, `verifier_upstream_request_duration_seconds_count{code="2xx",service="local"}`))
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }
