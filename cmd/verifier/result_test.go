package main

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwk"
	"github.com/lestrrat-go/jwx/v3/jwt"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/entra-verifier/entra-verifier/sandbox"
)

// receiver is a relying party's webhook endpoint that checks every signature with its own implementation
// of the Standard Webhooks scheme and answers 500 to the first `failures` attempts.
type receiver struct {
	t        *testing.T
	key      []byte
	mu       sync.Mutex
	failures int
	attempts []http.Header
	accepted []map[string]any
}

func (r *receiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	id, ts := req.Header.Get("webhook-id"), req.Header.Get("webhook-timestamp")
	m := hmac.New(sha256.New, r.key)
	m.Write([]byte(id + "." + ts + "." + string(body)))
	want := "v1," + base64.StdEncoding.EncodeToString(m.Sum(nil))
	sent, err := strconv.ParseInt(ts, 10, 64)
	r.mu.Lock()
	defer r.mu.Unlock()
	r.attempts = append(r.attempts, req.Header.Clone())
	if !hmac.Equal([]byte(req.Header.Get("webhook-signature")), []byte(want)) || err != nil || time.Since(time.Unix(sent, 0)) > time.Minute {
		r.t.Errorf("bad signature or timestamp on %s", id)
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	if len(r.attempts) <= r.failures {
		w.WriteHeader(http.StatusInternalServerError)
		return
	}
	var ev map[string]any
	if json.Unmarshal(body, &ev) != nil {
		r.t.Errorf("payload is not JSON")
	}
	r.accepted = append(r.accepted, ev)
	w.WriteHeader(http.StatusNoContent)
}

func (r *receiver) snapshot() (attempts []http.Header, accepted []map[string]any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]http.Header(nil), r.attempts...), append([]map[string]any(nil), r.accepted...)
}

func (r *receiver) setFailures(n int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.failures = n
}

// newReceiver starts a receiver and returns the settings that point the verifier at it.
func newReceiver(t *testing.T, failures int) (*receiver, map[string]string) {
	key := make([]byte, 24)
	_, _ = rand.Read(key)
	r := &receiver{t: t, key: key, failures: failures}
	srv := httptest.NewServer(r)
	t.Cleanup(srv.Close)
	return r, map[string]string{
		"VERIFIER_RESULT_WEBHOOK_URL":    srv.URL + "/hooks/verifier",
		"VERIFIER_RESULT_WEBHOOK_SECRET": "whsec_" + base64.StdEncoding.EncodeToString(key),
	}
}

func TestResultWebhookRetriesUntilAccepted(t *testing.T) {
	r, env := newReceiver(t, 2)
	h := newHarness(t, env)
	c := h.create()
	require.Equal(t, http.StatusOK, h.send(c.RequestID, sandbox.Verified(sandbox.VerifiedIdentity(usDID, person()))))

	require.Eventually(t, func() bool { _, ok := r.snapshot(); return len(ok) == 1 }, 15*time.Second, 50*time.Millisecond)
	time.Sleep(700 * time.Millisecond) // nothing more arrives once accepted
	attempts, accepted := r.snapshot()
	require.Len(t, attempts, 3, "two failures, then accepted")
	require.Len(t, accepted, 1, "accepted exactly once")
	for _, a := range attempts {
		assert.Equal(t, attempts[0].Get("webhook-id"), a.Get("webhook-id"), "the same webhook-id on every attempt")
	}
	ev := accepted[0]
	assert.Equal(t, "presentation.verified", ev["type"])
	data := ev["data"].(map[string]any)
	assert.Equal(t, c.RequestID, data["requestId"])
	assert.Equal(t, usDID, data["issuer"])
	assert.Equal(t, map[string]any{"firstName": "Megan", "lastName": "Bowen", "dateOfBirth": "1990-04-12"}, data["claims"],
		"only the allow-listed claims: no portrait")
}

func TestResultWebhookSurvivesARestart(t *testing.T) {
	r, env := newReceiver(t, 1000)
	for k, v := range sharedRedis(t) {
		env[k] = v
	}
	a := newHarness(t, env)
	c := a.create()
	require.Equal(t, http.StatusOK, a.send(c.RequestID, sandbox.PresentationError("claimValidationError", "no")))
	require.Eventually(t, func() bool { at, _ := r.snapshot(); return len(at) >= 1 }, 10*time.Second, 20*time.Millisecond)
	a.app.Close() // the replica that queued the event stops before it is delivered

	r.setFailures(0)
	newHarness(t, env) // another replica (or the same one restarted) on the same Redis picks it up
	require.Eventually(t, func() bool { _, ok := r.snapshot(); return len(ok) == 1 }, 15*time.Second, 50*time.Millisecond)
	attempts, accepted := r.snapshot()
	assert.Equal(t, attempts[0].Get("webhook-id"), attempts[len(attempts)-1].Get("webhook-id"))
	assert.Equal(t, "presentation.failed", accepted[0]["type"])
	assert.Equal(t, "presentation_error", accepted[0]["data"].(map[string]any)["reason"])
}

const allowed = "https://rp.example.com/onboarding/"

func TestReturnURLHandOff(t *testing.T) {
	h := newHarness(t, map[string]string{"VERIFIER_RETURN_URL_ALLOWLIST": allowed})
	refused := []string{"https://evil.example/onboarding/", "javascript:alert(document.cookie)", "//evil.example/onboarding/",
		"https://rp.example.com/admin/", "http://rp.example.com/onboarding/", "https://rp.example.com.evil.example/onboarding/"}
	for _, rt := range refused {
		status, page, _ := h.do(h.browser, http.MethodGet, "/?return_to="+url.QueryEscape(rt), nil, nil)
		assert.Equal(t, http.StatusBadRequest, status, rt)
		assert.Contains(t, string(page), "This link cannot be used", rt)
		body, _ := json.Marshal(map[string]string{"returnTo": rt})
		status, answer, _ := h.do(h.browser, http.MethodPost, "/api/verifier/presentation-requests", strings.NewReader(string(body)), nil)
		assert.Equal(t, http.StatusBadRequest, status, rt)
		assert.Equal(t, "return_to_not_allowed", errorCode(t, answer))
	}
	assert.Zero(t, h.rs.Calls(), "a refused return URL creates nothing")

	target := allowed + "finish?step=2"
	status, page, _ := h.do(h.browser, http.MethodGet, "/?return_to="+url.QueryEscape(target), nil, nil)
	require.Equal(t, http.StatusOK, status)
	assert.Contains(t, string(page), `data-return-to="https://rp.example.com/onboarding/finish?step=2"`)
	body, _ := json.Marshal(map[string]string{"returnTo": target})
	status, answer, _ := h.do(h.browser, http.MethodPost, "/api/verifier/presentation-requests", strings.NewReader(string(body)), nil)
	require.Equal(t, http.StatusCreated, status, string(answer))
	var c created
	require.NoError(t, json.Unmarshal(answer, &c))

	noRedirect := *h.browser
	noRedirect.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	status, answer, _ = h.do(&noRedirect, http.MethodGet, "/api/verifier/presentation-requests/"+c.RequestID+"/return", nil, nil)
	assert.Equal(t, http.StatusConflict, status, "no result before the end")
	assert.Equal(t, "not_finished", errorCode(t, answer))

	require.Equal(t, http.StatusOK, h.send(c.RequestID, sandbox.Verified(sandbox.VerifiedIdentity(usDID, person()))))
	status, _, _ = h.do(h.stranger, http.MethodGet, "/api/verifier/presentation-requests/"+c.RequestID+"/return", nil, nil)
	assert.Equal(t, http.StatusNotFound, status, "only the creating browser gets the result")
	status, _, hdr := h.do(&noRedirect, http.MethodGet, "/api/verifier/presentation-requests/"+c.RequestID+"/return", nil, nil)
	require.Equal(t, http.StatusSeeOther, status)
	loc, err := url.Parse(hdr.Get("Location"))
	require.NoError(t, err)
	assert.Equal(t, "https://rp.example.com/onboarding/finish", loc.Scheme+"://"+loc.Host+loc.Path)
	assert.Equal(t, "2", loc.Query().Get("step"), "the return URL's own query is kept")

	_, jwks, jhdr := h.do(http.DefaultClient, http.MethodGet, "/.well-known/jwks.json", nil, nil)
	assert.Equal(t, "application/json", jhdr.Get("Content-Type"))
	set, err := jwk.Parse(jwks)
	require.NoError(t, err)
	tok, err := jwt.Parse([]byte(loc.Query().Get("result")), jwt.WithKeySet(set), jwt.WithIssuer(h.url), jwt.WithAudience("https://rp.example.com"))
	require.NoError(t, err)
	sub, _ := tok.Subject()
	assert.Equal(t, c.RequestID, sub)
	iat, _ := tok.IssuedAt()
	exp, _ := tok.Expiration()
	assert.Equal(t, 2*time.Minute, exp.Sub(iat), "short-lived")
	jti, _ := tok.JwtID()
	assert.NotEmpty(t, jti)
	var claims map[string]any
	require.NoError(t, tok.Get("claims", &claims))
	assert.Equal(t, "Megan", claims["firstName"])
	assert.NotContains(t, claims, "portrait")
	var status2, returnTo string
	require.NoError(t, tok.Get("status", &status2))
	assert.Equal(t, "verified", status2)
	require.NoError(t, tok.Get("return_to", &returnTo))
	assert.Equal(t, target, returnTo, "the token names the exact return URL the journey was started for")

	status, answer, _ = h.do(&noRedirect, http.MethodGet, "/api/verifier/presentation-requests/"+c.RequestID+"/return", nil, nil)
	assert.Equal(t, http.StatusGone, status, "one verification hands over one result")
	assert.Equal(t, "already_returned", errorCode(t, answer))
}

// TestResultWebhookForIPA: with VERIFIER_RESULT_WEBHOOK_IPA, a completed session's event carries the level of
// assurance learnt by identity retrieval.
func TestResultWebhookForIPA(t *testing.T) {
	r, env := newReceiver(t, 0)
	env["VERIFIER_RESULT_WEBHOOK_IPA"] = "true"
	h := newHarness(t, env)
	c := h.createSession()
	h.endSession(c.SessionID, sandbox.IPACompleted)
	require.Eventually(t, func() bool { _, ok := r.snapshot(); return len(ok) == 1 }, 10*time.Second, 50*time.Millisecond)
	_, accepted := r.snapshot()
	assert.Equal(t, "ipa.completed", accepted[0]["type"])
	data := accepted[0]["data"].(map[string]any)
	assert.Equal(t, c.SessionID, data["sessionId"])
	assert.Equal(t, sandbox.IPALevelOfAssurance, data["levelOfAssurance"])

	// An ended session with nothing to retrieve carries its event with the transition itself.
	failed := h.createSession()
	h.endSession(failed.SessionID, sandbox.IPAError)
	require.Eventually(t, func() bool { _, ok := r.snapshot(); return len(ok) == 2 }, 10*time.Second, 50*time.Millisecond)
	_, accepted = r.snapshot()
	assert.Equal(t, "ipa.error", accepted[1]["type"])
	assert.Equal(t, failed.SessionID, accepted[1]["data"].(map[string]any)["sessionId"])
}
