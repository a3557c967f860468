package redis_test

import (
	"errors"
	"fmt"
	"net"
	"os/exec"
	"strconv"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/entra-verifier/entra-verifier/store"
	"github.com/entra-verifier/entra-verifier/store/redis"
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
