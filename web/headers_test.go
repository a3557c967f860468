package web_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/entra-verifier/entra-verifier/web"
)

func serve(t *testing.T, h http.Handler, method, path string, header map[string]string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, "https://verifier.example.com"+path, strings.NewReader(""))
	for k, v := range header {
		req.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

// TestPageHeaders checks SPEC section 8 on every HTML page, and HSTS with an https public URL.
func TestPageHeaders(t *testing.T) {
	h := newServer(t).Handler()
	for _, path := range []string{"/", "/ipa/done"} {
		rec := serve(t, h, http.MethodGet, path, nil)
		assert.Equal(t, http.StatusOK, rec.Code, path)
		csp := rec.Header().Get("Content-Security-Policy")
		assert.Contains(t, csp, "default-src 'self'", path)
		assert.Contains(t, csp, "frame-ancestors 'none'", path)
		assert.NotContains(t, csp, "unsafe-inline", path)
		assert.Equal(t, "nosniff", rec.Header().Get("X-Content-Type-Options"), path)
		assert.Equal(t, "no-referrer", rec.Header().Get("Referrer-Policy"), path)
		assert.Contains(t, rec.Header().Get("Strict-Transport-Security"), "max-age=", path)
		assert.NotContains(t, rec.Body.String(), "<script>", "%s has no inline script", path)
	}
	rec := serve(t, h, http.MethodGet, "/api/verifier/presentation-requests/unknown", nil)
	assert.Equal(t, "no-store", rec.Header().Get("Cache-Control"), "API answers are never cached")
}

// TestCreateCookieAndOrigin checks the binding cookie on an https deployment and the same-origin rule
// with an Origin written differently from the public URL.
func TestCreateCookieAndOrigin(t *testing.T) {
	h := newServer(t).Handler()
	tests := []struct {
		origin string
		want   int
	}{
		{"", http.StatusCreated},
		{"https://verifier.example.com", http.StatusCreated},
		{"https://VERIFIER.example.com:443", http.StatusCreated},
		{"https://verifier.example.com.evil.example", http.StatusForbidden},
		{"http://verifier.example.com", http.StatusForbidden},
		{"null", http.StatusForbidden},
	}
	for _, tc := range tests {
		hdr := map[string]string{}
		if tc.origin != "" {
			hdr["Origin"] = tc.origin
		}
		rec := serve(t, h, http.MethodPost, "/api/verifier/presentation-requests", hdr)
		assert.Equal(t, tc.want, rec.Code, "Origin %q", tc.origin)
		cookie := rec.Header().Get("Set-Cookie")
		if tc.want != http.StatusCreated {
			assert.Empty(t, cookie, "a refused create sets no cookie")
			continue
		}
		for _, attr := range []string{"verifier_session=", "HttpOnly", "SameSite=Lax", "Secure", "Path=/"} {
			assert.Contains(t, cookie, attr)
		}
	}
}

func TestClientKey(t *testing.T) {
	for ip, want := range map[string]string{
		"203.0.113.7":             "203.0.113.7",
		"::ffff:203.0.113.7":      "203.0.113.7",
		"2001:db8:1:2:3:4:5:6":    "2001:db8:1:2::/64",
		"2001:db8:1:2:ffff::9999": "2001:db8:1:2::/64",
		"not-an-ip":               "not-an-ip",
	} {
		assert.Equal(t, want, web.ClientKey(ip), ip)
	}
}
