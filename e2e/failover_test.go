package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/entra-verifier/entra-verifier/sandbox"
)

// topology is a Sentinel set or a Redis Cluster of the test's own, started by scripts/redis-topologies.sh
// on ports no other test uses and stopped (by PID) when the test ends.
type topology struct {
	t    *testing.T
	kind string // "sentinel" or "cluster"
	dir  string
	base int
	url  string
}

func startTopology(t *testing.T, kind string, base int) *topology {
	t.Helper()
	_, err := exec.LookPath("redis-server")
	require.NoError(t, err, "the failover tests start Redis topologies of their own (apt-get install redis-server)")
	tp := &topology{t: t, kind: kind, dir: filepath.Join(t.TempDir(), "redis"), base: base}
	out, err := tp.script("start", kind).Output()
	t.Cleanup(func() { _ = tp.script("stop").Run() })
	require.NoError(t, err, "scripts/redis-topologies.sh start %s: %s", kind, exitStderr(err))
	for line := range strings.Lines(string(out)) {
		name, val, _ := strings.Cut(strings.TrimPrefix(strings.TrimSpace(line), "export "), "=")
		if (kind == "sentinel" && name == "REDIS_SENTINEL_URL") || (kind == "cluster" && name == "REDIS_CLUSTER_URL") {
			tp.url = strings.Trim(val, "'")
		}
	}
	require.NotEmpty(t, tp.url, "no URL in %q", out)
	return tp
}

func exitStderr(err error) string {
	if ee, ok := err.(*exec.ExitError); ok {
		return string(ee.Stderr)
	}
	return ""
}

func (tp *topology) script(args ...string) *exec.Cmd {
	cmd := exec.Command("../scripts/redis-topologies.sh", args...)
	cmd.Env = append(os.Environ(), "REDIS_TOPOLOGY_DIR="+tp.dir, "REDIS_TOPOLOGY_BASE_PORT="+strconv.Itoa(tp.base))
	return cmd
}

// kill sends SIGKILL to the server on port (a crash: no shutdown, no final write).
func (tp *topology) kill(port int) {
	tp.t.Helper()
	b, err := os.ReadFile(filepath.Join(tp.dir, strconv.Itoa(port), "pid"))
	require.NoError(tp.t, err)
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	require.NoError(tp.t, err)
	require.NoError(tp.t, syscall.Kill(pid, syscall.SIGKILL))
}

func (tp *topology) restart(port int) error {
	out, err := tp.script("restart-node", strconv.Itoa(port)).CombinedOutput()
	if err != nil {
		return fmt.Errorf("restart %d: %w: %s", port, err, out)
	}
	return nil
}

func node(port int) *goredis.Client {
	return goredis.NewClient(&goredis.Options{Addr: "127.0.0.1:" + strconv.Itoa(port), DisableIdentity: true,
		DialTimeout: 200 * time.Millisecond, ReadTimeout: time.Second, MaxRetries: -1})
}

// master returns the port of the master that holds the requests' first bucket ({ev0}), and, when that
// master is writable with a replica in sync, true.
func (tp *topology) master(ctx context.Context) (int, bool) {
	switch tp.kind {
	case "sentinel":
		s := node(tp.base + 21)
		defer s.Close()
		addr, err := s.Do(ctx, "SENTINEL", "GET-MASTER-ADDR-BY-NAME", "mymaster").StringSlice()
		if err != nil || len(addr) != 2 {
			return 0, false
		}
		port, _ := strconv.Atoi(addr[1])
		return port, synced(ctx, port)
	default:
		for i := 1; i <= 6; i++ {
			c := node(tp.base + i)
			owner, err := slotOwner(ctx, c, "{ev0}")
			c.Close()
			if err == nil {
				return owner, synced(ctx, owner)
			}
		}
		return 0, false
	}
}

// slotOwner asks c which master port serves key's slot.
func slotOwner(ctx context.Context, c *goredis.Client, key string) (int, error) {
	slot, err := c.ClusterKeySlot(ctx, key).Result()
	if err != nil {
		return 0, err
	}
	shards, err := c.ClusterShards(ctx).Result()
	if err != nil {
		return 0, err
	}
	for _, sh := range shards {
		for _, r := range sh.Slots {
			if r.Start > slot || slot > r.End {
				continue
			}
			for _, n := range sh.Nodes {
				if n.Role == "master" && n.Health == "online" {
					return int(n.Port), nil
				}
			}
		}
	}
	return 0, fmt.Errorf("slot %d has no master online", slot)
}

// synced reports whether port is a master with at least one replica online.
func synced(ctx context.Context, port int) bool {
	c := node(port)
	defer c.Close()
	info, err := c.Info(ctx, "replication").Result()
	if err != nil || !strings.Contains(info, "role:master") {
		return false
	}
	return strings.Contains(info, "state=online")
}

// replicaOf returns the port of a replica of the master on port.
func replicaOf(t *testing.T, port int) int {
	c := node(port)
	defer c.Close()
	info, err := c.Info(t.Context(), "replication").Result()
	require.NoError(t, err)
	for line := range strings.Lines(info) {
		if strings.HasPrefix(line, "slave0:") {
			for f := range strings.SplitSeq(strings.TrimSpace(strings.TrimPrefix(line, "slave0:")), ",") {
				if v, ok := strings.CutPrefix(f, "port="); ok {
					p, err := strconv.Atoi(v)
					require.NoError(t, err)
					return p
				}
			}
		}
	}
	t.Fatalf("master %d has no replica: %s", port, info)
	return 0
}

// flow drives creates and callbacks through two replicas behind a balancer, one at a time, and keeps
// what was answered 2xx, to be checked after the fault: presentation requests with Microsoft's callback and
// IPA sessions with IDEMIA's, in turn.
type flow struct {
	h, r                *Harness
	kinds               [2]*flowKind // presentation, IPA
	refused, wrongCodes int
	lastOK              atomic.Int64 // Unix ns of the latest 2xx callback
}

// flowKind is one kind of record in a flow.
type flowKind struct {
	name              string
	created, accepted []string
	pending           []string // created, callback not accepted yet
	// create answers the create's status code and the record's id; callback sends its callback.
	create   func(rep *Harness) (int, string)
	callback func(ctx context.Context, id string) (int, error)
	// done reports whether a record read back shows its callback applied.
	path string
	done func(v map[string]any) bool
}

func newFlow(t *testing.T, env map[string]string) *flow {
	h := New(t, env)
	r := h.Replica()
	var n atomic.Int64
	Route(t, h, func() int { return int(n.Add(1) % 2) }, h, r)
	f := &flow{h: h, r: r}
	f.kinds[0] = &flowKind{name: "presentation", path: "/api/verifier/presentation-requests/",
		create: func(rep *Harness) (int, string) {
			code, body, _ := rep.Do(rep.Browser, http.MethodPost, "/api/verifier/presentation-requests", nil, nil)
			var c Created
			if code == http.StatusCreated && json.Unmarshal(body, &c) != nil {
				code = 0
			}
			return code, c.RequestID
		},
		callback: func(ctx context.Context, id string) (int, error) {
			return h.RS.SendCallback(ctx, id, sandbox.Retrieved())
		},
		done: func(v map[string]any) bool { return v["status"] == "retrieved" },
	}
	f.kinds[1] = &flowKind{name: "IPA", path: "/api/ipa/sessions/",
		create: func(rep *Harness) (int, string) {
			code, body, _ := rep.Do(rep.Browser, http.MethodPost, "/api/ipa/sessions", nil, nil)
			var c IPACreated
			if code == http.StatusCreated && json.Unmarshal(body, &c) != nil {
				code = 0
			}
			return code, c.SessionID
		},
		callback: func(ctx context.Context, id string) (int, error) {
			return h.IPA.DeliverCallback(ctx, id, sandbox.IPAError)
		},
		done: func(v map[string]any) bool { return v["status"] == "error" },
	}
	return f
}

// accepted is the number of callbacks answered 2xx, of both kinds.
func (f *flow) accepted() int { return len(f.kinds[0].accepted) + len(f.kinds[1].accepted) }

// step creates a record (a presentation request, or an IPA session, in turn) through one replica, then
// sends the callback of the oldest record of that kind still waiting for one through the balancer (a
// refused callback is sent again later, as Microsoft and IDEMIA do); it reports whether the callback was
// answered 2xx.
func (f *flow) step(i int) bool {
	k := f.kinds[i%2]
	rep := []*Harness{f.h, f.r}[(i/2)%2]
	code, id := k.create(rep)
	switch {
	case code == http.StatusCreated:
		k.created = append(k.created, id)
		k.pending = append(k.pending, id)
	case code < 500:
		f.wrongCodes++
	}
	// A backlog of a few records waiting for their callback, so that the fault meets callbacks too.
	if len(k.pending) == 0 || (code == http.StatusCreated && len(k.pending) <= 5) {
		return false
	}
	id = k.pending[0]
	k.pending = k.pending[1:]
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	status, err := k.callback(ctx, id)
	switch {
	case err == nil && status/100 == 2:
		k.accepted = append(k.accepted, id)
		f.lastOK.Store(time.Now().UnixNano())
		return true
	case err == nil && status >= 500:
		f.refused++
	default:
		f.wrongCodes++ // neither accepted nor a 5xx the caller retries
	}
	k.pending = append(k.pending, id)
	return false
}

// lost counts, per kind, the creates and callbacks answered 2xx whose record or transition is missing now.
func (f *flow) lost(t *testing.T) (creates, callbacks [2]int) {
	for n, k := range f.kinds {
		ok := map[string]bool{}
		for _, id := range k.accepted {
			ok[id] = true
		}
		for _, id := range k.created {
			code, body, _ := f.h.Do(f.h.Browser, http.MethodGet, k.path+id, nil, nil)
			if code != http.StatusOK {
				creates[n]++
				if ok[id] {
					callbacks[n]++
				}
				continue
			}
			var v map[string]any
			require.NoError(t, json.Unmarshal(body, &v))
			if ok[id] && !k.done(v) {
				callbacks[n]++
			}
		}
	}
	return creates, callbacks
}

// report logs what the flow saw and asserts that nothing answered 2xx was lost, of either kind.
func (f *flow) report(t *testing.T, name string) {
	t.Helper()
	lostCreates, lostCallbacks := f.lost(t)
	for n, k := range f.kinds {
		t.Logf("%s: %s: %d created, %d callbacks answered 2xx; lost: %d creates, %d callbacks",
			name, k.name, len(k.created), len(k.accepted), lostCreates[n], lostCallbacks[n])
		assert.Zero(t, lostCallbacks[n], "%s callbacks answered 2xx and lost", k.name)
		assert.Zero(t, lostCreates[n], "%s creates answered 2xx and lost", k.name)
		assert.NotEmpty(t, k.accepted, "%s callbacks accepted", k.name)
	}
	assert.Zero(t, f.wrongCodes, "answers that were neither 2xx nor 5xx")
}

// TestFailover runs two service replicas on a Redis deployment of the test's own with callbacks flowing,
// then fails its master over: nothing answered 2xx is lost, everything refused is a 5xx, service resumes
// within 10 s of Redis having a writable master with a replica again, and an event stream opened before
// the fault delivers its next event within 5 s.
func TestFailover(t *testing.T) {
	tests := []struct {
		name, kind string
		base       int
		graceful   bool
	}{
		{"sentinel kill -9 of the master", "sentinel", 7300, false},
		{"sentinel SENTINEL FAILOVER", "sentinel", 7340, true},
		{"cluster kill -9 of the slot's master", "cluster", 7380, false},
		{"cluster CLUSTER FAILOVER", "cluster", 7420, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tp := startTopology(t, tc.kind, tc.base)
			f := newFlow(t, map[string]string{"VERIFIER_STORE": "redis", "REDIS_URL": tp.url,
				"VERIFIER_REDIS_MODE": tc.kind, "REDIS_KEY_PREFIX": "failover:"})
			watched := f.h.Create()
			events := f.h.Events(t, "/api/verifier/presentation-requests/"+watched.RequestID+"/events")

			ctx := t.Context()
			old, ok := tp.master(ctx)
			require.True(t, ok, "a synced master before the fault")
			i := 0
			for start := time.Now(); time.Since(start) < 1500*time.Millisecond; i++ {
				f.step(i)
			}
			before := f.accepted()
			require.Positive(t, before, "callbacks flow before the fault")

			faultAt := time.Now()
			switch {
			case tc.graceful && tc.kind == "sentinel":
				s := node(tp.base + 21)
				require.NoError(t, s.Do(ctx, "SENTINEL", "FAILOVER", "mymaster").Err())
				s.Close()
			case tc.graceful:
				r := node(replicaOf(t, old))
				require.NoError(t, r.Do(ctx, "CLUSTER", "FAILOVER").Err())
				r.Close()
			default:
				tp.kill(old)
			}

			// Keep the callbacks flowing while Redis fails over; a killed master comes back (as a replica)
			// once another took over, so that writes can be acknowledged again. From the new master on, the
			// watched request's callback is tried at every step, until it is accepted.
			var readyAt, recoveredAt, cbAt time.Time
			restarted := tc.graceful
			deadline := faultAt.Add(40 * time.Second)
			for ; time.Now().Before(deadline); i++ {
				if readyAt.IsZero() {
					cur, synced := tp.master(ctx)
					if !restarted && cur != 0 && cur != old {
						require.NoError(t, tp.restart(old))
						restarted = true
					}
					if synced && cur != old {
						readyAt = time.Now()
					}
				}
				if !readyAt.IsZero() && cbAt.IsZero() {
					if code, err := f.h.RS.SendCallback(ctx, watched.RequestID, sandbox.Retrieved()); err == nil && code/100 == 2 {
						cbAt = time.Now()
					}
				}
				if f.step(i) && !readyAt.IsZero() && recoveredAt.IsZero() {
					recoveredAt = time.Now()
				}
				if !recoveredAt.IsZero() && !cbAt.IsZero() && time.Since(recoveredAt) > time.Second {
					break
				}
			}
			require.False(t, readyAt.IsZero(), "Redis never had a new synced master within 40 s")
			require.False(t, recoveredAt.IsZero(), "callbacks never succeeded again within 40 s of the fault")
			require.False(t, cbAt.IsZero(), "the watched request's callback never succeeded within 40 s of the fault")

			// The stream opened before the fault hears of that change.
			var eventAt time.Time
			for wait := time.After(10 * time.Second); eventAt.IsZero(); {
				select {
				case ev, ok := <-events:
					require.True(t, ok, "the event stream ended")
					if ev["status"] == "retrieved" {
						eventAt = time.Now()
					}
				case <-wait:
					t.Fatal("the event stream opened before the failover heard nothing within 10 s of its callback")
				}
			}

			t.Logf("%s: %d callbacks accepted (%d before the fault), %d refused with 5xx, %d neither; "+
				"new synced master %.2fs after the fault, callbacks succeed again %.2fs after that; "+
				"event %.2fs after the new master (%.2fs after its callback)",
				tc.name, f.accepted(), before, f.refused, f.wrongCodes, readyAt.Sub(faultAt).Seconds(),
				recoveredAt.Sub(readyAt).Seconds(), eventAt.Sub(readyAt).Seconds(), eventAt.Sub(cbAt).Seconds())
			f.report(t, tc.name)
			assert.Greater(t, f.accepted(), before, "callbacks accepted after the failover too")
			assert.Less(t, recoveredAt.Sub(readyAt), 10*time.Second, "service back within 10 s of a synced master")
			assert.Less(t, eventAt.Sub(readyAt), 5*time.Second, "the watcher hears within 5 s of the new master")
		})
	}
}

// TestSingleRedisKill9 crashes the single Redis configured as deploy/ ships it (append-only file, fsync
// always) under two replicas with callbacks flowing, and starts it again.
func TestSingleRedisKill9(t *testing.T) {
	rs := startRedis(t, true)
	f := newFlow(t, map[string]string{"VERIFIER_STORE": "redis", "REDIS_URL": rs.url(), "REDIS_KEY_PREFIX": "kill9:"})
	i := 0
	for start := time.Now(); time.Since(start) < 1500*time.Millisecond; i++ {
		f.step(i)
	}
	before := f.accepted()
	require.Positive(t, before)
	rs.stop() // SIGKILL
	for end := time.Now().Add(500 * time.Millisecond); time.Now().Before(end); i++ {
		assert.False(t, f.step(i), "nothing accepted while Redis is down")
	}
	rs.start()
	upAt := time.Now()
	var recoveredAt time.Time
	for end := upAt.Add(10 * time.Second); time.Now().Before(end) && recoveredAt.IsZero(); i++ {
		if f.step(i) {
			recoveredAt = time.Now()
		}
	}
	require.False(t, recoveredAt.IsZero(), "callbacks never succeeded after the restart")
	for end := time.Now().Add(500 * time.Millisecond); time.Now().Before(end); i++ {
		f.step(i)
	}
	t.Logf("single kill -9: %d callbacks accepted (%d before), %d refused with 5xx; callbacks succeed again %.3fs after the restart",
		f.accepted(), before, f.refused, recoveredAt.Sub(upAt).Seconds())
	f.report(t, "single kill -9")
	assert.Less(t, recoveredAt.Sub(upAt), time.Second, "back within 1 s of the restart")
}
