package main

import (
	"context"
	"crypto/rand"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"sync/atomic"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/entra-verifier/entra-verifier/sandbox"
)

// sharedRedis returns the settings that put an application on the shared Redis server (REDIS_URL, or
// 127.0.0.1:6379) under a fresh key prefix, whose keys are deleted when the test ends. The test fails,
// never skips, when no server answers.
func sharedRedis(t testing.TB) map[string]string {
	t.Helper()
	u := os.Getenv("REDIS_URL")
	if u == "" {
		u = "redis://127.0.0.1:6379/0"
	}
	rdb := redisClient(t, u)
	prefix := "entra-verifier-test:" + rand.Text()[:12] + ":"
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		var keys []string
		iter := rdb.Scan(ctx, 0, prefix+"*", 1000).Iterator()
		for iter.Next(ctx) {
			keys = append(keys, iter.Val())
		}
		err := iter.Err()
		if err == nil && len(keys) > 0 {
			err = rdb.Unlink(ctx, keys...).Err()
		}
		assert.NoError(t, err, "deleting the test's keys")
	})
	return map[string]string{"VERIFIER_STORE": "redis", "REDIS_URL": u, "REDIS_KEY_PREFIX": prefix}
}

// redisClient returns a plain client on the server at u, closed when the test ends; the test fails when
// the server does not answer.
func redisClient(t testing.TB, u string) *goredis.Client {
	t.Helper()
	o, err := goredis.ParseURL(u)
	require.NoError(t, err)
	o.DisableIdentity = true
	o.MaintNotificationsConfig = &maintnotifications.Config{Mode: maintnotifications.ModeDisabled}
	c := goredis.NewClient(o)
	t.Cleanup(func() { _ = c.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := c.Ping(ctx).Err(); err != nil {
		t.Fatalf("no Redis server answers at %s (%v): the replica tests need a real one (REDIS_URL)", o.Addr, err)
	}
	return c
}

// replica starts a second application with h's configuration (public URL, store, callback secret, fakes)
// behind a server of its own, and returns a harness whose requests go to it; the browsers are shared, as
// behind a load balancer.
func (h *harness) replica() *harness {
	h.t.Helper()
	app, err := newApplication(h.t.Context(), h.cfg, nil, h.outbound(), nil)
	require.NoError(h.t, err)
	srv := httptest.NewServer(app.server.Handler())
	h.t.Cleanup(srv.Close)
	h.t.Cleanup(app.Close)
	h.t.Cleanup(app.server.Close)
	r := *h
	r.url, r.app = srv.URL, app
	return &r
}

// balancer stands in for the load balancer that Microsoft's and IDEMIA's callbacks meet: it sends each
// callback to the replica pick names, whatever host the callback URL has, and counts what each one got.
type balancer struct {
	replicas  []*url.URL
	pick      func() int
	lose      func(*http.Request) bool // when set and true, the answer is lost after the replica handled it
	transport *http.Transport
	hits      []atomic.Int64
}

// route makes the Request Service and IPA fakes deliver their callbacks through a balancer over replicas.
func route(t testing.TB, h *harness, pick func() int, replicas ...*harness) *balancer {
	t.Helper()
	b := &balancer{pick: pick, transport: &http.Transport{MaxIdleConnsPerHost: 64}, hits: make([]atomic.Int64, len(replicas))}
	t.Cleanup(b.transport.CloseIdleConnections)
	for _, r := range replicas {
		u, err := url.Parse(r.url)
		require.NoError(t, err)
		b.replicas = append(b.replicas, u)
	}
	client := &http.Client{Transport: b, Timeout: 10 * time.Second}
	h.rs.CallbackClient = client
	h.ipa.SetCallbackClient(client)
	return b
}

// RoundTrip implements http.RoundTripper.
func (b *balancer) RoundTrip(req *http.Request) (*http.Response, error) {
	i := b.pick()
	b.hits[i].Add(1)
	out := req.Clone(req.Context())
	out.URL.Scheme, out.URL.Host, out.Host = b.replicas[i].Scheme, b.replicas[i].Host, ""
	resp, err := b.transport.RoundTrip(out)
	if err != nil || b.lose == nil || !b.lose(req) {
		return resp, err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return nil, errors.New("connection reset by peer (test: the answer was lost)")
}

// requireEnded checks that the stream ends, sending nothing more.
func requireEnded(t *testing.T, events <-chan map[string]any) {
	t.Helper()
	select {
	case e, ok := <-events:
		require.False(t, ok, "the stream goes on after a final status: %v", e)
	case <-time.After(10 * time.Second):
		t.Fatal("the stream is still open after a final status")
	}
}

// TestReplicasSharePresentationRequests creates a request on replica A, has Microsoft's callbacks land on
// replica B, and follows the request on A: its status and its event stream.
func TestReplicasSharePresentationRequests(t *testing.T) {
	a := newHarness(t, sharedRedis(t))
	b := a.replica()
	lb := route(t, a, func() int { return 1 }, a, b)

	c := a.create()
	events := a.events(t, "/api/verifier/presentation-requests/"+c.RequestID+"/events")
	assert.Equal(t, "created", nextEvent(t, events)["status"])

	require.Equal(t, http.StatusOK, a.send(c.RequestID, sandbox.Retrieved()))
	assert.Equal(t, "retrieved", nextEvent(t, events)["status"], "A's stream hears of B's transition")
	assert.Equal(t, "retrieved", a.statusOf(c.RequestID)["status"])

	require.Equal(t, http.StatusOK, a.send(c.RequestID, sandbox.Verified(sandbox.VerifiedIdentity(usDID, person()))))
	last := nextEvent(t, events)
	assert.Equal(t, "verified", last["status"])
	assert.Equal(t, "Megan", last["claims"].(map[string]any)["firstName"])
	requireEnded(t, events)

	for name, r := range map[string]*harness{"A": a, "B": b} {
		got := r.statusOf(c.RequestID)
		assert.Equal(t, "verified", got["status"], "status on %s", name)
		assert.Equal(t, usDID, got["issuer"], "issuer on %s", name)
		assert.Equal(t, "Bowen", got["claims"].(map[string]any)["lastName"], "claims on %s", name)
	}
	assert.Equal(t, []int64{0, 2}, []int64{lb.hits[0].Load(), lb.hits[1].Load()}, "every callback landed on B")
}

// TestReplicasShareIPASessions creates an IPA session on replica A, has IDEMIA's callback land on replica B
// (which then retrieves the identity), and follows the session on A.
func TestReplicasShareIPASessions(t *testing.T) {
	a := newHarness(t, sharedRedis(t))
	b := a.replica()
	lb := route(t, a, func() int { return 1 }, a, b)

	c := a.createSession()
	events := a.events(t, "/api/ipa/sessions/"+c.SessionID+"/events")
	assert.Equal(t, "pending", nextEvent(t, events)["status"])

	a.endSession(c.SessionID, sandbox.IPACompleted)
	var seen []string
	var last map[string]any
	for e := range events {
		seen, last = append(seen, e["status"].(string)), e
	}
	require.NotEmpty(t, seen, "A's stream hears of B's transition")
	for _, s := range seen {
		assert.Equal(t, "completed", s, "only the end of the journey follows pending")
	}
	identity, ok := last["identity"].(map[string]any)
	require.True(t, ok, "the stream ends with the identity summary B retrieved: %v", last)
	assert.Equal(t, sandbox.IPALevelOfAssurance, identity["levelOfAssurance"])
	assert.Equal(t, sandbox.IPAIdentityStatus, identity["status"])
	assert.Nil(t, identity["proof"], "the proof archive is not fetched")

	for name, r := range map[string]*harness{"A": a, "B": b} {
		got := r.sessionOf(c.SessionID)
		assert.Equal(t, "completed", got["status"], "status on %s", name)
		assert.Equal(t, identity, got["identity"], "identity on %s", name)
		assert.NotEmpty(t, got["identityId"], "identityId on %s", name)
	}
	assert.Equal(t, []int64{0, 1}, []int64{lb.hits[0].Load(), lb.hits[1].Load()}, "the callback landed on B")
	assert.Equal(t, 1, a.gips.IdentityRequests(), "the identity was read once")
	assert.Zero(t, a.gips.ProofRequests(), "the proof archive is never fetched on our own")
}
