package redis_test

import (
	"context"
	"crypto/rand"
	"net/url"
	"os"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"
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

// newPrefix returns a fresh key prefix whose keys are deleted when the test ends.
func newPrefix(tb testing.TB) string {
	tb.Helper()
	rdb := admin(tb)
	prefix := "entra-verifier-test:" + rand.Text()[:12] + ":"
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		iter := rdb.Scan(ctx, 0, prefix+"*", 1000).Iterator()
		var batch []string
		for iter.Next(ctx) {
			if batch = append(batch, iter.Val()); len(batch) == 1000 {
				require.NoError(tb, rdb.Unlink(ctx, batch...).Err())
				batch = batch[:0]
			}
		}
		require.NoError(tb, iter.Err())
		if len(batch) > 0 {
			require.NoError(tb, rdb.Unlink(ctx, batch...).Err())
		}
	})
	return prefix
}

// open returns a Store on the server under test, closed when the test ends.
func open(tb testing.TB, url, prefix string) *redis.Store {
	tb.Helper()
	admin(tb)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, err := redis.Open(ctx, url, redis.Options{Prefix: prefix})
	require.NoError(tb, err)
	tb.Cleanup(func() { require.NoError(tb, s.Close()) })
	return s
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store { return open(t, redisURL(), newPrefix(t)) })
}

func BenchmarkTransition(b *testing.B) {
	storetest.BenchmarkTransition(b, func(b *testing.B) store.Store { return open(b, redisURL(), newPrefix(b)) })
}

func BenchmarkRead(b *testing.B) {
	storetest.BenchmarkRead(b, func(b *testing.B) store.Store { return open(b, redisURL(), newPrefix(b)) })
}
