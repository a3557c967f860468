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

// flakyStore fails its first UpdateIPASession calls as an unreachable store does: before writing, or after
// writing (the answer is lost).
type flakyStore struct {
	*memory.Store
	failures   atomic.Int32
	afterWrite bool
}

func (f *flakyStore) UpdateIPASession(ctx context.Context, id string, fn store.IPAUpdater) (*store.IPASession, error) {
	if f.failures.Add(-1) < 0 {
		return f.Store.UpdateIPASession(ctx, id, fn)
	}
	if f.afterWrite {
		if _, err := f.Store.UpdateIPASession(ctx, id, fn); err != nil {
			return nil, err
		}
	}
	return nil, fmt.Errorf("flaky store: %w", store.ErrUnavailable)
}

// eventsFunc is an Events made of a function.
type eventsFunc func(s *store.IPASession) (*store.Delivery, error)

func (f eventsFunc) SessionEnded(s *store.IPASession) (*store.Delivery, error)   { return f(s) }
func (f eventsFunc) SessionExpired(s *store.IPASession) (*store.Delivery, error) { return f(s) }
func (f eventsFunc) JourneyCompleted(s *store.IPASession, _ *store.Presentation) (*store.Delivery, error) {
	return f(s)
}

// TestRecordIdentityOutlastsAStoreError: the identity summary, read once from IDEMIA, is recorded with its
// result event after a store error instead of being dropped; the event goes only with the successful update.
func TestRecordIdentityOutlastsAStoreError(t *testing.T) {
	for _, tc := range []struct {
		name       string
		afterWrite bool
	}{
		{"error before the write", false},
		{"answer lost after the write", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mem := memory.New(memory.Options{})
			t.Cleanup(func() { mem.Close() })
			st := &flakyStore{Store: mem, afterWrite: tc.afterWrite}
			st.failures.Store(1)
			now := time.Now().UTC()
			sess := &store.IPASession{ID: "s1", TokenHash: "h1", Status: store.IPACompleted, CreatedAt: now, UpdatedAt: now, ExpiresAt: now.Add(time.Hour)}
			require.NoError(t, mem.CreateIPASession(t.Context(), sess))
			var events []*store.Delivery
			svc := NewService(Options{Store: st, AllSessionEvents: true, Events: eventsFunc(func(s *store.IPASession) (*store.Delivery, error) {
				d := &store.Delivery{ID: fmt.Sprintf("msg_%d", len(events)), Body: []byte(s.ID), NextAttempt: now, CreatedAt: now}
				events = append(events, d)
				return d, nil
			})})
			t.Cleanup(svc.Close)

			svc.recordIdentity(t.Context(), sess.ID, &store.IdentitySummary{LevelOfAssurance: "LOA2"})

			got, err := mem.IPASession(t.Context(), sess.ID)
			require.NoError(t, err)
			require.NotNil(t, got.Identity, "the summary is recorded despite the store error")
			assert.Equal(t, "LOA2", got.Identity.LevelOfAssurance)
			d, err := mem.ClaimDelivery(t.Context(), now, time.Minute)
			require.NoError(t, err)
			require.Len(t, events, 1, "an event is built only by the update that writes")
			assert.Equal(t, events[0].ID, d.ID, "the event queued is the one of the write that happened")
			_, err = mem.ClaimDelivery(t.Context(), now, time.Minute)
			assert.ErrorIs(t, err, store.ErrNotFound, "and only that one")
		})
	}
}
