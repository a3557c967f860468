package web_test

import (
	"net/http"
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/entra-verifier/entra-verifier/e2e"
)

// TestCreateFloodIsRateLimited floods creates from one client address behind a trusted proxy: it gets 429
// with Retry-After once over its limit, while another address still succeeds, until the global limit.
func TestCreateFloodIsRateLimited(t *testing.T) {
	h := e2e.New(t, map[string]string{
		"VERIFIER_RATE_LIMIT_PER_IP": "3/min", "VERIFIER_RATE_LIMIT_GLOBAL": "5/min", "VERIFIER_TRUSTED_PROXIES": "127.0.0.1/32",
	})
	create := func(path, ip string) (int, []byte, http.Header) {
		return h.Do(h.Browser, http.MethodPost, path, nil, map[string]string{"X-Forwarded-For": ip})
	}
	paths := []string{"/api/verifier/presentation-requests", "/api/ipa/sessions", "/api/verifier/presentation-requests"}
	for i, path := range paths { // IPA sessions and presentation requests share the per-address budget
		status, body, _ := create(path, "203.0.113.7")
		require.Equal(t, http.StatusCreated, status, "create %d: %s", i+1, body)
	}
	calls := h.RS.Calls()
	status, body, hdr := create("/api/ipa/sessions", "203.0.113.7")
	assert.Equal(t, http.StatusTooManyRequests, status)
	assert.Equal(t, "rate_limited", e2e.ErrorCode(t, body))
	retry, err := strconv.Atoi(hdr.Get("Retry-After"))
	require.NoError(t, err)
	assert.True(t, retry > 0 && retry <= 60, "Retry-After %d", retry)
	assert.Equal(t, calls, h.RS.Calls(), "a refused create calls nobody")

	status, body, _ = create("/api/verifier/presentation-requests", "198.51.100.20")
	assert.Equal(t, http.StatusCreated, status, "another address still gets through: %s", body)
	status, _, _ = create("/api/verifier/presentation-requests", "198.51.100.21")
	assert.Equal(t, http.StatusCreated, status)
	status, body, _ = create("/api/verifier/presentation-requests", "198.51.100.22")
	assert.Equal(t, http.StatusTooManyRequests, status, "the deployment-wide limit holds: %s", body)

	// An X-Forwarded-For from an untrusted peer is ignored: the peer's own address is limited.
	u := e2e.New(t, map[string]string{"VERIFIER_RATE_LIMIT_PER_IP": "1/min"})
	s1, _, _ := u.Do(u.Browser, http.MethodPost, "/api/ipa/sessions", nil, map[string]string{"X-Forwarded-For": "192.0.2.1"})
	s2, _, _ := u.Do(u.Browser, http.MethodPost, "/api/ipa/sessions", nil, map[string]string{"X-Forwarded-For": "192.0.2.2"})
	assert.Equal(t, []int{http.StatusCreated, http.StatusTooManyRequests}, []int{s1, s2})
}
