package e2e

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

	"github.com/entra-verifier/entra-verifier/app"
	"github.com/redis/go-redis/v9/maintnotifications"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// SharedRedis returns the settings that put an application on the shared Redis server (REDIS_URL, or
// 127.0.0.1:6379) under a fresh key prefix, whose keys are deleted when the test ends. The test fails,
// never skips, when no server answers.
func SharedRedis(t testing.TB) map[string]string {
	t.Helper()
	u := os.Getenv("REDIS_URL")
	if u == "" {
		u = "redis://127.0.0.1:6379/0"
	}
	rdb := RedisClient(t, u)
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

// RedisClient returns a plain client on the server at u, closed when the test ends; the test fails when
// the server does not answer.
func RedisClient(t testing.TB, u string) *goredis.Client {
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
// behind a server of its own, and returns a Harness whose requests go to it; the browsers are shared, as
// behind a load Balancer.
func (h *Harness) Replica() *Harness {
	h.T.Helper()
	svc, err := app.New(h.T.Context(), h.Cfg, nil, h.Outbound(), nil)
	require.NoError(h.T, err)
	srv := httptest.NewServer(svc.Server.Handler())
	h.T.Cleanup(srv.Close)
	h.T.Cleanup(svc.Close)
	h.T.Cleanup(svc.Server.Close)
	r := *h
	r.URL, r.App = srv.URL, svc
	return &r
}

// Balancer stands in for the load Balancer that Microsoft's and IDEMIA's callbacks meet: it sends each
// callback to the replica pick names, whatever host the callback URL has, and counts what each one got.
type Balancer struct {
	replicas  []*url.URL
	pick      func() int
	lose      func(*http.Request) bool // when set and true, the answer is lost after the replica handled it
	transport *http.Transport
	hits      []atomic.Int64
}

// Route makes the Request Service and IPA fakes deliver their callbacks through a Balancer over replicas.
func Route(t testing.TB, h *Harness, pick func() int, replicas ...*Harness) *Balancer {
	t.Helper()
	b := &Balancer{pick: pick, transport: &http.Transport{MaxIdleConnsPerHost: 64}, hits: make([]atomic.Int64, len(replicas))}
	t.Cleanup(b.transport.CloseIdleConnections)
	for _, r := range replicas {
		u, err := url.Parse(r.URL)
		require.NoError(t, err)
		b.replicas = append(b.replicas, u)
	}
	client := &http.Client{Transport: b, Timeout: 10 * time.Second}
	h.RS.CallbackClient = client
	h.IPA.SetCallbackClient(client)
	return b
}

// RoundTrip implements http.RoundTripper.
func (b *Balancer) RoundTrip(req *http.Request) (*http.Response, error) {
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

// RequireEnded checks that the stream ends, sending nothing more.
func RequireEnded(t *testing.T, events <-chan map[string]any) {
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
