package web

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/entra-verifier/entra-verifier/routes"
	"github.com/entra-verifier/entra-verifier/store"
	"github.com/entra-verifier/entra-verifier/verifier"
)

// Presentations is what the presentation routes need from the verifier domain (*verifier.Service).
type Presentations interface {
	Create(ctx context.Context, ownerHash, returnTo string) (*store.Presentation, error)
	Get(ctx context.Context, id, ownerHash string) (*store.Presentation, error)
	HandOff(ctx context.Context, id, ownerHash string) (*store.Presentation, error)
	HandleCallback(ctx context.Context, apiKey string, body []byte) (verifier.Outcome, error)
}

// MaxCallbackBody bounds Microsoft's callback body (claims with a portrait fit well within).
const MaxCallbackBody = 4 << 20

// presentationStatus is the JSON of GET /api/verifier/presentation-requests/{id}.
type presentationStatus struct {
	RequestID string         `json:"requestId"`
	Status    string         `json:"status"`
	Claims    map[string]any `json:"claims,omitempty"`
	Issuer    string         `json:"issuer,omitempty"`
	Reason    string         `json:"reason,omitempty"`
	Detail    string         `json:"detail,omitempty"`
	ExpiresAt string         `json:"expiresAt"`
}

func (s *Server) mountPresentations(api gin.IRoutes) {
	api.POST(routes.PresentationRequests, s.sameOrigin, s.rateLimit, s.createPresentation)
	api.GET(routes.Presentation, s.presentationStatus)
	api.GET(routes.PresentationQR, s.presentationQR)
	api.GET(routes.PresentationEvents, s.presentationEvents)
	if s.handoff != nil {
		api.GET(routes.PresentationReturn, s.presentationReturn)
	}
	api.POST(routes.EntraCallback, s.presentationCallback)
}

func (s *Server) createPresentation(c *gin.Context) {
	returnTo, err := s.returnTo(c)
	if err != nil {
		writeError(c, err)
		return
	}
	owner, bind := s.owner(c)
	j, err := s.activeJourney(c.Request.Context(), owner)
	if err != nil {
		writeError(c, err)
		return
	}
	var p *store.Presentation
	created := true
	if j != nil { // the journey's return URL, if any, is the one
		p, created, err = s.journeys.StartPresentation(c.Request.Context(), j, owner)
	} else {
		p, err = s.presentations.Create(c.Request.Context(), owner, returnTo)
	}
	if err != nil {
		writeError(c, err)
		return
	}
	bind()
	if created { // not a journey's step resumed
		s.setNewest(c.Request.Context(), owner, store.KindPresentation, p.ID, p.DropAt())
		s.metrics.created.WithLabelValues("presentation").Inc()
	}
	c.JSON(http.StatusCreated, presentationCreated(p))
}

// presentationCreated is the create answer of a presentation request, also part of its resume in GET /api/journey.
func presentationCreated(p *store.Presentation) gin.H {
	return gin.H{
		"requestId": p.ID,
		"url":       p.URL,
		"qrCodeUrl": routes.PresentationQRPath(p.ID),
		"expiresAt": rfc3339(p.ExpiresAt),
	}
}

// readPresentation reads the request named in c's path as c's browser sees it.
func (s *Server) readPresentation(c *gin.Context) (*store.Presentation, error) {
	return s.presentation(c.Request.Context(), c.Param("id"), s.ownerFromCookie(c))
}

// presentation reads request id as seen by the browser whose owner hash is owner.
func (s *Server) presentation(ctx context.Context, id, owner string) (*store.Presentation, error) {
	p, err := s.presentations.Get(ctx, id, owner)
	if err != nil {
		return nil, err
	}
	return verifier.View(p, s.now()), nil
}

func presentationJSON(p *store.Presentation) presentationStatus {
	return presentationStatus{
		RequestID: p.ID, Status: string(p.Status), Claims: p.Claims, Issuer: p.Issuer,
		Reason: p.Reason, Detail: p.Detail, ExpiresAt: rfc3339(p.ExpiresAt),
	}
}

func (s *Server) presentationStatus(c *gin.Context) {
	p, err := s.readPresentation(c)
	if err != nil {
		writeError(c, err)
		return
	}
	c.JSON(http.StatusOK, presentationJSON(p))
}

func (s *Server) presentationQR(c *gin.Context) {
	p, err := s.readPresentation(c)
	if err != nil {
		writeError(c, err)
		return
	}
	s.serveQR(c, store.PresentationTopic(p.ID), p.URL, p.Status == store.PresentationExpired)
}

func (s *Server) presentationEvents(c *gin.Context) {
	id, owner := c.Param("id"), s.ownerFromCookie(c) // the stream outlives c
	s.stream(c, "presentation", store.PresentationTopic(id), func(ctx context.Context) (snapshot, error) {
		p, err := s.presentation(ctx, id, owner)
		if err != nil {
			return snapshot{}, err
		}
		return snapshot{
			view: presentationJSON(p), version: string(p.Status), // one event per status change
			final: p.Status.Final(), expiresAt: p.ExpiresAt,
		}, nil
	})
}

func (s *Server) presentationCallback(c *gin.Context) {
	body, ok := s.callbackBody(c, "entra", MaxCallbackBody)
	if !ok {
		return
	}
	out, err := s.presentations.HandleCallback(c.Request.Context(), c.GetHeader("api-key"), body)
	if err != nil {
		s.metrics.callbacks.WithLabelValues("entra", "refused").Inc()
		writeError(c, err)
		return
	}
	outcome := "unchanged"
	if out.Changed {
		outcome = string(out.To)
		if out.Reason != "" {
			s.metrics.policy.WithLabelValues(out.Reason).Inc()
		}
	}
	s.metrics.callbacks.WithLabelValues("entra", outcome).Inc()
	c.Status(http.StatusOK)
}

// callbackBody reads the body of a callback from Microsoft or IDEMIA (kind), at most limit bytes: beyond it
// the answer is 413, an unreadable body 400, and ok is false.
func (s *Server) callbackBody(c *gin.Context, kind string, limit int64) (body []byte, ok bool) {
	body, err := readLimited(c, limit)
	if err != nil {
		if errors.Is(err, errTooLarge) {
			s.metrics.callbacks.WithLabelValues(kind, "too_large").Inc()
		}
		writeError(c, err)
		return nil, false
	}
	return body, true
}

// errTooLarge marks a body over its route's limit (413).
var errTooLarge = errors.New("body too large")

// presize bounds the buffer readLimited sizes from Content-Length before a byte has arrived (and, for a
// callback, before its api-key is checked): a larger body grows as it comes.
const presize = 8 << 10

// readLimited reads c's body, at most limit bytes: beyond it the error is a 413, an unreadable body a 400;
// both are ready for writeError. A body announcing up to presize bytes is read into a buffer of its size
// (net/http ends a body at its Content-Length).
func readLimited(c *gin.Context, limit int64) ([]byte, error) {
	if n := c.Request.ContentLength; n > 0 && n <= min(limit, presize) {
		body := make([]byte, n)
		if _, err := io.ReadFull(c.Request.Body, body); err != nil {
			return nil, unreadable(err)
		}
		return body, nil
	}
	body, err := io.ReadAll(http.MaxBytesReader(c.Writer, c.Request.Body, limit))
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig):
		return nil, &Error{Status: http.StatusRequestEntityTooLarge, Code: "too_large",
			Message: fmt.Sprintf("the body exceeds %d bytes", limit), Err: fmt.Errorf("%w: %w", errTooLarge, err)}
	case err != nil:
		return nil, unreadable(err)
	}
	return body, nil
}

func unreadable(err error) error {
	return &Error{Status: http.StatusBadRequest, Code: "malformed", Message: "the body could not be read", Err: err}
}

func rfc3339(t time.Time) string { return t.UTC().Format(time.RFC3339) }
