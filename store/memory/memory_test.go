package memory_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/entra-verifier/entra-verifier/store"
	"github.com/entra-verifier/entra-verifier/store/memory"
	"github.com/entra-verifier/entra-verifier/store/storetest"
)

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		s := memory.New(memory.Options{})
		t.Cleanup(func() { _ = s.Close() })
		return s
	})
}

func TestRetentionAndSweep(t *testing.T) {
	ctx := t.Context()
	clk := storetest.NewClock(time.Now())
	s := memory.New(memory.Options{Now: clk.Now, SweepEvery: time.Hour})
	t.Cleanup(func() { _ = s.Close() })

	p := storetest.NewPresentation(10 * time.Minute)
	p.CreatedAt, p.ExpiresAt = clk.Now(), clk.Now().Add(10*time.Minute)
	p.Claims = map[string]any{"firstName": "Megan"}
	require.NoError(t, s.CreatePresentation(ctx, p))
	v := storetest.NewIPASession(30 * time.Minute)
	v.CreatedAt = clk.Now()
	require.NoError(t, s.CreateIPASession(ctx, v))

	clk.Add(11 * time.Minute)
	s.Sweep()
	got, err := s.Presentation(ctx, p.ID)
	require.NoError(t, err)
	assert.Nil(t, got.Claims)

	clk.Add(store.Retention)
	_, err = s.Presentation(ctx, p.ID)
	assert.ErrorIs(t, err, store.ErrNotFound, "dropped on read once retention ended, even before a sweep")
	s.Sweep()
	_, err = s.PresentationByState(ctx, p.State)
	assert.ErrorIs(t, err, store.ErrNotFound)
	_, err = s.IPASessionByToken(ctx, v.TokenHash)
	assert.ErrorIs(t, err, store.ErrNotFound)

	// The sweep freed the slots: the state and token can be created again.
	require.NoError(t, s.CreatePresentation(ctx, &store.Presentation{ID: p.ID, State: p.State, CreatedAt: clk.Now(), ExpiresAt: clk.Now().Add(time.Minute)}))
}

func TestCapRefusesInsteadOfEvicting(t *testing.T) {
	ctx := t.Context()
	s := memory.New(memory.Options{MaxRecords: 2})
	t.Cleanup(func() { _ = s.Close() })
	a, b := storetest.NewPresentation(time.Minute), storetest.NewIPASession(time.Minute)
	require.NoError(t, s.CreatePresentation(ctx, a))
	require.NoError(t, s.CreateIPASession(ctx, b))
	assert.ErrorIs(t, s.CreatePresentation(ctx, storetest.NewPresentation(time.Minute)), store.ErrFull)
	_, err := s.Presentation(ctx, a.ID)
	assert.NoError(t, err, "a live record is never evicted to make room")
}
