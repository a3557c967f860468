// Package store is the contract for the verifier's state: presentation requests and IPA sessions, their
// compare-and-swap updates, expiry, and change notifications. store/memory and store/redis implement it, and
// store/storetest is the one suite both pass.
package store

import (
	"context"
	"crypto/subtle"
	"errors"
	"maps"
	"strings"
	"time"
)

var (
	// ErrNotFound is returned for an unknown, or already dropped, record.
	ErrNotFound = errors.New("store: not found")
	// ErrConflict is returned when a create reuses a key, or an update lost MaxUpdateAttempts compare-and-swap
	// races in a row.
	ErrConflict = errors.New("store: conflict")
	// ErrFull is returned when a bounded store refuses a new record rather than evict a live one.
	ErrFull = errors.New("store: full")
	// ErrUnavailable wraps failures to reach the backing service (callers answer 503).
	ErrUnavailable = errors.New("store: unavailable")
	// ErrUnchanged is what an updater returns to leave its record as it is: the store writes nothing,
	// notifies no one, and returns the current record with ErrUnchanged.
	ErrUnchanged = errors.New("store: unchanged")
)

// MaxUpdateAttempts bounds the attempts (read, apply the updater, compare-and-swap) of one update in a shared
// backend; when every one loses its race the update fails with ErrConflict.
const MaxUpdateAttempts = 16

// Retention is how long a record is kept after it is created; after its own expiry it reads "expired" until then.
const Retention = time.Hour

// PresentationStatus is the state of a presentation request as stored.
type PresentationStatus string

// Presentation statuses. PresentationExpired is never stored: it is derived from ExpiresAt when read.
const (
	PresentationCreated   PresentationStatus = "created"
	PresentationRetrieved PresentationStatus = "retrieved"
	PresentationVerified  PresentationStatus = "verified"
	PresentationFailed    PresentationStatus = "failed"
	PresentationExpired   PresentationStatus = "expired"
)

// Final reports whether no further transition can leave s.
func (s PresentationStatus) Final() bool {
	return s == PresentationVerified || s == PresentationFailed || s == PresentationExpired
}

// Presentation is one Entra presentation request, keyed by Microsoft's requestId and by our callback state.
type Presentation struct {
	ID        string `json:"id"`
	State     string `json:"state"`
	OwnerHash string `json:"owner"`
	URL       string `json:"url"`
	// ReturnTo is the allow-listed URL the browser goes back to with a result token, if any; HandedOff says
	// that token was minted (once only).
	ReturnTo  string             `json:"returnTo,omitempty"`
	HandedOff bool               `json:"handedOff,omitempty"`
	Status    PresentationStatus `json:"status"`
	Reason    string             `json:"reason,omitempty"`
	Detail    string             `json:"detail,omitempty"`
	Issuer    string             `json:"issuer,omitempty"`
	// Claims are personal data: a store never returns them after ClaimsEnd and deletes them by then.
	Claims map[string]any `json:"claims,omitempty"`
	// ClaimsUntil, when set, ends the claims' life before ExpiresAt (see ClaimsEnd).
	ClaimsUntil time.Time `json:"claimsUntil,omitzero"`
	CreatedAt   time.Time `json:"createdAt"`
	UpdatedAt   time.Time `json:"updatedAt"`
	ExpiresAt   time.Time `json:"expiresAt"`
	// Journey is set for a request that is a step of a backend journey.
	Journey *JourneyRef `json:"journey,omitempty"`
	// ExpiryNotified says presentation.expired was queued (once) for a request that expired unfinished.
	ExpiryNotified bool `json:"expiryNotified,omitempty"`
	// Version is the backend's compare-and-swap token: only store/ and its backends read or write it.
	Version int64 `json:"version"`
}

// ClaimsEnd is when p's claims must be gone: the earliest of ClaimsUntil (when set), ExpiresAt and the
// end of the record's retention.
func (p *Presentation) ClaimsEnd() time.Time {
	end := p.ExpiresAt
	if !p.ClaimsUntil.IsZero() && p.ClaimsUntil.Before(end) {
		end = p.ClaimsUntil
	}
	if r := p.CreatedAt.Add(Retention); r.Before(end) {
		end = r
	}
	return end
}

// Clone returns a copy of p whose claims map is its own (claim values, decoded JSON, are shared).
func (p *Presentation) Clone() *Presentation {
	c := *p
	c.Claims = maps.Clone(p.Claims)
	c.Journey = p.Journey.Clone()
	return &c
}

// IPAStatus is the state of an IDEMIA IPA session as stored.
type IPAStatus string

// IPA session statuses. IPAExpired is never stored: it is derived from ExpiresAt when read.
const (
	IPAPending   IPAStatus = "pending"
	IPACompleted IPAStatus = "completed"
	IPAError     IPAStatus = "error"
	IPATimeout   IPAStatus = "timeout"
	IPAExpired   IPAStatus = "expired"
)

// Final reports whether no further transition can leave s.
func (s IPAStatus) Final() bool { return s != IPAPending }

// IPASession is one IDEMIA IPA session, keyed by IDEMIA's sessionId and by the hash of its callback token.
type IPASession struct {
	ID        string    `json:"id"`
	TokenHash string    `json:"tokenHash"`
	OwnerHash string    `json:"owner"`
	StartURL  string    `json:"startUrl"`
	Status    IPAStatus `json:"status"`
	// RetrievalUntil is the lease of the identity retrieval under way (one replica at a time): another may
	// start one only once it has passed and no summary was recorded.
	RetrievalUntil time.Time `json:"retrievalUntil,omitzero"`
	// Detail is the upstream status of an abnormal end IDEMIA did not document (an error session): kept and
	// logged, not shown in the status read.
	Detail string `json:"detail,omitempty"`
	// IdentityID and ProofURL come from a completed callback.
	IdentityID string `json:"identityId,omitempty"`
	ProofURL   string `json:"proofUrl,omitempty"`
	// Identity holds what identity retrieval learnt (never attributes).
	Identity *IdentitySummary `json:"identity,omitempty"`
	// ConsentAt is when the person accepted the relying party's terms of use (VERIFIER_TERMS_URL) before
	// starting; zero when none were asked.
	ConsentAt time.Time `json:"consentAt,omitzero"`
	CreatedAt time.Time `json:"createdAt"`
	UpdatedAt time.Time `json:"updatedAt"`
	ExpiresAt time.Time `json:"expiresAt"`
	// Journey is set for a session that is a step of a backend journey.
	Journey *JourneyRef `json:"journey,omitempty"`
	// ExpiryNotified says ipa.expired was queued (once) for a session that expired unfinished.
	ExpiryNotified bool `json:"expiryNotified,omitempty"`
	// Version is the backend's compare-and-swap token: only store/ and its backends read or write it.
	Version int64 `json:"version"`
}

// Clone returns a copy of s that shares no memory with it.
func (s *IPASession) Clone() *IPASession {
	c := *s
	c.Journey = s.Journey.Clone()
	if s.Identity != nil {
		id := *s.Identity
		c.Identity = &id
	}
	return &c
}

// IdentitySummary is the non-personal outcome of fetching an identity from IDEMIA's ID&V platform.
type IdentitySummary struct {
	LevelOfAssurance string `json:"levelOfAssurance,omitempty"`
	Status           string `json:"status,omitempty"`
	// Error is a short, non-personal reason when retrieval failed.
	Error string `json:"error,omitempty"`
}

// Store is what the service needs from its state backend. Every method is safe for concurrent use, and
// across replicas when the backend is shared.
type Store interface {
	// CreatePresentation stores a new request, and outbox with it in the same atomic step (its expiry
	// timer); ErrConflict when its ID or State is taken. The record is kept until p.DropAt().
	CreatePresentation(ctx context.Context, p *Presentation, outbox ...*Delivery) error
	// Presentation returns the request with Microsoft's requestId id.
	Presentation(ctx context.Context, id string) (*Presentation, error)
	// PresentationByState returns the request created with callback state.
	PresentationByState(ctx context.Context, state string) (*Presentation, error)
	// UpdatePresentation applies fn to a copy of the request with Microsoft's requestId id and stores the
	// result together with the deliveries fn returns (new IDs; each due at its NextAttempt, and dropped
	// Retention after its creation whatever its state) in one atomic step, so that a transition and the
	// events it causes are stored together or not at all; then it notifies the request's watchers and
	// returns the request as stored. Concurrent updates of one request are serialised: a shared backend
	// that loses a race re-reads the request and calls fn again (at most MaxUpdateAttempts times, then
	// ErrConflict), so fn must depend on its argument alone, have no effect outside it and never call the
	// store (the memory backend runs it under its lock). When fn returns an error nothing is written:
	// ErrUnchanged comes back with the current request, any other error (ErrNotFound, say) as fn gave it.
	// The request's ID and State are kept whatever fn does. ErrNotFound for an unknown or dropped request.
	UpdatePresentation(ctx context.Context, id string, fn PresentationUpdater) (*Presentation, error)

	// CreateIPASession is CreatePresentation for sessions; ErrConflict when its ID or TokenHash is taken.
	CreateIPASession(ctx context.Context, s *IPASession, outbox ...*Delivery) error
	// IPASession returns the session with IDEMIA's sessionId id.
	IPASession(ctx context.Context, id string) (*IPASession, error)
	// IPASessionByToken returns the session whose callback token hashes to tokenHash.
	IPASessionByToken(ctx context.Context, tokenHash string) (*IPASession, error)
	// UpdateIPASession is UpdatePresentation for the IPA session with IDEMIA's sessionId id (its ID and
	// TokenHash are kept).
	UpdateIPASession(ctx context.Context, id string, fn IPAUpdater) (*IPASession, error)

	// CreateJourney stores a new journey with outbox (its expiry timer); ErrConflict when its ID or
	// LaunchHash is taken. A journey is kept until j.DropAt(), which its updates may move.
	CreateJourney(ctx context.Context, j *Journey, outbox ...*Delivery) error
	// Journey returns the journey with id.
	Journey(ctx context.Context, id string) (*Journey, error)
	// JourneyByLaunch returns the journey whose launch token hashes to launchHash.
	JourneyByLaunch(ctx context.Context, launchHash string) (*Journey, error)
	// UpdateJourney is UpdatePresentation for journeys (ID and LaunchHash are kept); the record's drop
	// time follows the updated ExpiresAt.
	UpdateJourney(ctx context.Context, id string, fn JourneyUpdater) (*Journey, error)

	// Watch returns a channel that receives a value after each update of the record named by topic
	// (see PresentationTopic, IPATopic). Updates may coalesce: readers re-read the record. The channel is
	// closed when ctx ends.
	Watch(ctx context.Context, topic string) (<-chan struct{}, error)
	// ClaimDelivery returns one delivery due at now and leases it until now+lease, so that no other
	// replica claims it meanwhile; it counts the attempt it starts (Attempts+1, stored), so an attempt cut
	// short by a crash still counts once the lease ends. store.ErrNotFound when none is due.
	ClaimDelivery(ctx context.Context, now time.Time, lease time.Duration) (*Delivery, error)
	// RetryDelivery records a failed attempt: d's Attempts and NextAttempt replace the stored ones.
	RetryDelivery(ctx context.Context, d *Delivery) error
	// FinishDelivery removes a delivery that succeeded or was given up.
	FinishDelivery(ctx context.Context, id string) error

	// Allow counts one event under key in a fixed window and reports whether it is within limit; when it is
	// not, retryAfter says when the window ends. Counts are shared across replicas when the backend is.
	Allow(ctx context.Context, key string, limit int, window time.Duration) (ok bool, retryAfter time.Duration, err error)

	// Owners is the owner index: the newest record of each kind a browser created.
	Owners

	// Ping reports whether the backend is reachable.
	Ping(ctx context.Context) error
	// Close releases the store's resources.
	Close() error
}

// WhileUnavailable calls op until it returns an error that does not wrap ErrUnavailable (or none), waiting
// pause between calls and telling retrying about each failure, and gives up with the last error when ctx
// ends. It is for work that must not be dropped at the first hiccup of a shared backend.
func WhileUnavailable(ctx context.Context, pause time.Duration, retrying func(error), op func() error) error {
	for {
		err := op()
		if !errors.Is(err, ErrUnavailable) {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(pause):
			retrying(err)
		}
	}
}

// PresentationUpdater changes a presentation request in place and returns the deliveries (result events)
// its change causes; it returns ErrUnchanged to write nothing.
type PresentationUpdater func(p *Presentation) ([]*Delivery, error)

// IPAUpdater is PresentationUpdater for IPA sessions.
type IPAUpdater func(s *IPASession) ([]*Delivery, error)

// Delivery is one pending result-webhook event. Body is the exact payload (it may hold claims, so it lives
// no longer than store.Retention); ID is the webhook-id, the same on every attempt.
type Delivery struct {
	ID          string    `json:"id"`
	Body        []byte    `json:"body"`
	Attempts    int       `json:"attempts"`
	NextAttempt time.Time `json:"nextAttempt"`
	CreatedAt   time.Time `json:"createdAt"`
	// ClaimsUntil, when set, is when the claims in Body lapse (VERIFIER_CLAIMS_RETENTION): an attempt from
	// then on sends Body without them (result.Webhook).
	ClaimsUntil time.Time `json:"claimsUntil,omitzero"`
	// Timer, when set, makes this an internal timer (no Body, never POSTed): see Timer.
	Timer *Timer `json:"timer,omitempty"`
}

// DeliveryIDs joins the IDs (webhook-ids) of ds for a log line; "" for none.
func DeliveryIDs(ds []*Delivery) string {
	ids := make([]string, len(ds))
	for i, d := range ds {
		ids[i] = d.ID
	}
	return strings.Join(ids, ",")
}

// SameOwner reports, in constant time, whether a record's owner hash is the reader's.
func SameOwner(recordOwner, readerOwner string) bool {
	return subtle.ConstantTimeCompare([]byte(recordOwner), []byte(readerOwner)) == 1
}

// PresentationTopic names the notifications of one presentation request.
func PresentationTopic(id string) string { return "presentation/" + id }

// IPATopic names the notifications of one IPA session.
func IPATopic(id string) string { return "ipa/" + id }
