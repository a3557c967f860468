package verifier_test

import (
	"crypto/tls"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/entra-verifier/entra-verifier/app"
	"github.com/entra-verifier/entra-verifier/e2e"
	"github.com/entra-verifier/entra-verifier/sandbox"
)

// TestUpstreamHangs checks that a Microsoft or IDEMIA that stops answering costs the page one clean
// 504, bounded by the outbound timeout, and that the service answers again as soon as the upstream does.
func TestUpstreamHangs(t *testing.T) {
	h := e2e.New(t, nil)
	impatient := &http.Client{Timeout: 300 * time.Millisecond, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: h.FakesCA}}}
	svc, err := app.New(t.Context(), h.Cfg, nil, impatient, nil)
	require.NoError(t, err)
	defer svc.Close()
	srv := httptest.NewServer(svc.Server.Handler())
	defer srv.Close()
	post := func(path string) (int, []byte) {
		req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, srv.URL+path, nil)
		require.NoError(t, err)
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		var body [512]byte
		n, _ := resp.Body.Read(body[:])
		return resp.StatusCode, body[:n]
	}

	// Warm the Microsoft token first, so the hang hits the Request Service itself.
	status, body := post("/api/verifier/presentation-requests")
	require.Equal(t, http.StatusCreated, status, string(body))
	h.RS.SetDelay(2 * time.Second)
	status, body = post("/api/verifier/presentation-requests")
	assert.Equal(t, http.StatusGatewayTimeout, status)
	assert.Equal(t, "timeout", e2e.ErrorCode(t, body))
	h.RS.SetDelay(0)
	status, _ = post("/api/verifier/presentation-requests")
	assert.Equal(t, http.StatusCreated, status, "the service recovers with the upstream")

	h.IPA.SetFailure(sandbox.IPAHang)
	status, body = post("/api/ipa/sessions")
	assert.Equal(t, http.StatusGatewayTimeout, status)
	assert.Equal(t, "timeout", e2e.ErrorCode(t, body))
	h.IPA.SetFailure(sandbox.IPAWorking)
	status, _ = post("/api/ipa/sessions")
	assert.Equal(t, http.StatusCreated, status)
}
