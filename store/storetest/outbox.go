package storetest

import (
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/entra-verifier/entra-verifier/store"
)

func testAllow(t *testing.T, s store.Store) {
	ctx := t.Context()
	key, other := "ip:"+ID(), "ip:"+ID()
	for i := range 3 {
		ok, _, err := s.Allow(ctx, key, 3, 400*time.Millisecond)
		require.NoError(t, err)
		assert.True(t, ok, "event %d is within the limit", i+1)
	}
	ok, retryAfter, err := s.Allow(ctx, key, 3, 400*time.Millisecond)
	require.NoError(t, err)
	assert.False(t, ok, "the 4th event in the window is refused")
	assert.True(t, retryAfter > 0 && retryAfter <= 400*time.Millisecond, "retry after %v", retryAfter)
	ok, _, err = s.Allow(ctx, other, 3, 400*time.Millisecond)
	require.NoError(t, err)
	assert.True(t, ok, "keys are counted apart")
	time.Sleep(retryAfter + 50*time.Millisecond)
	ok, _, err = s.Allow(ctx, key, 3, 400*time.Millisecond)
	require.NoError(t, err)
	assert.True(t, ok, "a new window starts after the old one ends")
}

func newDelivery(now time.Time) *store.Delivery {
	return &store.Delivery{ID: "msg_" + ID(), Body: []byte(`{"type":"presentation.verified"}`), NextAttempt: now, CreatedAt: now}
}

// enqueue queues d the way the services do: with the transition of a record.
func enqueue(t *testing.T, s store.Store, d *store.Delivery) {
	t.Helper()
	p := NewPresentation(time.Hour)
	require.NoError(t, s.CreatePresentation(t.Context(), p))
	p.Status = store.PresentationVerified
	_, err := s.UpdatePresentation(t.Context(), p.ID, SetPresentation(p, d))
	require.NoError(t, err)
}

// claimOwn claims due deliveries until it gets the one with id (suites may share a backend).
func claimOwn(t *testing.T, s store.Store, id string, now time.Time, lease time.Duration) (*store.Delivery, error) {
	for range 1000 {
		d, err := s.ClaimDelivery(t.Context(), now, lease)
		if err != nil || d.ID == id {
			return d, err
		}
	}
	t.Fatal("delivery never claimed")
	return nil, nil
}

func testDeliveries(t *testing.T, s store.Store) {
	ctx := t.Context()
	now := time.Now().UTC().Truncate(time.Millisecond)
	d := newDelivery(now)
	d.NextAttempt = now.Add(time.Hour)
	enqueue(t, s, d)

	due := newDelivery(now)
	enqueue(t, s, due)
	got, err := claimOwn(t, s, due.ID, now, time.Minute)
	require.NoError(t, err)
	assert.Equal(t, due.Body, got.Body)
	assert.Equal(t, 1, got.Attempts, "a claim counts the attempt it starts")

	// Leased: nobody else gets it until the lease ends.
	for {
		other, err := s.ClaimDelivery(ctx, now.Add(30*time.Second), time.Minute)
		if errors.Is(err, store.ErrNotFound) {
			break
		}
		require.NoError(t, err)
		require.NotEqual(t, due.ID, other.ID, "a leased delivery was claimed again")
	}
	got.NextAttempt = now.Add(2 * time.Minute)
	require.NoError(t, s.RetryDelivery(ctx, got))
	again, err := claimOwn(t, s, due.ID, now.Add(2*time.Minute), time.Minute)
	require.NoError(t, err)
	assert.Equal(t, 2, again.Attempts, "the retry was recorded and the new attempt counted")

	// A replica that dies mid-attempt never retries or finishes: once its lease ends, another claims it.
	crashed, err := claimOwn(t, s, due.ID, now.Add(3*time.Minute+time.Second), time.Minute)
	require.NoError(t, err)
	assert.Equal(t, 3, crashed.Attempts, "the attempt cut short still counts")

	require.NoError(t, s.FinishDelivery(ctx, due.ID))
	require.NoError(t, s.FinishDelivery(ctx, d.ID))
	assert.ErrorIs(t, s.RetryDelivery(ctx, got), store.ErrNotFound)
	for {
		left, err := s.ClaimDelivery(ctx, now.Add(2*time.Hour), time.Minute)
		if errors.Is(err, store.ErrNotFound) {
			break
		}
		require.NoError(t, err)
		require.NotContains(t, []string{d.ID, due.ID}, left.ID, "finished deliveries are gone")
	}
}

func testDeliveryRace(t *testing.T, s store.Store) {
	ctx := t.Context()
	now := time.Now().UTC()
	d := newDelivery(now)
	enqueue(t, s, d)
	var mine atomic.Int32
	wins, errs := race(8, func(int) error {
		for {
			got, err := s.ClaimDelivery(ctx, now, time.Minute)
			if err != nil {
				return store.ErrUnchanged // nothing (left) to claim: counts as lost
			}
			if got.ID == d.ID {
				mine.Add(1)
				return nil
			}
		}
	})
	require.Empty(t, errs)
	assert.EqualValues(t, 1, wins)
	assert.EqualValues(t, 1, mine.Load(), "exactly one replica claims a due delivery")
	require.NoError(t, s.FinishDelivery(ctx, d.ID))
}

// testUpdateOutbox: an update stores the deliveries its updater returns when it writes, and none when its
// updater finds nothing to do (the loser of a race on one transition), for both kinds of record.
func testUpdateOutbox(t *testing.T, s store.Store) {
	ctx := t.Context()
	now := time.Now().UTC().Truncate(time.Millisecond)
	p := NewPresentation(time.Hour)
	require.NoError(t, s.CreatePresentation(ctx, p))
	v := NewIPASession(time.Hour)
	require.NoError(t, s.CreateIPASession(ctx, v))

	won, later, otherWon := newDelivery(now), newDelivery(now), newDelivery(now)
	later.NextAttempt = now.Add(10 * time.Minute)
	lost, otherLost := newDelivery(now), newDelivery(now)
	endOnce := func(outbox ...*store.Delivery) store.PresentationUpdater {
		return func(cur *store.Presentation) ([]*store.Delivery, error) {
			if cur.Status.Final() {
				return outbox, store.ErrUnchanged
			}
			cur.Status = store.PresentationVerified
			return outbox, nil
		}
	}
	endSessionOnce := func(d *store.Delivery) store.IPAUpdater {
		return func(cur *store.IPASession) ([]*store.Delivery, error) {
			if cur.Status.Final() {
				return []*store.Delivery{d}, store.ErrUnchanged
			}
			cur.Status = store.IPACompleted
			return []*store.Delivery{d}, nil
		}
	}
	_, err := s.UpdatePresentation(ctx, p.ID, endOnce(won, later))
	require.NoError(t, err)
	_, err = s.UpdateIPASession(ctx, v.ID, endSessionOnce(otherWon))
	require.NoError(t, err)
	_, err = s.UpdatePresentation(ctx, p.ID, endOnce(lost))
	require.ErrorIs(t, err, store.ErrUnchanged)
	_, err = s.UpdateIPASession(ctx, v.ID, endSessionOnce(otherLost))
	require.ErrorIs(t, err, store.ErrUnchanged)

	queued := map[string]*store.Delivery{}
	for {
		d, err := s.ClaimDelivery(ctx, now, time.Hour)
		if errors.Is(err, store.ErrNotFound) {
			break
		}
		require.NoError(t, err)
		queued[d.ID] = d
	}
	for _, d := range []*store.Delivery{won, otherWon} {
		require.Contains(t, queued, d.ID, "the winning update's delivery is queued")
		assert.Equal(t, d.Body, queued[d.ID].Body)
	}
	for _, d := range []*store.Delivery{lost, otherLost} {
		assert.NotContains(t, queued, d.ID, "a no-op update queues nothing")
	}
	assert.NotContains(t, queued, later.ID, "a delivery is due at its NextAttempt, not before")
	got, err := claimOwn(t, s, later.ID, later.NextAttempt, time.Hour)
	require.NoError(t, err, "every delivery of an update is queued")
	assert.Equal(t, later.Body, got.Body)
	stored, err := s.Presentation(ctx, p.ID)
	require.NoError(t, err)
	assert.Equal(t, store.PresentationVerified, stored.Status)
}

// testDeliveryFieldsRoundTrip: every field of a delivery (ClaimsUntil, Timer) comes back from a claim, from
// a claim after a retry, and for a timer queued with its record's create.
func testDeliveryFieldsRoundTrip(t *testing.T, s store.Store) {
	ctx := t.Context()
	now := time.Now().UTC().Truncate(time.Millisecond)
	d := newDelivery(now)
	d.ClaimsUntil = now.Add(10 * time.Minute)
	p := NewPresentation(time.Minute)
	timer := store.NewTimer(store.TimerPresentation, p.ID, now)

	for _, want := range []*store.Delivery{d, timer} {
		if want == d { // one at a time: claimOwn leases whatever comes before it
			enqueue(t, s, d)
		} else {
			require.NoError(t, s.CreatePresentation(ctx, p, timer))
		}
		got, err := claimOwn(t, s, want.ID, now, time.Minute)
		require.NoError(t, err)
		check := func(got *store.Delivery, attempts int) {
			assert.Equal(t, want.Body, got.Body, want.ID)
			assert.True(t, want.ClaimsUntil.Equal(got.ClaimsUntil), "%s: claimsUntil %v, got %v", want.ID, want.ClaimsUntil, got.ClaimsUntil)
			assert.Equal(t, want.Timer, got.Timer, want.ID)
			assert.True(t, want.CreatedAt.Equal(got.CreatedAt), want.ID)
			assert.Equal(t, attempts, got.Attempts, want.ID)
		}
		check(got, 1)
		got.NextAttempt = now.Add(time.Minute)
		require.NoError(t, s.RetryDelivery(ctx, got))
		again, err := claimOwn(t, s, want.ID, now.Add(time.Minute), time.Minute)
		require.NoError(t, err)
		check(again, 2)
		assert.True(t, again.NextAttempt.Equal(now.Add(time.Minute)), "%s: the retry's next attempt", want.ID)
		require.NoError(t, s.FinishDelivery(ctx, want.ID))
	}
}
