package verifier

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/entra-verifier/entra-verifier/config"
	"github.com/entra-verifier/entra-verifier/store"
)

// ErrHandedOff marks a result that was already handed to the relying party (answered 410).
var ErrHandedOff = errors.New("result already handed off")

// ErrUnauthorized marks a callback whose api-key is missing or wrong (answered 401).
var ErrUnauthorized = errors.New("callback api-key missing or wrong")

// MaxLifetime caps a request's life whatever Microsoft's expiry says.
const MaxLifetime = 30 * time.Minute

// DefaultClaimsRetention is how long claims stay readable after the verification.
const DefaultClaimsRetention = 5 * time.Minute

// Store is the part of store.Store the presentation half uses.
type Store interface {
	CreatePresentation(ctx context.Context, p *store.Presentation) error
	Presentation(ctx context.Context, id string) (*store.Presentation, error)
	PresentationByState(ctx context.Context, state string) (*store.Presentation, error)
	UpdatePresentation(ctx context.Context, p *store.Presentation, outbox ...*store.Delivery) error
}

// Creator creates presentation requests at the Request Service (Client in production).
type Creator interface {
	CreatePresentationRequest(ctx context.Context, req *PresentationRequest) (*Created, error)
}

// Service runs presentation requests from creation to their final status.
type Service struct {
	cfg     *config.Config
	creator Creator
	store   Store
	secret  []byte
	policy  Policy
	// ClaimsRetention is how long verified claims stay readable after the verification (never past the
	// request's expiry): the page reads them at once; 0 keeps them until expiry.
	ClaimsRetention time.Duration
	// FinalEvent, when set, returns the result event (nil for none) of a request reaching verified or
	// failed; it is stored in the same step as the transition, so only once, by the replica whose
	// transition wins, and never lost to a crash in between (the result webhook hangs here).
	FinalEvent func(ctx context.Context, p *store.Presentation) *store.Delivery
	// Now is the clock; tests may replace it before use.
	Now func() time.Time
}

// NewService returns a Service. secret is the callback HMAC key (ENTRA_CALLBACK_SECRET's bytes).
func NewService(cfg *config.Config, creator Creator, st Store, secret []byte) *Service {
	p := Policy{AcceptedIssuers: cfg.AcceptedIssuers()}
	if cfg.Entra.FaceCheck {
		p.FaceCheckThreshold = float64(cfg.Entra.FaceCheckThreshold)
	}
	return &Service{cfg: cfg, creator: creator, store: st, secret: secret, policy: p, ClaimsRetention: DefaultClaimsRetention, Now: time.Now}
}

// APIKey is the per-request callback secret: base64url(HMAC-SHA256(secret, state)), unpadded.
func APIKey(secret []byte, state string) string {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(state))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// Request returns the createPresentationRequest body for a new callback state.
func (s *Service) Request(state string) *PresentationRequest {
	e := s.cfg.Entra
	v := Validation{AllowRevoked: false, ValidateLinkedDomain: true}
	if e.FaceCheck {
		v.FaceCheck = &FaceCheck{SourcePhotoClaimName: e.FaceCheckPhotoClaim, MatchConfidenceThreshold: e.FaceCheckThreshold}
	}
	return &PresentationRequest{
		Authority:    e.VerifierDID,
		Registration: Registration{ClientName: e.ClientName, Purpose: e.Purpose},
		Callback: CallbackSpec{
			URL:     s.cfg.URL("/api/verifier/callback"),
			State:   state,
			Headers: map[string]string{"api-key": APIKey(s.secret, state)},
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
	state := randomState()
	created, err := s.creator.CreatePresentationRequest(ctx, s.Request(state))
	if err != nil {
		return nil, fmt.Errorf("create presentation request: %w", err)
	}
	now := s.Now().UTC()
	expires := now.Add(MaxLifetime)
	if e := time.Unix(created.Expiry, 0).UTC(); created.Expiry > 0 && e.Before(expires) {
		expires = e
	}
	p := &store.Presentation{
		ID: created.RequestID, State: state, OwnerHash: ownerHash, URL: created.URL, ReturnTo: returnTo,
		Status: store.PresentationCreated, CreatedAt: now, UpdatedAt: now, ExpiresAt: expires,
	}
	if err := s.store.CreatePresentation(ctx, p); err != nil {
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

// HandOff marks the finished request id of ownerHash as handed to the relying party and returns it: once
// only (ErrHandedOff afterwards), and only while its claims are kept, so one verification yields one result.
func (s *Service) HandOff(ctx context.Context, id, ownerHash string) (*store.Presentation, error) {
	for range 8 {
		p, err := s.Get(ctx, id, ownerHash)
		if err != nil {
			return nil, err
		}
		switch {
		case p.HandedOff:
			return nil, ErrHandedOff
		case p.Status == store.PresentationVerified && !s.Now().Before(p.ClaimsEnd()):
			return nil, fmt.Errorf("claims no longer kept: %w", ErrHandedOff)
		}
		p.HandedOff = true
		switch err := s.store.UpdatePresentation(ctx, p); {
		case errors.Is(err, store.ErrConflict):
			continue
		case err != nil:
			return nil, fmt.Errorf("hand off: %w", err)
		}
		return p, nil
	}
	return nil, fmt.Errorf("hand off: %w", store.ErrConflict)
}

// Outcome says what a callback did, for metrics and logs.
type Outcome struct {
	From, To store.PresentationStatus
	Reason   string
	Changed  bool
}

// HandleCallback authenticates a callback body with its api-key header, checks it against the stored
// request, and applies the transition it carries. Errors wrap ErrMalformed, ErrUnauthorized or
// store.ErrNotFound; a callback that changes nothing (a repeat, a late step) returns no error.
func (s *Service) HandleCallback(ctx context.Context, apiKey string, body []byte) (Outcome, error) {
	cb, err := DecodeCallback(body)
	if err != nil {
		return Outcome{}, err
	}
	want := APIKey(s.secret, cb.State)
	if subtle.ConstantTimeCompare([]byte(apiKey), []byte(want)) != 1 {
		return Outcome{}, ErrUnauthorized
	}
	for range 8 { // a lost compare-and-swap means another replica moved the request: re-read and re-decide
		p, err := s.store.PresentationByState(ctx, cb.State)
		if err != nil {
			return Outcome{}, err
		}
		now := s.Now().UTC()
		if p.ID != cb.RequestID || !now.Before(p.ExpiresAt) {
			return Outcome{}, store.ErrNotFound
		}
		out := Outcome{From: p.Status, To: p.Status}
		if !s.apply(p, cb, now) {
			if !knownStatus(cb.RequestStatus) {
				slog.WarnContext(ctx, "callback with unknown requestStatus ignored", "requestId", p.ID, "requestStatus", cb.RequestStatus)
			}
			return out, nil
		}
		p.UpdatedAt = now
		var outbox []*store.Delivery
		if p.Status.Final() && s.FinalEvent != nil {
			if d := s.FinalEvent(ctx, p); d != nil {
				outbox = append(outbox, d)
			}
		}
		switch err := s.store.UpdatePresentation(ctx, p, outbox...); {
		case errors.Is(err, store.ErrConflict):
			continue
		case err != nil:
			return Outcome{}, fmt.Errorf("update presentation request: %w", err)
		}
		out.To, out.Reason, out.Changed = p.Status, p.Reason, true
		slog.InfoContext(ctx, "presentation request moved", "requestId", p.ID, "from", out.From, "to", out.To, "reason", out.Reason,
			"webhook_id", store.DeliveryIDs(outbox))
		return out, nil
	}
	return Outcome{}, fmt.Errorf("update presentation request: %w", store.ErrConflict)
}

// apply moves p as cb says and reports whether anything changed.
func (s *Service) apply(p *store.Presentation, cb *Callback, now time.Time) bool {
	if p.Status.Final() {
		return false // terminal states never change: repeats and late steps are no-ops
	}
	switch cb.RequestStatus {
	case StatusRequestRetrieved:
		if p.Status != store.PresentationCreated {
			return false
		}
		p.Status = store.PresentationRetrieved
	case StatusPresentationVerified:
		if reason := s.policy.Check(cb, now); reason != "" {
			p.Status, p.Reason = store.PresentationFailed, reason
			return true
		}
		p.Status = store.PresentationVerified
		p.Claims, p.Issuer = cb.Claims()
		if s.ClaimsRetention > 0 {
			p.ClaimsUntil = now.Add(s.ClaimsRetention)
		}
	case StatusPresentationError:
		p.Status, p.Reason = store.PresentationFailed, ReasonPresentationError
		if cb.Error != nil {
			p.Detail = cb.Error.Code
		}
	default:
		return false
	}
	return true
}

func knownStatus(s string) bool {
	return s == StatusRequestRetrieved || s == StatusPresentationVerified || s == StatusPresentationError
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
