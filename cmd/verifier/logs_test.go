package main

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

	h := newHarness(t, nil)
	person := sandbox.People[2]
	session := h.createSession()
	h.endSession(session.SessionID, sandbox.IPACompleted)
	require.Eventually(t, func() bool { return h.sessionOf(session.SessionID)["identity"] != nil }, 5*time.Second, 20*time.Millisecond)

	c := h.create()
	rec, ok := h.rs.Request(c.RequestID)
	require.True(t, ok)
	state := rec.Request.Callback.State
	apiKey := verifier.APIKey([]byte(testSecret), state)
	code, _ := h.callback("wrong-"+apiKey, `{"requestId":"`+c.RequestID+`","state":"`+state+`","requestStatus":"request_retrieved"}`)
	require.Equal(t, http.StatusUnauthorized, code)
	code, _ = h.callback(apiKey, `{"requestId":"`+c.RequestID+`","state":"`+state+`","requestStatus":"presentation_verified","verifiedCredentialsData":"`+person.Portrait()+`"}`)
	require.Equal(t, http.StatusBadRequest, code)
	require.Equal(t, http.StatusOK, h.send(c.RequestID, sandbox.Retrieved()))
	require.Equal(t, http.StatusOK, h.send(c.RequestID, sandbox.Verified(sandbox.VerifiedIdentity(usDID, person.Claims()))))
	assert.Equal(t, person.FirstName, h.statusOf(c.RequestID)["claims"].(map[string]any)["firstName"])

	secrets := map[string]string{
		"first name": person.FirstName, "last name": person.LastName, "date of birth": person.DateOfBirth,
		"portrait": person.Portrait()[:40], "callback secret": testSecret, "api-key": apiKey, "state": state,
		"Entra client secret": "client-secret", "IDEMIA client secret": "ipa-secret", "GIPS api key": "gips-key",
		"IPA callback token": strings.TrimPrefix(h.callbackURL(session.SessionID), h.url+"/api/ipa/callback/"),
	}
	for i, tok := range append(h.idp.Tokens(), h.cognito.Tokens()...) {
		secrets["access token "+string(rune('a'+i))] = tok
	}
	out := logs.String()
	require.Contains(t, out, `"request_id"`, "the journey was logged")
	for name, value := range secrets {
		require.NotEmpty(t, value, name)
		assert.NotContains(t, out, value, "%s leaked into the logs", name)
	}
}
