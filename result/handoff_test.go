package result_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwk"
	"github.com/lestrrat-go/jwx/v3/jwt"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/entra-verifier/entra-verifier/e2e"
	"github.com/entra-verifier/entra-verifier/sandbox"
	redisstore "github.com/entra-verifier/entra-verifier/store/redis"
)

func TestResultWebhookRetriesUntilAccepted(t *testing.T) {
	r, env := e2e.NewReceiver(t, 2)
	h := e2e.New(t, env)
	c := h.Create()
	require.Equal(t, http.StatusOK, h.Send(c.RequestID, sandbox.Verified(sandbox.VerifiedIdentity(e2e.USDID, e2e.Person()))))

	require.Eventually(t, func() bool { _, ok := r.Snapshot(); return len(ok) == 1 }, 15*time.Second, 50*time.Millisecond)
	time.Sleep(700 * time.Millisecond) // nothing more arrives once accepted
	attempts, accepted := r.Snapshot()
	require.Len(t, attempts, 3, "two failures, then accepted")
	require.Len(t, accepted, 1, "accepted exactly once")
	for _, a := range attempts {
		assert.Equal(t, attempts[0].Get("webhook-id"), a.Get("webhook-id"), "the same webhook-id on every attempt")
	}
	ev := accepted[0]
	assert.Equal(t, "presentation.verified", ev["type"])
	data := ev["data"].(map[string]any)
	assert.Equal(t, c.RequestID, data["requestId"])
	assert.Equal(t, e2e.USDID, data["issuer"])
	assert.Equal(t, map[string]any{"firstName": "Megan", "lastName": "Bowen", "dateOfBirth": "1990-04-12"}, data["claims"],
		"only the allow-listed claims: no portrait")
}

func TestResultWebhookSurvivesARestart(t *testing.T) {
	r, env := e2e.NewReceiver(t, 1000)
	for k, v := range e2e.SharedRedis(t) {
		env[k] = v
	}
	a := e2e.New(t, env)
	c := a.Create()
	require.Equal(t, http.StatusOK, a.Send(c.RequestID, sandbox.PresentationError("claimValidationError", "no")))
	require.Eventually(t, func() bool { at, _ := r.Snapshot(); return len(at) >= 1 }, 10*time.Second, 20*time.Millisecond)
	// The failed attempt is recorded (due again about a second on) before the replica stops: stopped in the
	// middle of an attempt, it would keep its 30 s lease, by design (it may have been sent).
	rdb := e2e.RedisClient(t, env["REDIS_URL"])
	require.Eventually(t, func() bool {
		for b := range redisstore.Buckets {
			z, err := rdb.ZRangeWithScores(t.Context(), env["REDIS_KEY_PREFIX"]+"dq:{ev"+strconv.Itoa(b)+"}", 0, 0).Result()
			if err == nil && len(z) > 0 && int64(z[0].Score) < time.Now().Add(10*time.Second).UnixMilli() {
				return true
			}
		}
		return false
	}, 10*time.Second, 20*time.Millisecond)
	a.App.Close() // the replica that queued the event stops before it is delivered

	r.SetFailures(0)
	e2e.New(t, env) // another replica (or the same one restarted) on the same Redis picks it up
	require.Eventually(t, func() bool { _, ok := r.Snapshot(); return len(ok) == 1 }, 15*time.Second, 50*time.Millisecond)
	attempts, accepted := r.Snapshot()
	assert.Equal(t, attempts[0].Get("webhook-id"), attempts[len(attempts)-1].Get("webhook-id"))
	assert.Equal(t, "presentation.failed", accepted[0]["type"])
	assert.Equal(t, "presentation_error", accepted[0]["data"].(map[string]any)["reason"])
}

const allowedReturnURL = "https://rp.example.com/onboarding/"

func TestReturnURLHandOff(t *testing.T) {
	h := e2e.New(t, map[string]string{"VERIFIER_RETURN_URL_ALLOWLIST": allowedReturnURL})
	refused := []string{"https://evil.example/onboarding/", "javascript:alert(document.cookie)", "//evil.example/onboarding/",
		"https://rp.example.com/admin/", "http://rp.example.com/onboarding/", "https://rp.example.com.evil.example/onboarding/"}
	for _, rt := range refused {
		status, page, _ := h.Do(h.Browser, http.MethodGet, "/?return_to="+url.QueryEscape(rt), nil, nil)
		assert.Equal(t, http.StatusBadRequest, status, rt)
		assert.Contains(t, string(page), "This link cannot be used", rt)
		body, _ := json.Marshal(map[string]string{"returnTo": rt})
		status, answer, _ := h.Do(h.Browser, http.MethodPost, "/api/verifier/presentation-requests", strings.NewReader(string(body)), nil)
		assert.Equal(t, http.StatusBadRequest, status, rt)
		assert.Equal(t, "return_to_not_allowed", e2e.ErrorCode(t, answer))
	}
	assert.Zero(t, h.RS.Calls(), "a refused return URL creates nothing")

	target := allowedReturnURL + "finish?step=2"
	status, page, _ := h.Do(h.Browser, http.MethodGet, "/?return_to="+url.QueryEscape(target), nil, nil)
	require.Equal(t, http.StatusOK, status)
	assert.Contains(t, string(page), `data-return-to="https://rp.example.com/onboarding/finish?step=2"`)
	body, _ := json.Marshal(map[string]string{"returnTo": target})
	status, answer, _ := h.Do(h.Browser, http.MethodPost, "/api/verifier/presentation-requests", strings.NewReader(string(body)), nil)
	require.Equal(t, http.StatusCreated, status, string(answer))
	var c e2e.Created
	require.NoError(t, json.Unmarshal(answer, &c))

	noRedirect := *h.Browser
	noRedirect.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	status, answer, _ = h.Do(&noRedirect, http.MethodGet, "/api/verifier/presentation-requests/"+c.RequestID+"/return", nil, nil)
	assert.Equal(t, http.StatusConflict, status, "no result before the end")
	assert.Equal(t, "not_finished", e2e.ErrorCode(t, answer))

	require.Equal(t, http.StatusOK, h.Send(c.RequestID, sandbox.Verified(sandbox.VerifiedIdentity(e2e.USDID, e2e.Person()))))
	status, _, _ = h.Do(h.Stranger, http.MethodGet, "/api/verifier/presentation-requests/"+c.RequestID+"/return", nil, nil)
	assert.Equal(t, http.StatusNotFound, status, "only the creating browser gets the result")
	status, _, hdr := h.Do(&noRedirect, http.MethodGet, "/api/verifier/presentation-requests/"+c.RequestID+"/return", nil, nil)
	require.Equal(t, http.StatusSeeOther, status)
	loc, err := url.Parse(hdr.Get("Location"))
	require.NoError(t, err)
	assert.Equal(t, "https://rp.example.com/onboarding/finish", loc.Scheme+"://"+loc.Host+loc.Path)
	assert.Equal(t, "2", loc.Query().Get("step"), "the return URL's own query is kept")

	_, jwks, jhdr := h.Do(http.DefaultClient, http.MethodGet, "/.well-known/jwks.json", nil, nil)
	assert.Equal(t, "application/json", jhdr.Get("Content-Type"))
	set, err := jwk.Parse(jwks)
	require.NoError(t, err)
	tok, err := jwt.Parse([]byte(loc.Query().Get("result")), jwt.WithKeySet(set), jwt.WithIssuer(h.URL), jwt.WithAudience("https://rp.example.com"))
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

	status, answer, _ = h.Do(&noRedirect, http.MethodGet, "/api/verifier/presentation-requests/"+c.RequestID+"/return", nil, nil)
	assert.Equal(t, http.StatusGone, status, "one verification hands over one result")
	assert.Equal(t, "already_returned", e2e.ErrorCode(t, answer))
}

// TestResultWebhookForIPA: with VERIFIER_RESULT_WEBHOOK_IPA, a completed session's event carries the level of
// assurance learnt by identity retrieval.
func TestResultWebhookForIPA(t *testing.T) {
	r, env := e2e.NewReceiver(t, 0)
	env["VERIFIER_RESULT_WEBHOOK_IPA"] = "true"
	h := e2e.New(t, env)
	c := h.CreateSession()
	h.EndSession(c.SessionID, sandbox.IPACompleted)
	require.Eventually(t, func() bool { _, ok := r.Snapshot(); return len(ok) == 1 }, 10*time.Second, 50*time.Millisecond)
	_, accepted := r.Snapshot()
	assert.Equal(t, "ipa.completed", accepted[0]["type"])
	data := accepted[0]["data"].(map[string]any)
	assert.Equal(t, c.SessionID, data["sessionId"])
	assert.Equal(t, sandbox.IPALevelOfAssurance, data["levelOfAssurance"])

	// An ended session with nothing to retrieve carries its event with the transition itself.
	failed := h.CreateSession()
	h.EndSession(failed.SessionID, sandbox.IPAError)
	require.Eventually(t, func() bool { _, ok := r.Snapshot(); return len(ok) == 2 }, 10*time.Second, 50*time.Millisecond)
	_, accepted = r.Snapshot()
	assert.Equal(t, "ipa.error", accepted[1]["type"])
	assert.Equal(t, failed.SessionID, accepted[1]["data"].(map[string]any)["sessionId"])
}
