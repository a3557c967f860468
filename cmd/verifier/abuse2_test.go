package main

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/entra-verifier/entra-verifier/e2e"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// secretWebhookURL carries a password and a token in its query: neither may reach a log line or an error.
const secretWebhookURL = "https://u:p@hook.example/x?token=SECRETTOKEN"

func assertNoWebhookSecret(t *testing.T, out string) {
	t.Helper()
	assert.NotContains(t, out, "SECRETTOKEN")
	assert.NotContains(t, out, ":p@", "the password")
	assert.NotContains(t, out, "@hook.example", "any userinfo")
}

// TestServeMetricsAddrAndRedactedWebhookURL runs serve (sandbox) with VERIFIER_METRICS_ADDR: /metrics answers
// there and 404 on the public listener; the start-up log names the webhook URL without its secrets.
func TestServeMetricsAddrAndRedactedWebhookURL(t *testing.T) {
	public, metrics := e2e.FreeAddr(t), e2e.FreeAddr(t)
	env := map[string]string{
		"VERIFIER_LISTEN_ADDR": public, "VERIFIER_METRICS_ADDR": metrics,
		"VERIFIER_RESULT_WEBHOOK_URL": secretWebhookURL, "VERIFIER_RESULT_WEBHOOK_SECRET": "0123456789abcdef",
	}
	logs := &e2e.SyncBuffer{}
	ctx, stop := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- serve(ctx, func(k string) string { return env[k] }, true, logs) }()
	get := func(url string) (int, string) {
		resp, err := http.Get(url)
		if err != nil {
			return 0, err.Error()
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	require.Eventually(t, func() bool { code, _ := get("http://" + public + "/healthz"); return code == http.StatusOK },
		15*time.Second, 20*time.Millisecond, "serve did not start:\n%s", logs)

	// The metrics listener starts beside the public one, not necessarily before it answers.
	require.Eventually(t, func() bool { code, _ := get("http://" + metrics + "/metrics"); return code == http.StatusOK },
		15*time.Second, 20*time.Millisecond, "the metrics listener did not start:\n%s", logs)

	code, _ := get("http://" + public + "/metrics")
	assert.Equal(t, http.StatusNotFound, code, "/metrics is not on the public listener")
	code, body := get("http://" + metrics + "/metrics")
	assert.Equal(t, http.StatusOK, code)
	assert.Contains(t, body, `verifier_http_requests_total{code="404",method="GET",route="unmatched"}`)
	code, _ = get("http://" + metrics + "/healthz")
	assert.Equal(t, http.StatusNotFound, code, "only /metrics on the metrics listener")

	stop()
	require.NoError(t, <-done)
	out := logs.String()
	assert.Contains(t, out, "https://hook.example/x?…", "the configuration logged at start names the webhook, redacted")
	for _, shown := range []string{`"VERIFIER_SANDBOX":"true"`, `"VERIFIER_CLAIMS_RETENTION":"5m"`, `"ENTRA_FACE_CHECK_PHOTO_CLAIM":"portrait"`,
		`"VERIFIER_RESULT_CLAIMS":"firstName,lastName,dateOfBirth"`, `"VERIFIER_RESULT_WEBHOOK_SECRET":"(set)"`} {
		assert.Contains(t, out, shown, "--sandbox is logged as the sandbox setting; only secrets are hidden")
	}
	assertNoWebhookSecret(t, out)
}

// TestConfigErrorHidesWebhookSecrets: serve refusing a configuration prints the bad webhook URL without its
// password or query.
func TestConfigErrorHidesWebhookSecrets(t *testing.T) {
	env := map[string]string{"VERIFIER_RESULT_WEBHOOK_URL": strings.Replace(secretWebhookURL, "https:", "http:", 1)}
	var stdout, stderr strings.Builder
	code := run([]string{"serve"}, func(k string) string { return env[k] }, &stdout, &stderr)
	assert.Equal(t, 1, code)
	out := stdout.String() + stderr.String()
	assert.Contains(t, out, `VERIFIER_RESULT_WEBHOOK_URL: must be an https URL (http only for localhost or 127.0.0.1), got "http://hook.example/x?…"`)
	assertNoWebhookSecret(t, out)
}
