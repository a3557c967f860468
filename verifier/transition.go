package verifier

import (
	"time"

	"github.com/entra-verifier/entra-verifier/store"
)

// Rules are what a transition needs besides the callback: our own policy checks and how long verified
// claims stay readable (0 keeps them until the request expires).
type Rules struct {
	Policy          Policy
	ClaimsRetention time.Duration
}

// Transition is the state machine of a presentation request: it moves p as cb says at now and reports
// whether anything changed. Final statuses never change, so repeats and late steps are no-ops; a
// presentation_verified that breaks our policy fails the request with the policy's reason code.
func Transition(p *store.Presentation, cb *Callback, now time.Time, r Rules) bool {
	if p.Status.Final() {
		return false
	}
	switch cb.RequestStatus {
	case StatusRequestRetrieved:
		if p.Status != store.PresentationCreated {
			return false
		}
		p.Status = store.PresentationRetrieved
	case StatusPresentationVerified:
		if reason := r.Policy.Check(cb, now); reason != "" {
			p.Status, p.Reason = store.PresentationFailed, reason
			break
		}
		p.Status = store.PresentationVerified
		p.Claims, p.Issuer = cb.Claims()
		if r.ClaimsRetention > 0 {
			p.ClaimsUntil = now.Add(r.ClaimsRetention)
		}
	case StatusPresentationError:
		p.Status, p.Reason = store.PresentationFailed, ReasonPresentationError
		if cb.Error != nil {
			p.Detail = cb.Error.Code
		}
	default:
		return false
	}
	p.UpdatedAt = now
	return true
}

func knownStatus(s string) bool {
	return s == StatusRequestRetrieved || s == StatusPresentationVerified || s == StatusPresentationError
}
