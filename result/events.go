package result

import "github.com/entra-verifier/entra-verifier/store"

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
