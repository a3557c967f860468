package e2e

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/entra-verifier/entra-verifier/sandbox"
)

// redisServer is a redis-server of the test's own on a free port, which the test stops and starts again;
// the shared server is never touched.
type redisServer struct {
	t    *testing.T
	args []string
	port int
	cmd  *exec.Cmd
}

// startRedis starts redis-server; with persist it keeps an append-only file, synced on every write, in a
// directory of the test's own, so what it accepted survives a crash.
func startRedis(t *testing.T, persist bool) *redisServer {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	require.NoError(t, err, "the outage tests start a redis-server of their own (apt-get install redis-server)")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	port := ln.Addr().(*net.TCPAddr).Port
	require.NoError(t, ln.Close())
	args := []string{bin, "--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--save", "", "--daemonize", "no"}
	if persist {
		args = append(args, "--appendonly", "yes", "--appendfsync", "always", "--dir", t.TempDir())
	} else {
		args = append(args, "--appendonly", "no")
	}
	r := &redisServer{t: t, args: args, port: port}
	r.start()
	t.Cleanup(r.stop)
	return r
}

func (r *redisServer) url() string { return fmt.Sprintf("redis://127.0.0.1:%d/0", r.port) }

// start runs the server on its port and waits until it answers.
func (r *redisServer) start() {
	r.t.Helper()
	r.cmd = exec.Command(r.args[0], r.args[1:]...)
	require.NoError(r.t, r.cmd.Start())
	require.Eventually(r.t, func() bool {
		c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", r.port), 100*time.Millisecond)
		if err != nil {
			return false
		}
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(time.Second))
		buf := make([]byte, 64)
		_, err = c.Write([]byte("PING\r\n"))
		n, _ := c.Read(buf)
		return err == nil && strings.HasPrefix(string(buf[:n]), "+PONG")
	}, 5*time.Second, 20*time.Millisecond, "redis-server did not start on port %d", r.port)
}

// stop kills the server (a crash: no shutdown, no final save) and waits for it to go.
func (r *redisServer) stop() {
	if r.cmd == nil {
		return
	}
	_ = r.cmd.Process.Kill()
	_ = r.cmd.Wait()
	r.cmd = nil
}

// TestRedisOutage stops Redis under a running server: every store-backed answer is a 503 store_unavailable
// and /readyz says not ready; once Redis is back on the same port, the same process serves again within a
// few seconds. Whether a request accepted before the outage survives is Redis's doing: with an
// append-only file it does, and completes; without persistence it is gone (404). An event stream open
// through the outage stays open and delivers later events when the request survived, and ends (with no
// event) when it did not.
func TestRedisOutage(t *testing.T) {
	tests := []struct {
		name    string
		persist bool
	}{
		{"append-only file, synced on every write", true},
		{"no persistence", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rs := startRedis(t, tc.persist)
			env := map[string]string{"VERIFIER_STORE": "redis", "REDIS_URL": rs.url(), "REDIS_KEY_PREFIX": "outage:"}
			h := New(t, env)
			before := h.Create()
			require.Equal(t, http.StatusOK, h.Send(before.RequestID, sandbox.Retrieved()))
			session := h.CreateSession()
			events := h.Events(t, "/api/verifier/presentation-requests/"+before.RequestID+"/events")
			assert.Equal(t, "retrieved", NextEvent(t, events)["status"])

			rs.stop()
			ipaCallback := strings.TrimPrefix(h.CallbackURL(session.SessionID), h.URL)
			ipaBody, err := h.IPA.Callback(session.SessionID, sandbox.IPAError)
			require.NoError(t, err)
			for _, call := range []struct{ name, method, path, body string }{
				{"create a presentation request", http.MethodPost, "/api/verifier/presentation-requests", ""},
				{"read a presentation request", http.MethodGet, "/api/verifier/presentation-requests/" + before.RequestID, ""},
				{"open an event stream", http.MethodGet, "/api/verifier/presentation-requests/" + before.RequestID + "/events", ""},
				{"create an IPA session", http.MethodPost, "/api/ipa/sessions", ""},
				{"read an IPA session", http.MethodGet, "/api/ipa/sessions/" + session.SessionID, ""},
				{"IDEMIA's callback", http.MethodPost, ipaCallback, string(ipaBody)},
			} {
				code, body, hdr := h.Do(h.Browser, call.method, call.path, strings.NewReader(call.body), nil)
				assert.Equal(t, http.StatusServiceUnavailable, code, "%s: %s", call.name, body)
				assert.Equal(t, "store_unavailable", ErrorCode(t, body), call.name)
				assert.NotEmpty(t, hdr.Get("Retry-After"), call.name)
			}
			rec, ok := h.RS.Request(before.RequestID)
			require.True(t, ok)
			code, body := h.Callback(rec.Request.Callback.Headers["api-key"],
				fmt.Sprintf(`{"requestId":%q,"state":%q,"requestStatus":"presentation_verified"}`, before.RequestID, rec.Request.Callback.State))
			assert.Equal(t, http.StatusServiceUnavailable, code, "Microsoft's callback")
			assert.Equal(t, "store_unavailable", ErrorCode(t, body))
			code, _, _ = h.Do(http.DefaultClient, http.MethodGet, "/readyz", nil, nil)
			assert.Equal(t, http.StatusServiceUnavailable, code, "/readyz while Redis is down")

			rs.start()
			require.EventuallyWithT(t, func(c *assert.CollectT) {
				code, _, _ := h.Do(http.DefaultClient, http.MethodGet, "/readyz", nil, nil)
				assert.Equal(c, http.StatusOK, code)
			}, 10*time.Second, 50*time.Millisecond, "ready again, with no restart of our server")
			after := h.Create()
			assert.Equal(t, "created", h.StatusOf(after.RequestID)["status"])
			assert.Equal(t, "pending", h.SessionOf(h.CreateSession().SessionID)["status"])

			verified := sandbox.Verified(sandbox.VerifiedIdentity(USDID, Person()))
			if !tc.persist {
				code, body, _ := h.Do(h.Browser, http.MethodGet, "/api/verifier/presentation-requests/"+before.RequestID, nil, nil)
				assert.Equal(t, http.StatusNotFound, code, "Redis lost the request: %s", body)
				assert.Equal(t, http.StatusNotFound, h.Send(before.RequestID, verified))
				RequireEnded(t, events)
				return
			}
			assert.Equal(t, "retrieved", h.StatusOf(before.RequestID)["status"], "the request accepted before the outage is kept")
			assert.Equal(t, "pending", h.SessionOf(session.SessionID)["status"])
			require.Equal(t, http.StatusOK, h.Send(before.RequestID, verified))
			last := NextEvent(t, events)
			assert.Equal(t, "verified", last["status"], "the stream open through the outage delivers later events")
			assert.Equal(t, "Megan", last["claims"].(map[string]any)["firstName"])
			RequireEnded(t, events)
			status, err := h.IPA.Deliver(context.WithoutCancel(t.Context()), session.SessionID, ipaBody)
			require.NoError(t, err)
			assert.Equal(t, http.StatusNoContent, status)
			assert.Equal(t, "error", h.SessionOf(session.SessionID)["status"])
		})
	}
}

// TestReadyzFollowsRedis: /readyz, through the web server, answers 503 within 2 s of Redis refusing
// callbacks (out of memory, a read-only replica, down) and 200 within 2 s of Redis taking them again.
func TestReadyzFollowsRedis(t *testing.T) {
	rs := startRedis(t, false)
	h := New(t, map[string]string{"VERIFIER_STORE": "redis", "REDIS_URL": rs.url(), "REDIS_KEY_PREFIX": "readyz:"})
	admin := func() *goredis.Client { return RedisClient(t, rs.url()) }
	// until polls /readyz until it answers want, and returns how long that took (failing past 2 s).
	until := func(what string, want int) time.Duration {
		start := time.Now()
		for {
			code, _, _ := h.Do(http.DefaultClient, http.MethodGet, "/readyz", nil, nil)
			took := time.Since(start)
			if code == want {
				assert.Less(t, took, 2*time.Second, "%s: /readyz %d after %s", what, want, took)
				return took
			}
			require.Less(t, took, 10*time.Second, "%s: /readyz never answered %d", what, want)
			time.Sleep(10 * time.Millisecond)
		}
	}
	until("start", http.StatusOK)
	faults := []struct {
		name          string
		refuse, allow func()
	}{
		{"OOM", func() {
			c := admin()
			require.NoError(t, c.ConfigSet(t.Context(), "maxmemory-policy", "noeviction").Err())
			require.NoError(t, c.ConfigSet(t.Context(), "maxmemory", "1").Err())
		}, func() { require.NoError(t, admin().ConfigSet(t.Context(), "maxmemory", "0").Err()) }},
		{"READONLY", func() {
			require.NoError(t, admin().Do(t.Context(), "REPLICAOF", "127.0.0.1", "1").Err()) // a master that never answers
		}, func() { require.NoError(t, admin().Do(t.Context(), "REPLICAOF", "NO", "ONE").Err()) }},
		{"down", rs.stop, rs.start},
	}
	for _, f := range faults {
		f.refuse()
		down := until(f.name, http.StatusServiceUnavailable)
		f.allow()
		up := until(f.name+" recovered", http.StatusOK)
		t.Logf("%s: /readyz 503 after %s, 200 again %s after the recovery", f.name, down.Round(time.Millisecond), up.Round(time.Millisecond))
	}
}
