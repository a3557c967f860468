package storetest

import (
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/entra-verifier/entra-verifier/store"
)

// NewJourney returns a fresh, unopened journey of both steps expiring after ttl.
func NewJourney(ttl time.Duration) *store.Journey {
	now := time.Now().UTC().Truncate(time.Millisecond)
	return &store.Journey{
		ID: "jrn_" + ID(), LaunchHash: ID(), Reference: "case-" + ID(), Steps: []string{store.StepIPA, store.StepPresentation},
		ExpectedClaims: map[string]string{"firstName": "Megan"}, CreatedAt: now, UpdatedAt: now, ExpiresAt: now.Add(ttl),
	}
}

// Drain claims every delivery due at now and returns them by id.
func Drain(t *testing.T, s store.Store, now time.Time) map[string]*store.Delivery {
	t.Helper()
	out := map[string]*store.Delivery{}
	for {
		d, err := s.ClaimDelivery(t.Context(), now, time.Hour)
		if errors.Is(err, store.ErrNotFound) {
			return out
		}
		require.NoError(t, err)
		out[d.ID] = d
	}
}

// testJourney: a journey is created with its timer, read by id and by launch hash, updated with an outbox,
// and refused a second time; its owner binding finds it.
func testJourney(t *testing.T, s store.Store) {
	ctx := t.Context()
	j := NewJourney(time.Hour)
	timer := store.NewTimer(store.TimerJourney, j.ID, j.ExpiresAt)
	require.NoError(t, s.CreateJourney(ctx, j, timer))

	got, err := s.Journey(ctx, j.ID)
	require.NoError(t, err)
	assert.Equal(t, j.Reference, got.Reference)
	assert.Equal(t, j.Steps, got.Steps)
	assert.Equal(t, j.ExpectedClaims, got.ExpectedClaims)
	byLaunch, err := s.JourneyByLaunch(ctx, j.LaunchHash)
	require.NoError(t, err)
	assert.Equal(t, j.ID, byLaunch.ID)

	dup := NewJourney(time.Hour)
	dup.LaunchHash = j.LaunchHash
	require.ErrorIs(t, s.CreateJourney(ctx, dup), store.ErrConflict, "a launch hash is used once")
	dup = NewJourney(time.Hour)
	dup.ID = j.ID
	require.ErrorIs(t, s.CreateJourney(ctx, dup), store.ErrConflict, "an id is used once")
	_, err = s.Journey(ctx, "jrn_unknown")
	require.ErrorIs(t, err, store.ErrNotFound)
	_, err = s.JourneyByLaunch(ctx, "unknown")
	require.ErrorIs(t, err, store.ErrNotFound)

	opened := time.Now().UTC().Truncate(time.Millisecond)
	reopen := store.NewTimer(store.TimerJourney, j.ID, opened.Add(store.OpenedLifetime))
	next, err := s.UpdateJourney(ctx, j.ID, func(cur *store.Journey) ([]*store.Delivery, error) {
		cur.OwnerHash, cur.OpenedAt, cur.ExpiresAt = "owner-1", opened, opened.Add(store.OpenedLifetime)
		cur.ID, cur.LaunchHash = "changed", "changed"
		return []*store.Delivery{reopen}, nil
	})
	require.NoError(t, err)
	assert.Equal(t, j.ID, next.ID, "the id is kept")
	assert.Equal(t, j.LaunchHash, next.LaunchHash, "the launch hash is kept")
	got, err = s.Journey(ctx, j.ID)
	require.NoError(t, err)
	assert.Equal(t, "owner-1", got.OwnerHash)
	assert.True(t, got.OpenedAt.Equal(opened))

	_, err = s.UpdateJourney(ctx, j.ID, func(*store.Journey) ([]*store.Delivery, error) { return nil, store.ErrUnchanged })
	require.ErrorIs(t, err, store.ErrUnchanged)
	_, err = s.UpdateJourney(ctx, "jrn_unknown", func(*store.Journey) ([]*store.Delivery, error) { return nil, nil })
	require.ErrorIs(t, err, store.ErrNotFound)

	queued := Drain(t, s, j.ExpiresAt.Add(time.Minute))
	for _, d := range []*store.Delivery{timer, reopen} {
		require.Contains(t, queued, d.ID, "a journey's timers are queued with its create and its update")
		assert.Equal(t, d.Timer, queued[d.ID].Timer)
	}

	_, err = s.Newest(ctx, "owner-1", store.KindJourney)
	require.ErrorIs(t, err, store.ErrNotFound, "no binding yet")
	require.NoError(t, s.SetNewest(ctx, "owner-1", store.KindJourney, j.ID, time.Now().Add(time.Hour)))
	require.NoError(t, s.SetNewest(ctx, "owner-1", store.KindJourney, j.ID, time.Now().Add(time.Hour)), "idempotent")
	byOwner, err := s.Newest(ctx, "owner-1", store.KindJourney)
	require.NoError(t, err)
	assert.Equal(t, j.ID, byOwner)
	later := NewJourney(time.Hour)
	require.NoError(t, s.CreateJourney(ctx, later))
	require.NoError(t, s.SetNewest(ctx, "owner-1", store.KindJourney, later.ID, time.Now().Add(time.Hour)))
	byOwner, err = s.Newest(ctx, "owner-1", store.KindJourney)
	require.NoError(t, err)
	assert.Equal(t, later.ID, byOwner, "a later binding of the same browser replaces the first")
}

// testJourneyRace: concurrent updaters of one journey are serialised; only one moves a step pointer.
func testJourneyRace(t *testing.T, s store.Store) {
	ctx := t.Context()
	j := NewJourney(time.Hour)
	require.NoError(t, s.CreateJourney(ctx, j))
	wins, errs := race(8, func(i int) error {
		_, err := s.UpdateJourney(ctx, j.ID, func(cur *store.Journey) ([]*store.Delivery, error) {
			if cur.IPASessionID != "" {
				return nil, store.ErrUnchanged
			}
			cur.IPASessionID = ID()
			return nil, nil
		})
		return err
	})
	require.Empty(t, errs)
	assert.EqualValues(t, 1, wins)
}

// testStepRecords: a record created with an outbox queues it in the same step; a journey's step record is
// kept as long as its journey, and its JourneyRef survives the round trip.
func testStepRecords(t *testing.T, s store.Store) {
	ctx := t.Context()
	j := NewJourney(time.Hour)
	p := NewPresentation(time.Minute)
	p.Journey = j.Ref(true)
	p.Journey.IPA = &store.JourneyIPA{SessionID: "s-1", LevelOfAssurance: "LOA3"}
	pt := store.NewTimer(store.TimerPresentation, p.ID, p.ExpiresAt)
	require.NoError(t, s.CreatePresentation(ctx, p, pt))
	v := NewIPASession(time.Minute)
	v.Journey = j.Ref(false)
	vt := store.NewTimer(store.TimerIPA, v.ID, v.ExpiresAt)
	require.NoError(t, s.CreateIPASession(ctx, v, vt))

	gotP, err := s.Presentation(ctx, p.ID)
	require.NoError(t, err)
	assert.Equal(t, p.Journey, gotP.Journey)
	gotV, err := s.IPASession(ctx, v.ID)
	require.NoError(t, err)
	assert.Equal(t, v.Journey, gotV.Journey)
	assert.True(t, gotP.DropAt().Equal(j.ExpiresAt.Add(store.JourneyRetention)), "kept while its journey is readable")

	conflict := NewPresentation(time.Minute)
	conflict.ID = p.ID
	loser := store.NewTimer(store.TimerPresentation, "loser", p.ExpiresAt)
	require.ErrorIs(t, s.CreatePresentation(ctx, conflict, loser), store.ErrConflict)

	queued := Drain(t, s, p.ExpiresAt.Add(time.Minute))
	require.Contains(t, queued, pt.ID)
	require.Contains(t, queued, vt.ID)
	assert.NotContains(t, queued, loser.ID, "a refused create queues nothing")
}
