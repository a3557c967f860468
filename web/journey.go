package web

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"maps"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/entra-verifier/entra-verifier/store"
)

// journeyAnswer is the JSON of GET /api/journey (SPEC section 4).
type journeyAnswer struct {
	// Journey is the backend journey this browser was handed by a launch link while it accepts steps (SPEC
	// section 9); null for a browser-started journey.
	Journey             *pageJourney   `json:"journey"`
	IPASession          map[string]any `json:"ipaSession"`
	PresentationRequest map[string]any `json:"presentationRequest"`
	Consent             *consentJSON   `json:"consent,omitempty"`
}

// pageJourney is what the page needs of a backend journey: which steps to show, in which language.
type pageJourney struct {
	Steps  []string `json:"steps"`
	Locale *string  `json:"locale"` // null when the backend gave none
}

// consentJSON says which terms the page asks the person to accept, and when this browser's newest IPA
// session accepted them.
type consentJSON struct {
	TermsURL   string `json:"termsUrl"`
	PrivacyURL string `json:"privacyUrl,omitempty"`
	AcceptedAt string `json:"acceptedAt,omitempty"`
}

// journey answers the browser's newest IPA session and presentation request, each as its status read plus,
// while not final, its create answer, so a reload or a return from another app resumes where it was.
func (s *Server) journey(c *gin.Context) {
	ctx := c.Request.Context()
	var out journeyAnswer
	if s.cfg.Page.TermsURL != "" {
		out.Consent = &consentJSON{TermsURL: s.cfg.Page.TermsURL, PrivacyURL: s.cfg.Page.PrivacyURL}
	}
	owner := s.ownerFromCookie(c)
	if owner == "" {
		c.JSON(http.StatusOK, out)
		return
	}
	j, err := s.activeJourney(c.Request.Context(), owner)
	if err != nil {
		writeError(c, err)
		return
	}
	if j != nil {
		out.Journey = &pageJourney{Steps: j.Steps}
		if j.Locale != "" {
			out.Journey.Locale = &j.Locale
		}
	}
	if s.sessions != nil {
		sess, err := s.newestSession(ctx, owner)
		switch {
		case err == nil:
			out.IPASession = merge(sessionJSON(sess), !sess.Status.Final(), sessionCreated(sess))
			if out.Consent != nil && !sess.ConsentAt.IsZero() {
				out.Consent.AcceptedAt = rfc3339(sess.ConsentAt)
			}
		case !errors.Is(err, store.ErrNotFound):
			writeError(c, err)
			return
		}
	}
	if s.presentations != nil {
		p, err := s.newestPresentation(ctx, owner)
		switch {
		case err == nil:
			out.PresentationRequest = merge(presentationJSON(p), !p.Status.Final(), presentationCreated(p))
		case !errors.Is(err, store.ErrNotFound):
			writeError(c, err)
			return
		}
	}
	c.JSON(http.StatusOK, out)
}

// newestSession reads the newest IPA session the browser owner created, as it sees it.
func (s *Server) newestSession(ctx context.Context, owner string) (*store.IPASession, error) {
	id, err := s.owners.Newest(ctx, owner, store.KindIPASession)
	if err != nil {
		return nil, err
	}
	return s.session(ctx, id, owner)
}

// newestPresentation reads the newest presentation request the browser owner created, as it sees it.
func (s *Server) newestPresentation(ctx context.Context, owner string) (*store.Presentation, error) {
	id, err := s.owners.Newest(ctx, owner, store.KindPresentation)
	if err != nil {
		return nil, err
	}
	return s.presentation(ctx, id, owner)
}

// setNewest records a record the browser owner just created in the owner index. A failure costs only the
// resume after a reload, so it is logged, not answered.
func (s *Server) setNewest(ctx context.Context, owner string, kind store.Kind, id string, created time.Time) {
	if err := s.owners.SetNewest(ctx, owner, kind, id, created.Add(store.Retention)); err != nil {
		slog.WarnContext(ctx, "owner index not updated: a reload will not resume", "kind", kind, "err", err)
	}
}

// merge returns the status read view as a JSON object, with the create answer's fields added when withCreate.
func merge(view any, withCreate bool, created gin.H) map[string]any {
	out := map[string]any{}
	if b, err := json.Marshal(view); err == nil {
		_ = json.Unmarshal(b, &out) // a struct of strings, maps and pointers: it always round-trips
	}
	if withCreate {
		maps.Copy(out, map[string]any(created))
	}
	return out
}
