package journey_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/entra-verifier/entra-verifier/config"
	"github.com/entra-verifier/entra-verifier/ipa"
	"github.com/entra-verifier/entra-verifier/journey"
	"github.com/entra-verifier/entra-verifier/result"
	"github.com/entra-verifier/entra-verifier/store"
	"github.com/entra-verifier/entra-verifier/store/memory"
	"github.com/entra-verifier/entra-verifier/store/storetest"
	"github.com/entra-verifier/entra-verifier/verifier"
)

var t0 = time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)

// presentationsFake creates a journey's requests as the verifier does: Bind first, then the record.
type presentationsFake struct {
	st    *memory.Store
	clock *storetest.Clock
	n     int
	last  verifier.JourneyStep
	// beforeBind, when set, runs between the upstream's answer and Bind (a race the test forces).
	beforeBind func()
}

func (f *presentationsFake) CreateForJourney(ctx context.Context, _ string, step verifier.JourneyStep) (*store.Presentation, error) {
	f.n++
	f.last = step
	id := fmt.Sprintf("req-%d", f.n)
	if f.beforeBind != nil {
		f.beforeBind()
	}
	if err := step.Bind(ctx, id); err != nil {
		return nil, err
	}
	now := f.clock.Now()
	p := &store.Presentation{ID: id, State: "state-" + id, URL: "openid-vc://?request_uri=https://rs.example/" + id, Status: store.PresentationCreated,
		Journey: step.Ref, CreatedAt: now, UpdatedAt: now, ExpiresAt: now.Add(5 * time.Minute)}
	return p, f.st.CreatePresentation(ctx, p)
}

// sessionsFake is presentationsFake for IPA sessions.
type sessionsFake struct {
	st    *memory.Store
	clock *storetest.Clock
	n     int
	last  ipa.JourneyStep
}

func (f *sessionsFake) CreateForJourney(ctx context.Context, _ string, step ipa.JourneyStep) (*store.IPASession, error) {
	f.n++
	f.last = step
	id := fmt.Sprintf("sess-%d", f.n)
	if err := step.Bind(ctx, id); err != nil {
		return nil, err
	}
	now := f.clock.Now()
	s := &store.IPASession{ID: id, TokenHash: "tok-" + id, Status: store.IPAPending, Journey: step.Ref, ConsentAt: step.ConsentAt,
		CreatedAt: now, UpdatedAt: now, ExpiresAt: now.Add(30 * time.Minute)}
	return s, f.st.CreateIPASession(ctx, s)
}

// idemiaFake is the ID&V platform.
type idemiaFake struct {
	off        bool
	identities []string
	proofs     []string
}

func (f *idemiaFake) RetrievalEnabled() bool { return !f.off }

func (f *idemiaFake) IdentityPayload(_ context.Context, id string) ([]byte, error) {
	f.identities = append(f.identities, id)
	return []byte(`{"id":"` + id + `"}`), nil
}

func (f *idemiaFake) OpenProof(_ context.Context, proofURL string) (*ipa.Proof, error) {
	f.proofs = append(f.proofs, proofURL)
	if strings.HasPrefix(proofURL, "http://") {
		return nil, fmt.Errorf("proof: %w", ipa.ErrProofRefused)
	}
	return &ipa.Proof{Body: io.NopCloser(strings.NewReader("PK")), ContentType: "application/zip"}, nil
}

// eventsFake builds journey.expired deliveries and remembers the statuses it was given.
type eventsFake struct {
	clock   *storetest.Clock
	expired []result.JourneyStatus
	fail    error
}

func (f *eventsFake) JourneyExpired(st result.JourneyStatus) (*store.Delivery, error) {
	if f.fail != nil {
		return nil, f.fail
	}
	f.expired = append(f.expired, st)
	return &store.Delivery{ID: fmt.Sprintf("evt_expired_%s_%d", st.JourneyID, len(f.expired)), Body: []byte("{}"),
		NextAttempt: f.clock.Now(), CreatedAt: f.clock.Now()}, nil
}

type fixture struct {
	clock  *storetest.Clock
	st     *memory.Store
	svc    *journey.Service
	pres   *presentationsFake
	sess   *sessionsFake
	idemia *idemiaFake
	events *eventsFake
	ids    []string // the journeys created, in order
}

type setup struct {
	ipaOff, entraOff, noEvents bool
	ttl                        string
}

func newFixture(t *testing.T, s setup) *fixture {
	t.Helper()
	env := map[string]string{"VERIFIER_PUBLIC_URL": "https://verifier.example.com", "VERIFIER_LAUNCH_LINK_TTL": s.ttl}
	if !s.entraOff {
		env["ENTRA_TENANT_ID"], env["ENTRA_CLIENT_ID"], env["ENTRA_CLIENT_SECRET"] = "tenant", "client", "secret"
		env["ENTRA_VERIFIER_DID"] = "did:web:verifier.example.com"
	}
	if !s.ipaOff {
		env["IPA_COGNITO_URL"], env["IPA_CLIENT_ID"], env["IPA_CLIENT_SECRET"] = "https://cognito.example.com", "ipa", "ipa-secret"
	}
	cfg := config.Load(func(k string) string { return env[k] })
	c := storetest.NewClock(t0)
	st := memory.New(memory.Options{Now: c.Now, SweepEvery: time.Hour})
	t.Cleanup(func() { _ = st.Close() })
	f := &fixture{clock: c, st: st, pres: &presentationsFake{st: st, clock: c}, sess: &sessionsFake{st: st, clock: c},
		idemia: &idemiaFake{}, events: &eventsFake{clock: c}}
	o := journey.Options{Config: cfg, Store: st, IDEMIA: f.idemia, Claims: result.ParseClaims("firstName"), Now: c.Now}
	if !s.entraOff {
		o.Presentations = f.pres
	}
	if !s.ipaOff {
		o.Sessions = f.sess
	}
	if !s.noEvents {
		o.Events = f.events
	}
	f.svc = journey.NewService(o)
	return f
}

// create makes a journey and returns it with its launch token.
func (f *fixture) create(t *testing.T, r journey.CreateRequest) (*store.Journey, string) {
	t.Helper()
	j, launch, err := f.svc.Create(t.Context(), "crm", &r)
	require.NoError(t, err)
	f.ids = append(f.ids, j.ID)
	token, ok := strings.CutPrefix(launch, "https://verifier.example.com/start/")
	require.True(t, ok, launch)
	return j, token
}

// opened makes a journey and opens its link as browser "owner".
func (f *fixture) opened(t *testing.T, steps ...string) *store.Journey {
	t.Helper()
	_, token := f.create(t, journey.CreateRequest{Reference: "case-1", Steps: steps})
	j, err := f.svc.Open(t.Context(), token, "owner")
	require.NoError(t, err)
	return j
}

// reload reads journey id afresh.
func (f *fixture) reload(t *testing.T, id string) *store.Journey {
	t.Helper()
	j, err := f.st.Journey(t.Context(), id)
	require.NoError(t, err)
	return j
}

// setIPA moves session id to status (completed: with an identity; final: completing the journey).
func (f *fixture) setIPA(t *testing.T, id string, status store.IPAStatus) {
	t.Helper()
	_, err := f.st.UpdateIPASession(t.Context(), id, func(s *store.IPASession) ([]*store.Delivery, error) {
		s.Status, s.UpdatedAt = status, f.clock.Now()
		if status == store.IPACompleted {
			s.IdentityID, s.ProofURL = "gips-"+id, "https://proofing.example.com/proof/"+id
			s.Identity = &store.IdentitySummary{LevelOfAssurance: "LOA3"}
			if s.Journey.CanComplete(f.clock.Now()) {
				s.Journey.CompletedAt = f.clock.Now()
			}
		}
		return nil, nil
	})
	require.NoError(t, err)
}

// setPresentation is setIPA for requests.
func (f *fixture) setPresentation(t *testing.T, id string, status store.PresentationStatus) {
	t.Helper()
	_, err := f.st.UpdatePresentation(t.Context(), id, func(p *store.Presentation) ([]*store.Delivery, error) {
		p.Status, p.UpdatedAt = status, f.clock.Now()
		if status == store.PresentationVerified {
			p.Issuer, p.Claims = "did:web:us.did.idemia.io", map[string]any{"firstName": "Megan", "lastName": "Bowen"}
			if p.Journey.CanComplete(f.clock.Now()) {
				p.Journey.CompletedAt = f.clock.Now()
			}
		}
		if status == store.PresentationFailed {
			p.Reason, p.Detail = "presentation_error", "claimValidationError"
		}
		return nil, nil
	})
	require.NoError(t, err)
}

// outbox drains every delivery the store holds (due now, with the link's or the opening's expiry) and
// returns their ids.
func (f *fixture) outbox(t *testing.T) []string {
	t.Helper()
	var ids []string
	for _, at := range []time.Duration{0, 31 * time.Minute, store.OpenedLifetime + time.Minute} {
		for {
			d, err := f.st.ClaimDelivery(t.Context(), f.clock.Now().Add(at), time.Hour)
			if errors.Is(err, store.ErrNotFound) {
				break
			}
			require.NoError(t, err)
			ids = append(ids, d.ID)
			require.NoError(t, f.st.FinishDelivery(t.Context(), d.ID))
		}
	}
	return ids
}

func TestValidate(t *testing.T) {
	both := journey.Halves{IPA: true, Presentation: true}
	nine := map[string]string{}
	for i := range 9 {
		nine[fmt.Sprintf("c%d", i)] = "v"
	}
	for _, tt := range []struct {
		name string
		r    journey.CreateRequest
		on   journey.Halves
		want string // a part of the error; "" for valid
	}{
		{"minimal", journey.CreateRequest{Reference: "case-4711"}, both, ""},
		{"everything", journey.CreateRequest{Reference: "x", Steps: []string{"ipa", "presentation"}, ExpectedClaims: map[string]string{"firstName": "Megan"}, Locale: "fr"}, both, ""},
		{"ipa only", journey.CreateRequest{Reference: "x", Steps: []string{"ipa"}}, journey.Halves{IPA: true}, ""},
		{"presentation only", journey.CreateRequest{Reference: "x", Steps: []string{"presentation"}}, journey.Halves{Presentation: true}, ""},
		{"128 characters", journey.CreateRequest{Reference: strings.Repeat("r", 128)}, both, ""},
		{"space and tilde", journey.CreateRequest{Reference: " ~"}, both, ""},
		{"eight claims", journey.CreateRequest{Reference: "x", ExpectedClaims: map[string]string{"a": "", "b": "", "c": "", "d": "", "e": "", "f": "", "g": "", "h": ""}}, both, ""},
		{"no reference", journey.CreateRequest{}, both, "reference"},
		{"129 characters", journey.CreateRequest{Reference: strings.Repeat("r", 129)}, both, "reference"},
		{"newline", journey.CreateRequest{Reference: "a\nb"}, both, "reference"},
		{"DEL", journey.CreateRequest{Reference: "a\x7f"}, both, "reference"},
		{"non-ASCII", journey.CreateRequest{Reference: "café"}, both, "reference"},
		{"empty steps", journey.CreateRequest{Reference: "x", Steps: []string{}}, both, "steps"},
		{"reversed", journey.CreateRequest{Reference: "x", Steps: []string{"presentation", "ipa"}}, both, "steps"},
		{"repeated", journey.CreateRequest{Reference: "x", Steps: []string{"ipa", "ipa"}}, both, "steps"},
		{"unknown step", journey.CreateRequest{Reference: "x", Steps: []string{"selfie"}}, both, "steps"},
		{"IPA half off", journey.CreateRequest{Reference: "x", Steps: []string{"ipa"}}, journey.Halves{Presentation: true}, "IPA half"},
		{"presentation half off", journey.CreateRequest{Reference: "x", Steps: []string{"presentation"}}, journey.Halves{IPA: true}, "presentation half"},
		{"nine claims", journey.CreateRequest{Reference: "x", ExpectedClaims: nine}, both, "at most 8"},
		{"empty claim name", journey.CreateRequest{Reference: "x", ExpectedClaims: map[string]string{"": "v"}}, both, "expectedClaims"},
		{"long claim value", journey.CreateRequest{Reference: "x", ExpectedClaims: map[string]string{"n": strings.Repeat("v", 257)}}, both, "expectedClaims"},
		{"claims without presentation", journey.CreateRequest{Reference: "x", ExpectedClaims: map[string]string{"n": "v"}}, journey.Halves{IPA: true}, "presentation half"},
		{"long locale", journey.CreateRequest{Reference: "x", Locale: strings.Repeat("f", 17)}, both, "locale"},
		{"locale control", journey.CreateRequest{Reference: "x", Locale: "f\tr"}, both, "locale"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.r.Validate(tt.on)
			if tt.want == "" {
				assert.NoError(t, err)
				return
			}
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.want)
		})
	}
	err := (&journey.CreateRequest{Steps: []string{}, Locale: strings.Repeat("f", 17)}).Validate(both)
	assert.ErrorContains(t, err, "reference")
	assert.ErrorContains(t, err, "locale", "every problem at once")
}

func TestCreate(t *testing.T) {
	for _, tt := range []struct {
		name  string
		setup setup
		steps []string
		want  []string
	}{
		{"both halves: both steps", setup{}, nil, []string{"ipa", "presentation"}},
		{"IPA only", setup{entraOff: true}, nil, []string{"ipa"}},
		{"presentation only", setup{ipaOff: true}, nil, []string{"presentation"}},
		{"steps given", setup{}, []string{"presentation"}, []string{"presentation"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, tt.setup)
			j, token := f.create(t, journey.CreateRequest{Reference: "case-1", Steps: tt.steps, Locale: "fr"})
			assert.Equal(t, tt.want, j.Steps)
			assert.True(t, strings.HasPrefix(j.ID, "jrn_"), j.ID)
			assert.Equal(t, t0.Add(30*time.Minute), j.ExpiresAt, "VERIFIER_LAUNCH_LINK_TTL's default")
			assert.Equal(t, "crm", j.APIKey, "the key's name")
			assert.Len(t, token, 22, "128 bits, base64url")
			byLaunch, err := f.st.JourneyByLaunch(t.Context(), journey.HashLaunchToken(token))
			require.NoError(t, err)
			assert.Equal(t, j.ID, byLaunch.ID)
			assert.NotContains(t, byLaunch.LaunchHash, token, "the store keeps only the token's hash")
			assert.Equal(t, []string{"tmr_journey_" + j.ID + "_20261201T093000.000"}, f.outbox(t), "the expiry timer")
		})
	}
	f := newFixture(t, setup{noEvents: true, ttl: "168h"})
	j, _ := f.create(t, journey.CreateRequest{Reference: "case-1"})
	assert.Equal(t, t0.Add(168*time.Hour), j.ExpiresAt)
	assert.Empty(t, f.outbox(t), "no webhook: no timer")
	assert.NotEqual(t, journey.HashLaunchToken("a"), journey.HashLaunchToken("b"))
}

func TestOpen(t *testing.T) {
	for _, tt := range []struct {
		name    string
		prepare func(t *testing.T, f *fixture, token string)
		owner   string
		wantErr error
	}{
		{"first opening", nil, "owner", nil},
		{"same browser again", func(t *testing.T, f *fixture, token string) {
			_, err := f.svc.Open(t.Context(), token, "owner")
			require.NoError(t, err)
			f.outbox(t)
			f.clock.Add(59 * time.Minute)
		}, "owner", nil},
		{"another browser", func(t *testing.T, f *fixture, token string) {
			_, err := f.svc.Open(t.Context(), token, "owner")
			require.NoError(t, err)
		}, "stranger", journey.ErrLinkGone},
		{"expired link", func(t *testing.T, f *fixture, _ string) { f.clock.Add(30 * time.Minute) }, "owner", journey.ErrLinkGone},
		{"just before expiry", func(t *testing.T, f *fixture, _ string) { f.clock.Add(30*time.Minute - time.Millisecond) }, "owner", nil},
		{"unknown link", func(t *testing.T, f *fixture, _ string) {}, "owner", journey.ErrLinkGone},
		{"expired journey", func(t *testing.T, f *fixture, _ string) {
			f.clock.Add(30 * time.Minute)
			require.NoError(t, f.svc.Expire(t.Context(), f.onlyJourney(t)))
			f.clock.Add(-time.Minute) // even on a clock that went back
		}, "owner", journey.ErrLinkGone},
		{"dropped journey", func(t *testing.T, f *fixture, _ string) { f.clock.Add(30*time.Minute + store.JourneyRetention) }, "owner", journey.ErrLinkGone},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, setup{})
			created, token := f.create(t, journey.CreateRequest{Reference: "case-1"})
			f.outbox(t)
			if tt.prepare != nil {
				tt.prepare(t, f, token)
			}
			if tt.name == "unknown link" {
				token = "AAAAAAAAAAAAAAAAAAAAAA"
			}
			openedAt := f.clock.Now()
			j, err := f.svc.Open(t.Context(), token, tt.owner)
			if tt.wantErr != nil {
				require.ErrorIs(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, created.ID, j.ID)
			assert.Equal(t, "owner", j.OwnerHash)
			bound, err := f.st.Newest(t.Context(), "owner", store.KindJourney)
			require.NoError(t, err)
			assert.Equal(t, j.ID, bound, "the browser's index points at the journey")
			if tt.prepare == nil || tt.name == "just before expiry" {
				assert.Equal(t, openedAt, j.OpenedAt)
				assert.Equal(t, openedAt.Add(store.OpenedLifetime), j.ExpiresAt, "60 minutes from the first opening")
				assert.Len(t, f.outbox(t), 1, "a timer for the new expiry")
			} else {
				assert.Equal(t, t0.Add(time.Hour), j.ExpiresAt, "a reopening moves nothing")
				assert.Empty(t, f.outbox(t), "and queues nothing")
			}
		})
	}
}

// onlyJourney is the id of the fixture's one journey.
func (f *fixture) onlyJourney(t *testing.T) string {
	t.Helper()
	require.Len(t, f.ids, 1)
	return f.ids[0]
}

func TestStatus(t *testing.T) {
	type step struct {
		ipa          store.IPAStatus          // "" for not started
		presentation store.PresentationStatus // "" for not started
	}
	for _, tt := range []struct {
		name    string
		steps   []string
		open    bool
		do      step
		advance time.Duration
		expire  bool // apply the expiry timer after advancing
		want    string
		wantIPA string
		wantP   string
	}{
		{name: "link not opened", want: result.JourneyPending},
		{name: "link expired unopened", advance: 30 * time.Minute, want: result.JourneyExpired},
		{name: "link expired unopened, timer applied", advance: 30 * time.Minute, expire: true, want: result.JourneyExpired},
		{name: "opened", open: true, want: result.JourneyInProgress},
		{name: "opened, still within the hour", open: true, advance: 59 * time.Minute, want: result.JourneyInProgress},
		{name: "opened, an hour passed", open: true, advance: time.Hour, want: result.JourneyExpired},
		{name: "IPA pending", open: true, do: step{ipa: store.IPAPending}, want: result.JourneyInProgress, wantIPA: "pending"},
		{name: "IPA pending past its life", open: true, do: step{ipa: store.IPAPending}, advance: 31 * time.Minute, want: result.JourneyInProgress, wantIPA: "expired"},
		{name: "IPA failed", open: true, do: step{ipa: store.IPAError}, want: result.JourneyInProgress, wantIPA: "error"},
		{name: "IPA completed, no presentation yet", open: true, do: step{ipa: store.IPACompleted}, want: result.JourneyInProgress, wantIPA: "completed"},
		{name: "presentation failed", open: true, do: step{ipa: store.IPACompleted, presentation: store.PresentationFailed}, want: result.JourneyInProgress, wantIPA: "completed", wantP: "failed"},
		{name: "presentation retrieved", open: true, do: step{ipa: store.IPACompleted, presentation: store.PresentationRetrieved}, want: result.JourneyInProgress, wantIPA: "completed", wantP: "retrieved"},
		{name: "both ended well", open: true, do: step{ipa: store.IPACompleted, presentation: store.PresentationVerified}, want: result.JourneyCompleted, wantIPA: "completed", wantP: "verified"},
		{name: "completed stays completed past its expiry", open: true, do: step{ipa: store.IPACompleted, presentation: store.PresentationVerified}, advance: 2 * time.Hour, expire: true, want: result.JourneyCompleted, wantIPA: "completed", wantP: "verified"},
		{name: "presentation pending at the expiry", open: true, do: step{ipa: store.IPACompleted, presentation: store.PresentationCreated}, advance: time.Hour, expire: true, want: result.JourneyExpired, wantIPA: "completed", wantP: "expired"},
		{name: "IPA-only completed", steps: []string{"ipa"}, open: true, do: step{ipa: store.IPACompleted}, want: result.JourneyCompleted, wantIPA: "completed"},
		{name: "IPA-only failed", steps: []string{"ipa"}, open: true, do: step{ipa: store.IPAError}, want: result.JourneyInProgress, wantIPA: "error"},
		{name: "presentation-only verified", steps: []string{"presentation"}, open: true, do: step{presentation: store.PresentationVerified}, want: result.JourneyCompleted, wantP: "verified"},
		{name: "presentation-only created", steps: []string{"presentation"}, open: true, do: step{presentation: store.PresentationCreated}, want: result.JourneyInProgress, wantP: "created"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, setup{})
			j, token := f.create(t, journey.CreateRequest{Reference: "case-4711", Steps: tt.steps})
			if tt.open {
				var err error
				j, err = f.svc.Open(t.Context(), token, "owner")
				require.NoError(t, err)
			}
			if tt.do.ipa != "" {
				s, created, err := f.svc.StartIPA(t.Context(), j, "owner", time.Time{})
				require.NoError(t, err)
				require.True(t, created)
				f.clock.Add(time.Second)
				if tt.do.ipa != store.IPAPending {
					f.setIPA(t, s.ID, tt.do.ipa)
				}
			}
			if tt.do.presentation != "" {
				p, created, err := f.svc.StartPresentation(t.Context(), f.reload(t, j.ID), "owner")
				require.NoError(t, err)
				require.True(t, created)
				f.clock.Add(time.Second)
				if tt.do.presentation != store.PresentationCreated {
					f.setPresentation(t, p.ID, tt.do.presentation)
				}
			}
			f.clock.Add(tt.advance)
			if tt.expire {
				require.NoError(t, f.svc.Expire(t.Context(), j.ID))
			}
			st, err := f.svc.Status(t.Context(), j.ID)
			require.NoError(t, err)
			assert.Equal(t, tt.want, st.Status)
			assert.Equal(t, j.ID, st.JourneyID)
			assert.Equal(t, "case-4711", st.Reference)
			assert.Equal(t, j.Steps, st.Steps)
			assert.Equal(t, "2026-12-01T09:00:00Z", st.CreatedAt)
			if tt.wantIPA == "" {
				assert.Nil(t, st.IPA)
			} else if assert.NotNil(t, st.IPA) {
				assert.Equal(t, tt.wantIPA, st.IPA.Status)
				if tt.wantIPA == "completed" {
					assert.Equal(t, "LOA3", st.IPA.LevelOfAssurance)
					assert.NotEmpty(t, st.IPA.IdentityID)
				}
			}
			if tt.wantP == "" {
				assert.Nil(t, st.Presentation)
			} else if assert.NotNil(t, st.Presentation) {
				assert.Equal(t, tt.wantP, st.Presentation.Status)
			}
		})
	}

	t.Run("claims: the allowed subset while retained", func(t *testing.T) {
		f := newFixture(t, setup{})
		j := f.opened(t, "presentation")
		p, _, err := f.svc.StartPresentation(t.Context(), j, "owner")
		require.NoError(t, err)
		f.clock.Add(time.Minute)
		f.setPresentation(t, p.ID, store.PresentationVerified)
		st, err := f.svc.Status(t.Context(), j.ID)
		require.NoError(t, err)
		assert.Equal(t, map[string]any{"firstName": "Megan"}, st.Presentation.Claims, "VERIFIER_RESULT_CLAIMS=firstName")
		assert.Equal(t, "2026-12-01T09:01:00Z", st.UpdatedAt, "the newest of the records")
		f.clock.Add(5 * time.Minute)
		st, err = f.svc.Status(t.Context(), j.ID)
		require.NoError(t, err)
		assert.Nil(t, st.Presentation.Claims, "gone with the request's own expiry")
		assert.Equal(t, result.JourneyCompleted, st.Status)
	})
	t.Run("unknown journey", func(t *testing.T) {
		f := newFixture(t, setup{})
		_, err := f.svc.Status(t.Context(), "jrn_nope")
		assert.ErrorIs(t, err, store.ErrNotFound)
	})
	t.Run("readable for 24 hours after it ends", func(t *testing.T) {
		f := newFixture(t, setup{})
		j, _ := f.create(t, journey.CreateRequest{Reference: "r"})
		f.clock.Add(30*time.Minute + store.JourneyRetention - time.Second)
		_, err := f.svc.Status(t.Context(), j.ID)
		require.NoError(t, err)
		f.clock.Add(time.Second)
		_, err = f.svc.Status(t.Context(), j.ID)
		assert.ErrorIs(t, err, store.ErrNotFound)
	})
}

func TestSteps(t *testing.T) {
	t.Run("a step the journey does not have", func(t *testing.T) {
		f := newFixture(t, setup{})
		j := f.opened(t, "ipa")
		_, _, err := f.svc.StartPresentation(t.Context(), j, "owner")
		assert.ErrorIs(t, err, journey.ErrNoSuchStep)
		j = f.opened(t, "presentation")
		_, _, err = f.svc.StartIPA(t.Context(), j, "owner", time.Time{})
		assert.ErrorIs(t, err, journey.ErrNoSuchStep)
	})
	t.Run("a half that is off", func(t *testing.T) {
		f := newFixture(t, setup{entraOff: true})
		j := f.opened(t, "ipa")
		j.Steps = []string{"ipa", "presentation"} // a journey stored before a half was turned off
		_, _, err := f.svc.StartPresentation(t.Context(), j, "owner")
		assert.ErrorIs(t, err, journey.ErrNoSuchStep)
	})
	t.Run("presentation waits for IPA", func(t *testing.T) {
		f := newFixture(t, setup{})
		j := f.opened(t)
		_, _, err := f.svc.StartPresentation(t.Context(), j, "owner")
		assert.ErrorIs(t, err, journey.ErrNotCompleted, "IPA not started")
		s, _, err := f.svc.StartIPA(t.Context(), j, "owner", t0)
		require.NoError(t, err)
		assert.Equal(t, t0, f.sess.last.ConsentAt, "consent carried to the session")
		assert.False(t, f.sess.last.Ref.Final, "IPA is not the final step")
		_, _, err = f.svc.StartPresentation(t.Context(), f.reload(t, j.ID), "owner")
		assert.ErrorIs(t, err, journey.ErrNotCompleted, "IPA pending")
		f.setIPA(t, s.ID, store.IPACompleted)
		p, created, err := f.svc.StartPresentation(t.Context(), f.reload(t, j.ID), "owner")
		require.NoError(t, err)
		assert.True(t, created)
		assert.True(t, p.Journey.Final)
		require.NotNil(t, p.Journey.IPA, "the presentation knows the IPA step it follows")
		assert.Equal(t, s.ID, p.Journey.IPA.SessionID)
		assert.Equal(t, "LOA3", p.Journey.IPA.LevelOfAssurance)
	})
	t.Run("expected claims and return URL reach the request", func(t *testing.T) {
		f := newFixture(t, setup{})
		_, token := f.create(t, journey.CreateRequest{Reference: "r", Steps: []string{"presentation"},
			ExpectedClaims: map[string]string{"firstName": "Megan"}, ReturnURL: "https://rp.example.com/done"})
		j, err := f.svc.Open(t.Context(), token, "owner")
		require.NoError(t, err)
		_, _, err = f.svc.StartPresentation(t.Context(), j, "owner")
		require.NoError(t, err)
		assert.Equal(t, map[string]string{"firstName": "Megan"}, f.pres.last.Expected)
		assert.Equal(t, "https://rp.example.com/done", f.pres.last.ReturnTo)
	})
	for _, tt := range []struct {
		name        string
		end         store.IPAStatus // what the first attempt became
		advance     time.Duration
		wantErr     error
		wantCreated bool
		wantSame    bool
	}{
		{"pending: resumed", store.IPAPending, 0, nil, false, true},
		{"failed: a new attempt", store.IPAError, 0, nil, true, false},
		{"timed out: a new attempt", store.IPATimeout, 0, nil, true, false},
		{"expired unfinished: a new attempt", store.IPAPending, 31 * time.Minute, nil, true, false},
		{"completed: done", store.IPACompleted, 0, journey.ErrStepDone, false, true},
	} {
		t.Run("IPA "+tt.name, func(t *testing.T) {
			f := newFixture(t, setup{})
			j := f.opened(t)
			first, _, err := f.svc.StartIPA(t.Context(), j, "owner", time.Time{})
			require.NoError(t, err)
			if tt.end != store.IPAPending {
				f.setIPA(t, first.ID, tt.end)
			}
			f.clock.Add(tt.advance)
			next, created, err := f.svc.StartIPA(t.Context(), f.reload(t, j.ID), "owner", time.Time{})
			require.ErrorIs(t, err, tt.wantErr)
			assert.Equal(t, tt.wantCreated, created)
			require.NotNil(t, next)
			assert.Equal(t, tt.wantSame, next.ID == first.ID)
			assert.Equal(t, next.ID, f.reload(t, j.ID).IPASessionID, "the journey points at its newest attempt")
		})
	}
	for _, tt := range []struct {
		name        string
		end         store.PresentationStatus
		wantErr     error
		wantCreated bool
	}{
		{"created: resumed", store.PresentationCreated, nil, false},
		{"retrieved: resumed", store.PresentationRetrieved, nil, false},
		{"failed: a new attempt", store.PresentationFailed, nil, true},
		{"verified: done", store.PresentationVerified, journey.ErrStepDone, false},
	} {
		t.Run("presentation "+tt.name, func(t *testing.T) {
			f := newFixture(t, setup{})
			j := f.opened(t, "presentation")
			first, _, err := f.svc.StartPresentation(t.Context(), j, "owner")
			require.NoError(t, err)
			if tt.end != store.PresentationCreated {
				f.setPresentation(t, first.ID, tt.end)
			}
			next, created, err := f.svc.StartPresentation(t.Context(), f.reload(t, j.ID), "owner")
			require.ErrorIs(t, err, tt.wantErr)
			assert.Equal(t, tt.wantCreated, created)
			assert.Equal(t, tt.wantCreated, next.ID != first.ID)
		})
	}
	t.Run("a pointer whose record never appeared", func(t *testing.T) {
		f := newFixture(t, setup{})
		j := f.opened(t, "presentation")
		_, err := f.st.UpdateJourney(t.Context(), j.ID, func(j *store.Journey) ([]*store.Delivery, error) {
			j.PresentationID, j.StepSetAt = "req-crashed", f.clock.Now()
			return nil, nil
		})
		require.NoError(t, err)
		_, _, err = f.svc.StartPresentation(t.Context(), f.reload(t, j.ID), "owner")
		assert.ErrorIs(t, err, journey.ErrBusy, "within the grace another replica may still store it")
		f.clock.Add(store.StepGrace)
		p, created, err := f.svc.StartPresentation(t.Context(), f.reload(t, j.ID), "owner")
		require.NoError(t, err)
		assert.True(t, created, "after the grace a new attempt replaces it")
		assert.Equal(t, p.ID, f.reload(t, j.ID).PresentationID)
	})
	t.Run("two creates racing: the second binds to nothing", func(t *testing.T) {
		f := newFixture(t, setup{})
		j := f.opened(t, "presentation")
		stale := f.reload(t, j.ID)
		f.pres.beforeBind = func() {
			f.pres.beforeBind = nil
			_, _, err := f.svc.StartPresentation(t.Context(), stale, "owner") // the other create wins
			require.NoError(t, err)
		}
		_, _, err := f.svc.StartPresentation(t.Context(), stale, "owner")
		assert.ErrorIs(t, err, journey.ErrBusy)
		assert.Equal(t, "req-2", f.reload(t, j.ID).PresentationID, "the journey points at the winner's attempt")
	})
	t.Run("no step once the journey expired", func(t *testing.T) {
		f := newFixture(t, setup{})
		j := f.opened(t, "presentation")
		f.clock.Add(time.Hour)
		_, _, err := f.svc.StartPresentation(t.Context(), j, "owner")
		assert.ErrorIs(t, err, journey.ErrStepDone)
		assert.Empty(t, f.reload(t, j.ID).PresentationID)
	})
}

func TestActive(t *testing.T) {
	f := newFixture(t, setup{})
	_, err := f.svc.Active(t.Context(), "")
	assert.ErrorIs(t, err, store.ErrNotFound, "no cookie")
	_, err = f.svc.Active(t.Context(), "owner")
	assert.ErrorIs(t, err, store.ErrNotFound, "no journey")
	j := f.opened(t)
	got, err := f.svc.Active(t.Context(), "owner")
	require.NoError(t, err)
	assert.Equal(t, j.ID, got.ID)
	_, err = f.svc.Active(t.Context(), "stranger")
	assert.ErrorIs(t, err, store.ErrNotFound)
	require.NoError(t, f.st.SetNewest(t.Context(), "stranger", store.KindJourney, j.ID, j.DropAt()))
	_, err = f.svc.Active(t.Context(), "stranger")
	assert.ErrorIs(t, err, store.ErrNotFound, "the index alone binds no one: the journey names its owner")
	f.clock.Add(time.Hour)
	_, err = f.svc.Active(t.Context(), "owner")
	assert.ErrorIs(t, err, store.ErrNotFound, "an ended journey takes no more steps")
}

func TestIdentityAndProof(t *testing.T) {
	f := newFixture(t, setup{})
	j := f.opened(t)
	_, err := f.svc.Identity(t.Context(), "jrn_nope")
	assert.ErrorIs(t, err, store.ErrNotFound)
	_, err = f.svc.Identity(t.Context(), j.ID)
	assert.ErrorIs(t, err, journey.ErrNotCompleted, "IPA not started")
	s, _, err := f.svc.StartIPA(t.Context(), j, "owner", time.Time{})
	require.NoError(t, err)
	_, err = f.svc.Proof(t.Context(), j.ID)
	assert.ErrorIs(t, err, journey.ErrNotCompleted, "IPA pending")
	f.setIPA(t, s.ID, store.IPACompleted)
	payload, err := f.svc.Identity(t.Context(), j.ID)
	require.NoError(t, err)
	assert.JSONEq(t, `{"id":"gips-`+s.ID+`"}`, string(payload))
	proof, err := f.svc.Proof(t.Context(), j.ID)
	require.NoError(t, err)
	assert.Equal(t, "application/zip", proof.ContentType)
	assert.Equal(t, []string{"https://proofing.example.com/proof/" + s.ID}, f.idemia.proofs)

	pOnly := f.opened(t, "presentation")
	_, err = f.svc.Identity(t.Context(), pOnly.ID)
	assert.ErrorIs(t, err, journey.ErrNotCompleted, "a journey without an IPA step")

	_, err = f.st.UpdateIPASession(t.Context(), s.ID, func(v *store.IPASession) ([]*store.Delivery, error) {
		v.ProofURL = "http://proofing.example.com/proof"
		return nil, nil
	})
	require.NoError(t, err)
	_, err = f.svc.Proof(t.Context(), j.ID)
	assert.ErrorIs(t, err, ipa.ErrProofRefused)

	f.idemia.off = true
	_, err = f.svc.Identity(t.Context(), "jrn_nope")
	assert.ErrorIs(t, err, journey.ErrRetrievalOff, "checked first")
	_, err = f.svc.Proof(t.Context(), j.ID)
	assert.ErrorIs(t, err, journey.ErrRetrievalOff)
	off := newFixture(t, setup{})
	svc := journey.NewService(journey.Options{Config: config.Load(func(string) string { return "" }), Store: off.st})
	_, err = svc.Identity(t.Context(), "jrn_any")
	assert.ErrorIs(t, err, journey.ErrRetrievalOff, "no IDEMIA client at all")
}

func TestExpire(t *testing.T) {
	t.Run("an unopened link: journey.expired once", func(t *testing.T) {
		f := newFixture(t, setup{})
		j, _ := f.create(t, journey.CreateRequest{Reference: "case-1"})
		f.outbox(t)
		f.clock.Add(30*time.Minute - time.Millisecond)
		require.NoError(t, f.svc.Expire(t.Context(), j.ID))
		assert.Empty(t, f.events.expired, "not due: nothing")
		f.clock.Add(time.Millisecond)
		require.NoError(t, f.svc.Expire(t.Context(), j.ID))
		require.NoError(t, f.svc.Expire(t.Context(), j.ID))
		require.Len(t, f.events.expired, 1, "applied twice, acts once")
		assert.Equal(t, result.JourneyExpired, f.events.expired[0].Status)
		assert.Equal(t, "case-1", f.events.expired[0].Reference)
		assert.Equal(t, []string{"evt_expired_" + j.ID + "_1"}, f.outbox(t), "the event in the journey's own update")
		assert.Equal(t, store.JourneyExpired, f.reload(t, j.ID).Outcome)
	})
	t.Run("an opened journey: 60 minutes after the opening, its step closed first", func(t *testing.T) {
		f := newFixture(t, setup{})
		f.clock.Add(10 * time.Minute) // opened 10 minutes after its creation
		j := f.opened(t, "presentation")
		assert.Equal(t, t0.Add(70*time.Minute), j.ExpiresAt)
		timers := f.outbox(t)
		assert.Contains(t, timers, "tmr_journey_"+j.ID+"_20261201T101000.000", "the opening's timer")
		p, _, err := f.svc.StartPresentation(t.Context(), j, "owner")
		require.NoError(t, err)

		// The link's first timer (30 minutes after creation) fires: the journey was opened, nothing happens.
		f.clock.Add(20 * time.Minute)
		require.NoError(t, f.svc.Expire(t.Context(), j.ID))
		assert.Empty(t, f.events.expired)
		f.clock.Add(40*time.Minute - time.Second)
		require.NoError(t, f.svc.Expire(t.Context(), j.ID))
		assert.Empty(t, f.events.expired, "59:59 after the opening: not yet")

		f.clock.Add(time.Second)
		require.NoError(t, f.svc.Expire(t.Context(), j.ID))
		require.NoError(t, f.svc.Expire(t.Context(), j.ID))
		require.Len(t, f.events.expired, 1, "journey.expired once")
		ended, err := f.st.Presentation(t.Context(), p.ID)
		require.NoError(t, err)
		assert.True(t, ended.Journey.Ended, "the final step can no longer complete the journey")
		assert.False(t, ended.Journey.CanComplete(f.clock.Now().Add(-time.Hour)))
		require.NotNil(t, f.events.expired[0].Presentation)
		assert.Equal(t, "expired", f.events.expired[0].Presentation.Status)
		st, err := f.svc.Status(t.Context(), j.ID)
		require.NoError(t, err)
		assert.Equal(t, result.JourneyExpired, st.Status)
	})
	t.Run("a completed journey does not expire", func(t *testing.T) {
		f := newFixture(t, setup{})
		j := f.opened(t, "ipa")
		s, _, err := f.svc.StartIPA(t.Context(), j, "owner", time.Time{})
		require.NoError(t, err)
		f.setIPA(t, s.ID, store.IPACompleted)
		f.clock.Add(time.Hour)
		require.NoError(t, f.svc.Expire(t.Context(), j.ID))
		assert.Empty(t, f.events.expired)
		assert.Empty(t, f.reload(t, j.ID).Outcome)
	})
	t.Run("the expiry wins: the step cannot complete afterwards", func(t *testing.T) {
		f := newFixture(t, setup{})
		j := f.opened(t, "ipa")
		s, _, err := f.svc.StartIPA(t.Context(), j, "owner", time.Time{})
		require.NoError(t, err)
		f.clock.Add(time.Hour)
		require.NoError(t, f.svc.Expire(t.Context(), j.ID))
		// A late completion, by a replica whose clock lags a second behind: still before the journey's expiry,
		// so only the step's Ended mark, set by the expiry, refuses it.
		f.clock.Add(-time.Second)
		f.setIPA(t, s.ID, store.IPACompleted)
		got, err := f.st.IPASession(t.Context(), s.ID)
		require.NoError(t, err)
		assert.True(t, got.Journey.Ended, "the expiry closed the step")
		assert.True(t, got.Journey.CompletedAt.IsZero(), "the late completion did not complete the journey")
		st, err := f.svc.Status(t.Context(), j.ID)
		require.NoError(t, err)
		assert.Equal(t, result.JourneyExpired, st.Status)
		assert.Len(t, f.events.expired, 1)
	})
	t.Run("unknown, dropped or event-less", func(t *testing.T) {
		f := newFixture(t, setup{})
		assert.NoError(t, f.svc.Expire(t.Context(), "jrn_nope"))
		quiet := newFixture(t, setup{noEvents: true})
		j, _ := quiet.create(t, journey.CreateRequest{Reference: "r"})
		quiet.clock.Add(30 * time.Minute)
		require.NoError(t, quiet.svc.Expire(t.Context(), j.ID))
		assert.Equal(t, store.JourneyExpired, quiet.reload(t, j.ID).Outcome)
	})
	t.Run("an event that cannot be built leaves the journey open for the next try", func(t *testing.T) {
		f := newFixture(t, setup{})
		j, _ := f.create(t, journey.CreateRequest{Reference: "r"})
		f.clock.Add(30 * time.Minute)
		f.events.fail = errors.New("boom")
		require.Error(t, f.svc.Expire(t.Context(), j.ID))
		assert.Empty(t, f.reload(t, j.ID).Outcome)
		f.events.fail = nil
		require.NoError(t, f.svc.Expire(t.Context(), j.ID))
		assert.Len(t, f.events.expired, 1)
	})
}
