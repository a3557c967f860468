package redis_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/entra-verifier/entra-verifier/store"
	"github.com/entra-verifier/entra-verifier/store/storetest"
)

// record is one kind of record, reduced to what the replica tests need.
type record struct {
	name string
	// create stores a new record through s and returns its topic and a function that updates it through s.
	create func(t *testing.T, s store.Store) (topic string, update func(s store.Store) error)
}

var records = []record{
	{"presentation", func(t *testing.T, s store.Store) (string, func(store.Store) error) {
		p := storetest.NewPresentation(time.Minute)
		require.NoError(t, s.CreatePresentation(t.Context(), p))
		return store.PresentationTopic(p.ID), func(s store.Store) error {
			_, err := s.UpdatePresentation(t.Context(), p.ID, func(cur *store.Presentation) ([]*store.Delivery, error) {
				cur.Status = store.PresentationRetrieved
				return nil, nil
			})
			return err
		}
	}},
	{"ipa session", func(t *testing.T, s store.Store) (string, func(store.Store) error) {
		v := storetest.NewIPASession(time.Minute)
		require.NoError(t, s.CreateIPASession(t.Context(), v))
		return store.IPATopic(v.ID), func(s store.Store) error {
			_, err := s.UpdateIPASession(t.Context(), v.ID, func(cur *store.IPASession) ([]*store.Delivery, error) {
				cur.Status = store.IPACompleted
				return nil, nil
			})
			return err
		}
	}},
}

func TestWatchSeesUpdatesOfAnotherReplica(t *testing.T) {
	prefix := newPrefix(t)
	a, b := open(t, redisURL(), prefix), open(t, redisURL(), prefix)
	for _, rec := range records {
		t.Run(rec.name, func(t *testing.T) {
			topic, update := rec.create(t, a)
			onB, err := b.Watch(t.Context(), topic)
			require.NoError(t, err)
			onA, err := a.Watch(t.Context(), topic)
			require.NoError(t, err)

			require.NoError(t, update(a))
			requireSignal(t, onB, "a watcher on replica B sees an update made through replica A")
			requireSignal(t, onA, "and so does a watcher on replica A")

			require.NoError(t, update(b))
			requireSignal(t, onA, "a watcher on replica A sees an update made through replica B")
		})
	}
}

func TestWatchersOfOneTopicShareASubscription(t *testing.T) {
	prefix := newPrefix(t)
	s, other := open(t, redisURL(), prefix), open(t, redisURL(), prefix)
	topic, update := records[0].create(t, s)

	first, cancelFirst := context.WithCancel(t.Context())
	chs := make([]<-chan struct{}, 3)
	for i := range chs {
		ctx := t.Context()
		if i == 0 {
			ctx = first
		}
		var err error
		chs[i], err = s.Watch(ctx, topic)
		require.NoError(t, err)
	}
	cancelFirst()
	requireClosed(t, chs[0])

	require.NoError(t, update(other))
	for _, ch := range chs[1:] {
		requireSignal(t, ch, "the other watchers of the topic stay subscribed")
	}
}

func TestPrefixesKeepDeploymentsApart(t *testing.T) {
	blue, green := open(t, redisURL(), newPrefix(t)), open(t, redisURL(), newPrefix(t))
	ctx := t.Context()
	p := storetest.NewPresentation(time.Minute)
	require.NoError(t, blue.CreatePresentation(ctx, p))

	_, err := green.Presentation(ctx, p.ID)
	assert.ErrorIs(t, err, store.ErrNotFound, "a record of another deployment is invisible")
	_, err = green.PresentationByState(ctx, p.State)
	assert.ErrorIs(t, err, store.ErrNotFound)
	twin := *p
	require.NoError(t, green.CreatePresentation(ctx, &twin), "the same id and state are free in another deployment")

	onGreen, err := green.Watch(ctx, store.PresentationTopic(p.ID))
	require.NoError(t, err)
	p.Status = store.PresentationRetrieved
	storetest.Put(t, blue, p)
	select {
	case <-onGreen:
		t.Fatal("a watcher was notified of another deployment's update")
	case <-time.After(200 * time.Millisecond):
	}
	got, err := green.Presentation(ctx, p.ID)
	require.NoError(t, err)
	assert.Equal(t, store.PresentationCreated, got.Status)
}

func requireSignal(t *testing.T, ch <-chan struct{}, msg string) {
	t.Helper()
	select {
	case _, ok := <-ch:
		require.True(t, ok, "watch channel closed instead of signalling: %s", msg)
	case <-time.After(5 * time.Second):
		t.Fatalf("no signal within 5s: %s", msg)
	}
}

func requireClosed(t *testing.T, ch <-chan struct{}) {
	t.Helper()
	deadline := time.After(5 * time.Second)
	for {
		select {
		case _, ok := <-ch:
			if !ok {
				return
			}
		case <-deadline:
			t.Fatal("watch channel not closed")
		}
	}
}

// drain empties a pending signal, so the next requireSignal waits for a new one.
func drain(ch <-chan struct{}) {
	select {
	case <-ch:
	default:
	}
}
