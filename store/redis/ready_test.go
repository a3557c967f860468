package redis_test

import (
	"errors"
	"fmt"
	"net"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/entra-verifier/entra-verifier/store"
	"github.com/entra-verifier/entra-verifier/store/redis"
	"github.com/entra-verifier/entra-verifier/store/storetest"
)

// ownServer starts a redis-server of the test's own on a free port, killed when the test ends.
func ownServer(t *testing.T) (url string, c *goredis.Client, cmd *exec.Cmd) {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	require.NoError(t, err, "this test starts a redis-server of its own (apt-get install redis-server)")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	port := ln.Addr().(*net.TCPAddr).Port
	require.NoError(t, ln.Close())
	cmd = exec.Command(bin, "--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", t.TempDir())
	require.NoError(t, cmd.Start())
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	c = goredis.NewClient(&goredis.Options{Addr: "127.0.0.1:" + strconv.Itoa(port), DisableIdentity: true})
	t.Cleanup(func() { _ = c.Close() })
	require.Eventually(t, func() bool { return c.Ping(t.Context()).Err() == nil }, 5*time.Second, 20*time.Millisecond)
	return fmt.Sprintf("redis://127.0.0.1:%d/0", port), c, cmd
}

// Ping (behind /readyz) fails within 2 s of the server refusing writes, and succeeds within 2 s of it
// taking them again.
func TestPingProvesAWrite(t *testing.T) {
	tests := []struct {
		name          string
		refuse, allow func(t *testing.T, c *goredis.Client)
	}{
		{"out of memory", func(t *testing.T, c *goredis.Client) {
			require.NoError(t, c.ConfigSet(t.Context(), "maxmemory-policy", "noeviction").Err())
			require.NoError(t, c.ConfigSet(t.Context(), "maxmemory", "1").Err())
		}, func(t *testing.T, c *goredis.Client) {
			require.NoError(t, c.ConfigSet(t.Context(), "maxmemory", "0").Err())
		}},
		{"read-only replica", func(t *testing.T, c *goredis.Client) {
			require.NoError(t, c.Do(t.Context(), "REPLICAOF", "127.0.0.1", "1").Err()) // a master that never answers
		}, func(t *testing.T, c *goredis.Client) {
			require.NoError(t, c.Do(t.Context(), "REPLICAOF", "NO", "ONE").Err())
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			url, c, _ := ownServer(t)
			s, err := redis.Open(t.Context(), url, redis.Options{})
			require.NoError(t, err)
			defer s.Close()
			require.NoError(t, s.Ping(t.Context()))
			tc.refuse(t, c)
			require.Eventually(t, func() bool { return errors.Is(s.Ping(t.Context()), store.ErrUnavailable) },
				2*time.Second, 20*time.Millisecond, "Ping still succeeds 2 s after writes are refused")
			tc.allow(t, c)
			require.Eventually(t, func() bool { return s.Ping(t.Context()) == nil },
				2*time.Second, 20*time.Millisecond, "Ping still fails 2 s after writes are taken again")
		})
	}
	t.Run("down", func(t *testing.T) {
		url, _, cmd := ownServer(t)
		s, err := redis.Open(t.Context(), url, redis.Options{})
		require.NoError(t, err)
		defer s.Close()
		require.NoError(t, s.Ping(t.Context()))
		require.NoError(t, cmd.Process.Kill())
		require.Eventually(t, func() bool { return errors.Is(s.Ping(t.Context()), store.ErrUnavailable) },
			2*time.Second, 20*time.Millisecond)
	})
}

// A hung server turns into a fast error: every call has its own deadline.
func TestHungServerFailsFast(t *testing.T) {
	url, _, cmd := ownServer(t)
	s, err := redis.Open(t.Context(), url, redis.Options{CallTimeout: 300 * time.Millisecond})
	require.NoError(t, err)
	defer s.Close()
	require.NoError(t, cmd.Process.Signal(stopSignal))
	defer func() { _ = cmd.Process.Signal(contSignal) }()
	start := time.Now()
	_, err = s.Presentation(t.Context(), "any")
	require.ErrorIs(t, err, store.ErrUnavailable)
	require.Less(t, time.Since(start), time.Second, "a hung server answered within the call's deadline")
}

// usedMemory is the server's used_memory.
func usedMemory(t *testing.T, c *goredis.Client) int64 {
	t.Helper()
	info, err := c.Info(t.Context(), "memory").Result()
	require.NoError(t, err)
	for line := range strings.Lines(info) {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "used_memory:"); ok {
			n, err := strconv.ParseInt(v, 10, 64)
			require.NoError(t, err)
			return n
		}
	}
	t.Fatal("no used_memory in INFO memory")
	return 0
}

// fill sets maxmemory a little above what the server uses (noeviction) and writes filler keys until it
// refuses one, then lowers maxmemory under what is used now: the server is full, as in production, and
// stays so whatever its transient buffers do (a big write's own query buffer is what first hits the limit).
func fill(t *testing.T, c *goredis.Client) {
	t.Helper()
	ctx := t.Context()
	require.NoError(t, c.ConfigSet(ctx, "maxmemory-policy", "noeviction").Err())
	require.NoError(t, c.ConfigSet(ctx, "maxmemory", strconv.FormatInt(usedMemory(t, c)+(2<<20), 10)).Err())
	value := strings.Repeat("x", 64<<10)
	for i := range 1000 {
		err := c.Set(ctx, "filler:"+strconv.Itoa(i), value, time.Hour).Err()
		if err != nil {
			require.True(t, goredis.HasErrorPrefix(err, "OOM"), "filling: %v", err)
			require.NoError(t, c.ConfigSet(ctx, "maxmemory", strconv.FormatInt(usedMemory(t, c)-(1<<20), 10)).Err())
			return
		}
	}
	t.Fatal("the server never refused a write")
}

// TestOutboxAtMaxmemory: on a full server (maxmemory, noeviction) a delivery claimed before can still be
// finished, so the webhook workers drain what they hold; claims and retries fail cleanly (ErrUnavailable,
// nothing lost: the deliveries are claimed once memory is freed), and Ping (/readyz) says unavailable.
func TestOutboxAtMaxmemory(t *testing.T) {
	url, c, _ := ownServer(t)
	s, err := redis.Open(t.Context(), url, redis.Options{})
	require.NoError(t, err)
	defer s.Close()
	ctx := t.Context()
	now := time.Now()
	var ids []string
	for range 3 {
		p := storetest.NewPresentation(time.Minute)
		require.NoError(t, s.CreatePresentation(ctx, p))
		d := &store.Delivery{ID: "msg_" + storetest.ID(), Body: []byte(`{}`), NextAttempt: now, CreatedAt: now}
		ids = append(ids, d.ID)
		_, err := s.UpdatePresentation(ctx, p.ID, func(p *store.Presentation) ([]*store.Delivery, error) {
			p.Status = store.PresentationVerified
			return []*store.Delivery{d}, nil
		})
		require.NoError(t, err)
	}
	claimed, err := s.ClaimDelivery(ctx, now, time.Minute)
	require.NoError(t, err)
	retried, err := s.ClaimDelivery(ctx, now, time.Minute)
	require.NoError(t, err)

	fill(t, c)
	require.Eventually(t, func() bool { return errors.Is(s.Ping(ctx), store.ErrUnavailable) }, 2*time.Second, 20*time.Millisecond,
		"Ping still succeeds 2 s after the server is full")
	require.NoError(t, s.FinishDelivery(ctx, claimed.ID), "a full server still finishes a delivery")
	_, err = s.ClaimDelivery(ctx, now, time.Minute)
	require.ErrorIs(t, err, store.ErrUnavailable, "a claim on a full server fails cleanly")
	retried.NextAttempt = now
	require.ErrorIs(t, s.RetryDelivery(ctx, retried), store.ErrUnavailable, "a retry on a full server fails cleanly")

	require.NoError(t, c.ConfigSet(ctx, "maxmemory", "0").Err())
	require.Eventually(t, func() bool { return s.Ping(ctx) == nil }, 2*time.Second, 20*time.Millisecond)
	var rest []string
	for {
		d, err := s.ClaimDelivery(ctx, now.Add(2*time.Minute), time.Minute) // past the leases
		if errors.Is(err, store.ErrNotFound) {
			break
		}
		require.NoError(t, err)
		rest = append(rest, d.ID)
		require.NoError(t, s.FinishDelivery(ctx, d.ID))
	}
	var others []string
	for _, id := range ids {
		if id != claimed.ID {
			others = append(others, id)
		}
	}
	assert.ElementsMatch(t, others, rest, "the delivery finished at maxmemory is gone, the others are kept and claimed once memory is freed")
}
