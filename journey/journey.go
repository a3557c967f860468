package journey

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/entra-verifier/entra-verifier/config"
	"github.com/entra-verifier/entra-verifier/ipa"
	"github.com/entra-verifier/entra-verifier/result"
	"github.com/entra-verifier/entra-verifier/routes"
	"github.com/entra-verifier/entra-verifier/store"
	"github.com/entra-verifier/entra-verifier/verifier"
)

// Errors callers branch on.
var (
	// ErrLinkGone: the launch link is unknown, expired, or was opened by another browser (answered 410).
	ErrLinkGone = errors.New("launch link already used or expired")
	// ErrNotCompleted: the journey's IPA step has not completed (answered 409).
	ErrNotCompleted = errors.New("IPA step not completed")
	// ErrRetrievalOff: IDV_URL / GIPS_RS_API_KEY are not set (answered 404).
	ErrRetrievalOff = errors.New("identity retrieval is off")
	// ErrStepDone: the step already ended well, or the journey no longer accepts steps (answered 409).
	ErrStepDone = errors.New("journey step not available")
	// ErrBusy: another attempt of the step is being created (answered 503, try again).
	ErrBusy = errors.New("journey step being created")
)

// Store is the part of store.Store journeys use.
type Store interface {
	CreateJourney(ctx context.Context, j *store.Journey, outbox ...*store.Delivery) error
	Journey(ctx context.Context, id string) (*store.Journey, error)
	JourneyByLaunch(ctx context.Context, launchHash string) (*store.Journey, error)
	UpdateJourney(ctx context.Context, id string, fn store.JourneyUpdater) (*store.Journey, error)
	store.Owners
	Presentation(ctx context.Context, id string) (*store.Presentation, error)
	UpdatePresentation(ctx context.Context, id string, fn store.PresentationUpdater) (*store.Presentation, error)
	IPASession(ctx context.Context, id string) (*store.IPASession, error)
	UpdateIPASession(ctx context.Context, id string, fn store.IPAUpdater) (*store.IPASession, error)
}

// Presentations creates a journey's presentation requests (*verifier.Service).
type Presentations interface {
	CreateForJourney(ctx context.Context, ownerHash string, step verifier.JourneyStep) (*store.Presentation, error)
}

// Sessions creates a journey's IPA sessions (*ipa.Service).
type Sessions interface {
	CreateForJourney(ctx context.Context, ownerHash string, step ipa.JourneyStep) (*store.IPASession, error)
}

// IDEMIA reads identities and proofs from IDEMIA's ID&V platform (*ipa.Client).
type IDEMIA interface {
	RetrievalEnabled() bool
	IdentityPayload(ctx context.Context, identityID string) ([]byte, error)
	OpenProof(ctx context.Context, proofURL string) (*ipa.Proof, error)
}

// Events builds journey.expired (*result.Events).
type Events interface {
	JourneyExpired(st result.JourneyStatus) (*store.Delivery, error)
}

// Options are a Service's settings and dependencies; Presentations, Sessions, IDEMIA and Events may be nil.
type Options struct {
	Config        *config.Config
	Store         Store
	Presentations Presentations
	Sessions      Sessions
	IDEMIA        IDEMIA
	Events        Events
	// Claims are the claims a status may show (VERIFIER_RESULT_CLAIMS).
	Claims result.Claims
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Service runs journeys.
type Service struct {
	cfg           *config.Config
	store         Store
	presentations Presentations
	sessions      Sessions
	idemia        IDEMIA
	events        Events
	claims        result.Claims
	now           func() time.Time
}

// NewService returns a Service for o.
func NewService(o Options) *Service {
	s := &Service{cfg: o.Config, store: o.Store, presentations: o.Presentations, sessions: o.Sessions, idemia: o.IDEMIA,
		events: o.Events, claims: o.Claims, now: o.Now}
	if s.now == nil {
		s.now = time.Now
	}
	return s
}

// HashLaunchToken is what the store keeps instead of a launch token.
func HashLaunchToken(token string) string {
	sum := sha256.Sum256([]byte("launch:" + token))
	return hex.EncodeToString(sum[:])
}

// Create stores a new journey for the valid request r, created with the backend key named keyName, and
// returns it with its launch URL.
func (s *Service) Create(ctx context.Context, keyName string, r *CreateRequest) (*store.Journey, string, error) {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	token := base64.RawURLEncoding.EncodeToString(b)
	now := s.now().UTC()
	steps := r.Steps
	if len(steps) == 0 {
		steps = s.defaultSteps()
	}
	j := &store.Journey{
		ID: "jrn_" + rand.Text(), LaunchHash: HashLaunchToken(token), Reference: r.Reference, Steps: steps,
		ExpectedClaims: r.ExpectedClaims, ReturnURL: r.ReturnURL, Locale: r.Locale, APIKey: keyName,
		CreatedAt: now, UpdatedAt: now, ExpiresAt: now.Add(s.cfg.LaunchLinkTTL),
	}
	var outbox []*store.Delivery
	if s.events != nil {
		outbox = append(outbox, store.NewTimer(store.TimerJourney, j.ID, j.ExpiresAt))
	}
	if err := s.store.CreateJourney(ctx, j, outbox...); err != nil {
		return nil, "", fmt.Errorf("store journey: %w", err)
	}
	slog.InfoContext(ctx, "journey created", "journeyId", j.ID, "keyName", keyName, "steps", strings.Join(steps, ","), "expiresAt", j.ExpiresAt)
	return j, s.cfg.URL(routes.LaunchPath(token)), nil
}

func (s *Service) defaultSteps() []string {
	var steps []string
	if s.cfg.IPA.Enabled() {
		steps = append(steps, store.StepIPA)
	}
	if s.cfg.Entra.Enabled() {
		steps = append(steps, store.StepPresentation)
	}
	return steps
}

// Open binds the journey of launch token to the browser ownerHash at its first opening (expiry: now +
// store.OpenedLifetime) and lets that browser open it again while the journey is readable; any other
// browser, an unknown or an expired link gets ErrLinkGone.
func (s *Service) Open(ctx context.Context, token, ownerHash string) (*store.Journey, error) {
	j, err := s.store.JourneyByLaunch(ctx, HashLaunchToken(token))
	if errors.Is(err, store.ErrNotFound) {
		return nil, ErrLinkGone
	}
	if err != nil {
		return nil, err
	}
	j, err = s.store.UpdateJourney(ctx, j.ID, func(j *store.Journey) ([]*store.Delivery, error) {
		now := s.now().UTC()
		switch {
		case j.OwnerHash != "":
			if store.SameOwner(j.OwnerHash, ownerHash) {
				return nil, store.ErrUnchanged
			}
			return nil, ErrLinkGone
		case j.Outcome != "" || !now.Before(j.ExpiresAt):
			return nil, ErrLinkGone
		}
		j.OwnerHash, j.OpenedAt, j.UpdatedAt, j.ExpiresAt = ownerHash, now, now, now.Add(store.OpenedLifetime)
		if s.events != nil {
			return []*store.Delivery{store.NewTimer(store.TimerJourney, j.ID, j.ExpiresAt)}, nil
		}
		return nil, nil
	})
	if err != nil && !errors.Is(err, store.ErrUnchanged) {
		return nil, err
	}
	// The owner index is written after the journey (and again at every reopening): a crash in between
	// leaves a browser whose next opening repairs it.
	if err := s.store.SetNewest(ctx, ownerHash, store.KindJourney, j.ID, j.DropAt()); err != nil {
		return nil, err
	}
	slog.InfoContext(ctx, "journey link opened", "journeyId", j.ID, "openedAt", j.OpenedAt)
	return j, nil
}

// Active returns the journey browser ownerHash is in while it still accepts steps; store.ErrNotFound when
// there is none (the page then runs browser-started).
func (s *Service) Active(ctx context.Context, ownerHash string) (*store.Journey, error) {
	if ownerHash == "" {
		return nil, store.ErrNotFound
	}
	id, err := s.store.Newest(ctx, ownerHash, store.KindJourney)
	if err != nil {
		return nil, err
	}
	j, err := s.store.Journey(ctx, id)
	if err != nil {
		return nil, err
	}
	if !store.SameOwner(j.OwnerHash, ownerHash) || j.Outcome != "" || !s.now().Before(j.ExpiresAt) {
		return nil, store.ErrNotFound
	}
	return j, nil
}
