// Package store is the contract for the verifier's state: presentation requests and IPA sessions, their
// compare-and-swap updates, expiry, and change notifications. store/memory and store/redis implement it, and
// store/storetest is the one suite both pass.
package store

import (
	"context"
	"crypto/subtle"
	"errors"
	"strings"
	"time"
)

var (
	// ErrNotFound is returned for an unknown, or already dropped, record.
	ErrNotFound = errors.New("store: not found")
	// ErrConflict is returned when a create reuses a key, or an update lost a compare-and-swap race.
	ErrConflict = errors.New("store: conflict")
	// ErrFull is returned when a bounded store refuses a new record rather than evict a live one.
	ErrFull = errors.New("store: full")
	// ErrUnavailable wraps failures to reach the backing service (callers answer 503).
	ErrUnavailable = errors.New("store: unavailable")
)

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
	// Version is the compare-and-swap token: an update succeeds only when it matches the stored record's.
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
	// IdentityID and ProofURL come from a completed callback.
	IdentityID string `json:"identityId,omitempty"`
	ProofURL   string `json:"proofUrl,omitempty"`
	// Identity holds what identity retrieval learnt (never attributes).
	Identity  *IdentitySummary `json:"identity,omitempty"`
	CreatedAt time.Time        `json:"createdAt"`
	UpdatedAt time.Time        `json:"updatedAt"`
	ExpiresAt time.Time        `json:"expiresAt"`
	Version   int64            `json:"version"`
}

// IdentitySummary is the non-personal outcome of fetching an identity from IDEMIA's ID&V platform.
type IdentitySummary struct {
	LevelOfAssurance string `json:"levelOfAssurance,omitempty"`
	Status           string `json:"status,omitempty"`
	// Proof is "fetched", "refused" (proofUrl not allowed) or "failed"; empty when not attempted.
	Proof string `json:"proof,omitempty"`
	// Error is a short, non-personal reason when retrieval failed.
	Error string `json:"error,omitempty"`
}

// Store is what the service needs from its state backend. Every method is safe for concurrent use, and
// across replicas when the backend is shared.
type Store interface {
	// CreatePresentation stores a new request; ErrConflict when its ID or State is taken.
	CreatePresentation(ctx context.Context, p *Presentation) error
	// Presentation returns the request with Microsoft's requestId id.
	Presentation(ctx context.Context, id string) (*Presentation, error)
	// PresentationByState returns the request created with callback state.
	PresentationByState(ctx context.Context, state string) (*Presentation, error)
	// UpdatePresentation replaces the stored request when its Version still equals p.Version (else
	// ErrConflict), increments p.Version, queues outbox's deliveries (new IDs; each due at its NextAttempt,
	// and dropped store.Retention after its creation whatever its state) in the same atomic step, so that
	// a transition and the events it causes are stored together or not at all, and notifies the request's
	// watchers.
	UpdatePresentation(ctx context.Context, p *Presentation, outbox ...*Delivery) error

	// CreateIPASession stores a new session; ErrConflict when its ID or TokenHash is taken.
	CreateIPASession(ctx context.Context, s *IPASession) error
	// IPASession returns the session with IDEMIA's sessionId id.
	IPASession(ctx context.Context, id string) (*IPASession, error)
	// IPASessionByToken returns the session whose callback token hashes to tokenHash.
	IPASessionByToken(ctx context.Context, tokenHash string) (*IPASession, error)
	// UpdateIPASession is UpdatePresentation for IPA sessions.
	UpdateIPASession(ctx context.Context, s *IPASession, outbox ...*Delivery) error

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

	// Ping reports whether the backend is reachable.
	Ping(ctx context.Context) error
	// Close releases the store's resources.
	Close() error
}

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
