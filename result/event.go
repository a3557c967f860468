package result

import (
	"strings"
	"time"

	"github.com/entra-verifier/entra-verifier/store"
)

// Event is the webhook payload, in the Standard Webhooks shape {type, timestamp, data}.
type Event struct {
	Type      string `json:"type"`
	Timestamp string `json:"timestamp"`
	Data      Data   `json:"data"`
	// ClaimsUntil is when Data.Claims lapse (zero without claims); a delivery still pending then is sent
	// without them.
	ClaimsUntil time.Time `json:"-"`
}

// Data describes the finished request or session.
type Data struct {
	RequestID string         `json:"requestId,omitempty"`
	SessionID string         `json:"sessionId,omitempty"`
	Status    string         `json:"status"`
	Reason    string         `json:"reason,omitempty"`
	Detail    string         `json:"detail,omitempty"`
	Issuer    string         `json:"issuer,omitempty"`
	Claims    map[string]any `json:"claims,omitempty"`
	// ClaimsExpired says the claims were removed because the delivery was still pending when they lapsed.
	ClaimsExpired    bool   `json:"claimsExpired,omitempty"`
	IdentityID       string `json:"identityId,omitempty"`
	LevelOfAssurance string `json:"levelOfAssurance,omitempty"`
	CreatedAt        string `json:"createdAt"`
	UpdatedAt        string `json:"updatedAt"`
}

// Claims is an allow-list of claim names passed on to the relying party; the portrait goes only if listed.
type Claims []string

// ParseClaims reads a comma-separated allow-list.
func ParseClaims(list string) Claims {
	var out Claims
	for _, name := range strings.Split(list, ",") {
		if name = strings.TrimSpace(name); name != "" {
			out = append(out, name)
		}
	}
	return out
}

// Filter returns the allowed claims of all; nil when none is allowed or present.
func (c Claims) Filter(all map[string]any) map[string]any {
	var out map[string]any
	for _, name := range c {
		if v, ok := all[name]; ok {
			if out == nil {
				out = map[string]any{}
			}
			out[name] = v
		}
	}
	return out
}

// PresentationEvent describes a presentation request that reached verified or failed.
func PresentationEvent(p *store.Presentation, allowed Claims, now time.Time) Event {
	ev := Event{Type: "presentation." + string(p.Status), Timestamp: rfc3339(now), Data: Data{
		RequestID: p.ID, Status: string(p.Status), Reason: p.Reason, Detail: p.Detail, Issuer: p.Issuer,
		Claims: allowed.Filter(p.Claims), CreatedAt: rfc3339(p.CreatedAt), UpdatedAt: rfc3339(p.UpdatedAt),
	}}
	if ev.Data.Claims != nil {
		ev.ClaimsUntil = p.ClaimsEnd()
	}
	return ev
}

// SessionEvent describes an IPA session that ended (completed, error or timeout).
func SessionEvent(s *store.IPASession, now time.Time) Event {
	d := Data{SessionID: s.ID, Status: string(s.Status), IdentityID: s.IdentityID, CreatedAt: rfc3339(s.CreatedAt), UpdatedAt: rfc3339(s.UpdatedAt)}
	if s.Identity != nil {
		d.LevelOfAssurance = s.Identity.LevelOfAssurance
	}
	return Event{Type: "ipa." + string(s.Status), Timestamp: rfc3339(now), Data: d}
}

func rfc3339(t time.Time) string { return t.UTC().Format(time.RFC3339) }
