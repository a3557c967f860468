package web

import (
	"context"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/entra-verifier/entra-verifier/ipa"
	"github.com/entra-verifier/entra-verifier/routes"
	"github.com/entra-verifier/entra-verifier/store"
)

// Sessions is what the IPA routes need from the IPA domain (*ipa.Service).
type Sessions interface {
	Create(ctx context.Context, ownerHash string, consentAt time.Time) (*store.IPASession, error)
	Get(ctx context.Context, id, ownerHash string) (*store.IPASession, error)
	HandleCallback(ctx context.Context, token string, body []byte) (ipa.Outcome, error)
}

// sessionStatus is the JSON of GET /api/ipa/sessions/{id}.
type sessionStatus struct {
	SessionID  string                 `json:"sessionId"`
	Status     string                 `json:"status"`
	IdentityID string                 `json:"identityId,omitempty"`
	Identity   *store.IdentitySummary `json:"identity,omitempty"`
	UpdatedAt  string                 `json:"updatedAt"`
	ExpiresAt  string                 `json:"expiresAt"`
}

func (s *Server) mountSessions(api gin.IRoutes) {
	api.POST(routes.IPASessions, s.sameOrigin, s.rateLimit, s.createSession)
	api.GET(routes.IPASession, s.sessionStatus)
	api.GET(routes.IPAQR, s.sessionQR)
	api.GET(routes.IPAEvents, s.sessionEvents)
	api.POST(routes.IPACallback, s.sessionCallback)
	s.engine.GET(routes.IPADone, s.ipaDone)
}

// errConsentRequired answers a create without the terms' acceptance when VERIFIER_TERMS_URL is set.
var errConsentRequired = &Error{Status: http.StatusBadRequest, Code: "consent_required",
	Message: "accept the terms of use first: send {\"consent\": true}"}

// sessionBody is the optional JSON body of POST /api/ipa/sessions.
type sessionBody struct {
	Consent bool `json:"consent"`
}

func (s *Server) createSession(c *gin.Context) {
	var body sessionBody
	if err := readBody(c, &body); err != nil {
		writeError(c, err)
		return
	}
	var consentAt time.Time
	if s.cfg.Page.TermsURL != "" {
		if !body.Consent {
			writeError(c, errConsentRequired)
			return
		}
		consentAt = s.now().UTC()
	}
	owner, bind := s.owner(c)
	j, err := s.activeJourney(c.Request.Context(), owner)
	if err != nil {
		writeError(c, err)
		return
	}
	var sess *store.IPASession
	created := true
	if j != nil {
		sess, created, err = s.journeys.StartIPA(c.Request.Context(), j, owner, consentAt)
	} else {
		sess, err = s.sessions.Create(c.Request.Context(), owner, consentAt)
	}
	if err != nil {
		writeError(c, err)
		return
	}
	bind()
	if created { // not a journey's step resumed
		s.setNewest(c.Request.Context(), owner, store.KindIPASession, sess.ID, sess.DropAt())
		s.metrics.created.WithLabelValues("ipa").Inc()
	}
	c.JSON(http.StatusCreated, sessionCreated(sess))
}

// sessionCreated is the create answer of an IPA session, also part of its resume in GET /api/journey.
func sessionCreated(sess *store.IPASession) gin.H {
	return gin.H{
		"sessionId": sess.ID,
		"startUrl":  sess.StartURL,
		"qrCodeUrl": routes.IPAQRPath(sess.ID),
		"expiresAt": rfc3339(sess.ExpiresAt),
	}
}

// readSession reads the session named in c's path as c's browser sees it.
func (s *Server) readSession(c *gin.Context) (*store.IPASession, error) {
	return s.session(c.Request.Context(), c.Param("id"), s.ownerFromCookie(c))
}

// session reads IPA session id as seen by the browser whose owner hash is owner.
func (s *Server) session(ctx context.Context, id, owner string) (*store.IPASession, error) {
	sess, err := s.sessions.Get(ctx, id, owner)
	if err != nil {
		return nil, err
	}
	return ipa.View(sess, s.now()), nil
}

func sessionJSON(v *store.IPASession) sessionStatus {
	return sessionStatus{SessionID: v.ID, Status: string(v.Status), IdentityID: v.IdentityID, Identity: v.Identity,
		UpdatedAt: rfc3339(v.UpdatedAt), ExpiresAt: rfc3339(v.ExpiresAt)}
}

func (s *Server) sessionStatus(c *gin.Context) {
	v, err := s.readSession(c)
	if err != nil {
		writeError(c, err)
		return
	}
	c.JSON(http.StatusOK, sessionJSON(v))
}

func (s *Server) sessionQR(c *gin.Context) {
	v, err := s.readSession(c)
	if err != nil {
		writeError(c, err)
		return
	}
	s.serveQR(c, store.IPATopic(v.ID), v.StartURL, v.Status == store.IPAExpired)
}

func (s *Server) sessionEvents(c *gin.Context) {
	id, owner := c.Param("id"), s.ownerFromCookie(c) // the stream outlives c
	s.stream(c, "ipa", store.IPATopic(id), func(ctx context.Context) (snapshot, error) {
		v, err := s.session(ctx, id, owner)
		if err != nil {
			return snapshot{}, err
		}
		// A completed session may still learn its identity summary, so it is final once that is known (or the
		// session has expired: a summary that never came will not come now).
		final := v.Status.Final() && (v.Status != store.IPACompleted || !s.retrieval || v.Identity != nil || !s.now().Before(v.ExpiresAt))
		version := string(v.Status) // one event per status change, and one when the identity summary arrives
		if v.Identity != nil {
			version += "+identity"
		}
		return snapshot{view: sessionJSON(v), version: version, final: final, expiresAt: v.ExpiresAt}, nil
	})
}

func (s *Server) sessionCallback(c *gin.Context) {
	body, ok := s.callbackBody(c, "ipa", ipa.MaxCallbackBytes)
	if !ok {
		return
	}
	out, err := s.sessions.HandleCallback(c.Request.Context(), c.Param("token"), body)
	if err != nil {
		s.metrics.callbacks.WithLabelValues("ipa", "refused").Inc()
		writeError(c, err)
		return
	}
	outcome := "unchanged"
	if out.Changed {
		outcome = string(out.To)
	}
	s.metrics.callbacks.WithLabelValues("ipa", outcome).Inc()
	c.Status(http.StatusNoContent)
}

// ipaDone is where the phone lands when IPA ends: the browser that started the session goes back to its
// page, which resumes on the outcome; any other (IPA ran on another device) is told to go back there.
func (s *Server) ipaDone(c *gin.Context) {
	if owner := s.ownerFromCookie(c); owner != "" {
		if _, err := s.newestSession(c.Request.Context(), owner, nil); err == nil {
			c.Redirect(http.StatusSeeOther, routes.Page)
			return
		}
	}
	s.renderPage(c, http.StatusOK, "done.html", pageOptions{})
}
