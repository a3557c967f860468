package verifier_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/entra-verifier/entra-verifier/config"
	"github.com/entra-verifier/entra-verifier/store"
	"github.com/entra-verifier/entra-verifier/store/memory"
	"github.com/entra-verifier/entra-verifier/store/storetest"
	"github.com/entra-verifier/entra-verifier/verifier"
)

const (
	owner  = "owner-hash"
	secret = "callback-secret"
)

// creatorFunc is a Creator made of a function.
type creatorFunc func(ctx context.Context, req *verifier.PresentationRequest) (*verifier.Created, error)

func (f creatorFunc) CreatePresentationRequest(ctx context.Context, req *verifier.PresentationRequest) (*verifier.Created, error) {
	return f(ctx, req)
}

// fakeEvents is an Events made of a function; it counts its calls.
type fakeEvents struct {
	calls atomic.Int32
	fn    func(p *store.Presentation) (*store.Delivery, error)
}

func (e *fakeEvents) PresentationEnded(p *store.Presentation) (*store.Delivery, error) {
	e.calls.Add(1)
	return e.fn(p)
}

// PresentationExpired and JourneyCompleted are not what these tests are about: the journey tests cover them.
func (e *fakeEvents) PresentationExpired(*store.Presentation) (*store.Delivery, error) {
	return nil, errUnexpectedEvent
}

func (e *fakeEvents) JourneyCompleted(*store.IPASession, *store.Presentation) (*store.Delivery, error) {
	return nil, errUnexpectedEvent
}

var errUnexpectedEvent = errors.New("fake events: unexpected event")

// queueing returns Events that build one delivery per ended request, named after it.
func queueing(c *storetest.Clock) *fakeEvents {
	return &fakeEvents{fn: func(p *store.Presentation) (*store.Delivery, error) {
		return &store.Delivery{ID: "msg_" + p.ID + "_" + string(p.Status), Body: []byte(p.ID), NextAttempt: c.Now(), CreatedAt: c.Now()}, nil
	}}
}

type fixture struct {
	svc     *verifier.Service
	mem     *memory.Store
	clock   *storetest.Clock
	events  *fakeEvents
	created []*verifier.PresentationRequest
	// answer is what the fake Creator returns (RequestID gets a counter suffix).
	answer verifier.Created
	n      int
}

func testConfig(mut func(*config.Config)) *config.Config {
	u, _ := url.Parse("https://verifier.example.com")
	cfg := &config.Config{
		PublicURL: u, AcceptedRegions: []string{"us"},
		Entra: config.Entra{VerifierDID: "did:web:verifier.example.com", ValidateLinkedDomain: true, ClientName: "Contoso", Purpose: "Open your account",
			FaceCheckThreshold: 70, FaceCheckPhotoClaim: "portrait"},
	}
	if mut != nil {
		mut(cfg)
	}
	return cfg
}

// newFixture builds a Service over a memory store, a fake Creator, fake Events and a clock at t0. wrap, when
// set, wraps the memory store.
func newFixture(t *testing.T, cfg *config.Config, wrap func(*memory.Store) verifier.Store) *fixture {
	f := &fixture{clock: storetest.NewClock(t0)}
	f.answer = verifier.Created{URL: "openid-vc://?request_uri=https://example/x", Expiry: t0.Add(5 * time.Minute).Unix()}
	f.mem = memory.New(memory.Options{Now: f.clock.Now})
	t.Cleanup(func() { f.mem.Close() })
	f.events = queueing(f.clock)
	var st verifier.Store = f.mem
	if wrap != nil {
		st = wrap(f.mem)
	}
	var mu sync.Mutex
	creator := creatorFunc(func(_ context.Context, req *verifier.PresentationRequest) (*verifier.Created, error) {
		mu.Lock()
		defer mu.Unlock()
		f.created = append(f.created, req)
		f.n++
		c := f.answer
		c.RequestID = fmt.Sprintf("req-%d", f.n)
		return &c, nil
	})
	f.svc = verifier.NewService(verifier.Options{Config: cfg, Creator: creator, Store: st, Secret: []byte(secret), Events: f.events, Now: f.clock.Now})
	return f
}

func (f *fixture) create(t *testing.T) *store.Presentation {
	t.Helper()
	p, err := f.svc.Create(t.Context(), owner, "")
	require.NoError(t, err)
	return p
}

// callback sends an authentic callback for p.
func (f *fixture) callback(t *testing.T, p *store.Presentation, cb *verifier.Callback) (verifier.Outcome, error) {
	t.Helper()
	cb.RequestID, cb.State = p.ID, p.State
	body, err := json.Marshal(cb)
	require.NoError(t, err)
	return f.svc.HandleCallback(t.Context(), verifier.APIKey([]byte(secret), p.State), body)
}

// deliveries drains the store's due deliveries.
func (f *fixture) deliveries(t *testing.T) []string {
	t.Helper()
	var ids []string
	for {
		d, err := f.mem.ClaimDelivery(t.Context(), f.clock.Now(), time.Hour)
		if errors.Is(err, store.ErrNotFound) {
			return ids
		}
		require.NoError(t, err)
		if !strings.HasPrefix(d.ID, "tmr_") { // the expiry timer every request gets: not a result event
			ids = append(ids, d.ID)
		}
	}
}

func (f *fixture) stored(t *testing.T, id string) *store.Presentation {
	t.Helper()
	p, err := f.mem.Presentation(t.Context(), id)
	require.NoError(t, err)
	return p
}

func TestCreateSendsOurRequestAndStoresIt(t *testing.T) {
	f := newFixture(t, testConfig(nil), nil)
	p, err := f.svc.Create(t.Context(), owner, "https://rp.example.com/back")
	require.NoError(t, err)
	require.Len(t, f.created, 1)
	req := f.created[0]
	assert.Equal(t, "did:web:verifier.example.com", req.Authority)
	assert.Equal(t, "https://verifier.example.com/api/verifier/callback", req.Callback.URL)
	assert.Equal(t, p.State, req.Callback.State)
	assert.Regexp(t, `^[A-Za-z0-9_-]{22}$`, p.State, "128 random bits, base64url")
	assert.Equal(t, map[string]string{"api-key": verifier.APIKey([]byte(secret), p.State)}, req.Callback.Headers)
	assert.Equal(t, verifier.Registration{ClientName: "Contoso", Purpose: "Open your account"}, req.Registration)
	require.Len(t, req.RequestedCredentials, 1)
	rc := req.RequestedCredentials[0]
	assert.Equal(t, verifier.CredentialType, rc.Type)
	assert.Equal(t, []string{usDID}, rc.AcceptedIssuers)
	assert.Nil(t, rc.Configuration.Validation.FaceCheck, "faceCheck only when enabled")
	assert.False(t, rc.Configuration.Validation.AllowRevoked)
	assert.True(t, rc.Configuration.Validation.ValidateLinkedDomain)

	got := f.stored(t, p.ID)
	assert.Equal(t, "req-1", got.ID)
	assert.Equal(t, store.PresentationCreated, got.Status)
	assert.Equal(t, owner, got.OwnerHash)
	assert.Equal(t, "https://rp.example.com/back", got.ReturnTo)
	assert.Equal(t, f.answer.URL, got.URL)
	assert.True(t, t0.Equal(got.CreatedAt))
	assert.True(t, t0.Add(5*time.Minute).Equal(got.ExpiresAt), "expiresAt is Microsoft's expiry")

	second := f.create(t)
	assert.NotEqual(t, p.State, second.State, "a new state for every request")
}

func TestCreateWithFaceCheck(t *testing.T) {
	f := newFixture(t, testConfig(func(c *config.Config) { c.Entra.FaceCheck = true }), nil)
	f.create(t)
	fc := f.created[0].RequestedCredentials[0].Configuration.Validation.FaceCheck
	require.NotNil(t, fc)
	assert.Equal(t, verifier.FaceCheck{SourcePhotoClaimName: "portrait", MatchConfidenceThreshold: 70}, *fc)
}

func TestCreateCapsTheLifetime(t *testing.T) {
	for _, tc := range []struct {
		name   string
		expiry int64
		want   time.Time
	}{
		{"no expiry", 0, t0.Add(verifier.MaxLifetime)},
		{"expiry beyond the cap", t0.Add(2 * time.Hour).Unix(), t0.Add(verifier.MaxLifetime)},
		{"expiry within the cap", t0.Add(time.Minute).Unix(), t0.Add(time.Minute)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, testConfig(nil), nil)
			f.answer.Expiry = tc.expiry
			p := f.create(t)
			assert.True(t, tc.want.Equal(p.ExpiresAt), "%v, want %v", p.ExpiresAt, tc.want)
		})
	}
}

func TestCreateFailures(t *testing.T) {
	t.Run("Microsoft refuses", func(t *testing.T) {
		boom := errors.New("boom")
		mem := memory.New(memory.Options{})
		t.Cleanup(func() { mem.Close() })
		svc := verifier.NewService(verifier.Options{Config: testConfig(nil), Store: mem,
			Creator: creatorFunc(func(context.Context, *verifier.PresentationRequest) (*verifier.Created, error) { return nil, boom })})
		_, err := svc.Create(t.Context(), owner, "")
		assert.ErrorIs(t, err, boom)
	})
	t.Run("requestId returned twice", func(t *testing.T) {
		f := newFixture(t, testConfig(nil), nil)
		f.create(t)
		f.n = 0 // the next answer repeats req-1
		_, err := f.svc.Create(t.Context(), owner, "")
		assert.ErrorIs(t, err, verifier.ErrUpstream)
		assert.Contains(t, err.Error(), "req-1 returned twice")
	})
	t.Run("store full", func(t *testing.T) {
		mem := memory.New(memory.Options{MaxRecords: 1})
		t.Cleanup(func() { mem.Close() })
		n := 0
		svc := verifier.NewService(verifier.Options{Config: testConfig(nil), Store: mem,
			Creator: creatorFunc(func(context.Context, *verifier.PresentationRequest) (*verifier.Created, error) {
				n++
				return &verifier.Created{RequestID: fmt.Sprint("r", n), URL: "openid-vc://x"}, nil
			})})
		_, err := svc.Create(t.Context(), owner, "")
		require.NoError(t, err)
		_, err = svc.Create(t.Context(), owner, "")
		assert.ErrorIs(t, err, store.ErrFull)
		assert.NotErrorIs(t, err, verifier.ErrUpstream)
	})
}

func TestGetOnlyForItsOwner(t *testing.T) {
	f := newFixture(t, testConfig(nil), nil)
	p := f.create(t)
	got, err := f.svc.Get(t.Context(), p.ID, owner)
	require.NoError(t, err)
	assert.Equal(t, p.State, got.State)
	_, err = f.svc.Get(t.Context(), p.ID, "another-owner")
	assert.ErrorIs(t, err, store.ErrNotFound)
	_, err = f.svc.Get(t.Context(), "unknown", owner)
	assert.ErrorIs(t, err, store.ErrNotFound)
}

func TestHandOff(t *testing.T) {
	t.Run("once only", func(t *testing.T) {
		f := newFixture(t, testConfig(nil), nil)
		p := f.create(t)
		_, err := f.callback(t, p, verified(credential(nil)))
		require.NoError(t, err)
		got, err := f.svc.HandOff(t.Context(), p.ID, owner)
		require.NoError(t, err)
		assert.True(t, got.HandedOff)
		assert.Equal(t, "Megan", got.Claims["firstName"])
		_, err = f.svc.HandOff(t.Context(), p.ID, owner)
		assert.ErrorIs(t, err, verifier.ErrHandedOff)
	})
	t.Run("a failed request is handed off too", func(t *testing.T) {
		f := newFixture(t, testConfig(nil), nil)
		p := f.create(t)
		_, err := f.callback(t, p, presentationError("userCanceled"))
		require.NoError(t, err)
		got, err := f.svc.HandOff(t.Context(), p.ID, owner)
		require.NoError(t, err)
		assert.True(t, got.HandedOff)
	})
	t.Run("after claims retention", func(t *testing.T) {
		f := newFixture(t, testConfig(func(c *config.Config) { c.ClaimsRetention = time.Minute }), nil)
		p := f.create(t)
		_, err := f.callback(t, p, verified(credential(nil)))
		require.NoError(t, err)
		f.clock.Add(time.Minute)
		_, err = f.svc.HandOff(t.Context(), p.ID, owner)
		assert.ErrorIs(t, err, verifier.ErrHandedOff)
		assert.Contains(t, err.Error(), "claims no longer kept")
		assert.False(t, f.stored(t, p.ID).HandedOff, "a refused hand-off writes nothing")
	})
	t.Run("just before claims retention ends", func(t *testing.T) {
		f := newFixture(t, testConfig(func(c *config.Config) { c.ClaimsRetention = time.Minute }), nil)
		p := f.create(t)
		_, err := f.callback(t, p, verified(credential(nil)))
		require.NoError(t, err)
		f.clock.Add(time.Minute - time.Nanosecond)
		_, err = f.svc.HandOff(t.Context(), p.ID, owner)
		assert.NoError(t, err)
	})
	t.Run("other owner", func(t *testing.T) {
		f := newFixture(t, testConfig(nil), nil)
		p := f.create(t)
		_, err := f.callback(t, p, verified(credential(nil)))
		require.NoError(t, err)
		_, err = f.svc.HandOff(t.Context(), p.ID, "another-owner")
		assert.ErrorIs(t, err, store.ErrNotFound)
		assert.NotErrorIs(t, err, verifier.ErrHandedOff)
		assert.False(t, f.stored(t, p.ID).HandedOff)
		_, err = f.svc.HandOff(t.Context(), p.ID, owner)
		assert.NoError(t, err, "the owner still gets its result")
	})
	t.Run("unknown request", func(t *testing.T) {
		f := newFixture(t, testConfig(nil), nil)
		_, err := f.svc.HandOff(t.Context(), "unknown", owner)
		assert.ErrorIs(t, err, store.ErrNotFound)
	})
}

func TestHandleCallbackRefusals(t *testing.T) {
	f := newFixture(t, testConfig(nil), nil)
	p := f.create(t)
	key := verifier.APIKey([]byte(secret), p.State)
	body := func(id, state, status string) []byte {
		return fmt.Appendf(nil, `{"requestId":%q,"state":%q,"requestStatus":%q}`, id, state, status)
	}
	tests := []struct {
		name   string
		apiKey string
		body   []byte
		want   error
	}{
		{"not JSON", key, []byte("{"), verifier.ErrMalformed},
		{"missing state", key, []byte(`{"requestId":"req-1","requestStatus":"request_retrieved"}`), verifier.ErrMalformed},
		{"no api-key", "", body(p.ID, p.State, verifier.StatusRequestRetrieved), verifier.ErrUnauthorized},
		{"api-key of another state", verifier.APIKey([]byte(secret), "other"), body(p.ID, p.State, verifier.StatusRequestRetrieved), verifier.ErrUnauthorized},
		{"api-key under another secret", verifier.APIKey([]byte("other secret"), p.State), body(p.ID, p.State, verifier.StatusRequestRetrieved), verifier.ErrUnauthorized},
		{"state unknown", verifier.APIKey([]byte(secret), "unknown"), body(p.ID, "unknown", verifier.StatusRequestRetrieved), store.ErrNotFound},
		{"requestId differs", key, body("req-other", p.State, verifier.StatusRequestRetrieved), store.ErrNotFound},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out, err := f.svc.HandleCallback(t.Context(), tc.apiKey, tc.body)
			assert.ErrorIs(t, err, tc.want)
			assert.Equal(t, verifier.Outcome{}, out)
			assert.Equal(t, p, f.stored(t, p.ID), "a refused callback changes nothing")
		})
	}
	assert.Zero(t, f.events.calls.Load())
}

func TestHandleCallbackSteps(t *testing.T) {
	f := newFixture(t, testConfig(nil), nil)
	p := f.create(t)

	f.clock.Add(time.Second)
	out, err := f.callback(t, p, retrieved())
	require.NoError(t, err)
	assert.Equal(t, verifier.Outcome{From: store.PresentationCreated, To: store.PresentationRetrieved, Changed: true}, out)
	assert.Zero(t, f.events.calls.Load(), "retrieved is not an end: no event")
	assert.Empty(t, f.deliveries(t))
	assert.True(t, t0.Add(time.Second).Equal(f.stored(t, p.ID).UpdatedAt))

	out, err = f.callback(t, p, &verifier.Callback{RequestStatus: "issuance_successful"})
	require.NoError(t, err, "an unknown requestStatus is answered")
	assert.Equal(t, verifier.Outcome{From: store.PresentationRetrieved, To: store.PresentationRetrieved}, out)

	out, err = f.callback(t, p, verified(credential(func(c *verifier.CredentialData) { c.CredentialState.RevocationStatus = "REVOKED" })))
	require.NoError(t, err)
	assert.Equal(t, verifier.Outcome{From: store.PresentationRetrieved, To: store.PresentationFailed, Reason: verifier.ReasonRevoked, Changed: true}, out)
	got := f.stored(t, p.ID)
	assert.Equal(t, verifier.ReasonRevoked, got.Reason)
	assert.Nil(t, got.Claims)
	assert.Equal(t, []string{"msg_req-1_failed"}, f.deliveries(t), "a final transition queues exactly one delivery")

	before := f.stored(t, p.ID)
	for _, cb := range []*verifier.Callback{verified(credential(nil)), retrieved(), presentationError("x")} {
		out, err = f.callback(t, p, cb)
		require.NoError(t, err)
		assert.False(t, out.Changed, cb.RequestStatus)
		assert.False(t, out.Late)
		assert.Equal(t, store.PresentationFailed, out.To)
	}
	assert.Equal(t, before, f.stored(t, p.ID), "repeats and late steps change nothing")
	assert.Equal(t, int32(1), f.events.calls.Load())
	assert.Empty(t, f.deliveries(t))
}

func TestHandleCallbackVerifiedKeepsClaimsUntilRetention(t *testing.T) {
	f := newFixture(t, testConfig(func(c *config.Config) { c.ClaimsRetention = 2 * time.Minute }), nil)
	p := f.create(t)
	out, err := f.callback(t, p, verified(credential(nil)))
	require.NoError(t, err)
	assert.Equal(t, verifier.Outcome{From: store.PresentationCreated, To: store.PresentationVerified, Changed: true}, out)
	got := f.stored(t, p.ID)
	assert.Equal(t, "Megan", got.Claims["firstName"])
	assert.Equal(t, usDID, got.Issuer)
	assert.True(t, t0.Add(2*time.Minute).Equal(got.ClaimsUntil))
	assert.Equal(t, []string{"msg_req-1_verified"}, f.deliveries(t))
}

func TestHandleCallbackFaceCheckFromConfig(t *testing.T) {
	f := newFixture(t, testConfig(func(c *config.Config) { c.Entra.FaceCheck = true; c.Entra.FaceCheckThreshold = 80 }), nil)
	low, high := f.create(t), f.create(t)
	out, err := f.callback(t, low, verified(credential(withScore(79))))
	require.NoError(t, err)
	assert.Equal(t, verifier.ReasonFaceCheckFailed, out.Reason)
	out, err = f.callback(t, high, verified(credential(withScore(80))))
	require.NoError(t, err)
	assert.Equal(t, store.PresentationVerified, out.To)
}

// TestLateCallbackChangesNothing: an authentic callback for a request past its expiry (the store still holds
// it) returns no error, so it is answered 200, and changes nothing.
func TestLateCallbackChangesNothing(t *testing.T) {
	for _, cb := range []*verifier.Callback{retrieved(), verified(credential(nil)), presentationError("x")} {
		t.Run(cb.RequestStatus, func(t *testing.T) {
			f := newFixture(t, testConfig(nil), nil)
			p := f.create(t)
			before := f.stored(t, p.ID)
			f.clock.Add(5 * time.Minute) // exactly at expiresAt
			out, err := f.callback(t, p, cb)
			require.NoError(t, err)
			assert.Equal(t, verifier.Outcome{From: store.PresentationCreated, To: store.PresentationCreated, Late: true}, out)
			assert.Equal(t, before, f.stored(t, p.ID))
			assert.Zero(t, f.events.calls.Load())
			assert.Empty(t, f.deliveries(t))
			assert.Equal(t, store.PresentationExpired, verifier.View(f.stored(t, p.ID), f.clock.Now()).Status)
		})
	}
}

// TestEventsErrorQueuesNothingButTransitions: a result event that cannot be built does not hold up the journey.
func TestEventsErrorQueuesNothingButTransitions(t *testing.T) {
	f := newFixture(t, testConfig(nil), nil)
	f.events.fn = func(*store.Presentation) (*store.Delivery, error) { return nil, errors.New("cannot sign") }
	p := f.create(t)
	out, err := f.callback(t, p, verified(credential(nil)))
	require.NoError(t, err)
	assert.True(t, out.Changed)
	assert.Equal(t, store.PresentationVerified, f.stored(t, p.ID).Status)
	assert.Equal(t, int32(1), f.events.calls.Load())
	assert.Empty(t, f.deliveries(t))
}

func TestNoEventsConfigured(t *testing.T) {
	mem := memory.New(memory.Options{})
	t.Cleanup(func() { mem.Close() })
	svc := verifier.NewService(verifier.Options{Config: testConfig(nil), Store: mem, Secret: []byte(secret),
		Creator: creatorFunc(func(context.Context, *verifier.PresentationRequest) (*verifier.Created, error) {
			return &verifier.Created{RequestID: "r1", URL: "openid-vc://x"}, nil
		})})
	p, err := svc.Create(t.Context(), owner, "")
	require.NoError(t, err)
	assert.WithinDuration(t, time.Now(), p.CreatedAt, time.Minute, "no Now: the wall clock")
	body := fmt.Appendf(nil, `{"requestId":"r1","state":%q,"requestStatus":"presentation_error"}`, p.State)
	out, err := svc.HandleCallback(t.Context(), verifier.APIKey([]byte(secret), p.State), body)
	require.NoError(t, err)
	assert.Equal(t, store.PresentationFailed, out.To)
	_, err = mem.ClaimDelivery(t.Context(), time.Now().Add(time.Hour), time.Minute)
	assert.ErrorIs(t, err, store.ErrNotFound)
}

// TestConcurrentCallbacksChangeOnce: two callbacks racing for one request end it once, with one event.
func TestConcurrentCallbacksChangeOnce(t *testing.T) {
	f := newFixture(t, testConfig(nil), nil)
	for range 20 {
		p := f.create(t)
		var changed atomic.Int32
		var wg sync.WaitGroup
		start := make(chan struct{})
		for _, cb := range []*verifier.Callback{verified(credential(nil)), presentationError("userCanceled")} {
			wg.Go(func() {
				<-start
				cb.RequestID, cb.State = p.ID, p.State
				body, _ := json.Marshal(cb)
				out, err := f.svc.HandleCallback(context.Background(), verifier.APIKey([]byte(secret), p.State), body)
				assert.NoError(t, err)
				if out.Changed {
					changed.Add(1)
				}
			})
		}
		close(start)
		wg.Wait()
		assert.Equal(t, int32(1), changed.Load(), "exactly one callback wins")
		assert.Len(t, f.deliveries(t), 1, "one event for one end")
	}
	assert.Equal(t, int32(20), f.events.calls.Load())
}

// racingStore makes the first update of each request lose a compare-and-swap race, as a shared backend
// does: fn runs on a copy that is thrown away, a competitor's write lands, and fn runs again on what is
// stored now.
type racingStore struct {
	*memory.Store
	competitor func(p *store.Presentation)
	raced      map[string]bool
}

func (r *racingStore) UpdatePresentation(ctx context.Context, id string, fn store.PresentationUpdater) (*store.Presentation, error) {
	if !r.raced[id] {
		r.raced[id] = true
		cur, err := r.Store.Presentation(ctx, id)
		if err != nil {
			return nil, err
		}
		_, _ = fn(cur) // the losing attempt: its result is never written
		if _, err := r.Store.UpdatePresentation(ctx, id, func(p *store.Presentation) ([]*store.Delivery, error) {
			r.competitor(p)
			return nil, nil
		}); err != nil {
			return nil, err
		}
	}
	return r.Store.UpdatePresentation(ctx, id, fn)
}

// TestLostRaceChangesOnce: the callback whose first attempt lost to a competitor's final write re-applies
// its transition to the stored request, finds it final and writes nothing, queueing no event.
func TestLostRaceChangesOnce(t *testing.T) {
	var rs *racingStore
	f := newFixture(t, testConfig(nil), func(m *memory.Store) verifier.Store {
		rs = &racingStore{Store: m, raced: map[string]bool{}, competitor: func(p *store.Presentation) {
			p.Status, p.Reason = store.PresentationFailed, verifier.ReasonPresentationError
		}}
		return rs
	})
	p := f.create(t)
	out, err := f.callback(t, p, verified(credential(nil)))
	require.NoError(t, err)
	assert.Equal(t, verifier.Outcome{From: store.PresentationFailed, To: store.PresentationFailed}, out)
	got := f.stored(t, p.ID)
	assert.Equal(t, store.PresentationFailed, got.Status, "the competitor's write stands")
	assert.Nil(t, got.Claims)
	assert.Empty(t, f.deliveries(t), "the losing attempt's event is never queued")

	// The competitor only moved it to retrieved: the second attempt applies the transition once.
	rs.competitor = func(p *store.Presentation) { p.Status = store.PresentationRetrieved }
	q := f.create(t)
	out, err = f.callback(t, q, verified(credential(nil)))
	require.NoError(t, err)
	assert.Equal(t, verifier.Outcome{From: store.PresentationRetrieved, To: store.PresentationVerified, Changed: true}, out)
	assert.Equal(t, []string{"msg_req-2_verified"}, f.deliveries(t))
}

// TestFinalTransitionQueuesOneDelivery: the update that ends a request carries exactly one delivery; the
// one that moves it to retrieved carries none.
func TestFinalTransitionQueuesOneDelivery(t *testing.T) {
	var rec *storetest.Outboxes
	f := newFixture(t, testConfig(nil), func(m *memory.Store) verifier.Store { rec = &storetest.Outboxes{Store: m}; return rec })
	p, q := f.create(t), f.create(t)
	for _, step := range []struct {
		p  *store.Presentation
		cb *verifier.Callback
	}{{p, retrieved()}, {p, verified(credential(nil))}, {p, presentationError("x")}, {q, presentationError("x")}} {
		_, err := f.callback(t, step.p, step.cb)
		require.NoError(t, err)
	}
	assert.Equal(t, []int{0, 1, 1}, rec.Sizes(), "retrieved: none; verified: one; the repeat writes nothing; failed: one")
	assert.Equal(t, []string{"msg_req-1_verified", "msg_req-2_failed"}, sortStrings(f.deliveries(t)))
}

func sortStrings(s []string) []string { slices.Sort(s); return s }

// failingStore fails every update as an unreachable backend does.
type failingStore struct{ *memory.Store }

func (failingStore) UpdatePresentation(context.Context, string, store.PresentationUpdater) (*store.Presentation, error) {
	return nil, fmt.Errorf("redis: %w", store.ErrUnavailable)
}

func TestHandleCallbackStoreError(t *testing.T) {
	f := newFixture(t, testConfig(nil), func(m *memory.Store) verifier.Store { return failingStore{m} })
	p := f.create(t)
	out, err := f.callback(t, p, retrieved())
	assert.ErrorIs(t, err, store.ErrUnavailable)
	assert.Equal(t, verifier.Outcome{}, out)
	_, err = f.svc.HandOff(t.Context(), p.ID, owner)
	assert.ErrorIs(t, err, store.ErrUnavailable)
}

func TestView(t *testing.T) {
	claims := map[string]any{"firstName": "Megan"}
	exp := t0.Add(time.Minute)
	for _, tc := range []struct {
		name       string
		status     store.PresentationStatus
		at         time.Time
		wantStatus store.PresentationStatus
		wantClaims bool
	}{
		{"live created", store.PresentationCreated, t0, store.PresentationCreated, true},
		{"created past expiry", store.PresentationCreated, exp, store.PresentationExpired, false},
		{"retrieved past expiry", store.PresentationRetrieved, exp.Add(time.Hour), store.PresentationExpired, false},
		{"verified before expiry", store.PresentationVerified, t0, store.PresentationVerified, true},
		{"verified past expiry keeps its status, not its claims", store.PresentationVerified, exp, store.PresentationVerified, false},
		{"failed past expiry", store.PresentationFailed, exp, store.PresentationFailed, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := &store.Presentation{ID: "r", Status: tc.status, Claims: claims, ExpiresAt: exp}
			v := verifier.View(p, tc.at)
			assert.Equal(t, tc.wantStatus, v.Status)
			if tc.wantClaims {
				assert.Equal(t, claims, v.Claims)
			} else {
				assert.Nil(t, v.Claims)
			}
			assert.Equal(t, tc.status, p.Status, "the stored record is not changed")
			assert.Equal(t, claims, p.Claims)
		})
	}
}
