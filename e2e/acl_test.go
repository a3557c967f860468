package e2e

import (
	"context"
	"crypto/rand"
	"maps"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/entra-verifier/entra-verifier/sandbox"
)

// TestACLUserRunsEveryFlow runs two replicas on the shared Redis as a user allowed only the deployment's
// key prefix (~prefix* &prefix*), as a managed Redis shared with other applications would: a presentation
// request through to verified (event stream, callbacks on the other replica, the webhook's outbox), an IPA
// session with IDEMIA's callback and the identity retrieval, the rate limits and /readyz. Any key or channel
// outside the prefix would be refused NOPERM and show as a 503.
func TestACLUserRunsEveryFlow(t *testing.T) {
	env := ACLRedis(t)
	receiver, hook := NewReceiver(t, 0)
	maps.Copy(env, hook)
	env["VERIFIER_RESULT_WEBHOOK_IPA"] = "true"

	a := New(t, env)
	b := a.Replica()
	Route(t, a, func() int { return 1 }, a, b) // every callback lands on B
	code, _, _ := a.Do(http.DefaultClient, http.MethodGet, "/readyz", nil, nil)
	require.Equal(t, http.StatusOK, code, "/readyz proves a write as the limited user")

	c := a.Create()
	events := a.Events(t, "/api/verifier/presentation-requests/"+c.RequestID+"/events")
	assert.Equal(t, "created", NextEvent(t, events)["status"])
	require.Equal(t, http.StatusOK, a.Send(c.RequestID, sandbox.Retrieved()))
	assert.Equal(t, "retrieved", NextEvent(t, events)["status"])
	require.Equal(t, http.StatusOK, a.Send(c.RequestID, sandbox.Verified(sandbox.VerifiedIdentity(USDID, Person()))))
	last := NextEvent(t, events)
	assert.Equal(t, "verified", last["status"])
	RequireEnded(t, events)
	assert.Equal(t, "Bowen", b.StatusOf(c.RequestID)["claims"].(map[string]any)["lastName"])

	s := a.CreateSession()
	sessionEvents := a.Events(t, "/api/ipa/sessions/"+s.SessionID+"/events")
	assert.Equal(t, "pending", NextEvent(t, sessionEvents)["status"])
	a.EndSession(s.SessionID, sandbox.IPACompleted)
	final := LastEvent(t, sessionEvents)
	assert.Equal(t, "completed", final["status"])
	assert.NotNil(t, final["identity"], "the identity B retrieved")
	assert.Equal(t, "completed", a.SessionOf(s.SessionID)["status"])

	require.EventuallyWithT(t, func(c *assert.CollectT) {
		_, accepted := receiver.Snapshot()
		assert.Len(c, accepted, 2, "the webhook delivered both results from the outbox")
	}, 15*time.Second, 50*time.Millisecond)
}

// ACLRedis is SharedRedis logged in as a Redis user allowed only the deployment's key prefix (~prefix*
// &prefix*), deleted when the test ends.
func ACLRedis(t *testing.T) map[string]string {
	t.Helper()
	env := SharedRedis(t)
	prefix := env["REDIS_KEY_PREFIX"]
	rdb := RedisClient(t, env["REDIS_URL"])
	user, pass := "entra-verifier-e2e-"+rand.Text()[:8], rand.Text()
	require.NoError(t, rdb.Do(t.Context(), "ACL", "SETUSER", user, "reset", "on", ">"+pass,
		"~"+prefix+"*", "&"+prefix+"*", "+@all").Err())
	t.Cleanup(func() { _ = rdb.Do(context.Background(), "ACL", "DELUSER", user).Err() })
	u, err := url.Parse(env["REDIS_URL"])
	require.NoError(t, err)
	u.User = url.UserPassword(user, pass)
	env["REDIS_URL"] = u.String()
	limited := RedisClient(t, env["REDIS_URL"])
	require.ErrorContains(t, limited.Set(t.Context(), "elsewhere:"+user, "1", time.Second).Err(), "NOPERM", "the ACL is in force")
	return env
}
