// Package storetest is the conformance suite every store.Store backend passes.
package storetest

import (
	"context"
	"crypto/rand"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/entra-verifier/entra-verifier/store"
)

// Run runs the suite; newStore returns an empty store for one subtest (cleaned up by the caller's t.Cleanup).
func Run(t *testing.T, newStore func(t *testing.T) store.Store) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s store.Store)
	}{
		{"PresentationCreateAndRead", testPresentationCreateAndRead},
		{"PresentationConflicts", testPresentationConflicts},
		{"PresentationCompareAndSwap", testPresentationCompareAndSwap},
		{"PresentationConcurrentTransitionsOneWins", testPresentationRace},
		{"PresentationClaimsGoAtExpiry", testClaimsExpire},
		{"PresentationClaimsGoAtClaimsUntil", testClaimsUntil},
		{"IPASessionCreateReadUpdate", testIPASession},
		{"IPASessionConcurrentTransitionsOneWins", testIPARace},
		{"WatchNotifiesOnlyItsTopic", testWatch},
		{"WatchEndsWithContext", testWatchEnds},
		{"WatchNotifiesEveryWatcherOfATopic", testWatchFanOut},
		{"IPASessionUpdateUnknown", testIPAUpdateUnknown},
		{"RateLimitWindow", testAllow},
		{"DeliveriesLeaseRetryFinish", testDeliveries},
		{"DeliveryClaimedByOneReplica", testDeliveryRace},
		{"UpdateStoresItsDeliveriesOrNone", testUpdateOutbox},
		{"Ping", func(t *testing.T, s store.Store) { require.NoError(t, s.Ping(t.Context())) }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, newStore(t)) })
	}
}

// ID returns a random identifier, so suites sharing one backend never collide.
func ID() string { return rand.Text() }

// NewPresentation returns a fresh created request expiring after ttl.
func NewPresentation(ttl time.Duration) *store.Presentation {
	now := time.Now().UTC().Truncate(time.Millisecond)
	return &store.Presentation{
		ID: ID(), State: ID(), OwnerHash: "owner-" + ID(), URL: "openid-vc://?request_uri=https://example.test/" + ID(),
		Status: store.PresentationCreated, CreatedAt: now, UpdatedAt: now, ExpiresAt: now.Add(ttl),
	}
}

// NewIPASession returns a fresh pending session expiring after ttl.
func NewIPASession(ttl time.Duration) *store.IPASession {
	now := time.Now().UTC().Truncate(time.Millisecond)
	return &store.IPASession{
		ID: ID(), TokenHash: ID(), OwnerHash: "owner-" + ID(), StartURL: "https://ipa.example.test/start?session-id=x",
		Status: store.IPAPending, CreatedAt: now, UpdatedAt: now, ExpiresAt: now.Add(ttl),
	}
}

func testPresentationCreateAndRead(t *testing.T, s store.Store) {
	ctx := t.Context()
	p := NewPresentation(time.Minute)
	require.NoError(t, s.CreatePresentation(ctx, p))

	got, err := s.Presentation(ctx, p.ID)
	require.NoError(t, err)
	assert.Equal(t, p, got)
	byState, err := s.PresentationByState(ctx, p.State)
	require.NoError(t, err)
	assert.Equal(t, p, byState)

	_, err = s.Presentation(ctx, ID())
	assert.ErrorIs(t, err, store.ErrNotFound)
	_, err = s.PresentationByState(ctx, ID())
	assert.ErrorIs(t, err, store.ErrNotFound)
}

func testPresentationConflicts(t *testing.T, s store.Store) {
	ctx := t.Context()
	p := NewPresentation(time.Minute)
	require.NoError(t, s.CreatePresentation(ctx, p))

	sameID := NewPresentation(time.Minute)
	sameID.ID = p.ID
	assert.ErrorIs(t, s.CreatePresentation(ctx, sameID), store.ErrConflict)
	sameState := NewPresentation(time.Minute)
	sameState.State = p.State
	assert.ErrorIs(t, s.CreatePresentation(ctx, sameState), store.ErrConflict)
	_, err := s.Presentation(ctx, sameState.ID)
	assert.ErrorIs(t, err, store.ErrNotFound, "a refused create stores nothing")

	unknown := NewPresentation(time.Minute)
	assert.ErrorIs(t, s.UpdatePresentation(ctx, unknown), store.ErrNotFound)
}

func testPresentationCompareAndSwap(t *testing.T, s store.Store) {
	ctx := t.Context()
	p := NewPresentation(time.Minute)
	require.NoError(t, s.CreatePresentation(ctx, p))

	stale := *p
	next := *p
	next.Status, next.Issuer = store.PresentationVerified, "did:web:us.did.idemia.io"
	next.Claims = map[string]any{"firstName": "Megan", "age": 35.0, "nested": map[string]any{"a": "b"}}
	require.NoError(t, s.UpdatePresentation(ctx, &next))
	assert.Equal(t, p.Version+1, next.Version, "a successful update advances the caller's version")

	stale.Status = store.PresentationFailed
	assert.ErrorIs(t, s.UpdatePresentation(ctx, &stale), store.ErrConflict, "an update from a stale version loses")

	got, err := s.Presentation(ctx, p.ID)
	require.NoError(t, err)
	assert.Equal(t, &next, got)

	got.Claims["firstName"] = "changed by caller"
	again, err := s.Presentation(ctx, p.ID)
	require.NoError(t, err)
	assert.Equal(t, "Megan", again.Claims["firstName"], "callers never share memory with the store")
}

// race runs n concurrent updates that all start from the same version and returns how many won.
func race(n int, update func(i int) error) (wins int32, errs []error) {
	var won atomic.Int32
	var mu sync.Mutex
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			switch err := update(i); {
			case err == nil:
				won.Add(1)
			case !errors.Is(err, store.ErrConflict):
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
		})
	}
	close(start)
	wg.Wait()
	return won.Load(), errs
}

func testPresentationRace(t *testing.T, s store.Store) {
	ctx := t.Context()
	p := NewPresentation(time.Minute)
	require.NoError(t, s.CreatePresentation(ctx, p))
	statuses := []store.PresentationStatus{store.PresentationVerified, store.PresentationFailed}

	wins, errs := race(16, func(i int) error {
		next := *p
		next.Status = statuses[i%2]
		return s.UpdatePresentation(ctx, &next)
	})
	require.Empty(t, errs)
	assert.EqualValues(t, 1, wins, "two concurrent transitions of one request: exactly one wins")
	got, err := s.Presentation(ctx, p.ID)
	require.NoError(t, err)
	assert.Equal(t, p.Version+1, got.Version)
}

func testClaimsExpire(t *testing.T, s store.Store) {
	ctx := t.Context()
	p := NewPresentation(400 * time.Millisecond)
	require.NoError(t, s.CreatePresentation(ctx, p))
	p.Status, p.Claims = store.PresentationVerified, map[string]any{"firstName": "Megan"}
	require.NoError(t, s.UpdatePresentation(ctx, p))

	got, err := s.Presentation(ctx, p.ID)
	require.NoError(t, err)
	require.Equal(t, "Megan", got.Claims["firstName"])

	time.Sleep(time.Until(p.ExpiresAt) + 50*time.Millisecond)
	got, err = s.Presentation(ctx, p.ID)
	require.NoError(t, err, "the record stays until its retention ends")
	assert.Nil(t, got.Claims, "claims are gone once the request has expired")
	assert.Equal(t, store.PresentationVerified, got.Status)
}

func testClaimsUntil(t *testing.T, s store.Store) {
	ctx := t.Context()
	p := NewPresentation(time.Minute)
	require.NoError(t, s.CreatePresentation(ctx, p))
	p.Status, p.Claims = store.PresentationVerified, map[string]any{"firstName": "Megan"}
	require.NoError(t, s.UpdatePresentation(ctx, p))
	p.ClaimsUntil = time.Now().Add(300 * time.Millisecond)
	require.NoError(t, s.UpdatePresentation(ctx, p), "claims kept, their end brought forward")
	got, err := s.Presentation(ctx, p.ID)
	require.NoError(t, err)
	require.Equal(t, "Megan", got.Claims["firstName"])
	time.Sleep(time.Until(p.ClaimsUntil) + 50*time.Millisecond)
	got, err = s.Presentation(ctx, p.ID)
	require.NoError(t, err)
	assert.Nil(t, got.Claims, "claims are gone at ClaimsUntil, long before the request expires")
	assert.Equal(t, store.PresentationVerified, got.Status)
}

func testIPASession(t *testing.T, s store.Store) {
	ctx := t.Context()
	v := NewIPASession(time.Minute)
	require.NoError(t, s.CreateIPASession(ctx, v))
	dup := NewIPASession(time.Minute)
	dup.TokenHash = v.TokenHash
	assert.ErrorIs(t, s.CreateIPASession(ctx, dup), store.ErrConflict)

	got, err := s.IPASessionByToken(ctx, v.TokenHash)
	require.NoError(t, err)
	assert.Equal(t, v, got)
	_, err = s.IPASessionByToken(ctx, ID())
	assert.ErrorIs(t, err, store.ErrNotFound)

	next := *v
	next.Status, next.IdentityID = store.IPACompleted, "gips-"+ID()
	next.Identity = &store.IdentitySummary{LevelOfAssurance: "LOA2", Status: "VERIFIED", Proof: "fetched"}
	require.NoError(t, s.UpdateIPASession(ctx, &next))
	assert.ErrorIs(t, s.UpdateIPASession(ctx, v), store.ErrConflict)

	got, err = s.IPASession(ctx, v.ID)
	require.NoError(t, err)
	assert.Equal(t, &next, got)
	_, err = s.IPASession(ctx, ID())
	assert.ErrorIs(t, err, store.ErrNotFound)
}

func testIPARace(t *testing.T, s store.Store) {
	ctx := t.Context()
	v := NewIPASession(time.Minute)
	require.NoError(t, s.CreateIPASession(ctx, v))
	wins, errs := race(16, func(int) error {
		next := *v
		next.Status = store.IPACompleted
		return s.UpdateIPASession(ctx, &next)
	})
	require.Empty(t, errs)
	assert.EqualValues(t, 1, wins)
}

func testWatch(t *testing.T, s store.Store) {
	ctx := t.Context()
	p, other := NewPresentation(time.Minute), NewPresentation(time.Minute)
	require.NoError(t, s.CreatePresentation(ctx, p))
	require.NoError(t, s.CreatePresentation(ctx, other))
	ch, err := s.Watch(ctx, store.PresentationTopic(p.ID))
	require.NoError(t, err)
	otherCh, err := s.Watch(ctx, store.PresentationTopic(other.ID))
	require.NoError(t, err)

	p.Status = store.PresentationRetrieved
	require.NoError(t, s.UpdatePresentation(ctx, p))
	requireSignal(t, ch)
	select {
	case <-otherCh:
		t.Fatal("a watcher of another request was notified")
	case <-time.After(100 * time.Millisecond):
	}

	v := NewIPASession(time.Minute)
	require.NoError(t, s.CreateIPASession(ctx, v))
	ipaCh, err := s.Watch(ctx, store.IPATopic(v.ID))
	require.NoError(t, err)
	v.Status = store.IPAError
	require.NoError(t, s.UpdateIPASession(ctx, v))
	requireSignal(t, ipaCh)
}

func testWatchEnds(t *testing.T, s store.Store) {
	ctx, cancel := context.WithCancel(t.Context())
	ch, err := s.Watch(ctx, store.PresentationTopic(ID()))
	require.NoError(t, err)
	cancel()
	select {
	case _, ok := <-ch:
		for ok {
			_, ok = <-ch
		}
	case <-time.After(5 * time.Second):
		t.Fatal("watch channel not closed after its context ended")
	}
}

func testWatchFanOut(t *testing.T, s store.Store) {
	ctx := t.Context()
	p := NewPresentation(time.Minute)
	require.NoError(t, s.CreatePresentation(ctx, p))
	first, cancelFirst := context.WithCancel(ctx)
	leaving, err := s.Watch(first, store.PresentationTopic(p.ID))
	require.NoError(t, err)
	chs := make([]<-chan struct{}, 3)
	for i := range chs {
		chs[i], err = s.Watch(ctx, store.PresentationTopic(p.ID))
		require.NoError(t, err)
	}
	cancelFirst()
	for range leaving { // drained until closed
	}

	p.Status = store.PresentationRetrieved
	require.NoError(t, s.UpdatePresentation(ctx, p))
	for _, ch := range chs {
		requireSignal(t, ch)
	}
}

func testIPAUpdateUnknown(t *testing.T, s store.Store) {
	v := NewIPASession(time.Minute)
	assert.ErrorIs(t, s.UpdateIPASession(t.Context(), v), store.ErrNotFound)
	assert.Zero(t, v.Version, "a failed update leaves the caller's version alone")
}

func requireSignal(t *testing.T, ch <-chan struct{}) {
	t.Helper()
	select {
	case _, ok := <-ch:
		require.True(t, ok, "watch channel closed instead of notifying")
	case <-time.After(5 * time.Second):
		t.Fatal("no notification within 5s")
	}
}
