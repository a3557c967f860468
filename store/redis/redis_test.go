package redis_test

import (
	"context"
	"crypto/rand"
	"net/url"
	"os"
	"sync"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/entra-verifier/entra-verifier/store"
	"github.com/entra-verifier/entra-verifier/store/redis"
	"github.com/entra-verifier/entra-verifier/store/storetest"
)

// redisURL is the server under test: REDIS_URL, or the local default.
func redisURL() string {
	if u := os.Getenv("REDIS_URL"); u != "" {
		return u
	}
	return "redis://127.0.0.1:6379/0"
}

// redacted is u without its password, for failure messages.
func redacted(u string) string {
	if p, err := url.Parse(u); err == nil {
		return p.Redacted()
	}
	return "(unparsable REDIS_URL)"
}

// admin returns a plain client on the server under test; the test fails (never skips) when none answers.
func admin(tb testing.TB) *goredis.Client {
	tb.Helper()
	o, err := goredis.ParseURL(redisURL())
	require.NoError(tb, err, "REDIS_URL")
	o.DisableIdentity = true
	o.MaintNotificationsConfig = &maintnotifications.Config{Mode: maintnotifications.ModeDisabled}
	o.MaxRetries, o.DialerRetries = -1, 1 // a missing server fails the test at once
	c := goredis.NewClient(o)
	tb.Cleanup(func() { _ = c.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := c.Ping(ctx).Err(); err != nil {
		tb.Fatalf("no Redis server answers at %s (%v): store/redis is tested against a real server only; "+
			"start one (.ci/run does) or point REDIS_URL at one", redacted(redisURL()), err)
	}
	return c
}

// topology is a Redis deployment under test: the shared single server, or one of the topologies
// scripts/redis-topologies.sh starts (.ci/run exports their URLs).
type topology struct {
	mode redis.Mode
	env  string
}

var (
	single   = topology{redis.ModeSingle, "REDIS_URL"}
	sentinel = topology{redis.ModeSentinel, "REDIS_SENTINEL_URL"}
	cluster  = topology{redis.ModeCluster, "REDIS_CLUSTER_URL"}
)

// url is the topology's URL; the test fails (never skips) when it is not set.
func (tp topology) url(tb testing.TB) string {
	tb.Helper()
	if tp.mode == redis.ModeSingle {
		return redisURL()
	}
	u := os.Getenv(tp.env)
	if u == "" {
		tb.Fatalf("%s is not set: the %s mode is tested against a real topology only; start one with "+
			"`eval \"$(scripts/redis-topologies.sh start)\"` (.ci/run does)", tp.env, tp.mode)
	}
	return u
}

// admin returns a client of the topology's kind, closed when the test ends; it fails when none answers.
func (tp topology) admin(tb testing.TB) goredis.UniversalClient {
	tb.Helper()
	u := tp.url(tb)
	var c goredis.UniversalClient
	switch tp.mode {
	case redis.ModeSingle:
		return admin(tb)
	case redis.ModeSentinel:
		o, err := goredis.ParseFailoverURL(u)
		require.NoError(tb, err, tp.env)
		o.DisableIdentity = true
		c = goredis.NewFailoverClient(o)
	case redis.ModeCluster:
		o, err := goredis.ParseClusterURL(u)
		require.NoError(tb, err, tp.env)
		o.DisableIdentity = true
		o.MaintNotificationsConfig = &maintnotifications.Config{Mode: maintnotifications.ModeDisabled}
		c = goredis.NewClusterClient(o)
	}
	tb.Cleanup(func() { _ = c.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := c.Ping(ctx).Err(); err != nil {
		tb.Fatalf("no %s topology answers at %s (%v)", tp.mode, redacted(u), err)
	}
	return c
}

// testCallTimeout is the deadline of a store call in the tests that do not test the deadline itself: CI
// runs every package at once on two cores, where a create on Sentinel (two writes, each with its WAIT) can
// take more than the production second. A server that is down still fails at once (connection refused).
const testCallTimeout = 5 * time.Second

// open returns a Store on the topology with a fresh prefix, both dropped when the test ends.
func (tp topology) open(tb testing.TB) *redis.Store {
	tb.Helper()
	return tp.openPrefix(tb, tp.newPrefix(tb))
}

func (tp topology) openPrefix(tb testing.TB, prefix string) *redis.Store {
	tb.Helper()
	tp.admin(tb)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, err := redis.Open(ctx, tp.url(tb), redis.Options{Mode: tp.mode, Prefix: prefix, CallTimeout: testCallTimeout})
	require.NoError(tb, err)
	tb.Cleanup(func() { require.NoError(tb, s.Close()) })
	return s
}

// scan calls fn with every key under prefix, on every master of the topology. The masters are scanned at
// once, fn is called afterwards, in the test's goroutine.
func (tp topology) scan(tb testing.TB, prefix string, fn func(c goredis.Cmdable, keys []string)) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	type found struct {
		c    goredis.Cmdable
		keys []string
	}
	var mu sync.Mutex
	var all []found
	each := func(ctx context.Context, c *goredis.Client) error {
		iter := c.Scan(ctx, 0, prefix+"*", 1000).Iterator()
		var batch []string
		for iter.Next(ctx) {
			batch = append(batch, iter.Val())
		}
		if err := iter.Err(); err != nil {
			return err
		}
		if len(batch) > 0 {
			mu.Lock()
			all = append(all, found{c, batch})
			mu.Unlock()
		}
		return nil
	}
	switch c := tp.admin(tb).(type) {
	case *goredis.ClusterClient:
		require.NoError(tb, c.ForEachMaster(ctx, each))
	case *goredis.Client:
		require.NoError(tb, each(ctx, c))
	}
	for _, f := range all {
		fn(f.c, f.keys)
	}
}

// newPrefix returns a fresh key prefix whose keys are deleted when the test ends.
func (tp topology) newPrefix(tb testing.TB) string {
	tb.Helper()
	tp.admin(tb)
	prefix := "entra-verifier-test:" + rand.Text()[:12] + ":"
	tb.Cleanup(func() {
		tp.scan(tb, prefix, func(c goredis.Cmdable, keys []string) {
			for _, k := range keys { // one by one: on Cluster the keys of one node are in many slots
				require.NoError(tb, c.Unlink(context.Background(), k).Err())
			}
		})
	})
	return prefix
}

// newPrefix returns a fresh key prefix on the shared server whose keys are deleted when the test ends.
func newPrefix(tb testing.TB) string { return single.newPrefix(tb) }

// open returns a Store on the server under test, closed when the test ends.
func open(tb testing.TB, url, prefix string) *redis.Store {
	tb.Helper()
	admin(tb)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, err := redis.Open(ctx, url, redis.Options{Prefix: prefix, CallTimeout: testCallTimeout})
	require.NoError(tb, err)
	tb.Cleanup(func() { require.NoError(tb, s.Close()) })
	return s
}

func TestConformance(t *testing.T) {
	for _, tp := range []topology{single, sentinel, cluster} {
		t.Run(string(tp.mode), func(t *testing.T) {
			storetest.Run(t, func(t *testing.T) store.Store { return tp.open(t) })
		})
	}
}

func BenchmarkTransition(b *testing.B) {
	for _, tp := range []topology{single, cluster} {
		b.Run(string(tp.mode), func(b *testing.B) {
			storetest.BenchmarkTransition(b, func(b *testing.B) store.Store { return tp.open(b) })
		})
	}
}

func BenchmarkRead(b *testing.B) {
	storetest.BenchmarkRead(b, func(b *testing.B) store.Store { return open(b, redisURL(), newPrefix(b)) })
}

// TestCallbackRoundTrips: an update of a request this process created or last wrote starts from what it
// wrote, one round trip (the compare-and-swap script); a change made by another replica meanwhile makes the
// swap fail, and the update re-reads and applies again, so a stale copy never wins.
func TestCallbackRoundTrips(t *testing.T) {
	prefix := newPrefix(t)
	a, b := open(t, redisURL(), prefix), open(t, redisURL(), prefix)
	ctx := t.Context()
	p := storetest.NewPresentation(time.Minute)
	require.NoError(t, a.CreatePresentation(ctx, p))
	state, ok := a.KnownPresentationState(p.ID)
	require.True(t, ok)
	assert.Equal(t, p.State, state)
	_, ok = b.KnownPresentationState(p.ID)
	assert.False(t, ok, "another process has not seen the request")
	require.NoError(t, b.Ping(ctx)) // b's first connection is set up (HELLO, CLIENT SETNAME) outside the counts

	step := func(s *redis.Store, to store.PresentationStatus) (uint64, *store.Presentation) {
		before := s.RoundTrips()
		got, err := s.UpdatePresentation(ctx, p.ID, func(p *store.Presentation) ([]*store.Delivery, error) {
			p.Status = to
			return nil, nil
		})
		require.NoError(t, err)
		return s.RoundTrips() - before, got
	}
	trips, _ := step(a, store.PresentationRetrieved)
	assert.EqualValues(t, 1, trips, "the first update of a request created here")
	trips, _ = step(a, store.PresentationRetrieved)
	assert.EqualValues(t, 1, trips, "the next update starts from what was written")
	trips, _ = step(b, store.PresentationVerified)
	assert.EqualValues(t, 3, trips, "elsewhere: the pointer, the read, the swap")
	trips, got := step(a, store.PresentationFailed)
	assert.EqualValues(t, 3, trips, "a stale copy: the failed swap, the read, the swap")
	assert.EqualValues(t, 4, got.Version, "every update counted")
	read, err := b.Presentation(ctx, p.ID)
	require.NoError(t, err)
	assert.Equal(t, store.PresentationFailed, read.Status)
	assert.EqualValues(t, 4, read.Version)
}
