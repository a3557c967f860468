package ipa

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/entra-verifier/entra-verifier/store"
	"github.com/entra-verifier/entra-verifier/store/memory"
)

// flakyStore fails its first UpdateIPASession calls as an unreachable store does.
type flakyStore struct {
	*memory.Store
	failures atomic.Int32
}

func (f *flakyStore) UpdateIPASession(ctx context.Context, s *store.IPASession, outbox ...*store.Delivery) error {
	if f.failures.Add(-1) >= 0 {
		return fmt.Errorf("flaky store: %w", store.ErrUnavailable)
	}
	return f.Store.UpdateIPASession(ctx, s, outbox...)
}

// TestRecordIdentityOutlastsAStoreError: the identity summary, read once from IDEMIA, is recorded with its
// result event after a store error instead of being dropped; the event goes only with the successful update.
func TestRecordIdentityOutlastsAStoreError(t *testing.T) {
	mem := memory.New(memory.Options{})
	t.Cleanup(func() { mem.Close() })
	st := &flakyStore{Store: mem}
	st.failures.Store(1)
	now := time.Now().UTC()
	sess := &store.IPASession{ID: "s1", TokenHash: "h1", Status: store.IPACompleted, CreatedAt: now, UpdatedAt: now, ExpiresAt: now.Add(time.Hour)}
	require.NoError(t, mem.CreateIPASession(t.Context(), sess))
	var events []*store.Delivery
	svc := &Service{store: st, Now: time.Now, EndEvent: func(_ context.Context, s *store.IPASession) *store.Delivery {
		d := &store.Delivery{ID: fmt.Sprintf("msg_%d", len(events)), Body: []byte(s.ID), NextAttempt: now, CreatedAt: now}
		events = append(events, d)
		return d
	}}

	svc.recordIdentity(t.Context(), sess.ID, &store.IdentitySummary{Proof: "fetched"})

	got, err := mem.IPASession(t.Context(), sess.ID)
	require.NoError(t, err)
	require.NotNil(t, got.Identity, "the summary was recorded after the store error")
	assert.Equal(t, "fetched", got.Identity.Proof)
	require.Len(t, events, 2, "one event prepared per attempt")
	d, err := mem.ClaimDelivery(t.Context(), now, time.Minute)
	require.NoError(t, err)
	assert.Equal(t, events[1].ID, d.ID, "the event queued is the one of the update that succeeded")
	_, err = mem.ClaimDelivery(t.Context(), now, time.Minute)
	assert.ErrorIs(t, err, store.ErrNotFound, "and only that one")
}
