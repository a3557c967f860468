package redis_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/entra-verifier/entra-verifier/store"
	"github.com/entra-verifier/entra-verifier/store/redis"
	"github.com/entra-verifier/entra-verifier/store/storetest"
)

func TestOpenFails(t *testing.T) {
	tests := []struct {
		name, url   string
		unavailable bool
	}{
		{"nothing listens", "redis://127.0.0.1:1/0", true},
		{"not a redis url", "http://user:s3cret@example.test/0", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := redis.Open(t.Context(), tc.url, redis.Options{})
			require.Error(t, err)
			assert.Equal(t, tc.unavailable, errors.Is(err, store.ErrUnavailable), "%v", err)
			assert.NotContains(t, err.Error(), "s3cret", "the URL's password is never repeated")
		})
	}
}

// killPubSub kills s's pub/sub connection only (other clients of the server are left alone).
func killPubSub(t *testing.T, s *redis.Store) {
	t.Helper()
	rdb := admin(t)
	list, err := rdb.ClientList(t.Context()).Result()
	require.NoError(t, err)
	var killed int
	for line := range strings.Lines(list) {
		fields := map[string]string{}
		for f := range strings.FieldsSeq(line) {
			k, v, _ := strings.Cut(f, "=")
			fields[k] = v
		}
		if fields["name"] == s.PubSubClientName() {
			require.NoError(t, rdb.Do(t.Context(), "CLIENT", "KILL", "ID", fields["id"]).Err())
			killed++
		}
	}
	require.Equal(t, 1, killed, "exactly one pub/sub connection named %s", s.PubSubClientName())
}

func TestWatcherSurvivesALostPubSubConnection(t *testing.T) {
	prefix := newPrefix(t)
	s, other := open(t, redisURL(), prefix), open(t, redisURL(), prefix)
	ctx := t.Context()
	p := storetest.NewPresentation(time.Minute)
	require.NoError(t, s.CreatePresentation(ctx, p))
	ch, err := s.Watch(ctx, store.PresentationTopic(p.ID))
	require.NoError(t, err)

	killPubSub(t, s)
	requireSignal(t, ch, "a watcher is told to re-read once the subscription is back")
	drain(ch)

	p.Status = store.PresentationRetrieved
	storetest.Put(t, other, p)
	requireSignal(t, ch, "updates after the reconnection still arrive")
}

func TestRecoversWhenRedisComesBack(t *testing.T) {
	px := startProxy(t)
	prefix := newPrefix(t)
	s, direct := open(t, px.url(), prefix), open(t, redisURL(), prefix)
	ctx := t.Context()
	p := storetest.NewPresentation(time.Minute)
	require.NoError(t, s.CreatePresentation(ctx, p))
	ch, err := s.Watch(ctx, store.PresentationTopic(p.ID))
	require.NoError(t, err)

	px.stop()
	// Ping answers its last proof for up to a second: a refused write shows within two.
	require.Eventually(t, func() bool { return errors.Is(s.Ping(ctx), store.ErrUnavailable) }, 2*time.Second, 50*time.Millisecond)
	_, err = s.Presentation(ctx, p.ID)
	assert.ErrorIs(t, err, store.ErrUnavailable)
	_, err = s.UpdatePresentation(ctx, p.ID, storetest.SetPresentation(p))
	assert.ErrorIs(t, err, store.ErrUnavailable)
	short, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
	defer cancel()
	_, err = s.Watch(short, store.PresentationTopic(storetest.ID()))
	assert.ErrorIs(t, err, store.ErrUnavailable, "a new watch is refused while the server is away")
	// An update the watcher cannot hear about: it must re-read after the reconnection.
	p.Status = store.PresentationRetrieved
	storetest.Put(t, direct, p)

	px.start()
	require.Eventually(t, func() bool { return s.Ping(ctx) == nil }, 10*time.Second, 50*time.Millisecond)
	requireSignal(t, ch, "the watcher is told to re-read once the subscription is back")
	got, err := s.Presentation(ctx, p.ID)
	require.NoError(t, err)
	assert.Equal(t, store.PresentationRetrieved, got.Status)

	drain(ch)
	got.Status = store.PresentationVerified
	storetest.Put(t, direct, got)
	requireSignal(t, ch, "updates after the reconnection still arrive")
	_, err = s.Watch(ctx, store.PresentationTopic(storetest.ID()))
	assert.NoError(t, err, "new watches work again")
}
