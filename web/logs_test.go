package web_test

import (
	"bytes"
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
