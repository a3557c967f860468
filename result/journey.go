package result

import (
	"fmt"
	"time"

	"github.com/entra-verifier/entra-verifier/store"
)

// Journey statuses (SPEC section 9).
const (
	JourneyPending    = "pending"
	JourneyInProgress = "in_progress"
	JourneyCompleted  = "completed"
	JourneyExpired    = "expired"
)

// JourneyStatus is the JSON of GET /api/backend/journeys/{id}, and the data of journey.* events (without
// claims).
type JourneyStatus struct {
	JourneyID    string               `json:"journeyId"`
	Reference    string               `json:"reference"`
	Status       string               `json:"status"`
	Steps        []string             `json:"steps"`
	CreatedAt    string               `json:"createdAt"`
	UpdatedAt    string               `json:"updatedAt"`
	ExpiresAt    string               `json:"expiresAt"`
	IPA          *JourneyIPA          `json:"ipa"`
	Presentation *JourneyPresentation `json:"presentation"`
}

// JourneyIPA is the newest IPA attempt of a journey.
type JourneyIPA struct {
	SessionID        string `json:"sessionId"`
	Status           string `json:"status"`
	IdentityID       string `json:"identityId,omitempty"`
	LevelOfAssurance string `json:"levelOfAssurance,omitempty"`
}

// JourneyPresentation is the newest presentation attempt of a journey.
type JourneyPresentation struct {
	RequestID string         `json:"requestId"`
	Status    string         `json:"status"`
	Issuer    string         `json:"issuer,omitempty"`
	Reason    *string        `json:"reason"`
	Detail    *string        `json:"detail"`
	Claims    map[string]any `json:"claims,omitempty"`
}

// JourneyHead is what a journey status says of the journey itself.
type JourneyHead struct {
	ID, Reference, Status           string
	Steps                           []string
	CreatedAt, UpdatedAt, ExpiresAt time.Time
}

// HeadOf is the head of the journey a step record refers to, with status and updatedAt.
func HeadOf(r *store.JourneyRef, status string, updated time.Time) JourneyHead {
	return JourneyHead{ID: r.ID, Reference: r.Reference, Status: status, Steps: r.Steps, CreatedAt: r.CreatedAt,
		UpdatedAt: updated, ExpiresAt: r.ExpiresAt}
}

// NewJourneyStatus builds a journey status from its head and the views of its newest attempts (nil for a
// step not started); claims are the allowed subset of the presentation's (nil: none).
func NewJourneyStatus(h JourneyHead, s *store.IPASession, p *store.Presentation, claims Claims) JourneyStatus {
	st := JourneyStatus{JourneyID: h.ID, Reference: h.Reference, Status: h.Status, Steps: h.Steps,
		CreatedAt: rfc3339(h.CreatedAt), UpdatedAt: rfc3339(h.UpdatedAt), ExpiresAt: rfc3339(h.ExpiresAt)}
	if s != nil {
		st.IPA = &JourneyIPA{SessionID: s.ID, Status: string(s.Status), IdentityID: s.IdentityID}
		if s.Identity != nil {
			st.IPA.LevelOfAssurance = s.Identity.LevelOfAssurance
		}
	}
	if p != nil {
		st.Presentation = &JourneyPresentation{RequestID: p.ID, Status: string(p.Status), Issuer: p.Issuer,
			Reason: nullable(p.Reason), Detail: nullable(p.Detail), Claims: claims.Filter(p.Claims)}
	}
	return st
}

// sessionOf is the IPA step a presentation step's JourneyRef remembers, as a session view.
func sessionOf(r *store.JourneyRef) *store.IPASession {
	if r == nil || r.IPA == nil {
		return nil
	}
	s := &store.IPASession{ID: r.IPA.SessionID, Status: store.IPACompleted, IdentityID: r.IPA.IdentityID, UpdatedAt: r.IPA.UpdatedAt}
	if r.IPA.LevelOfAssurance != "" {
		s.Identity = &store.IdentitySummary{LevelOfAssurance: r.IPA.LevelOfAssurance}
	}
	return s
}

func nullable(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// journeyEvent is the payload of journey.completed and journey.expired.
type journeyEvent struct {
	Type      string        `json:"type"`
	Timestamp string        `json:"timestamp"`
	Data      JourneyStatus `json:"data"`
}

// JourneyDelivery returns the delivery of the journey.<status> event carrying st without claims, due after
// (so that it follows the step event queued with it).
func (w *Webhook) JourneyDelivery(st JourneyStatus, after time.Time) (*store.Delivery, error) {
	if st.Presentation != nil {
		p := *st.Presentation
		p.Claims = nil
		st.Presentation = &p
	}
	now := w.now().UTC()
	d, err := newDelivery(journeyEvent{Type: "journey." + st.Status, Timestamp: rfc3339(now), Data: st}, now)
	if err != nil {
		return nil, fmt.Errorf("encode journey event: %w", err)
	}
	if next := after.Add(time.Millisecond); next.After(d.NextAttempt) { // a later millisecond: the queue's order
		d.NextAttempt = next
	}
	return d, nil
}
