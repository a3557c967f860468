// Package storetest is the conformance suite every store.Store backend passes.
package storetest

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
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
		{"PresentationUpdate", testPresentationUpdate},
		{"UpdaterNoOpAndErrorWriteNothing", testUpdaterNoOpAndError},
		{"PresentationConcurrentUpdatersOneWinsPerStepNoneLost", testPresentationRace},
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
		{"DeliveryFieldsRoundTrip", testDeliveryFieldsRoundTrip},
		{"UpdateStoresItsDeliveriesOrNone", testUpdateOutbox},
		{"UpdateReturnsWhatReadersSee", testUpdateReturnsWhatReadersSee},
		{"JourneyCreateReadUpdateBind", testJourney},
		{"JourneyConcurrentUpdatersOneWins", testJourneyRace},
		{"StepRecordsWithJourneyAndOutbox", testStepRecords},
		{"OwnersNewestPerBrowserAndKind", testOwners},
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

// SetPresentation returns an updater that makes the request equal to v (its keys and version aside) and
// queues outbox with the change.
func SetPresentation(v *store.Presentation, outbox ...*store.Delivery) store.PresentationUpdater {
	return func(cur *store.Presentation) ([]*store.Delivery, error) {
		*cur = *v.Clone()
		return outbox, nil
	}
}

// SetIPASession is SetPresentation for IPA sessions.
func SetIPASession(v *store.IPASession, outbox ...*store.Delivery) store.IPAUpdater {
	return func(cur *store.IPASession) ([]*store.Delivery, error) {
		*cur = *v.Clone()
		return outbox, nil
	}
}

// Put stores v over the request of the same id, failing the test on an error.
func Put(t *testing.T, s store.Store, v *store.Presentation) *store.Presentation {
	t.Helper()
	got, err := s.UpdatePresentation(t.Context(), v.ID, SetPresentation(v))
	require.NoError(t, err)
	return got
}

// PutSession is Put for IPA sessions.
func PutSession(t *testing.T, s store.Store, v *store.IPASession) *store.IPASession {
	t.Helper()
	got, err := s.UpdateIPASession(t.Context(), v.ID, SetIPASession(v))
	require.NoError(t, err)
	return got
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

	called := false
	_, err = s.UpdatePresentation(ctx, ID(), func(*store.Presentation) ([]*store.Delivery, error) { called = true; return nil, nil })
	assert.ErrorIs(t, err, store.ErrNotFound)
	assert.False(t, called, "no updater runs for an unknown request")
}

// testUpdateReturnsWhatReadersSee: claims an updater sets past their end are never stored, and the update
// returns the request without them, as a read does.
func testUpdateReturnsWhatReadersSee(t *testing.T, s store.Store) {
	ctx := t.Context()
	p := NewPresentation(time.Minute)
	p.ClaimsUntil = p.CreatedAt.Add(-time.Second)
	require.NoError(t, s.CreatePresentation(ctx, p))
	got, err := s.UpdatePresentation(ctx, p.ID, func(cur *store.Presentation) ([]*store.Delivery, error) {
		cur.Status, cur.Claims = store.PresentationVerified, map[string]any{"firstName": "Megan"}
		return nil, nil
	})
	require.NoError(t, err)
	assert.Nil(t, got.Claims, "claims past their end are not returned")
	read, err := s.Presentation(ctx, p.ID)
	require.NoError(t, err)
	assert.Equal(t, read, got, "the update returns the request as readers see it")
	again, err := s.UpdatePresentation(ctx, p.ID, func(cur *store.Presentation) ([]*store.Delivery, error) {
		assert.Nil(t, cur.Claims, "the next update starts without them too")
		cur.Reason = "next"
		return nil, nil
	})
	require.NoError(t, err)
	assert.Nil(t, again.Claims)
}

func testPresentationUpdate(t *testing.T, s store.Store) {
	ctx := t.Context()
	p := NewPresentation(time.Minute)
	require.NoError(t, s.CreatePresentation(ctx, p))

	got, err := s.UpdatePresentation(ctx, p.ID, func(cur *store.Presentation) ([]*store.Delivery, error) {
		assert.Equal(t, store.PresentationCreated, cur.Status, "the updater sees the stored request")
		cur.Status, cur.Issuer = store.PresentationVerified, "did:web:us.did.idemia.io"
		cur.Claims = map[string]any{"firstName": "Megan", "age": 35.0, "nested": map[string]any{"a": "b"}}
		cur.ID, cur.State = ID(), ID() // keys are kept whatever the updater does
		return nil, nil
	})
	require.NoError(t, err)
	assert.Equal(t, p.ID, got.ID)
	assert.Equal(t, p.State, got.State)
	read, err := s.Presentation(ctx, p.ID)
	require.NoError(t, err)
	assert.Equal(t, got, read, "the update returns the request as stored")
	assert.Equal(t, store.PresentationVerified, read.Status)
	byState, err := s.PresentationByState(ctx, p.State)
	require.NoError(t, err)
	assert.Equal(t, read, byState)

	read.Claims["firstName"] = "changed by caller"
	got.Claims["firstName"] = "changed by caller"
	again, err := s.Presentation(ctx, p.ID)
	require.NoError(t, err)
	assert.Equal(t, "Megan", again.Claims["firstName"], "callers never share memory with the store")
}

// testUpdaterNoOpAndError: an updater that returns store.ErrUnchanged, or any other error, writes nothing,
// queues nothing and notifies no one, whatever it did to its copy; the first gets the current record back.
func testUpdaterNoOpAndError(t *testing.T, s store.Store) {
	ctx := t.Context()
	now := time.Now().UTC().Truncate(time.Millisecond)
	p, v := NewPresentation(time.Hour), NewIPASession(time.Hour)
	require.NoError(t, s.CreatePresentation(ctx, p))
	require.NoError(t, s.CreateIPASession(ctx, v))
	pw, err := s.Watch(ctx, store.PresentationTopic(p.ID))
	require.NoError(t, err)
	vw, err := s.Watch(ctx, store.IPATopic(v.ID))
	require.NoError(t, err)
	boom := errors.New("updater refused")
	var queued []string
	for _, give := range []error{store.ErrUnchanged, fmt.Errorf("wrapped: %w", store.ErrUnchanged), boom} {
		d1, d2 := newDelivery(now), newDelivery(now)
		queued = append(queued, d1.ID, d2.ID)
		gotP, errP := s.UpdatePresentation(ctx, p.ID, func(cur *store.Presentation) ([]*store.Delivery, error) {
			cur.Status, cur.Claims = store.PresentationFailed, map[string]any{"firstName": "Eve"}
			return []*store.Delivery{d1}, give
		})
		gotV, errV := s.UpdateIPASession(ctx, v.ID, func(cur *store.IPASession) ([]*store.Delivery, error) {
			cur.Status = store.IPAError
			return []*store.Delivery{d2}, give
		})
		require.ErrorIs(t, errP, give)
		require.ErrorIs(t, errV, give)
		if errors.Is(give, store.ErrUnchanged) {
			assert.Equal(t, p, gotP, "a no-op returns the record as stored, not the updater's copy")
			assert.Equal(t, v, gotV)
		} else {
			assert.Nil(t, gotP)
			assert.Nil(t, gotV)
		}
	}
	storedP, err := s.Presentation(ctx, p.ID)
	require.NoError(t, err)
	assert.Equal(t, p, storedP, "nothing written, version included")
	storedV, err := s.IPASession(ctx, v.ID)
	require.NoError(t, err)
	assert.Equal(t, v, storedV)
	requireQuiet(t, pw)
	requireQuiet(t, vw)
	for {
		d, err := s.ClaimDelivery(ctx, now.Add(time.Minute), time.Hour)
		if errors.Is(err, store.ErrNotFound) {
			break
		}
		require.NoError(t, err)
		assert.NotContains(t, queued, d.ID, "a refused update queues none of its deliveries")
	}
}

// race runs n concurrent calls of update and returns how many changed the record (nil error); errors other
// than store.ErrUnchanged are collected.
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
			case !errors.Is(err, store.ErrUnchanged):
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

// step returns an updater that moves a request from one status to the next, and is a no-op otherwise, as
// the state machine's transitions are.
func step(from, to store.PresentationStatus) store.PresentationUpdater {
	return func(cur *store.Presentation) ([]*store.Delivery, error) {
		if cur.Status != from {
			return nil, store.ErrUnchanged
		}
		cur.Status = to
		return nil, nil
	}
}

// testPresentationRace: concurrent updaters of one request, each step taken by exactly one of them, and
// concurrent changes that all apply (a counter) losing none.
func testPresentationRace(t *testing.T, s store.Store) {
	ctx := t.Context()
	p := NewPresentation(time.Minute)
	require.NoError(t, s.CreatePresentation(ctx, p))
	for _, st := range []struct{ from, to, other store.PresentationStatus }{
		{store.PresentationCreated, store.PresentationRetrieved, store.PresentationRetrieved},
		{store.PresentationRetrieved, store.PresentationVerified, store.PresentationFailed},
	} {
		wins, errs := race(8, func(i int) error {
			to := st.to
			if i%2 == 1 {
				to = st.other
			}
			_, err := s.UpdatePresentation(ctx, p.ID, step(st.from, to))
			return err
		})
		require.Empty(t, errs)
		assert.EqualValues(t, 1, wins, "step %s: exactly one concurrent updater wins", st.from)
	}
	got, err := s.Presentation(ctx, p.ID)
	require.NoError(t, err)
	assert.True(t, got.Status.Final())
	assert.Equal(t, p.Version+2, got.Version, "two steps, two writes")

	const adders = 8
	wins, errs := race(adders, func(int) error {
		_, err := s.UpdatePresentation(ctx, p.ID, func(cur *store.Presentation) ([]*store.Delivery, error) {
			cur.Detail += "+"
			return nil, nil
		})
		return err
	})
	require.Empty(t, errs)
	assert.EqualValues(t, adders, wins)
	got, err = s.Presentation(ctx, p.ID)
	require.NoError(t, err)
	assert.Len(t, got.Detail, adders, "every concurrent change applied once: none lost")
}

func testClaimsExpire(t *testing.T, s store.Store) {
	ctx := t.Context()
	p := NewPresentation(400 * time.Millisecond)
	require.NoError(t, s.CreatePresentation(ctx, p))
	p.Status, p.Claims = store.PresentationVerified, map[string]any{"firstName": "Megan"}
	Put(t, s, p)

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
	Put(t, s, p)
	p.ClaimsUntil = time.Now().Add(300 * time.Millisecond)
	Put(t, s, p) // claims kept, their end brought forward
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

	next := v.Clone()
	next.Status, next.IdentityID = store.IPACompleted, "gips-"+ID()
	next.Identity = &store.IdentitySummary{LevelOfAssurance: "LOA2", Status: "VERIFIED"}
	next.TokenHash = ID() // kept whatever the updater does
	updated := PutSession(t, s, next)
	assert.Equal(t, v.TokenHash, updated.TokenHash)

	got, err = s.IPASession(ctx, v.ID)
	require.NoError(t, err)
	assert.Equal(t, updated, got)
	assert.Equal(t, "LOA2", got.Identity.LevelOfAssurance)
	got.Identity.LevelOfAssurance = "changed by caller"
	again, err := s.IPASessionByToken(ctx, v.TokenHash)
	require.NoError(t, err)
	assert.Equal(t, "LOA2", again.Identity.LevelOfAssurance, "callers never share memory with the store")
	_, err = s.IPASession(ctx, ID())
	assert.ErrorIs(t, err, store.ErrNotFound)
}

func testIPARace(t *testing.T, s store.Store) {
	ctx := t.Context()
	v := NewIPASession(time.Minute)
	require.NoError(t, s.CreateIPASession(ctx, v))
	statuses := []store.IPAStatus{store.IPACompleted, store.IPAError}
	wins, errs := race(8, func(i int) error {
		_, err := s.UpdateIPASession(ctx, v.ID, func(cur *store.IPASession) ([]*store.Delivery, error) {
			if cur.Status.Final() {
				return nil, store.ErrUnchanged
			}
			cur.Status = statuses[i%2]
			return nil, nil
		})
		return err
	})
	require.Empty(t, errs)
	assert.EqualValues(t, 1, wins, "one concurrent end of a session wins")
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
	Put(t, s, p)
	requireSignal(t, ch)
	requireQuiet(t, otherCh)

	v := NewIPASession(time.Minute)
	require.NoError(t, s.CreateIPASession(ctx, v))
	ipaCh, err := s.Watch(ctx, store.IPATopic(v.ID))
	require.NoError(t, err)
	v.Status = store.IPAError
	PutSession(t, s, v)
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
	Put(t, s, p)
	for _, ch := range chs {
		requireSignal(t, ch)
	}
}

func testIPAUpdateUnknown(t *testing.T, s store.Store) {
	called := false
	got, err := s.UpdateIPASession(t.Context(), ID(), func(*store.IPASession) ([]*store.Delivery, error) {
		called = true
		return nil, nil
	})
	assert.ErrorIs(t, err, store.ErrNotFound)
	assert.Nil(t, got)
	assert.False(t, called, "no updater runs for an unknown session")
}

// requireQuiet fails when ch receives a notification within 100 ms.
func requireQuiet(t *testing.T, ch <-chan struct{}) {
	t.Helper()
	select {
	case <-ch:
		t.Fatal("a watcher was notified of a change that did not happen")
	case <-time.After(100 * time.Millisecond):
	}
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

// testOwners checks the owner index: the newest ID per browser and kind, kept apart per browser and kind,
// replaced by the next, and gone once its until has passed.
func testOwners(t *testing.T, s store.Store) {
	ctx := t.Context()
	alice, bob := "owner-"+ID(), "owner-"+ID()
	_, err := s.Newest(ctx, alice, store.KindIPASession)
	require.ErrorIs(t, err, store.ErrNotFound, "no entry before the first record")

	until := time.Now().Add(time.Hour)
	require.NoError(t, s.SetNewest(ctx, alice, store.KindIPASession, "first", until))
	require.NoError(t, s.SetNewest(ctx, alice, store.KindIPASession, "second", until))
	require.NoError(t, s.SetNewest(ctx, alice, store.KindPresentation, "request", until))
	require.NoError(t, s.SetNewest(ctx, bob, store.KindIPASession, "bobs", until))

	for _, tc := range []struct {
		owner string
		kind  store.Kind
		want  string
	}{
		{alice, store.KindIPASession, "second"},
		{alice, store.KindPresentation, "request"},
		{bob, store.KindIPASession, "bobs"},
	} {
		got, err := s.Newest(ctx, tc.owner, tc.kind)
		require.NoError(t, err)
		assert.Equal(t, tc.want, got, "%s %s", tc.owner, tc.kind)
	}
	_, err = s.Newest(ctx, bob, store.KindPresentation)
	assert.ErrorIs(t, err, store.ErrNotFound, "kinds are kept apart")

	require.NoError(t, s.SetNewest(ctx, bob, store.KindPresentation, "gone", time.Now().Add(-time.Second)))
	_, err = s.Newest(ctx, bob, store.KindPresentation)
	assert.ErrorIs(t, err, store.ErrNotFound, "an entry past its until is gone")
}
