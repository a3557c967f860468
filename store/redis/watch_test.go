package redis_test

import (
	"context"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/entra-verifier/entra-verifier/store"
	"github.com/entra-verifier/entra-verifier/store/redis"
	"github.com/entra-verifier/entra-verifier/store/storetest"
)

// pubsubConns returns, for each pub/sub connection named like s's, its number of subscribed channels.
func pubsubConns(t *testing.T, s *redis.Store) []int {
	t.Helper()
	list, err := admin(t).ClientList(t.Context()).Result()
	require.NoError(t, err)
	var subs []int
	for line := range strings.Lines(list) {
		if !strings.Contains(line, " name="+s.PubSubClientName()+" ") {
			continue
		}
		for f := range strings.FieldsSeq(line) {
			if v, ok := strings.CutPrefix(f, "sub="); ok {
				n, err := strconv.Atoi(v)
				require.NoError(t, err)
				subs = append(subs, n)
			}
		}
	}
	return subs
}

func TestWatchersShareOneConnection(t *testing.T) {
	s := open(t, redisURL(), newPrefix(t))
	ctx, cancel := context.WithCancel(t.Context())
	const topics = 300
	var chs []<-chan struct{}
	for i := range topics {
		topic := store.PresentationTopic(storetest.ID())
		for range 1 + i%2 { // some topics have two watchers
			ch, err := s.Watch(ctx, topic)
			require.NoError(t, err)
			chs = append(chs, ch)
		}
	}
	assert.Equal(t, []int{topics + 1}, pubsubConns(t, s), "one pub/sub connection, one channel per topic and its heartbeat")

	cancel()
	for _, ch := range chs {
		requireClosed(t, ch)
	}
	require.Eventually(t, func() bool { return assert.ObjectsAreEqual([]int{1}, pubsubConns(t, s)) },
		5*time.Second, 20*time.Millisecond, "a channel is unsubscribed when its last watcher leaves")
}

func TestWatchAgainAfterTheLastWatcherLeft(t *testing.T) {
	prefix := newPrefix(t)
	s, other := open(t, redisURL(), prefix), open(t, redisURL(), prefix)
	topic, update := records[0].create(t, s)
	for range 20 { // leave and re-watch quickly: the UNSUBSCRIBE of one round never drops the next round's watcher
		ctx, cancel := context.WithCancel(t.Context())
		_, err := s.Watch(ctx, topic)
		require.NoError(t, err)
		cancel()
	}
	ch, err := s.Watch(t.Context(), topic)
	require.NoError(t, err)
	require.NoError(t, update(other))
	requireSignal(t, ch, "a watcher that follows leaving ones is subscribed")
}

func TestCloseStopsEverything(t *testing.T) {
	admin(t)
	before := runtime.NumGoroutine()
	s, err := redis.Open(t.Context(), redisURL(), redis.Options{Prefix: newPrefix(t)})
	require.NoError(t, err)
	ch, err := s.Watch(t.Context(), store.PresentationTopic(storetest.ID()))
	require.NoError(t, err)

	require.NoError(t, s.Close())
	requireClosed(t, ch)
	_, err = s.Watch(t.Context(), store.PresentationTopic(storetest.ID()))
	assert.Error(t, err, "no watch on a closed store")
	assert.ErrorIs(t, s.Ping(t.Context()), store.ErrUnavailable)
	assert.NoError(t, s.Close(), "a second Close is harmless")
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > before {
		buf := make([]byte, 1<<20)
		t.Fatalf("%d goroutines after Close, %d before Open:\n%s", n, before, buf[:runtime.Stack(buf, true)])
	}
}

// TestWatchEveryShardOnCluster: each bucket's pub/sub connection is opened on the master of the bucket's
// slot, so the first watch of every bucket on a fresh Store is confirmed at once (a connection opened on
// another node has its SSUBSCRIBE answered MOVED: confirmed only after the heartbeat replaced it, or never).
func TestWatchEveryShardOnCluster(t *testing.T) {
	for round := range 3 {
		s := cluster.open(t)
		topics := map[int]string{}
		for i := 0; len(topics) < redis.Buckets; i++ {
			topic := "t/" + strconv.Itoa(round) + "-" + strconv.Itoa(i)
			if b := redis.BucketOf(topic); topics[b] == "" {
				topics[b] = topic
			}
		}
		var wg sync.WaitGroup
		for b, topic := range topics {
			wg.Go(func() {
				start := time.Now()
				_, err := s.Watch(t.Context(), topic)
				assert.NoError(t, err, "round %d, bucket %d", round, b)
				// A connection on the wrong node is only replaced once the heartbeat has been silent for 3 s.
				assert.Less(t, time.Since(start), 2500*time.Millisecond, "round %d, bucket %d: confirmed without a reconnection", round, b)
			})
		}
		wg.Wait()
	}
}
