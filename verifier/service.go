package verifier

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"time"

	"github.com/entra-verifier/entra-verifier/config"
	"github.com/entra-verifier/entra-verifier/routes"
	"github.com/entra-verifier/entra-verifier/store"
)

// ErrHandedOff marks a result that was already handed to the relying party (answered 410).
var ErrHandedOff = errors.New("result already handed off")

// ErrNotFinished marks a request asked for its result before it has one (answered 409).
var ErrNotFinished = errors.New("request not finished")

// ErrUnauthorized marks a callback whose api-key is missing or wrong (answered 401).
var ErrUnauthorized = errors.New("callback api-key missing or wrong")

// MaxLifetime caps a request's life whatever Microsoft's expiry says.
const MaxLifetime = 30 * time.Minute

// Store is the part of store.Store the presentation half uses.
type Store interface {
	CreatePresentation(ctx context.Context, p *store.Presentation, outbox ...*store.Delivery) error
	Presentation(ctx context.Context, id string) (*store.Presentation, error)
	PresentationByState(ctx context.Context, state string) (*store.Presentation, error)
	UpdatePresentation(ctx context.Context, id string, fn store.PresentationUpdater) (*store.Presentation, error)
}

// Creator creates presentation requests at the Request Service (Client in production).
type Creator interface {
	CreatePresentationRequest(ctx context.Context, req *PresentationRequest) (*Created, error)
}

// Events turns a request that reached verified or failed into its result event (result.Events in
// production), stored in the same step as the transition: only once, by the replica whose transition wins,
// and never lost to a crash in between.
type Events interface {
	PresentationEnded(p *store.Presentation) (*store.Delivery, error)
	// PresentationExpired is the presentation.expired event of a request that expired unfinished.
	PresentationExpired(p *store.Presentation) (*store.Delivery, error)
	// JourneyCompleted is journey.completed for the journey whose final step p just completed it.
	JourneyCompleted(s *store.IPASession, p *store.Presentation) (*store.Delivery, error)
}

// Options are a Service's settings and dependencies.
type Options struct {
	Config  *config.Config
	Creator Creator
	Store   Store
	// Secret is the callback HMAC key (ENTRA_CALLBACK_SECRET's bytes).
	Secret []byte
	// Events, when set, gives the result event of each request that ends.
	Events Events
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Service runs presentation requests from creation to their final status.
type Service struct {
	cfg     *config.Config
	creator Creator
	store   Store
	keys    *APIKeys
	events  Events
	rules   Rules
	now     func() time.Time
}

// NewService returns a Service for o.
func NewService(o Options) *Service {
	s := &Service{cfg: o.Config, creator: o.Creator, store: o.Store, keys: NewAPIKeys(o.Secret), events: o.Events, now: o.Now,
		rules: Rules{Policy: Policy{AcceptedIssuers: o.Config.AcceptedIssuers()}, ClaimsRetention: o.Config.ClaimsRetention}}
	if o.Config.Entra.FaceCheck {
		s.rules.Policy.FaceCheckThreshold = float64(o.Config.Entra.FaceCheckThreshold)
	}
	if s.now == nil {
		s.now = time.Now
	}
	return s
}

// Request returns the createPresentationRequest body for a new callback state.
func (s *Service) Request(state string) *PresentationRequest { return s.request(state, nil) }

// request is Request with a journey's expected claims as claim constraints (sorted by name).
func (s *Service) request(state string, expected map[string]string) *PresentationRequest {
	e := s.cfg.Entra
	v := Validation{AllowRevoked: false, ValidateLinkedDomain: e.ValidateLinkedDomain}
	for _, name := range slices.Sorted(maps.Keys(expected)) {
		v.Constraints = append(v.Constraints, Constraint{ClaimName: name, Values: []string{expected[name]}})
	}
	if e.FaceCheck {
		v.FaceCheck = &FaceCheck{SourcePhotoClaimName: e.FaceCheckPhotoClaim, MatchConfidenceThreshold: e.FaceCheckThreshold}
	}
	return &PresentationRequest{
		Authority:    e.VerifierDID,
		Registration: Registration{ClientName: e.ClientName, Purpose: e.Purpose},
		Callback: CallbackSpec{
			URL:     s.cfg.URL(routes.EntraCallback),
			State:   state,
			Headers: map[string]string{"api-key": s.keys.Key(state)},
		},
		RequestedCredentials: []RequestedCredential{{
			Type:            CredentialType,
			Purpose:         e.Purpose,
			AcceptedIssuers: s.cfg.AcceptedIssuers(),
			Configuration:   Configuration{Validation: v},
		}},
	}
}

// Create asks Microsoft for a new presentation request and stores it, bound to ownerHash; returnTo (already
// checked against the allow-list, or "") is kept for the result redirect.
func (s *Service) Create(ctx context.Context, ownerHash, returnTo string) (*store.Presentation, error) {
	return s.CreateForJourney(ctx, ownerHash, JourneyStep{ReturnTo: returnTo})
}

// JourneyStep is what a presentation request created as a backend journey's step carries.
type JourneyStep struct {
	Ref      *store.JourneyRef
	ReturnTo string
	// Expected are the journey's expected claims, sent as claim constraints.
	Expected map[string]string
	// Bind points the journey at the new request's id; it runs after Microsoft answered and before the
	// request is stored, so that no stored request of the journey was never its newest.
	Bind func(ctx context.Context, id string) error
}

// CreateForJourney is Create for a step of a backend journey.
func (s *Service) CreateForJourney(ctx context.Context, ownerHash string, step JourneyStep) (*store.Presentation, error) {
	returnTo := step.ReturnTo
	state := randomState()
	created, err := s.creator.CreatePresentationRequest(ctx, s.request(state, step.Expected))
	if err != nil {
		return nil, fmt.Errorf("create presentation request: %w", err)
	}
	if step.Bind != nil {
		if err := step.Bind(ctx, created.RequestID); err != nil {
			return nil, fmt.Errorf("bind presentation request to its journey: %w", err)
		}
	}
	now := s.now().UTC()
	expires := now.Add(MaxLifetime)
	if e := time.Unix(created.Expiry, 0).UTC(); created.Expiry > 0 && e.Before(expires) {
		expires = e
	}
	p := &store.Presentation{
		ID: created.RequestID, State: state, OwnerHash: ownerHash, URL: created.URL, ReturnTo: returnTo,
		Status: store.PresentationCreated, CreatedAt: now, UpdatedAt: now, ExpiresAt: expires, Journey: step.Ref.Clone(),
	}
	var outbox []*store.Delivery
	if s.events != nil { // presentation.expired, should it expire unfinished
		outbox = append(outbox, store.NewTimer(store.TimerPresentation, p.ID, p.ExpiresAt))
	}
	if err := s.store.CreatePresentation(ctx, p, outbox...); err != nil {
		if errors.Is(err, store.ErrConflict) { // Microsoft handed out a requestId twice
			return nil, fmt.Errorf("%w: requestId %s returned twice", ErrUpstream, p.ID)
		}
		return nil, fmt.Errorf("store presentation request: %w", err)
	}
	slog.InfoContext(ctx, "presentation request created", "requestId", p.ID, "expiresAt", p.ExpiresAt)
	return p, nil
}

func randomState() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b) // never fails (crypto/rand panics on a broken system source)
	return base64.RawURLEncoding.EncodeToString(b)
}

// Get returns the request id if ownerHash created it; any other reader gets store.ErrNotFound.
func (s *Service) Get(ctx context.Context, id, ownerHash string) (*store.Presentation, error) {
	p, err := s.store.Presentation(ctx, id)
	if err != nil {
		return nil, err
	}
	if !store.SameOwner(p.OwnerHash, ownerHash) {
		return nil, store.ErrNotFound
	}
	return p, nil
}

// HandOff marks the finished (verified or failed) request id of ownerHash as handed to the relying party and
// returns it: once only (ErrHandedOff afterwards), and only while its claims are kept, so one verification
// yields one result. ErrNotFinished before it has a result.
func (s *Service) HandOff(ctx context.Context, id, ownerHash string) (*store.Presentation, error) {
	p, err := s.store.UpdatePresentation(ctx, id, func(p *store.Presentation) ([]*store.Delivery, error) {
		switch {
		case !store.SameOwner(p.OwnerHash, ownerHash):
			return nil, store.ErrNotFound
		case p.Status != store.PresentationVerified && p.Status != store.PresentationFailed:
			return nil, ErrNotFinished
		case p.HandedOff:
			return nil, ErrHandedOff
		case p.Status == store.PresentationVerified && !s.now().Before(p.ClaimsEnd()):
			return nil, fmt.Errorf("claims no longer kept: %w", ErrHandedOff)
		}
		p.HandedOff = true
		return nil, nil
	})
	if err != nil {
		return nil, fmt.Errorf("hand off: %w", err)
	}
	return p, nil
}

// Outcome says what a callback did, for metrics and logs.
type Outcome struct {
	From, To store.PresentationStatus
	Reason   string
	Changed  bool
	// Late says the request had already expired: the callback was answered and changed nothing.
	Late bool
}

// HandleCallback authenticates a callback body with its api-key header, checks it against the stored
// request, and applies the transition it carries. Errors wrap ErrMalformed, ErrUnauthorized or
// store.ErrNotFound; a callback that changes nothing (a repeat, a late step, a request already expired)
// returns no error.
func (s *Service) HandleCallback(ctx context.Context, apiKey string, body []byte) (Outcome, error) {
	cb, err := DecodeCallback(body)
	if err != nil {
		return Outcome{}, err
	}
	if !s.keys.Valid(cb.State, apiKey) {
		return Outcome{}, ErrUnauthorized
	}
	id, err := s.requestOf(ctx, cb)
	if err != nil {
		return Outcome{}, err
	}
	var out Outcome
	var outbox []*store.Delivery
	var eventErr error
	// The updater may run more than once (a lost race): it only decides, and what it learnt is logged after.
	p, err := s.store.UpdatePresentation(ctx, id, func(p *store.Presentation) ([]*store.Delivery, error) {
		now := s.now().UTC()
		out, outbox, eventErr = Outcome{From: p.Status, To: p.Status, Late: !now.Before(p.ExpiresAt)}, nil, nil
		if out.Late || !Transition(p, cb, now, s.rules) {
			return nil, store.ErrUnchanged
		}
		if p.Status.Final() && s.events != nil {
			var d *store.Delivery
			if d, eventErr = s.events.PresentationEnded(p); d != nil && eventErr == nil {
				outbox = []*store.Delivery{d}
			}
		}
		if p.Status == store.PresentationVerified && p.Journey.Complete(now) { // completes its journey
			if s.events != nil {
				d, err := s.events.JourneyCompleted(nil, p)
				if err == nil && d != nil {
					outbox = append(outbox, d)
				}
				eventErr = errors.Join(eventErr, err)
			}
		}
		return outbox, nil
	})
	if eventErr != nil && err == nil { // the journey goes on without its event
		slog.ErrorContext(ctx, "result event not queued", "requestId", id, "err", eventErr)
	}
	switch {
	case errors.Is(err, store.ErrUnchanged):
		switch {
		case out.Late:
			slog.InfoContext(ctx, "callback for an expired request answered, nothing changed", "requestId", id, "requestStatus", cb.RequestStatus)
		case !knownStatus(cb.RequestStatus):
			slog.WarnContext(ctx, "callback with unknown requestStatus ignored", "requestId", id, "requestStatus", cb.RequestStatus)
		}
		return out, nil
	case err != nil:
		return Outcome{}, fmt.Errorf("update presentation request: %w", err)
	}
	out.To, out.Reason, out.Changed = p.Status, p.Reason, true
	slog.InfoContext(ctx, "presentation request moved", "requestId", p.ID, "from", out.From, "to", out.To, "reason", out.Reason,
		"webhook_id", store.DeliveryIDs(outbox))
	return out, nil
}

// KnownStates is what a store may offer to spare a callback its read: the state of a request it has seen
// (created, read or updated), from memory. A request's state never changes, so a callback whose requestId and
// state match it goes straight to UpdatePresentation, whose compare-and-swap re-reads whatever is stale.
type KnownStates interface {
	KnownPresentationState(id string) (state string, ok bool)
}

// requestOf is the id of the request cb's state was created with (store.ErrNotFound when it is not the
// requestId cb names).
func (s *Service) requestOf(ctx context.Context, cb *Callback) (string, error) {
	if k, ok := s.store.(KnownStates); ok {
		if state, ok := k.KnownPresentationState(cb.RequestID); ok && state == cb.State {
			return cb.RequestID, nil
		}
	}
	ref, err := s.store.PresentationByState(ctx, cb.State)
	if err != nil {
		return "", err
	}
	if ref.ID != cb.RequestID {
		return "", store.ErrNotFound
	}
	return ref.ID, nil
}

// View is a request as the page reads it: expired once past ExpiresAt unless already final.
func View(p *store.Presentation, now time.Time) *store.Presentation {
	v := *p
	if !now.Before(p.ExpiresAt) {
		v.Claims = nil
		if !p.Status.Final() {
			v.Status = store.PresentationExpired
		}
	}
	return &v
}

// Expire is the expiry timer of request id: a request that expired unfinished gets its presentation.expired
// event, once (the update marks it, so a timer applied twice or by two replicas acts once). A request that
// ended, or is gone, needs nothing.
func (s *Service) Expire(ctx context.Context, id string) error {
	if s.events == nil {
		return nil
	}
	var outbox []*store.Delivery
	_, err := s.store.UpdatePresentation(ctx, id, func(p *store.Presentation) ([]*store.Delivery, error) {
		switch {
		case p.Status.Final() || p.ExpiryNotified:
			return nil, store.ErrUnchanged
		case s.now().Before(p.ExpiresAt):
			return nil, store.ErrNotDue
		}
		d, err := s.events.PresentationExpired(p)
		if err != nil {
			return nil, err
		}
		p.ExpiryNotified, outbox = true, []*store.Delivery{d}
		return outbox, nil
	})
	switch {
	case err == nil:
		slog.InfoContext(ctx, "presentation request expired unfinished", "requestId", id, "webhook_id", store.DeliveryIDs(outbox))
		return nil
	case errors.Is(err, store.ErrUnchanged), errors.Is(err, store.ErrNotFound):
		return nil
	}
	return fmt.Errorf("expire presentation request: %w", err)
}
