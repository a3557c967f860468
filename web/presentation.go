package web

import (
	"context"
	"errors"
	"io"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

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

func (s *Server) mountPresentations(api *gin.RouterGroup) {
	g := api.Group("/verifier")
	g.POST("/presentation-requests", s.sameOrigin, s.rateLimit, s.createPresentation)
	g.GET("/presentation-requests/:id", s.presentationStatus)
	g.GET("/presentation-requests/:id/qr.png", s.presentationQR)
	g.GET("/presentation-requests/:id/events", s.presentationEvents)
	if s.handoff != nil {
		g.GET("/presentation-requests/:id/return", s.presentationReturn)
	}
	g.POST("/callback", limitBody(MaxCallbackBody), s.presentationCallback)
}

func (s *Server) createPresentation(c *gin.Context) {
	returnTo, err := s.returnTo(c)
	if err != nil {
		writeError(c, err)
		return
	}
	owner, bind := s.owner(c)
	p, err := s.presentations.Create(c.Request.Context(), owner, returnTo)
	if err != nil {
		writeError(c, err)
		return
	}
	bind()
	s.metrics.created.WithLabelValues("presentation").Inc()
	c.JSON(http.StatusCreated, gin.H{
		"requestId": p.ID,
		"url":       p.URL,
		"qrCodeUrl": "/api/verifier/presentation-requests/" + p.ID + "/qr.png",
		"expiresAt": rfc3339(p.ExpiresAt),
	})
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
	body, err := io.ReadAll(c.Request.Body)
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			s.metrics.callbacks.WithLabelValues("entra", "too_large").Inc()
			writeError(c, &Error{Status: http.StatusRequestEntityTooLarge, Code: "too_large", Message: "the body exceeds 4 MiB", Err: err})
			return
		}
		writeError(c, &Error{Status: http.StatusBadRequest, Code: "malformed", Message: "the body could not be read", Err: err})
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

func rfc3339(t time.Time) string { return t.UTC().Format(time.RFC3339) }
