package redis_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/entra-verifier/entra-verifier/store"
	"github.com/entra-verifier/entra-verifier/store/storetest"
)

// TestUpdaterRunsAgainAfterALostRace forces what two replicas racing on one request do: while this
// replica's updater runs, another replica writes the same request. The compare-and-swap refuses the first
// attempt, the updater runs again on the other replica's version, and only the second attempt's delivery is
// queued; both changes are kept.
func TestUpdaterRunsAgainAfterALostRace(t *testing.T) {
	prefix := newPrefix(t)
	s, other := open(t, redisURL(), prefix), open(t, redisURL(), prefix)
	ctx := t.Context()
	p := storetest.NewPresentation(time.Hour)
	require.NoError(t, s.CreatePresentation(ctx, p))

	var seen []string
	var queued []string
	got, err := s.UpdatePresentation(ctx, p.ID, func(cur *store.Presentation) ([]*store.Delivery, error) {
		seen = append(seen, cur.Detail)
		if len(seen) == 1 { // the other replica comes first
			_, err := other.UpdatePresentation(ctx, p.ID, func(o *store.Presentation) ([]*store.Delivery, error) {
				o.Detail = "other"
				return nil, nil
			})
			require.NoError(t, err)
		}
		cur.Detail += "+mine"
		d := &store.Delivery{ID: "msg_" + storetest.ID(), Body: []byte(`{}`), NextAttempt: time.Now(), CreatedAt: time.Now()}
		queued = append(queued, d.ID)
		return []*store.Delivery{d}, nil
	})
	require.NoError(t, err)
	assert.Equal(t, []string{"", "other"}, seen, "the updater ran twice, the second time on the other replica's write")
	assert.Equal(t, "other+mine", got.Detail, "both changes kept")

	claimed := storetest.Drain(t, s, time.Now().Add(time.Minute))
	require.Len(t, queued, 2)
	assert.Contains(t, claimed, queued[1], "the winning attempt's delivery is queued")
	assert.NotContains(t, claimed, queued[0], "the losing attempt's delivery is not")
}

// TestUpdateGivesUpAfterMaxAttempts: a request that another writer changes during every attempt fails with
// store.ErrConflict after store.MaxUpdateAttempts attempts, and this update writes nothing.
func TestUpdateGivesUpAfterMaxAttempts(t *testing.T) {
	prefix := newPrefix(t)
	s, other := open(t, redisURL(), prefix), open(t, redisURL(), prefix)
	ctx := t.Context()
	p := storetest.NewPresentation(time.Hour)
	require.NoError(t, s.CreatePresentation(ctx, p))

	calls := 0
	_, err := s.UpdatePresentation(ctx, p.ID, func(cur *store.Presentation) ([]*store.Delivery, error) {
		calls++
		_, err := other.UpdatePresentation(ctx, p.ID, func(o *store.Presentation) ([]*store.Delivery, error) {
			o.Detail += "o"
			return nil, nil
		})
		require.NoError(t, err)
		cur.Status = store.PresentationFailed
		return nil, nil
	})
	require.ErrorIs(t, err, store.ErrConflict)
	assert.Equal(t, store.MaxUpdateAttempts, calls)
	stored, err := s.Presentation(ctx, p.ID)
	require.NoError(t, err)
	assert.Equal(t, store.PresentationCreated, stored.Status, "the losing update wrote nothing")
	assert.Len(t, stored.Detail, store.MaxUpdateAttempts, "every interfering write is kept")
}
