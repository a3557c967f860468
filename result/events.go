package result

import (
	"time"

	"github.com/entra-verifier/entra-verifier/store"
)

// Events turns the records that end into the result events stored with their transition (the domain
// services' Events).
type Events struct {
	Webhook *Webhook
	// Claims are the claims an event may carry (VERIFIER_RESULT_CLAIMS).
	Claims Claims
}

// PresentationEnded returns the delivery of p's presentation.verified or presentation.failed event.
func (e *Events) PresentationEnded(p *store.Presentation) (*store.Delivery, error) {
	return e.Webhook.Delivery(PresentationEvent(p, e.Claims, e.Webhook.now()))
}

// SessionEnded returns the delivery of s's ipa.* event.
func (e *Events) SessionEnded(s *store.IPASession) (*store.Delivery, error) {
	return e.Webhook.Delivery(SessionEvent(s, e.Webhook.now()))
}

// PresentationExpired returns the delivery of p's presentation.expired event (p expired unfinished).
func (e *Events) PresentationExpired(p *store.Presentation) (*store.Delivery, error) {
	v := *p
	v.Status, v.Claims = store.PresentationExpired, nil
	return e.Webhook.Delivery(PresentationEvent(&v, e.Claims, e.Webhook.now()))
}

// SessionExpired returns the delivery of s's ipa.expired event (s expired unfinished).
func (e *Events) SessionExpired(s *store.IPASession) (*store.Delivery, error) {
	v := *s
	v.Status = store.IPAExpired
	return e.Webhook.Delivery(SessionEvent(&v, e.Webhook.now()))
}

// JourneyCompleted returns the delivery of journey.completed for the journey whose final step (the
// presentation p, or the session s of an IPA-only journey) just completed it; it follows the step's event.
func (e *Events) JourneyCompleted(s *store.IPASession, p *store.Presentation) (*store.Delivery, error) {
	var ref *store.JourneyRef
	var updated time.Time
	if p != nil {
		ref, updated, s = p.Journey, p.UpdatedAt, sessionOf(p.Journey)
	} else {
		ref, updated = s.Journey, s.UpdatedAt
	}
	st := NewJourneyStatus(HeadOf(ref, JourneyCompleted, updated), s, p, nil)
	return e.Webhook.JourneyDelivery(st, e.Webhook.now())
}

// JourneyExpired returns the delivery of journey.expired carrying st (without claims).
func (e *Events) JourneyExpired(st JourneyStatus) (*store.Delivery, error) {
	st.Status = JourneyExpired
	return e.Webhook.JourneyDelivery(st, time.Time{})
}
