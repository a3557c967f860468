package e2e

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	mrand "math/rand/v2"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/entra-verifier/entra-verifier/sandbox"
	"github.com/entra-verifier/entra-verifier/store"
)

// publishes records, per channel, every notification the stores publish on Redis (their payload is the
// record's new version). It counts at the Redis level, where nothing coalesces, unlike a watcher.
type publishes struct {
	t       *testing.T
	prefix  string
	mu      sync.Mutex
	seen    map[string][]string
	publish func(channel, msg string) error
}

// countPublishes subscribes to every notification channel of the application's key prefix.
func countPublishes(t *testing.T, h *Harness) *publishes {
	t.Helper()
	rdb := RedisClient(t, h.Cfg.RedisURL)
	p := &publishes{t: t, prefix: h.Cfg.RedisPrefix, seen: map[string][]string{}}
	p.publish = func(channel, msg string) error { return rdb.Publish(t.Context(), channel, msg).Err() }
	ps := rdb.PSubscribe(t.Context(), p.prefix+"w:*") // the store's channel: prefix + "w:{evN}:" + topic
	t.Cleanup(func() { _ = ps.Close() })
	_, err := ps.Receive(t.Context()) // the subscription's confirmation
	require.NoError(t, err)
	go func() {
		for m := range ps.Channel() {
			p.mu.Lock()
			topic := p.topicOf(m.Channel)
			p.seen[topic] = append(p.seen[topic], m.Payload)
			p.mu.Unlock()
		}
	}()
	return p
}

// topicOf maps a notification channel to its topic: prefix + "w:{evN}:" + topic → topic (the bucket's hash
// tag stripped); anything else (the marker) keeps its channel name.
func (p *publishes) topicOf(channel string) string {
	rest, ok := strings.CutPrefix(channel, p.prefix+"w:{ev")
	if !ok {
		return channel
	}
	if _, topic, ok := strings.Cut(rest, "}:"); ok {
		return topic
	}
	return channel
}

// of returns the payloads published for topic, once every publish made so far has arrived (a marker
// published last comes through last).
func (p *publishes) of(topic string) []string {
	p.t.Helper()
	marker := p.prefix + "w:marker/" + rand.Text()
	require.NoError(p.t, p.publish(marker, "marker"))
	require.Eventually(p.t, func() bool {
		p.mu.Lock()
		defer p.mu.Unlock()
		return len(p.seen[marker]) > 0
	}, 5*time.Second, 5*time.Millisecond)
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.seen[topic])
}

// versions is "1" … "n": one publish per transition, each version once, in order.
func versions(n int64) []string {
	out := []string{}
	for v := int64(1); v <= n; v++ {
		out = append(out, strconv.FormatInt(v, 10))
	}
	return out
}

// rank orders statuses: a status never moves to a lower rank, and a final one (rank 2) never changes.
var rank = map[string]int{"created": 0, "pending": 0, "retrieved": 1, "verified": 2, "failed": 2, "completed": 2, "error": 2, "timeout": 2}

// checkHistory asserts that statuses, as one reader saw them in order, never went backwards and never
// left the first final status.
func checkHistory(t *testing.T, who string, statuses []string) {
	t.Helper()
	for i := 1; i < len(statuses); i++ {
		prev, cur := statuses[i-1], statuses[i]
		assert.GreaterOrEqual(t, rank[cur], rank[prev], "%s: status went back: %v", who, statuses)
		if rank[prev] == 2 {
			assert.Equal(t, prev, cur, "%s: a final status changed: %v", who, statuses)
		}
	}
}

// storm calls do for every step of a round at once, in a shuffled order, and the rounds one after another.
func storm[T any](rounds [][]T, do func(T)) {
	for _, round := range rounds {
		round = slices.Clone(round)
		mrand.Shuffle(len(round), func(i, j int) { round[i], round[j] = round[j], round[i] })
		var wg sync.WaitGroup
		for _, step := range round {
			wg.Go(func() { do(step) })
		}
		wg.Wait()
	}
}

// follow records what a reader sees of one record: the statuses of its event stream on replica A, and
// those of status reads polling replica B until stop is closed.
func follow(t *testing.T, a, b *Harness, events, status string, stop <-chan struct{}) (stream, polled func() []string) {
	streamed := a.Events(t, events)
	var (
		mu        sync.Mutex
		fromB     []string
		done, got = make(chan struct{}), make(chan []string, 1)
	)
	go func() {
		var seen []string
		for e := range streamed {
			seen = append(seen, e["status"].(string))
		}
		got <- seen
	}()
	go func() {
		defer close(done)
		for {
			select {
			case <-stop:
				return
			case <-time.After(2 * time.Millisecond):
			}
			if s, ok := readStatus(b, status); ok {
				mu.Lock()
				fromB = append(fromB, s)
				mu.Unlock()
			}
		}
	}()
	stream = func() []string {
		select {
		case seen := <-got:
			return seen
		case <-time.After(10 * time.Second):
			t.Errorf("%s: the stream did not end after a final status", events)
			return nil
		}
	}
	polled = func() []string {
		<-done
		mu.Lock()
		defer mu.Unlock()
		return slices.Clone(fromB)
	}
	return stream, polled
}

// readStatus reads the "status" at path through h as its browser; unlike Harness.do it never fails the
// test, so a polling goroutine may call it.
func readStatus(h *Harness, path string) (string, bool) {
	resp, err := h.Browser.Get(h.URL + path)
	if err != nil {
		return "", false
	}
	defer resp.Body.Close()
	var v struct{ Status string }
	if resp.StatusCode != http.StatusOK || json.NewDecoder(resp.Body).Decode(&v) != nil {
		return "", false
	}
	return v.Status, true
}

// TestReplicaCallbackRace spreads concurrent, duplicated and reordered callbacks for the same requests over
// two replicas: every request ends in the first final status that won, each transition is published once,
// and no reader ever sees a status go back.
func TestReplicaCallbackRace(t *testing.T) {
	a := New(t, SharedRedis(t))
	b := a.Replica()
	var n atomic.Int64
	Route(t, a, func() int { return int(n.Add(1) % 2) }, a, b)
	pubs := countPublishes(t, a)

	const r, v, e = "request_retrieved", "presentation_verified", "presentation_error"
	event := map[string]map[string]any{
		r: sandbox.Retrieved(), v: sandbox.Verified(sandbox.VerifiedIdentity(USDID, Person())),
		e: sandbox.PresentationError("claimValidationError", "declined"),
	}
	tests := []struct {
		name   string
		copies int
		rounds [][]string
		// want lists the acceptable final statuses, and for each the number of transitions it took.
		want map[string][]int64
	}{
		{"in order, then a late error", 2, [][]string{{r}, {v}, {e}}, map[string][]int64{"verified": {2}}},
		{"error first, then the rest", 2, [][]string{{e}, {v, r, v}}, map[string][]int64{"failed": {1}}},
		{"verified before retrieved", 2, [][]string{{v}, {r, r, e}}, map[string][]int64{"verified": {1}}},
		{"everything at once, three times over", 8, [][]string{{r, r, r, v, v, v, e, e, e}, {v, e, r}},
			map[string][]int64{"verified": {1, 2}, "failed": {1, 2}}},
	}
	stop := make(chan struct{})
	type run struct {
		name, id       string
		stream, polled func() []string
		want           map[string][]int64
	}
	var runs []run
	var wg sync.WaitGroup
	for _, tc := range tests {
		for i := range tc.copies {
			c := a.Create()
			base := "/api/verifier/presentation-requests/" + c.RequestID
			stream, polled := follow(t, a, b, base+"/events", base, stop)
			runs = append(runs, run{fmt.Sprintf("%s #%d", tc.name, i), c.RequestID, stream, polled, tc.want})
			wg.Go(func() {
				storm(tc.rounds, func(step string) {
					code, err := a.RS.SendCallback(context.WithoutCancel(t.Context()), c.RequestID, event[step])
					assert.NoError(t, err)
					assert.Equal(t, http.StatusOK, code, "%s: %s", tc.name, step)
				})
			})
		}
	}
	wg.Wait()
	close(stop)

	for _, run := range runs {
		got := a.StatusOf(run.id)
		status := got["status"].(string)
		transitions, ok := run.want[status]
		require.True(t, ok, "%s: final status %q", run.name, status)
		switch status {
		case "verified":
			assert.Equal(t, "Megan", got["claims"].(map[string]any)["firstName"], run.name)
			assert.Nil(t, got["reason"], run.name)
		case "failed":
			assert.Equal(t, "presentation_error", got["reason"], run.name)
			assert.Equal(t, "claimValidationError", got["detail"], run.name)
			assert.Nil(t, got["claims"], run.name)
		}
		assert.Equal(t, got, b.StatusOf(run.id), "%s: both replicas read the same", run.name)

		published := pubs.of(store.PresentationTopic(run.id))
		assert.Contains(t, transitions, int64(len(published)), "%s: number of transitions", run.name)
		assert.Equal(t, versions(int64(len(published))), published, "%s: one publish per transition, in order", run.name)

		stream := run.stream()
		checkHistory(t, run.name+" (stream on A)", stream)
		if assert.NotEmpty(t, stream, run.name) {
			assert.Equal(t, status, stream[len(stream)-1], "%s: the stream ended on the status that won first", run.name)
		}
		checkHistory(t, run.name+" (status polled on B)", append(run.polled(), status))
	}
}
