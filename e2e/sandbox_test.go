package e2e

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/entra-verifier/entra-verifier/sandbox"
)

// sandboxProcess is the binary running with --sandbox and an empty environment.
type sandboxProcess struct {
	base    string
	browser *http.Client
	logs    *SyncBuffer
}

func startSandboxBinary(t *testing.T) *sandboxProcess {
	t.Helper()
	addr := FreeAddr(t)
	start := time.Now()
	proc := startProcess(t, []string{"serve", "--sandbox"}, []string{"VERIFIER_LISTEN_ADDR=" + addr})
	base := "http://" + addr
	proc.waitReady(t, base+"/readyz")
	t.Logf("sandbox start-up to first successful /readyz: %v", time.Since(start))
	logs := proc.logs
	return &sandboxProcess{base: base, browser: NewBrowser(t), logs: logs}
}

// call makes a request as the person's browser and decodes a JSON answer into out (when not nil).
func (p *sandboxProcess) call(t *testing.T, method, path string, form url.Values, out any) (int, http.Header, string) {
	t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequestWithContext(t.Context(), method, p.base+path, body)
	require.NoError(t, err)
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	resp, err := p.browser.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	if out != nil {
		require.NoError(t, json.Unmarshal(b, out), string(b))
	}
	return resp.StatusCode, resp.Header, string(b)
}

func TestSandboxJourneys(t *testing.T) {
	p := startSandboxBinary(t)
	assert.Contains(t, p.logs.String(), "entra-verifier SANDBOX: open "+p.base+"/")

	t.Run("IPA", func(t *testing.T) {
		for _, tc := range []struct{ outcome, want string }{{"completed", "completed"}, {"error", "error"}, {"dropped", "timeout"}} {
			t.Run(tc.outcome, func(t *testing.T) {
				var s struct{ SessionID, StartURL string }
				status, hdr, body := p.call(t, http.MethodPost, "/api/ipa/sessions", nil, &s)
				require.Equal(t, http.StatusCreated, status, body)
				assert.Equal(t, "true", hdr.Get("X-Verifier-Sandbox"))
				start, ok := strings.CutPrefix(s.StartURL, p.base)
				require.True(t, ok, "the IPA start URL is the simulated phone: %s", s.StartURL)
				status, _, page := p.call(t, http.MethodGet, start, nil, nil)
				require.Equal(t, http.StatusOK, status)
				assert.Contains(t, page, "SANDBOX")
				status, _, page = p.call(t, http.MethodPost, "/sandbox/ipa/finish",
					url.Values{"session-id": {s.SessionID}, "person": {"megan"}, "outcome": {tc.outcome}}, nil)
				require.Equal(t, http.StatusOK, status)
				assert.Contains(t, page, "No Content", "IDEMIA's fake got our 204")
				var st map[string]any
				require.Eventually(t, func() bool {
					p.call(t, http.MethodGet, "/api/ipa/sessions/"+s.SessionID, nil, &st)
					return st["status"] == tc.want && (tc.want != "completed" || st["identity"] != nil)
				}, 5*time.Second, 50*time.Millisecond, "last status %v", st)
				if tc.want == "completed" {
					assert.Equal(t, "LOA2", st["identity"].(map[string]any)["levelOfAssurance"])
				}
			})
		}
	})

	t.Run("presentation", func(t *testing.T) {
		for _, tc := range []struct{ outcome, status, reason string }{
			{"verified", "verified", ""},
			{"revoked", "failed", "credential_revoked"},
			{"wrong_issuer", "failed", "issuer_not_accepted"},
			{"face_check_failed", "failed", "face_check_failed"},
			{"declined", "failed", "presentation_error"},
		} {
			t.Run(tc.outcome, func(t *testing.T) {
				var c Created
				status, _, body := p.call(t, http.MethodPost, "/api/verifier/presentation-requests", nil, &c)
				require.Equal(t, http.StatusCreated, status, body)
				phone := sandbox.PhoneURL(c.URL)
				require.NotEmpty(t, phone, c.URL)
				status, _, page := p.call(t, http.MethodGet, phone, nil, nil)
				require.Equal(t, http.StatusOK, status)
				assert.Contains(t, page, "Share your verified identity?")
				var st map[string]any
				p.call(t, http.MethodGet, "/api/verifier/presentation-requests/"+c.RequestID, nil, &st)
				assert.Equal(t, "retrieved", st["status"], "opening the request on the phone is request_retrieved")

				status, _, _ = p.call(t, http.MethodPost, "/sandbox/phone/present",
					url.Values{"request": {c.RequestID}, "person": {"alex"}, "outcome": {tc.outcome}}, nil)
				require.Equal(t, http.StatusOK, status)
				p.call(t, http.MethodGet, "/api/verifier/presentation-requests/"+c.RequestID, nil, &st)
				assert.Equal(t, tc.status, st["status"])
				assert.Equal(t, tc.reason, stringOr(st["reason"]))
				if tc.status == "verified" {
					claims := st["claims"].(map[string]any)
					assert.Equal(t, "Alex", claims["firstName"])
					assert.Equal(t, "Wilber", claims["lastName"])
					assert.NotEmpty(t, claims["portrait"])
				}
			})
		}
	})
	for _, Person := range sandbox.People {
		assert.NotContains(t, p.logs.String(), Person.LastName, "claims are never logged")
	}

	// After the journeys, /metrics shows what operators watch.
	status, _, metrics := p.call(t, http.MethodGet, "/metrics", nil, nil)
	require.Equal(t, http.StatusOK, status)
	for _, series := range []string{
		`verifier_created_total{kind="presentation"} 5`,
		`verifier_created_total{kind="ipa"} 3`,
		`verifier_callbacks_total{kind="entra",outcome="verified"} 1`,
		`verifier_callbacks_total{kind="entra",outcome="retrieved"} 5`,
		`verifier_callbacks_total{kind="ipa",outcome="timeout"} 1`,
		`verifier_presentation_failures_total{reason="credential_revoked"} 1`,
		`verifier_presentation_failures_total{reason="face_check_failed"} 1`,
		`verifier_upstream_request_duration_seconds_count{code="2xx",service="entra_request_service"} 5`,
		`verifier_upstream_request_duration_seconds_count{code="2xx",service="idemia_ipa"} 3`,
		`verifier_upstream_request_duration_seconds_count{code="2xx",service="entra_identity"}`,
		`verifier_upstream_request_duration_seconds_count{code="2xx",service="idemia_idv"}`,
		`verifier_http_requests_total{code="201",method="POST",route="/api/verifier/presentation-requests"} 5`,
		`verifier_store_errors_total 0`,
		`verifier_sse_watchers{kind="presentation"} 0`,
		`verifier_rate_limited_total{limit="ip"} 0`,
	} {
		assert.True(t, strings.Contains(metrics, series), "/metrics lacks %s", series)
	}
}

func TestSandboxRefusesRealCredentials(t *testing.T) {
	cmd := exec.Command(binary(t), "--sandbox")
	cmd.Env = []string{"IPA_CLIENT_SECRET=real-secret", "VERIFIER_LISTEN_ADDR=" + FreeAddr(t)}
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	require.ErrorAs(t, err, &exit)
	assert.Equal(t, 1, exit.ExitCode())
	assert.Contains(t, string(out), "sandbox refuses to start while real credentials are configured (IPA_CLIENT_SECRET)")
}
