package verifier_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/entra-verifier/entra-verifier/verifier"
)

// staticTokens is a Tokens that always answers the same.
type staticTokens struct {
	token string
	err   error
}

func (s staticTokens) Token(context.Context) (string, error) { return s.token, s.err }

// answer is one scripted Request Service answer.
type answer struct {
	status     int
	retryAfter string
	body       string
}

// scripted is a Request Service that gives its answers in order (the last one again when they run out)
// and records what it received.
type scripted struct {
	mu       sync.Mutex
	answers  []answer
	received []*http.Request
	bodies   [][]byte
}

func (s *scripted) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	s.mu.Lock()
	s.received = append(s.received, r)
	s.bodies = append(s.bodies, b)
	a := s.answers[min(len(s.received), len(s.answers))-1]
	s.mu.Unlock()
	if a.retryAfter != "" {
		w.Header().Set("Retry-After", a.retryAfter)
	}
	w.WriteHeader(a.status)
	_, _ = io.WriteString(w, a.body)
}

func (s *scripted) calls() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.received)
}

const (
	createdBody     = `{"requestId":"e4ef27ca","url":"openid-vc://?request_uri=https://example/x","expiry":1764000000}`
	unavailableBody = `{"requestId":"rq-1","date":"Tue, 25 Nov 2025 10:00:00 GMT","mscv":"mscv-1","error":{"code":"serviceUnavailable","message":"try later"}}`
)

// scriptedClient returns a Client for a scripted Request Service whose sleeps are recorded, not slept.
func scriptedClient(t *testing.T, answers ...answer) (*verifier.Client, *scripted, *[]time.Duration) {
	rs := &scripted{answers: answers}
	srv := httptest.NewServer(rs)
	t.Cleanup(srv.Close)
	var slept []time.Duration
	c := &verifier.Client{BaseURL: srv.URL + "/v1.0", HTTP: srv.Client(), Tokens: staticTokens{token: "tok"},
		Sleep: func(_ context.Context, d time.Duration) error { slept = append(slept, d); return nil }}
	return c, rs, &slept
}

func TestCreateSendsBearerAndJSON(t *testing.T) {
	c, rs, _ := scriptedClient(t, answer{201, "", createdBody})
	created, err := c.CreatePresentationRequest(t.Context(), request())
	require.NoError(t, err)
	assert.Equal(t, verifier.Created{RequestID: "e4ef27ca", URL: "openid-vc://?request_uri=https://example/x", Expiry: 1764000000}, *created)
	require.Equal(t, 1, rs.calls())
	r := rs.received[0]
	assert.Equal(t, http.MethodPost, r.Method)
	assert.Equal(t, "/v1.0/verifiableCredentials/createPresentationRequest", r.URL.Path)
	assert.Equal(t, "Bearer tok", r.Header.Get("Authorization"))
	assert.Equal(t, "application/json", r.Header.Get("Content-Type"))
	var sent map[string]any
	require.NoError(t, json.Unmarshal(rs.bodies[0], &sent))
	assert.Equal(t, "did:web:verifier.example.com", sent["authority"])
	assert.Equal(t, false, sent["includeQRCode"], "booleans are always sent")
	assert.Equal(t, false, sent["includeReceipt"])
}

func TestRetryAfterAndBackoff(t *testing.T) {
	inTwoSeconds := time.Now().Add(2 * time.Second).UTC().Format(http.TimeFormat)
	tests := []struct {
		name     string
		first    answer
		min, max time.Duration
	}{
		{"Retry-After in seconds", answer{429, "3", unavailableBody}, 3 * time.Second, 3 * time.Second},
		{"Retry-After as an HTTP date", answer{503, inTwoSeconds, unavailableBody}, time.Millisecond, 2 * time.Second},
		{"Retry-After unreadable: backoff", answer{503, "soon", unavailableBody}, 200 * time.Millisecond, 300 * time.Millisecond},
		{"Retry-After negative: backoff", answer{503, "-5", unavailableBody}, 200 * time.Millisecond, 300 * time.Millisecond},
		{"Retry-After zero: backoff", answer{503, "0", unavailableBody}, 200 * time.Millisecond, 300 * time.Millisecond},
		{"no Retry-After: backoff", answer{500, "", unavailableBody}, 200 * time.Millisecond, 300 * time.Millisecond},
		{"no error envelope is still transient", answer{502, "", "<html>bad gateway</html>"}, 200 * time.Millisecond, 300 * time.Millisecond},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, rs, slept := scriptedClient(t, tc.first, answer{201, "", createdBody})
			created, err := c.CreatePresentationRequest(t.Context(), request())
			require.NoError(t, err)
			assert.Equal(t, "e4ef27ca", created.RequestID)
			assert.Equal(t, 2, rs.calls())
			require.Len(t, *slept, 1)
			assert.GreaterOrEqual(t, (*slept)[0], tc.min)
			assert.LessOrEqual(t, (*slept)[0], tc.max)
		})
	}
}

func TestBackoffGrowsAndStopsAtTheAttemptLimit(t *testing.T) {
	c, rs, slept := scriptedClient(t, answer{503, "", unavailableBody})
	c.MaxAttempts = 4
	_, err := c.CreatePresentationRequest(t.Context(), request())
	require.Error(t, err)
	assert.Equal(t, 4, rs.calls())
	require.Len(t, *slept, 3)
	for i, d := range *slept {
		base := time.Duration(100<<(i+1)) * time.Millisecond
		assert.GreaterOrEqual(t, d, base, "attempt %d", i+1)
		assert.Less(t, d, base+100*time.Millisecond, "attempt %d", i+1)
	}
}

func TestBudgetBoundsTheWait(t *testing.T) {
	c, rs, slept := scriptedClient(t, answer{503, "", unavailableBody})
	c.Budget = 150 * time.Millisecond // below the first backoff (≥ 200 ms)
	_, err := c.CreatePresentationRequest(t.Context(), request())
	var apiErr *verifier.APIError
	require.ErrorAs(t, err, &apiErr)
	assert.Equal(t, http.StatusServiceUnavailable, apiErr.Status)
	assert.Equal(t, 1, rs.calls())
	assert.Empty(t, *slept)
}

func TestOneAttemptWhenMaxAttemptsIsOne(t *testing.T) {
	c, rs, _ := scriptedClient(t, answer{502, "", "not json"})
	c.MaxAttempts = 1
	_, err := c.CreatePresentationRequest(t.Context(), request())
	var apiErr *verifier.APIError
	require.ErrorAs(t, err, &apiErr)
	assert.Equal(t, 1, rs.calls())
	assert.Equal(t, "Bad Gateway", apiErr.Body.Code)
	assert.Equal(t, "no error envelope", apiErr.Body.Message)
	assert.ErrorIs(t, err, verifier.ErrUpstream)
}

// TestRealSleepHonoursTheContext: without a Sleep hook the client waits on a timer, and gives up when ctx ends.
func TestRealSleepHonoursTheContext(t *testing.T) {
	t.Run("waits, then retries", func(t *testing.T) {
		c, rs, _ := scriptedClient(t, answer{503, "", unavailableBody}, answer{201, "", createdBody})
		c.Sleep = nil
		start := time.Now()
		_, err := c.CreatePresentationRequest(t.Context(), request())
		require.NoError(t, err)
		assert.Equal(t, 2, rs.calls())
		assert.GreaterOrEqual(t, time.Since(start), 200*time.Millisecond)
	})
	t.Run("context ends during the wait", func(t *testing.T) {
		c, rs, _ := scriptedClient(t, answer{429, "5", unavailableBody}, answer{201, "", createdBody})
		c.Sleep = nil
		ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
		defer cancel()
		start := time.Now()
		_, err := c.CreatePresentationRequest(ctx, request())
		assert.ErrorIs(t, err, verifier.ErrUpstream)
		assert.ErrorIs(t, err, context.DeadlineExceeded)
		assert.Less(t, time.Since(start), 3*time.Second, "did not wait the whole Retry-After")
		assert.Equal(t, 1, rs.calls())
	})
	t.Run("a Sleep hook error ends the retries", func(t *testing.T) {
		c, rs, _ := scriptedClient(t, answer{503, "", unavailableBody}, answer{201, "", createdBody})
		c.Sleep = func(context.Context, time.Duration) error { return context.Canceled }
		_, err := c.CreatePresentationRequest(t.Context(), request())
		assert.ErrorIs(t, err, context.Canceled)
		assert.Equal(t, 1, rs.calls())
	})
}

func TestCreateAnswersThatAreNotACreate(t *testing.T) {
	tests := []struct {
		name, body, want string
	}{
		{"not JSON", "{", "decode answer"},
		{"no requestId", `{"url":"openid-vc://x"}`, "without requestId"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, rs, slept := scriptedClient(t, answer{201, "", tc.body})
			_, err := c.CreatePresentationRequest(t.Context(), request())
			assert.ErrorIs(t, err, verifier.ErrUpstream)
			assert.Contains(t, err.Error(), tc.want)
			assert.Equal(t, 1, rs.calls(), "a malformed success is not retried")
			assert.Empty(t, *slept)
		})
	}
}

func TestCreateTransportAndTokenErrors(t *testing.T) {
	t.Run("unreachable", func(t *testing.T) {
		srv := httptest.NewServer(http.NotFoundHandler())
		srv.Close()
		slept := 0
		c := &verifier.Client{BaseURL: srv.URL, HTTP: http.DefaultClient, Tokens: staticTokens{token: "tok"},
			Sleep: func(context.Context, time.Duration) error { slept++; return nil }}
		_, err := c.CreatePresentationRequest(t.Context(), request())
		assert.ErrorIs(t, err, verifier.ErrUpstream)
		var apiErr *verifier.APIError
		assert.False(t, errors.As(err, &apiErr))
		assert.Zero(t, slept, "a transport error is not retried")
	})
	t.Run("bad base URL", func(t *testing.T) {
		c := &verifier.Client{BaseURL: "://nowhere", HTTP: http.DefaultClient, Tokens: staticTokens{token: "tok"}}
		_, err := c.CreatePresentationRequest(t.Context(), request())
		assert.ErrorIs(t, err, verifier.ErrUpstream)
	})
	t.Run("no token", func(t *testing.T) {
		c, rs, _ := scriptedClient(t, answer{201, "", createdBody})
		c.Tokens = staticTokens{err: verifier.ErrToken}
		_, err := c.CreatePresentationRequest(t.Context(), request())
		assert.ErrorIs(t, err, verifier.ErrToken)
		assert.Zero(t, rs.calls())
	})
}

func TestAPIErrorMessage(t *testing.T) {
	c, _, _ := scriptedClient(t, answer{400, "", `{"requestId":"rq-9","date":"d","mscv":"mv-9","error":{"code":"badRequest","message":"The request is invalid.",` +
		`"innererror":{"code":"badOrMissingField","message":"authority is not a DID","target":"authority"}}}`})
	_, err := c.CreatePresentationRequest(t.Context(), request())
	var apiErr *verifier.APIError
	require.ErrorAs(t, err, &apiErr)
	assert.Equal(t, "request service answered 400 badRequest: The request is invalid. (badOrMissingField: authority is not a DID, target authority) [requestId rq-9, mscv mv-9]", err.Error())
	assert.Equal(t, "d", apiErr.Date)

	plain := &verifier.APIError{Status: 503}
	plain.Body.Code, plain.Body.Message = "serviceUnavailable", "later"
	assert.Equal(t, "request service answered 503 serviceUnavailable: later", plain.Error())
}
