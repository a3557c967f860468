package web_test

import (
	"context"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/entra-verifier/entra-verifier/config"
	"github.com/entra-verifier/entra-verifier/logging"
	"github.com/entra-verifier/entra-verifier/store"
	"github.com/entra-verifier/entra-verifier/web"
)

// TestRequestID: a sane X-Request-Id is kept, anything else is replaced by a fresh id; either way it is
// answered and is the one the domain's context carries (for its logs).
func TestRequestID(t *testing.T) {
	var seen string
	h := unitServer(t, web.Options{Presentations: &presentationsFake{
		get: func(ctx context.Context, _, _ string) (*store.Presentation, error) {
			seen = logging.RequestID(ctx)
			p := pRecord
			return &p, nil
		},
	}}).Handler()
	generated := regexp.MustCompile(`^[A-Za-z0-9]{20}$`)
	tests := []struct {
		name, sent string
		kept       bool
	}{
		{"sane id", "req.ABC_123-x", true},
		{"64 characters", strings.Repeat("a", 64), true},
		{"none", "", false},
		{"65 characters", strings.Repeat("a", 65), false},
		{"spaces", "two words", false},
		{"header injection", "a\"b<c>", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			seen = ""
			hdr := map[string]string{}
			if tc.sent != "" {
				hdr["X-Request-Id"] = tc.sent
			}
			rec := do(h, http.MethodGet, "/api/verifier/presentation-requests/"+pRecord.ID, nil, hdr)
			require.Equal(t, http.StatusOK, rec.Code)
			got := rec.Header().Get("X-Request-Id")
			if tc.kept {
				assert.Equal(t, tc.sent, got)
			} else {
				assert.Regexp(t, generated, got)
			}
			assert.Equal(t, got, seen, "the context carries the answered id")
		})
	}
	a := do(h, http.MethodGet, "/healthz", nil, nil).Header().Get("X-Request-Id")
	b := do(h, http.MethodGet, "/healthz", nil, nil).Header().Get("X-Request-Id")
	assert.NotEqual(t, a, b, "generated ids differ")
}

// TestSecurityHeaders: every answer (API, error, page, metrics) carries nosniff and no-referrer; HSTS only
// when the public URL is https.
func TestSecurityHeaders(t *testing.T) {
	for _, tc := range []struct {
		publicURL string
		hsts      bool
	}{{"https://verifier.example.com", true}, {"http://localhost:8080", false}} {
		h := unitServer(t, web.Options{Config: testConfig(t, "VERIFIER_PUBLIC_URL", tc.publicURL)}).Handler()
		for _, path := range []string{"/healthz", "/metrics", "/", "/no/such/route", "/api/verifier/presentation-requests/x"} {
			rec := do(h, http.MethodGet, path, nil, nil)
			assert.Equal(t, "nosniff", rec.Header().Get("X-Content-Type-Options"), path)
			assert.Equal(t, "no-referrer", rec.Header().Get("Referrer-Policy"), path)
			assert.Equal(t, tc.hsts, strings.Contains(rec.Header().Get("Strict-Transport-Security"), "max-age=63072000"), "%s %s", tc.publicURL, path)
		}
	}
}

// TestUnroutedAnswers: an unknown path and a wrong method answer our error envelope.
func TestUnroutedAnswers(t *testing.T) {
	h := unitServer(t, web.Options{}).Handler()
	tests := []struct {
		method, path string
		status       int
		code         string
	}{
		{http.MethodGet, "/no/such/route", http.StatusNotFound, "not_found"},
		{http.MethodDelete, "/api/ipa/sessions", http.StatusMethodNotAllowed, "method_not_allowed"},
		{http.MethodPut, "/api/verifier/callback", http.StatusMethodNotAllowed, "method_not_allowed"},
		{http.MethodGet, "/static/", http.StatusNotFound, "not_found"},
	}
	for _, tc := range tests {
		rec := do(h, tc.method, tc.path, nil, nil)
		assert.Equal(t, tc.status, rec.Code, "%s %s", tc.method, tc.path)
		assert.Equal(t, tc.code, errorOf(t, rec), "%s %s", tc.method, tc.path)
	}
}

// TestSameOriginRule: browser creates are refused when their Origin is not the public URL's (compared
// normalised) or Sec-Fetch-Site says cross-site; callers with neither header pass. Nothing is created for a
// refused one.
func TestSameOriginRule(t *testing.T) {
	tests := []struct {
		name, publicURL, origin, fetchSite string
		allowed                            bool
	}{
		{"no headers", "https://verifier.example.com", "", "", true},
		{"same origin", "https://verifier.example.com", "https://verifier.example.com", "same-origin", true},
		{"default port written", "https://verifier.example.com", "https://verifier.example.com:443", "", true},
		{"upper-case scheme and host", "https://verifier.example.com", "HTTPS://Verifier.Example.COM", "", true},
		{"same-site fetch", "https://verifier.example.com", "", "same-site", true},
		{"typed into the address bar", "https://verifier.example.com", "", "none", true},
		{"http default port", "http://localhost", "http://LOCALHOST:80", "", true},
		{"explicit port", "http://localhost:8080", "http://localhost:8080", "", true},
		{"IPv6 host", "https://[2001:db8::1]:8443", "https://[2001:DB8::1]:8443", "", true},
		{"other port", "http://localhost:8080", "http://localhost:8081", "", false},
		{"missing port", "http://localhost:8080", "http://localhost", "", false},
		{"other IPv6 host", "https://[2001:db8::1]:8443", "https://[2001:db8::2]:8443", "", false},
		{"foreign origin", "https://verifier.example.com", "https://evil.example", "", false},
		{"other scheme", "https://verifier.example.com", "http://verifier.example.com", "", false},
		{"unparseable origin", "https://verifier.example.com", "https://%zz", "", false},
		{"opaque origin", "https://verifier.example.com", "null", "", false},
		{"cross-site fetch", "https://verifier.example.com", "", "cross-site", false},
		{"cross-site despite a good Origin", "https://verifier.example.com", "https://verifier.example.com", "cross-site", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var created calls
			h := unitServer(t, web.Options{
				Config: testConfig(t, "VERIFIER_PUBLIC_URL", tc.publicURL),
				Sessions: &sessionsFake{create: func(_ context.Context, owner string) (*store.IPASession, error) {
					created.add(owner)
					s := sRecord
					return &s, nil
				}},
			}).Handler()
			hdr := map[string]string{}
			if tc.origin != "" {
				hdr["Origin"] = tc.origin
			}
			if tc.fetchSite != "" {
				hdr["Sec-Fetch-Site"] = tc.fetchSite
			}
			rec := do(h, http.MethodPost, "/api/ipa/sessions", nil, hdr)
			if tc.allowed {
				assert.Equal(t, http.StatusCreated, rec.Code, rec.Body.String())
				assert.Len(t, created.list(), 1)
				return
			}
			assert.Equal(t, http.StatusForbidden, rec.Code)
			assert.Equal(t, "cross_origin", errorOf(t, rec))
			assert.Empty(t, created.list(), "a refused create calls nobody")
			assert.Empty(t, rec.Header().Get("Set-Cookie"))
		})
	}
}

// TestRecovery: a handler's panic is answered 500 through the error envelope, except net/http's own
// ErrAbortHandler, which goes on up to abort the connection.
func TestRecovery(t *testing.T) {
	var panicWith any
	h := unitServer(t, web.Options{Presentations: &presentationsFake{
		get: func(context.Context, string, string) (*store.Presentation, error) { panic(panicWith) },
	}}).Handler()

	panicWith = "store bug"
	rec := do(h, http.MethodGet, "/api/verifier/presentation-requests/x", nil, nil)
	assert.Equal(t, http.StatusInternalServerError, rec.Code)
	assert.Equal(t, "internal", errorOf(t, rec))
	assert.NotContains(t, rec.Body.String(), "store bug")
	assert.Equal(t, "1", metric(t, h, `verifier_http_requests_total{code="500",method="GET",route="/api/verifier/presentation-requests/:id"}`))

	panicWith = http.ErrAbortHandler
	assert.PanicsWithValue(t, http.ErrAbortHandler, func() {
		do(h, http.MethodGet, "/api/verifier/presentation-requests/x", nil, nil)
	})
}

// TestRateLimit drives the create guard with a fake Limiter: the per-address limit, then the global one,
// each refusal a 429 with Retry-After in whole seconds (at least 1), a failing limiter a 503, and a limit
// that is off never asked.
func TestRateLimit(t *testing.T) {
	type asked struct {
		key    string
		limit  int
		window time.Duration
	}
	tests := []struct {
		name       string
		perIP      config.Rate
		refuse     string // key refused, "" none
		retryAfter time.Duration
		err        error
		status     int
		header     string // Retry-After
		counted    string // verifier_rate_limited_total label with 1
		asked      []string
	}{
		{"under both limits", config.Rate{N: 3, Per: time.Minute}, "", 0, nil, http.StatusCreated, "", "", []string{"create:ip:192.0.2.1", "create:global"}},
		{"per address", config.Rate{N: 3, Per: time.Minute}, "create:ip:192.0.2.1", 1500 * time.Millisecond, nil, http.StatusTooManyRequests, "2", "ip", []string{"create:ip:192.0.2.1"}},
		{"global", config.Rate{N: 3, Per: time.Minute}, "create:global", 42 * time.Second, nil, http.StatusTooManyRequests, "42", "global", []string{"create:ip:192.0.2.1", "create:global"}},
		{"window about to end", config.Rate{N: 3, Per: time.Minute}, "create:ip:192.0.2.1", 0, nil, http.StatusTooManyRequests, "1", "ip", []string{"create:ip:192.0.2.1"}},
		{"limiter down", config.Rate{N: 3, Per: time.Minute}, "", 0, store.ErrUnavailable, http.StatusServiceUnavailable, "5", "", []string{"create:ip:192.0.2.1"}},
		{"per-address limit off", config.Rate{}, "", 0, nil, http.StatusCreated, "", "", []string{"create:global"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := testConfig(t)
			cfg.RateLimitPerIP = tc.perIP
			cfg.RateLimitGlobal = config.Rate{N: 10, Per: time.Hour}
			var got []asked
			var created calls
			h := unitServer(t, web.Options{
				Config: cfg,
				Store: &storeFake{allow: func(_ context.Context, key string, limit int, window time.Duration) (bool, time.Duration, error) {
					got = append(got, asked{key, limit, window})
					if tc.err != nil {
						return false, 0, tc.err
					}
					return key != tc.refuse, tc.retryAfter, nil
				}},
				Presentations: &presentationsFake{create: func(_ context.Context, owner, _ string) (*store.Presentation, error) {
					created.add(owner)
					p := pRecord
					return &p, nil
				}},
			}).Handler()
			rec := do(h, http.MethodPost, "/api/verifier/presentation-requests", nil, nil)
			assert.Equal(t, tc.status, rec.Code, rec.Body.String())
			assert.Equal(t, tc.header, rec.Header().Get("Retry-After"))
			var keys []string
			for _, a := range got {
				keys = append(keys, a.key)
				if strings.HasPrefix(a.key, "create:ip:") {
					assert.Equal(t, asked{a.key, tc.perIP.N, tc.perIP.Per}, a)
				} else {
					assert.Equal(t, asked{a.key, 10, time.Hour}, a)
				}
			}
			assert.Equal(t, tc.asked, keys)
			if tc.status != http.StatusCreated {
				assert.Empty(t, created.list(), "a refused create calls nobody")
				want := map[int]string{http.StatusTooManyRequests: "rate_limited", http.StatusServiceUnavailable: "store_unavailable"}[tc.status]
				assert.Equal(t, want, errorOf(t, rec))
			}
			for _, limit := range []string{"ip", "global"} {
				want := "0"
				if limit == tc.counted {
					want = "1"
				}
				assert.Equal(t, want, metric(t, h, `verifier_rate_limited_total{limit="`+limit+`"}`), limit)
			}
		})
	}
}
