package store

import (
	"errors"
	"maps"
	"slices"
	"time"
)

// JourneyRetention is how long a journey, and the records of its steps, stay readable after the journey's
// expiry (SPEC section 9: 24 hours after it ends; a journey ends at its expiry at the latest).
const JourneyRetention = 24 * time.Hour

// Journey steps, in the only order a journey may hold them.
const (
	StepIPA          = "ipa"
	StepPresentation = "presentation"
)

// JourneyExpired is the only outcome a journey record stores: completion is read from the record of its
// final step (JourneyRef.CompletedAt), expiry from here, so each is decided by one compare-and-swap.
const JourneyExpired = "expired"

// Journey is one journey a relying party's backend started, keyed by its id and by the hash of its launch
// token. It points at the newest attempt of each step; the status is derived from it and those records.
type Journey struct {
	ID             string            `json:"id"`
	LaunchHash     string            `json:"launchHash"`
	Reference      string            `json:"reference"`
	Steps          []string          `json:"steps"`
	ExpectedClaims map[string]string `json:"expectedClaims,omitempty"`
	ReturnURL      string            `json:"returnUrl,omitempty"`
	Locale         string            `json:"locale,omitempty"`
	// APIKey is the NAME of the backend key that created the journey (never the key).
	APIKey string `json:"apiKey,omitempty"`
	// OwnerHash is the hash of the binding cookie of the one browser that opened the launch link.
	OwnerHash string    `json:"owner,omitempty"`
	OpenedAt  time.Time `json:"openedAt,omitzero"`
	// IPASessionID and PresentationID name the newest attempt of each step. Each is set before its record is
	// stored (so no record of the journey exists that it never pointed at) and moves on only from an attempt
	// that ended badly or from one whose record never appeared within StepGrace.
	IPASessionID   string    `json:"ipaSessionId,omitempty"`
	PresentationID string    `json:"presentationId,omitempty"`
	StepSetAt      time.Time `json:"stepSetAt,omitzero"`
	// Outcome is JourneyExpired once the expiry timer closed the journey (journey.expired queued with it).
	Outcome   string    `json:"outcome,omitempty"`
	CreatedAt time.Time `json:"createdAt"`
	UpdatedAt time.Time `json:"updatedAt"`
	// ExpiresAt is the launch link's expiry until it is opened, then the opening time + OpenedLifetime.
	ExpiresAt time.Time `json:"expiresAt"`
	// Version is the backend's compare-and-swap token: only store/ and its backends read or write it.
	Version int64 `json:"version"`
}

// StepGrace is how long a step pointer waits for its record to be stored before another attempt may replace
// it (a replica that crashed between the two leaves a pointer to nothing).
const StepGrace = 15 * time.Second

// OpenedLifetime is how long a journey lasts from its link's first opening.
const OpenedLifetime = 60 * time.Minute

// DropAt is when a store drops j.
func (j *Journey) DropAt() time.Time { return j.ExpiresAt.Add(JourneyRetention) }

// FinalStep is the journey's last step.
func (j *Journey) FinalStep() string { return j.Steps[len(j.Steps)-1] }

// Has reports whether step is one of j's steps.
func (j *Journey) Has(step string) bool { return slices.Contains(j.Steps, step) }

// Clone returns a copy of j that shares no memory with it.
func (j *Journey) Clone() *Journey {
	c := *j
	c.Steps = slices.Clone(j.Steps)
	c.ExpectedClaims = maps.Clone(j.ExpectedClaims)
	return &c
}

// Ref is what a step record of j keeps of it; final says the step is j's last.
func (j *Journey) Ref(final bool) *JourneyRef {
	return &JourneyRef{ID: j.ID, Reference: j.Reference, Steps: slices.Clone(j.Steps), Final: final,
		CreatedAt: j.CreatedAt, ExpiresAt: j.ExpiresAt}
}

// JourneyUpdater is PresentationUpdater for journeys.
type JourneyUpdater func(j *Journey) ([]*Delivery, error)

// JourneyTopic names the notifications of one journey.
func JourneyTopic(id string) string { return "journey/" + id }

// JourneyRef is what the record of a journey's step (an IPA session or a presentation request) keeps of its
// journey: enough to put journeyId and reference in its events and, for the final step, to complete the
// journey in its own transition. Everything but Ended and CompletedAt is fixed when the record is created
// (steps start only after the link was opened, so ExpiresAt no longer moves).
type JourneyRef struct {
	ID        string    `json:"id"`
	Reference string    `json:"reference"`
	Steps     []string  `json:"steps"`
	Final     bool      `json:"final,omitempty"`
	CreatedAt time.Time `json:"createdAt"`
	ExpiresAt time.Time `json:"expiresAt"`
	// IPA is the journey's completed IPA step, for a presentation step that follows one.
	IPA *JourneyIPA `json:"ipa,omitempty"`
	// Ended says the journey's expiry closed it first: this step can no longer complete it.
	Ended bool `json:"ended,omitempty"`
	// CompletedAt is when this step completed the journey (journey.completed queued in the same update).
	CompletedAt time.Time `json:"completedAt,omitzero"`
}

// JourneyIPA is the IPA step a presentation step of the same journey follows.
type JourneyIPA struct {
	SessionID        string    `json:"sessionId"`
	IdentityID       string    `json:"identityId,omitempty"`
	LevelOfAssurance string    `json:"levelOfAssurance,omitempty"`
	UpdatedAt        time.Time `json:"updatedAt"`
}

// Clone returns a copy of r that shares no memory with it; nil for nil.
func (r *JourneyRef) Clone() *JourneyRef {
	if r == nil {
		return nil
	}
	c := *r
	c.Steps = slices.Clone(r.Steps)
	if r.IPA != nil {
		ipa := *r.IPA
		c.IPA = &ipa
	}
	return &c
}

// CanComplete reports whether the step holding r may still complete its journey at now.
func (r *JourneyRef) CanComplete(now time.Time) bool {
	return r != nil && r.Final && !r.Ended && r.CompletedAt.IsZero() && now.Before(r.ExpiresAt)
}

// Complete marks the journey completed by the step holding r at now, when that step still may (CanComplete),
// and reports whether it did: the step's update then queues journey.completed.
func (r *JourneyRef) Complete(now time.Time) bool {
	if !r.CanComplete(now) {
		return false
	}
	r.CompletedAt = now
	return true
}

// ErrNotDue is returned by an expiry timer applied before its record's expiry (another replica's clock runs
// ahead): the timer is tried again later.
var ErrNotDue = errors.New("store: timer not due yet")

// dropAt is when a store drops a record created at created that belongs to journey r (nil for none).
func dropAt(created time.Time, r *JourneyRef) time.Time {
	end := created.Add(Retention)
	if r != nil && r.ExpiresAt.Add(JourneyRetention).After(end) {
		end = r.ExpiresAt.Add(JourneyRetention)
	}
	return end
}

// DropAt is when a store drops p: store.Retention after its creation, or, for a journey's step, as long as
// its journey stays readable.
func (p *Presentation) DropAt() time.Time { return dropAt(p.CreatedAt, p.Journey) }

// DropAt is Presentation.DropAt for IPA sessions.
func (s *IPASession) DropAt() time.Time { return dropAt(s.CreatedAt, s.Journey) }

// Timer is an internal delivery: instead of being POSTed, it makes the worker that claims it apply an
// updater to the record it names when it is due (the expiry events). The updater is idempotent and marks its
// record, so a timer fired twice, by two replicas or after a lost lease, acts once.
type Timer struct {
	// Kind is TimerPresentation, TimerIPA or TimerJourney.
	Kind string `json:"kind"`
	ID   string `json:"id"`
}

// Timer kinds.
const (
	TimerPresentation = "presentation"
	TimerIPA          = "ipa"
	TimerJourney      = "journey"
)

// NewTimer returns the timer delivery of kind for record id, due at due rounded up to the millisecond (a
// backend that keeps milliseconds never hands it out before due, which the record would refuse as early). Its
// CreatedAt is its due time, so a store keeps it store.Retention past that, however far ahead it lies.
func NewTimer(kind, id string, due time.Time) *Delivery {
	if ms := due.Truncate(time.Millisecond); ms.Before(due) {
		due = ms.Add(time.Millisecond)
	}
	due = due.UTC()
	return &Delivery{ID: "tmr_" + kind + "_" + id + "_" + due.Format("20060102T150405.000"), Timer: &Timer{Kind: kind, ID: id},
		NextAttempt: due, CreatedAt: due}
}
