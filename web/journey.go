package web

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/entra-verifier/entra-verifier/routes"
	"github.com/entra-verifier/entra-verifier/store"
)

// journeyAnswer is the JSON of GET /api/journey (SPEC section 4).
type journeyAnswer struct {
	// Journey is the backend journey this browser was handed by a launch link while it accepts steps (SPEC
	// section 9); null for a browser-started journey.
	Journey             *pageJourney        `json:"journey"`
	IPASession          *sessionResume      `json:"ipaSession"`
	PresentationRequest *presentationResume `json:"presentationRequest"`
	Consent             *consentJSON        `json:"consent,omitempty"`
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
		sess, err := s.newestSession(ctx, owner, j)
		switch {
		case err == nil:
			out.IPASession = &sessionResume{sessionStatus: sessionJSON(sess)}
			if !sess.Status.Final() {
				out.IPASession.StartURL, out.IPASession.QRCodeURL = sess.StartURL, routes.IPAQRPath(sess.ID)
			}
			if out.Consent != nil && !sess.ConsentAt.IsZero() {
				out.Consent.AcceptedAt = rfc3339(sess.ConsentAt)
			}
		case !errors.Is(err, store.ErrNotFound):
			writeError(c, err)
			return
		}
	}
	if s.presentations != nil {
		p, err := s.newestPresentation(ctx, owner, j)
		switch {
		case err == nil:
			out.PresentationRequest = &presentationResume{presentationStatus: presentationJSON(p)}
			if !p.Status.Final() {
				out.PresentationRequest.URL, out.PresentationRequest.QRCodeURL = p.URL, routes.PresentationQRPath(p.ID)
			}
		case !errors.Is(err, store.ErrNotFound):
			writeError(c, err)
			return
		}
	}
	c.JSON(http.StatusOK, out)
}

// newestSession reads the IPA session the browser owner's page resumes, as it sees it: the one of its journey
// j when it is in one, else the newest it created.
func (s *Server) newestSession(ctx context.Context, owner string, j *store.Journey) (*store.IPASession, error) {
	id, err := s.newest(ctx, owner, store.KindIPASession, j, func(j *store.Journey) string { return j.IPASessionID })
	if err != nil {
		return nil, err
	}
	return s.session(ctx, id, owner)
}

// newestPresentation is newestSession for presentation requests.
func (s *Server) newestPresentation(ctx context.Context, owner string, j *store.Journey) (*store.Presentation, error) {
	id, err := s.newest(ctx, owner, store.KindPresentation, j, func(j *store.Journey) string { return j.PresentationID })
	if err != nil {
		return nil, err
	}
	return s.presentation(ctx, id, owner)
}

// newest is the id of the owner's record of kind the page resumes: its journey's step (step(j), none yet when
// empty) or, outside a journey, the newest in the owner index.
func (s *Server) newest(ctx context.Context, owner string, kind store.Kind, j *store.Journey, step func(*store.Journey) string) (string, error) {
	if j == nil {
		return s.owners.Newest(ctx, owner, kind)
	}
	if id := step(j); id != "" {
		return id, nil
	}
	return "", store.ErrNotFound
}

// setNewest records a record the browser owner just created in the owner index, for as long as the record
// is kept (until). A failure costs only the resume after a reload, so it is logged, not answered.
func (s *Server) setNewest(ctx context.Context, owner string, kind store.Kind, id string, until time.Time) {
	if err := s.owners.SetNewest(ctx, owner, kind, id, until); err != nil {
		slog.WarnContext(ctx, "owner index not updated: a reload will not resume", "kind", kind, "err", err)
	}
}

// sessionResume is a session's status read and, while it is not final, the links of its create answer
// (sessionId and expiresAt are in both).
type sessionResume struct {
	sessionStatus
	StartURL  string `json:"startUrl,omitempty"`
	QRCodeURL string `json:"qrCodeUrl,omitempty"`
}

// presentationResume is presentationStatus and, while the request is not final, its create answer's links.
type presentationResume struct {
	presentationStatus
	URL       string `json:"url,omitempty"`
	QRCodeURL string `json:"qrCodeUrl,omitempty"`
}
