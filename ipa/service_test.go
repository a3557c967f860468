package ipa_test

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/entra-verifier/entra-verifier/config"
	"github.com/entra-verifier/entra-verifier/ipa"
	"github.com/entra-verifier/entra-verifier/store"
	"github.com/entra-verifier/entra-verifier/store/memory"
	"github.com/entra-verifier/entra-verifier/store/storetest"
)

const svcOwner = "owner-hash"

var svcT0 = time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)

// fakeIDEMIA is an IDEMIA made of functions; nil fields behave as a working IDEMIA without retrieval.
type fakeIDEMIA struct {
	createSession func(ctx context.Context, callbackURL, gotoURL string) (string, error)
	checkCallback func(cb *ipa.Callback, s *store.IPASession) error
	retrieval     bool
	retrieve      func(ctx context.Context, cb *ipa.Callback) *store.IdentitySummary

	checks, retrieves atomic.Int32
}

func (f *fakeIDEMIA) CreateSession(ctx context.Context, callbackURL, gotoURL string) (string, error) {
	return f.createSession(ctx, callbackURL, gotoURL)
}

func (f *fakeIDEMIA) CheckCallback(cb *ipa.Callback, s *store.IPASession) error {
	f.checks.Add(1)
	if f.checkCallback != nil {
		return f.checkCallback(cb, s)
	}
	if cb.SessionID != s.ID {
		return fmt.Errorf("%w: other session", ipa.ErrForbidden)
	}
	return nil
}

func (f *fakeIDEMIA) RetrievalEnabled() bool { return f.retrieval }

func (f *fakeIDEMIA) Retrieve(ctx context.Context, cb *ipa.Callback) *store.IdentitySummary {
	f.retrieves.Add(1)
	return f.retrieve(ctx, cb)
}

// fakeEvents is an Events made of a function; it counts its calls.
type fakeEvents struct {
	calls atomic.Int32
	fn    func(s *store.IPASession) (*store.Delivery, error)
}

func (e *fakeEvents) SessionEnded(s *store.IPASession) (*store.Delivery, error) {
	e.calls.Add(1)
	return e.fn(s)
}

// SessionExpired and JourneyCompleted are not what these tests are about: the journey tests cover them.
func (e *fakeEvents) SessionExpired(*store.IPASession) (*store.Delivery, error) {
	return nil, errUnexpectedEvent
}

func (e *fakeEvents) JourneyCompleted(*store.IPASession, *store.Presentation) (*store.Delivery, error) {
	return nil, errUnexpectedEvent
}

var errUnexpectedEvent = errors.New("fake events: unexpected event")

type svcFixture struct {
	svc    *ipa.Service
	mem    *memory.Store
	clock  *storetest.Clock
	idemia *fakeIDEMIA
	events *fakeEvents

	mu     sync.Mutex
	tokens map[string]string // sessionId → callback token, as IDEMIA learnt it
	urls   [][2]string       // callbackUrl, gotoUrl of each create
}

func ipaConfig(startURL string) *config.Config {
	u, _ := url.Parse("https://verifier.example.com")
	return &config.Config{PublicURL: u, IPA: config.IPA{StartURL: startURL}}
}

// newSvcFixture builds a Service over a memory store, a fake IDEMIA whose sessions get random UUIDs, fake
// Events and a clock; mut may change the fake before the Service is built, wrap the store it uses.
func newSvcFixture(t *testing.T, mut func(*svcFixture), wrap func(*memory.Store) ipa.Store) *svcFixture {
	f := &svcFixture{clock: storetest.NewClock(svcT0), tokens: map[string]string{}}
	f.mem = memory.New(memory.Options{Now: f.clock.Now})
	t.Cleanup(func() { f.mem.Close() })
	f.idemia = &fakeIDEMIA{createSession: func(_ context.Context, callbackURL, gotoURL string) (string, error) {
		id := uuid()
		f.mu.Lock()
		defer f.mu.Unlock()
		f.tokens[id] = callbackURL[strings.LastIndex(callbackURL, "/")+1:]
		f.urls = append(f.urls, [2]string{callbackURL, gotoURL})
		return id, nil
	}}
	f.events = &fakeEvents{fn: func(s *store.IPASession) (*store.Delivery, error) {
		return &store.Delivery{ID: "msg_" + s.ID, Body: []byte(s.Status), NextAttempt: f.clock.Now(), CreatedAt: f.clock.Now()}, nil
	}}
	if mut != nil {
		mut(f)
	}
	var st ipa.Store = f.mem
	if wrap != nil {
		st = wrap(f.mem)
	}
	f.svc = ipa.NewService(ipa.Options{Config: ipaConfig("https://ipa.example.com/api/v1/ipa/start"), IDEMIA: f.idemia, Store: st, Events: f.events, AllSessionEvents: true, Now: f.clock.Now})
	t.Cleanup(f.svc.Close)
	return f
}

func uuid() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	b[6], b[8] = b[6]&0x0f|0x40, b[8]&0x3f|0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}

func (f *svcFixture) create(t *testing.T) *store.IPASession {
	t.Helper()
	s, err := f.svc.Create(t.Context(), svcOwner, time.Time{})
	require.NoError(t, err)
	return s
}

func (f *svcFixture) token(id string) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.tokens[id]
}

// notify delivers an end-of-process notification for session id; fields are added to the body.
func (f *svcFixture) notify(ctx context.Context, id, fields string) (ipa.Outcome, error) {
	body := fmt.Sprintf(`{"applicationId":"app","sessionId":%q,"timestamp":1733294237.9%s}`, id, fields)
	return f.svc.HandleCallback(ctx, f.token(id), []byte(body))
}

const (
	completedFields = `,"identityId":"gips-1","proofUrl":"https://idv.example.com/gips/v1/identities/gips-1/proof"`
	errorFields     = `,"status":"ERROR"`
	timeoutFields   = `,"status":"HEARTBEAT_TIMEOUT"`
)

func (f *svcFixture) stored(t *testing.T, id string) *store.IPASession {
	t.Helper()
	s, err := f.mem.IPASession(t.Context(), id)
	require.NoError(t, err)
	return s
}

func (f *svcFixture) deliveries(t *testing.T) []string {
	t.Helper()
	var ids []string
	for {
		d, err := f.mem.ClaimDelivery(t.Context(), f.clock.Now(), time.Hour)
		if errors.Is(err, store.ErrNotFound) {
			return ids
		}
		require.NoError(t, err)
		if !strings.HasPrefix(d.ID, "tmr_") { // the expiry timer every session gets: not a result event
			ids = append(ids, d.ID)
		}
	}
}

func TestServiceCreate(t *testing.T) {
	f := newSvcFixture(t, nil, nil)
	s := f.create(t)
	require.Len(t, f.urls, 1)
	token := f.token(s.ID)
	assert.Regexp(t, `^[A-Za-z0-9_-]{22}$`, token)
	assert.Equal(t, [2]string{"https://verifier.example.com/api/ipa/callback/" + token, "https://verifier.example.com/ipa/done"}, f.urls[0])
	got := f.stored(t, s.ID)
	assert.Equal(t, ipa.HashCallbackToken(token), got.TokenHash, "the store keeps the token's hash only")
	assert.NotContains(t, fmt.Sprintf("%+v", got), token)
	assert.Equal(t, "https://ipa.example.com/api/v1/ipa/start?session-id="+s.ID, got.StartURL)
	assert.Equal(t, store.IPAPending, got.Status)
	assert.Equal(t, svcOwner, got.OwnerHash)
	assert.True(t, svcT0.Equal(got.CreatedAt))
	assert.True(t, svcT0.Add(ipa.SessionLifetime).Equal(got.ExpiresAt))

	other := f.create(t)
	assert.NotEqual(t, token, f.token(other.ID), "a fresh token per session")
}

func TestServiceCreateFailures(t *testing.T) {
	t.Run("IDEMIA refuses", func(t *testing.T) {
		boom := &ipa.UpstreamError{Op: "create session", StatusCode: 500}
		f := newSvcFixture(t, func(f *svcFixture) {
			f.idemia.createSession = func(context.Context, string, string) (string, error) { return "", boom }
		}, nil)
		_, err := f.svc.Create(t.Context(), svcOwner, time.Time{})
		assert.ErrorIs(t, err, ipa.ErrUpstream)
	})
	t.Run("bad start URL stores nothing", func(t *testing.T) {
		f := newSvcFixture(t, nil, nil)
		svc := ipa.NewService(ipa.Options{Config: ipaConfig("not a url"), IDEMIA: f.idemia, Store: f.mem})
		t.Cleanup(svc.Close)
		_, err := svc.Create(t.Context(), svcOwner, time.Time{})
		require.ErrorContains(t, err, "not an absolute URL")
		for id := range f.tokens {
			_, err := f.mem.IPASession(t.Context(), id)
			assert.ErrorIs(t, err, store.ErrNotFound)
		}
	})
	t.Run("sessionId returned twice", func(t *testing.T) {
		id := uuid()
		f := newSvcFixture(t, func(f *svcFixture) {
			f.idemia.createSession = func(context.Context, string, string) (string, error) { return id, nil }
		}, nil)
		_, err := f.svc.Create(t.Context(), svcOwner, time.Time{})
		require.NoError(t, err)
		_, err = f.svc.Create(t.Context(), svcOwner, time.Time{})
		assert.ErrorIs(t, err, store.ErrConflict)
	})
}

func TestServiceGetOnlyForItsOwner(t *testing.T) {
	f := newSvcFixture(t, nil, nil)
	s := f.create(t)
	got, err := f.svc.Get(t.Context(), s.ID, svcOwner)
	require.NoError(t, err)
	assert.Equal(t, s.ID, got.ID)
	_, err = f.svc.Get(t.Context(), s.ID, "another-owner")
	assert.ErrorIs(t, err, store.ErrNotFound)
	_, err = f.svc.Get(t.Context(), uuid(), svcOwner)
	assert.ErrorIs(t, err, store.ErrNotFound)
}

func TestServiceCallbackRefusals(t *testing.T) {
	f := newSvcFixture(t, nil, nil)
	s := f.create(t)
	token := f.token(s.ID)
	tests := []struct {
		name, token, body string
		want              error
		checked           bool
	}{
		{"unknown token", "AAAAAAAAAAAAAAAAAAAAAA", `{"applicationId":"app","sessionId":"` + s.ID + `","timestamp":1}`, store.ErrNotFound, false},
		{"malformed body", token, `{"applicationId":"app"`, ipa.ErrMalformed, false},
		{"another session's id", token, `{"applicationId":"app","sessionId":"` + uuid() + `","timestamp":1}`, ipa.ErrForbidden, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			checks := f.idemia.checks.Load()
			out, err := f.svc.HandleCallback(t.Context(), tc.token, []byte(tc.body))
			assert.ErrorIs(t, err, tc.want)
			assert.Equal(t, ipa.Outcome{}, out)
			assert.Equal(t, s, f.stored(t, s.ID), "a refused notification changes nothing")
			if tc.checked {
				assert.Equal(t, checks+1, f.idemia.checks.Load())
			} else {
				assert.Equal(t, checks, f.idemia.checks.Load(), "refused before the IDEMIA check")
			}
		})
	}
	assert.Zero(t, f.events.calls.Load())
}

func TestServiceCallbackOutcomes(t *testing.T) {
	tests := []struct {
		name, fields string
		want         store.IPAStatus
		identity     string
	}{
		{"completed", completedFields, store.IPACompleted, "gips-1"},
		{"ERROR", errorFields, store.IPAError, ""},
		{"HEARTBEAT_TIMEOUT", timeoutFields, store.IPATimeout, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newSvcFixture(t, nil, nil)
			s := f.create(t)
			f.clock.Add(time.Minute)
			out, err := f.notify(t.Context(), s.ID, tc.fields)
			require.NoError(t, err)
			assert.Equal(t, ipa.Outcome{From: store.IPAPending, To: tc.want, Changed: true}, out)
			got := f.stored(t, s.ID)
			assert.Equal(t, tc.want, got.Status)
			assert.Equal(t, tc.identity, got.IdentityID)
			assert.True(t, svcT0.Add(time.Minute).Equal(got.UpdatedAt))
			assert.Equal(t, []string{"msg_" + s.ID}, f.deliveries(t), "an ended session queues exactly one delivery")

			// IDEMIA retries, or sends another outcome: nothing changes, nothing more is queued.
			for _, again := range []string{tc.fields, completedFields, errorFields, timeoutFields} {
				out, err := f.notify(t.Context(), s.ID, again)
				require.NoError(t, err)
				assert.Equal(t, ipa.Outcome{From: tc.want, To: tc.want}, out)
			}
			assert.Equal(t, got, f.stored(t, s.ID))
			assert.Empty(t, f.deliveries(t))
			assert.Equal(t, int32(1), f.events.calls.Load())
			assert.Zero(t, f.idemia.retrieves.Load(), "retrieval is off")
		})
	}
}

// TestServiceLateCallbackChangesNothing: a notification for a session already expired (the store still holds
// it) returns no error, so it is answered 2xx, and changes nothing.
func TestServiceLateCallbackChangesNothing(t *testing.T) {
	for _, fields := range []string{completedFields, errorFields, timeoutFields} {
		t.Run(fields, func(t *testing.T) {
			f := newSvcFixture(t, func(f *svcFixture) { f.idemia.retrieval = true }, nil)
			s := f.create(t)
			before := f.stored(t, s.ID)
			f.clock.Add(ipa.SessionLifetime)
			out, err := f.notify(t.Context(), s.ID, fields)
			require.NoError(t, err)
			assert.Equal(t, ipa.Outcome{From: store.IPAPending, To: store.IPAPending, Late: true}, out)
			assert.Equal(t, before, f.stored(t, s.ID))
			assert.Zero(t, f.events.calls.Load())
			assert.Empty(t, f.deliveries(t))
			f.svc.Close()
			assert.Zero(t, f.idemia.retrieves.Load(), "no retrieval for a late notification")
			assert.Equal(t, store.IPAExpired, ipa.View(f.stored(t, s.ID), f.clock.Now()).Status)
		})
	}
}

func TestServiceEventsErrorQueuesNothingButTransitions(t *testing.T) {
	f := newSvcFixture(t, func(f *svcFixture) {
		f.events.fn = func(*store.IPASession) (*store.Delivery, error) { return nil, errors.New("cannot sign") }
	}, nil)
	s := f.create(t)
	out, err := f.notify(t.Context(), s.ID, errorFields)
	require.NoError(t, err)
	assert.True(t, out.Changed)
	assert.Equal(t, store.IPAError, f.stored(t, s.ID).Status)
	assert.Equal(t, int32(1), f.events.calls.Load())
	assert.Empty(t, f.deliveries(t))
}

func TestServiceWithoutEvents(t *testing.T) {
	f := newSvcFixture(t, nil, nil)
	svc := ipa.NewService(ipa.Options{Config: ipaConfig("https://ipa.example.com/start"), IDEMIA: f.idemia, Store: f.mem})
	t.Cleanup(svc.Close)
	s, err := svc.Create(t.Context(), svcOwner, time.Time{})
	require.NoError(t, err)
	assert.WithinDuration(t, time.Now(), s.CreatedAt, time.Minute, "no Now: the wall clock")
	body := fmt.Sprintf(`{"applicationId":"app","sessionId":%q,"timestamp":1,"status":"ERROR"}`, s.ID)
	out, err := svc.HandleCallback(t.Context(), f.token(s.ID), []byte(body))
	require.NoError(t, err)
	assert.Equal(t, store.IPAError, out.To)
	_, err = f.mem.ClaimDelivery(t.Context(), time.Now().Add(time.Hour), time.Minute)
	assert.ErrorIs(t, err, store.ErrNotFound)
}

// TestServiceRetrievalCarriesTheEvent: with identity retrieval on, a completed session's event is queued
// with its identity summary, once; an error or timeout queues its event at once and retrieves nothing.
func TestServiceRetrievalCarriesTheEvent(t *testing.T) {
	var retrievedFor atomic.Value
	f := newSvcFixture(t, func(f *svcFixture) {
		f.idemia.retrieval = true
		f.idemia.retrieve = func(_ context.Context, cb *ipa.Callback) *store.IdentitySummary {
			retrievedFor.Store(cb.IdentityID)
			return &store.IdentitySummary{LevelOfAssurance: "LOA3", Status: "VERIFIED"}
		}
	}, nil)
	s := f.create(t)
	out, err := f.notify(t.Context(), s.ID, completedFields)
	require.NoError(t, err)
	assert.Equal(t, store.IPACompleted, out.To)
	require.Eventually(t, func() bool {
		got, err := f.mem.IPASession(context.Background(), s.ID)
		return err == nil && got.Identity != nil
	}, 5*time.Second, 5*time.Millisecond)
	got := f.stored(t, s.ID)
	assert.Equal(t, store.IdentitySummary{LevelOfAssurance: "LOA3", Status: "VERIFIED"}, *got.Identity)
	assert.Equal(t, "gips-1", retrievedFor.Load())
	assert.Equal(t, []string{"msg_" + s.ID}, f.deliveries(t))
	assert.Equal(t, int32(1), f.events.calls.Load(), "the event goes with the summary, not with the transition")

	out, err = f.notify(t.Context(), s.ID, completedFields)
	require.NoError(t, err)
	assert.False(t, out.Changed)
	f.svc.Close()
	assert.Equal(t, int32(1), f.idemia.retrieves.Load(), "a retry does not retrieve again")

	g := newSvcFixture(t, func(f *svcFixture) { f.idemia.retrieval = true }, nil)
	e := g.create(t)
	_, err = g.notify(t.Context(), e.ID, errorFields)
	require.NoError(t, err)
	assert.Equal(t, []string{"msg_" + e.ID}, g.deliveries(t))
	g.svc.Close()
	assert.Zero(t, g.idemia.retrieves.Load())
	assert.Nil(t, g.stored(t, e.ID).Identity)
}

func TestServiceRetrievalWithoutIdentity(t *testing.T) {
	f := newSvcFixture(t, func(f *svcFixture) {
		f.idemia.retrieval = true
		f.idemia.retrieve = func(context.Context, *ipa.Callback) *store.IdentitySummary { return nil }
	}, nil)
	s := f.create(t)
	_, err := f.notify(t.Context(), s.ID, "")
	require.NoError(t, err)
	f.svc.Close() // waits for the retrieval
	got := f.stored(t, s.ID)
	require.NotNil(t, got.Identity)
	assert.Equal(t, "no_identity", got.Identity.Error)
	assert.Equal(t, []string{"msg_" + s.ID}, f.deliveries(t))
}

func TestServiceCloseStopsRetrieval(t *testing.T) {
	f := newSvcFixture(t, func(f *svcFixture) {
		f.idemia.retrieval = true
		f.idemia.retrieve = func(context.Context, *ipa.Callback) *store.IdentitySummary { return &store.IdentitySummary{} }
	}, nil)
	s := f.create(t)
	f.svc.Close()
	out, err := f.notify(t.Context(), s.ID, completedFields)
	require.NoError(t, err)
	assert.True(t, out.Changed, "the transition is still recorded")
	f.svc.Close() // would wait for a retrieval, had one started
	assert.Zero(t, f.idemia.retrieves.Load(), "no retrieval starts after Close")
	assert.Nil(t, f.stored(t, s.ID).Identity)
	assert.Empty(t, f.deliveries(t))
}

// TestServiceCloseWaitsForRetrieval: Close cancels an in-flight retrieval and returns once it is done.
func TestServiceCloseWaitsForRetrieval(t *testing.T) {
	started := make(chan struct{})
	var finished atomic.Bool
	f := newSvcFixture(t, func(f *svcFixture) {
		f.idemia.retrieval = true
		f.idemia.retrieve = func(ctx context.Context, _ *ipa.Callback) *store.IdentitySummary {
			close(started)
			<-ctx.Done()
			finished.Store(true)
			return &store.IdentitySummary{Error: "cancelled"}
		}
	}, nil)
	s := f.create(t)
	_, err := f.notify(t.Context(), s.ID, completedFields)
	require.NoError(t, err)
	<-started
	f.svc.Close()
	assert.True(t, finished.Load())
}

// goneStore drops the session once it has ended, before the identity summary is recorded.
type goneStore struct {
	*memory.Store
	updates atomic.Int32
}

func (g *goneStore) UpdateIPASession(ctx context.Context, id string, fn store.IPAUpdater) (*store.IPASession, error) {
	if g.updates.Add(1) > 1 {
		return nil, store.ErrNotFound
	}
	return g.Store.UpdateIPASession(ctx, id, fn)
}

// unavailableStore fails every update after the first, as a backend that went away does.
type unavailableStore struct {
	*memory.Store
	updates atomic.Int32
	failed  chan struct{}
}

func (u *unavailableStore) UpdateIPASession(ctx context.Context, id string, fn store.IPAUpdater) (*store.IPASession, error) {
	if u.updates.Add(1) > 1 {
		select {
		case u.failed <- struct{}{}:
		default:
		}
		return nil, fmt.Errorf("redis: %w", store.ErrUnavailable)
	}
	return u.Store.UpdateIPASession(ctx, id, fn)
}

func TestServiceRecordingGivesUp(t *testing.T) {
	summary := func(f *svcFixture) {
		f.idemia.retrieval = true
		f.idemia.retrieve = func(context.Context, *ipa.Callback) *store.IdentitySummary {
			return &store.IdentitySummary{LevelOfAssurance: "LOA2"}
		}
	}
	t.Run("session gone", func(t *testing.T) {
		var gs *goneStore
		f := newSvcFixture(t, summary, func(m *memory.Store) ipa.Store { gs = &goneStore{Store: m}; return gs })
		s := f.create(t)
		_, err := f.notify(t.Context(), s.ID, completedFields)
		require.NoError(t, err)
		require.Eventually(t, func() bool { return gs.updates.Load() >= 2 }, 5*time.Second, 5*time.Millisecond)
		time.Sleep(1200 * time.Millisecond) // past the pause before a retry
		assert.Equal(t, int32(2), gs.updates.Load(), "a session that is gone is not retried")
		f.svc.Close()
		assert.Nil(t, f.stored(t, s.ID).Identity)
		assert.Empty(t, f.deliveries(t))
	})
	t.Run("store unavailable until shutdown", func(t *testing.T) {
		var us *unavailableStore
		f := newSvcFixture(t, summary, func(m *memory.Store) ipa.Store {
			us = &unavailableStore{Store: m, failed: make(chan struct{}, 1)}
			return us
		})
		s := f.create(t)
		_, err := f.notify(t.Context(), s.ID, completedFields)
		require.NoError(t, err)
		select {
		case <-us.failed:
		case <-time.After(5 * time.Second):
			t.Fatal("the summary was never recorded")
		}
		start := time.Now()
		f.svc.Close()
		assert.Less(t, time.Since(start), 5*time.Second, "shutdown ends the retries")
		assert.Nil(t, f.stored(t, s.ID).Identity)
		assert.Empty(t, f.deliveries(t))
	})
}

// TestServiceEndQueuesOneDelivery: the update that ends a session carries exactly one delivery, and with
// retrieval on, a completed session's delivery goes with the summary's update instead.
func TestServiceEndQueuesOneDelivery(t *testing.T) {
	var rec *storetest.Outboxes
	f := newSvcFixture(t, nil, func(m *memory.Store) ipa.Store { rec = &storetest.Outboxes{Store: m}; return rec })
	s := f.create(t)
	for _, fields := range []string{timeoutFields, timeoutFields, completedFields} {
		_, err := f.notify(t.Context(), s.ID, fields)
		require.NoError(t, err)
	}
	assert.Equal(t, []int{1}, rec.Sizes())

	g := newSvcFixture(t, func(f *svcFixture) {
		f.idemia.retrieval = true
		f.idemia.retrieve = func(context.Context, *ipa.Callback) *store.IdentitySummary {
			return &store.IdentitySummary{LevelOfAssurance: "LOA2"}
		}
	}, func(m *memory.Store) ipa.Store { rec = &storetest.Outboxes{Store: m}; return rec })
	c := g.create(t)
	_, err := g.notify(t.Context(), c.ID, completedFields)
	require.NoError(t, err)
	g.svc.Close()
	assert.Equal(t, []int{0, 0, 1}, rec.Sizes(), "transition: none; retrieval lease: none; summary: one")
}

// failingStore fails every update, as an unreachable backend does.
type failingStore struct{ *memory.Store }

func (failingStore) UpdateIPASession(context.Context, string, store.IPAUpdater) (*store.IPASession, error) {
	return nil, fmt.Errorf("redis: %w", store.ErrUnavailable)
}

func TestServiceCallbackStoreError(t *testing.T) {
	f := newSvcFixture(t, nil, func(m *memory.Store) ipa.Store { return failingStore{m} })
	s := f.create(t)
	out, err := f.notify(t.Context(), s.ID, errorFields)
	assert.ErrorIs(t, err, store.ErrUnavailable)
	assert.Equal(t, ipa.Outcome{}, out)
	assert.Equal(t, store.IPAPending, f.stored(t, s.ID).Status)
	assert.Zero(t, f.events.calls.Load())
}

// TestServiceConcurrentCallbacksChangeOnce: two outcomes racing for one session end it once, with one event.
func TestServiceConcurrentCallbacksChangeOnce(t *testing.T) {
	f := newSvcFixture(t, nil, nil)
	for range 20 {
		s := f.create(t)
		var changed atomic.Int32
		var wg sync.WaitGroup
		start := make(chan struct{})
		for _, fields := range []string{completedFields, timeoutFields} {
			wg.Go(func() {
				<-start
				out, err := f.notify(context.Background(), s.ID, fields)
				assert.NoError(t, err)
				if out.Changed {
					changed.Add(1)
				}
			})
		}
		close(start)
		wg.Wait()
		assert.Equal(t, int32(1), changed.Load(), "exactly one notification wins")
		assert.Len(t, f.deliveries(t), 1)
	}
	assert.Equal(t, int32(20), f.events.calls.Load())
}

// racingStore makes the first update of each session lose a compare-and-swap race: fn runs on a copy that
// is thrown away, a competitor ends the session, and fn runs again on what is stored now.
type racingStore struct {
	*memory.Store
	raced sync.Map
}

func (r *racingStore) UpdateIPASession(ctx context.Context, id string, fn store.IPAUpdater) (*store.IPASession, error) {
	if _, done := r.raced.LoadOrStore(id, true); !done {
		cur, err := r.Store.IPASession(ctx, id)
		if err != nil {
			return nil, err
		}
		_, _ = fn(cur)
		if _, err := r.Store.UpdateIPASession(ctx, id, func(s *store.IPASession) ([]*store.Delivery, error) {
			s.Status = store.IPATimeout
			return nil, nil
		}); err != nil {
			return nil, err
		}
	}
	return r.Store.UpdateIPASession(ctx, id, fn)
}

func TestServiceLostRaceChangesOnce(t *testing.T) {
	f := newSvcFixture(t, nil, func(m *memory.Store) ipa.Store { return &racingStore{Store: m} })
	s := f.create(t)
	out, err := f.notify(t.Context(), s.ID, completedFields)
	require.NoError(t, err)
	assert.Equal(t, ipa.Outcome{From: store.IPATimeout, To: store.IPATimeout}, out)
	got := f.stored(t, s.ID)
	assert.Equal(t, store.IPATimeout, got.Status, "the competitor's outcome stands")
	assert.Empty(t, got.IdentityID)
	assert.Empty(t, f.deliveries(t), "the losing attempt's event is never queued")
}

func TestServiceView(t *testing.T) {
	exp := svcT0.Add(time.Minute)
	for _, tc := range []struct {
		status store.IPAStatus
		at     time.Time
		want   store.IPAStatus
	}{
		{store.IPAPending, svcT0, store.IPAPending},
		{store.IPAPending, exp, store.IPAExpired},
		{store.IPACompleted, exp, store.IPACompleted},
		{store.IPAError, exp.Add(time.Hour), store.IPAError},
		{store.IPATimeout, exp, store.IPATimeout},
	} {
		s := &store.IPASession{Status: tc.status, ExpiresAt: exp}
		assert.Equal(t, tc.want, ipa.View(s, tc.at).Status, "%s at %v", tc.status, tc.at)
		assert.Equal(t, tc.status, s.Status, "the stored session is not changed")
	}
}

// lostAnswerStore commits its first session update, then answers as if Redis had gone away: the write is
// there, but the caller cannot know it.
type lostAnswerStore struct {
	*memory.Store
	updates atomic.Int32
}

func (l *lostAnswerStore) UpdateIPASession(ctx context.Context, id string, fn store.IPAUpdater) (*store.IPASession, error) {
	s, err := l.Store.UpdateIPASession(ctx, id, fn)
	if l.updates.Add(1) == 1 && err == nil {
		return nil, fmt.Errorf("redis: answer lost: %w", store.ErrUnavailable)
	}
	return s, err
}

// TestServiceRetrievesAfterALostAnswer: the completed transition was written but its answer lost (503, so
// no retrieval started); IDEMIA's repeat finds nothing to change and starts the retrieval, which records the
// summary and its event once.
func TestServiceRetrievesAfterALostAnswer(t *testing.T) {
	f := newSvcFixture(t, func(f *svcFixture) {
		f.idemia.retrieval = true
		f.idemia.retrieve = func(context.Context, *ipa.Callback) *store.IdentitySummary {
			return &store.IdentitySummary{LevelOfAssurance: "LOA3", Status: "VERIFIED"}
		}
	}, func(m *memory.Store) ipa.Store { return &lostAnswerStore{Store: m} })
	s := f.create(t)
	_, err := f.notify(t.Context(), s.ID, completedFields)
	require.ErrorIs(t, err, store.ErrUnavailable, "answered 503: IDEMIA will retry")
	assert.Equal(t, store.IPACompleted, f.stored(t, s.ID).Status, "the transition was written nonetheless")

	out, err := f.notify(t.Context(), s.ID, completedFields)
	require.NoError(t, err)
	assert.False(t, out.Changed)
	require.Eventually(t, func() bool {
		got, err := f.mem.IPASession(context.Background(), s.ID)
		return err == nil && got.Identity != nil
	}, 5*time.Second, 5*time.Millisecond, "the repeat started the retrieval the lost answer never did")
	f.svc.Close()
	assert.Equal(t, int32(1), f.idemia.retrieves.Load())
	assert.Equal(t, []string{"msg_" + s.ID}, f.deliveries(t), "one event, with the summary")
}

// TestServiceRepeatDuringRetrievalReadsOnce: a repeat of the completed notification while the retrieval is
// under way finds its lease held and reads nothing more.
func TestServiceRepeatDuringRetrievalReadsOnce(t *testing.T) {
	release, started := make(chan struct{}), make(chan struct{}, 1)
	f := newSvcFixture(t, func(f *svcFixture) {
		f.idemia.retrieval = true
		f.idemia.retrieve = func(context.Context, *ipa.Callback) *store.IdentitySummary {
			started <- struct{}{}
			<-release
			return &store.IdentitySummary{LevelOfAssurance: "LOA2"}
		}
	}, nil)
	s := f.create(t)
	_, err := f.notify(t.Context(), s.ID, completedFields)
	require.NoError(t, err)
	<-started
	for range 3 {
		out, err := f.notify(t.Context(), s.ID, completedFields)
		require.NoError(t, err)
		assert.False(t, out.Changed)
	}
	assert.False(t, f.stored(t, s.ID).RetrievalUntil.IsZero(), "the lease is held while the identity is read")
	close(release)
	f.svc.Close()
	assert.Equal(t, int32(1), f.idemia.retrieves.Load(), "one read of the identity")
	got := f.stored(t, s.ID)
	require.NotNil(t, got.Identity)
	assert.True(t, got.RetrievalUntil.IsZero(), "the lease ends with the summary")
}
