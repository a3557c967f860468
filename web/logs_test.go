package web_test

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/entra-verifier/entra-verifier/e2e"
	"github.com/entra-verifier/entra-verifier/logging"
	"github.com/entra-verifier/entra-verifier/sandbox"
	"github.com/entra-verifier/entra-verifier/verifier"
)

// lockedBuffer collects log lines from many goroutines.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestLogsHoldNoPersonalDataOrSecrets runs whole journeys — including refused callbacks — with the
// production logger at debug level, captures every line, and fails if a claim value, token, api-key,
// callback token or configured secret appears in any of them.
func TestLogsHoldNoPersonalDataOrSecrets(t *testing.T) {
	var logs lockedBuffer
	previous := slog.Default()
	slog.SetDefault(logging.New(&logs, slog.LevelDebug))
	t.Cleanup(func() { slog.SetDefault(previous) })

	h := e2e.New(t, nil)
	person := sandbox.People[2]
	session := h.CreateSession()
	h.EndSession(session.SessionID, sandbox.IPACompleted)
	require.Eventually(t, func() bool { return h.SessionOf(session.SessionID)["identity"] != nil }, 5*time.Second, 20*time.Millisecond)

	c := h.Create()
	rec, ok := h.RS.Request(c.RequestID)
	require.True(t, ok)
	state := rec.Request.Callback.State
	apiKey := verifier.APIKey([]byte(e2e.TestSecret), state)
	code, _ := h.Callback("wrong-"+apiKey, `{"requestId":"`+c.RequestID+`","state":"`+state+`","requestStatus":"request_retrieved"}`)
	require.Equal(t, http.StatusUnauthorized, code)
	code, _ = h.Callback(apiKey, `{"requestId":"`+c.RequestID+`","state":"`+state+`","requestStatus":"presentation_verified","verifiedCredentialsData":"`+person.Portrait()+`"}`)
	require.Equal(t, http.StatusBadRequest, code)
	require.Equal(t, http.StatusOK, h.Send(c.RequestID, sandbox.Retrieved()))
	require.Equal(t, http.StatusOK, h.Send(c.RequestID, sandbox.Verified(sandbox.VerifiedIdentity(e2e.USDID, person.Claims()))))
	assert.Equal(t, person.FirstName, h.StatusOf(c.RequestID)["claims"].(map[string]any)["firstName"])

	secrets := map[string]string{
		"first name": person.FirstName, "last name": person.LastName, "date of birth": person.DateOfBirth,
		"portrait": person.Portrait()[:40], "callback secret": e2e.TestSecret, "api-key": apiKey, "state": state,
		"Entra client secret": "client-secret", "IDEMIA client secret": "ipa-secret", "GIPS api key": "gips-key",
		"IPA callback token": strings.TrimPrefix(h.CallbackURL(session.SessionID), h.URL+"/api/ipa/callback/"),
	}
	for i, tok := range append(h.IdP.Tokens(), h.Cognito.Tokens()...) {
		secrets["access token "+string(rune('a'+i))] = tok
	}
	out := logs.String()
	require.Contains(t, out, `"request_id"`, "the journey was logged")
	for name, value := range secrets {
		require.NotEmpty(t, value, name)
		assert.NotContains(t, out, value, "%s leaked into the logs", name)
	}
}

// TestJourneyLogsHoldNoKeyOrLaunchToken runs a backend journey end to end — create, wrong and right keys,
// the link opened twice and by a stranger, both steps, status, identity and proof, the webhook — with the
// production logger at debug level, and fails if a backend API key or the launch token appears in any log
// line (the key's NAME is what the logs carry).
func TestJourneyLogsHoldNoKeyOrLaunchToken(t *testing.T) {
	var logs lockedBuffer
	previous := slog.Default()
	slog.SetDefault(logging.New(&logs, slog.LevelDebug))
	t.Cleanup(func() { slog.SetDefault(previous) })

	const key, other = "crm-key-0123456789abcdef0123456789abcdef", "old-key-0123456789abcdef0123456789abcdef"
	recv, hook := e2e.NewReceiver(t, 0)
	env := map[string]string{"VERIFIER_API_KEYS": "crm:" + key + ",old:" + other}
	for k, v := range hook {
		env[k] = v
	}
	h := e2e.New(t, env)
	call := func(k, method, path, body string) (int, []byte) {
		hdr := map[string]string{"Content-Type": "application/json"}
		if k != "" {
			hdr["Authorization"] = "Bearer " + k
		}
		var rd io.Reader
		if body != "" {
			rd = strings.NewReader(body)
		}
		status, b, _ := h.Do(http.DefaultClient, method, path, rd, hdr)
		return status, b
	}
	status, _ := call(key+"x", http.MethodPost, "/api/backend/journeys", `{"reference":"case-logs"}`)
	require.Equal(t, http.StatusUnauthorized, status)
	status, _ = call("", http.MethodGet, "/api/backend/unknown/"+key, "")
	require.Equal(t, http.StatusUnauthorized, status)
	status, b := call(key, http.MethodPost, "/api/backend/journeys", `{"reference":"case-logs"}`)
	require.Equal(t, http.StatusCreated, status, string(b))
	var created struct{ JourneyID, LaunchURL string }
	require.NoError(t, json.Unmarshal(b, &created))
	token := strings.TrimPrefix(created.LaunchURL, h.Cfg.URL("/start/"))
	require.NotEqual(t, created.LaunchURL, token)

	noRedirect := func(c *http.Client) *http.Client {
		nc := *c
		nc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
		return &nc
	}
	for _, c := range []*http.Client{h.Browser, h.Browser, h.Stranger} {
		status, _, _ := h.Do(noRedirect(c), http.MethodGet, "/start/"+token, nil, nil)
		require.Contains(t, []int{http.StatusSeeOther, http.StatusGone}, status)
	}
	session := h.CreateSession()
	h.EndSession(session.SessionID, sandbox.IPACompleted)
	require.Eventually(t, func() bool { return h.SessionOf(session.SessionID)["identity"] != nil }, 5*time.Second, 20*time.Millisecond)
	c := h.Create()
	require.Equal(t, http.StatusOK, h.Send(c.RequestID, sandbox.Verified(sandbox.VerifiedIdentity(e2e.USDID, e2e.Person()))))
	for _, path := range []string{"", "/identity", "/proof"} {
		status, b := call(other, http.MethodGet, "/api/backend/journeys/"+created.JourneyID+path, "")
		require.Equal(t, http.StatusOK, status, "%s: %s", path, b)
	}
	require.Eventually(t, func() bool { return len(recv.Accepted()) >= 3 }, 10*time.Second, 20*time.Millisecond)

	out := logs.String()
	require.Contains(t, out, created.JourneyID, "the journey was logged")
	require.Contains(t, out, `"keyName":"crm"`, "by the key's name")
	require.Contains(t, out, `"keyName":"old"`)
	require.Contains(t, out, `"keyNames":"crm,old"`)
	for name, value := range map[string]string{"API key": key, "second API key": other, "launch token": token,
		"a third of the key": key[10:24], "launch URL": created.LaunchURL} {
		assert.NotContains(t, out, value, "%s leaked into the logs", name)
	}
}
