package web

import (
	"bytes"
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/entra-verifier/entra-verifier/config"
	"github.com/entra-verifier/entra-verifier/ipa"
	"github.com/entra-verifier/entra-verifier/journey"
	"github.com/entra-verifier/entra-verifier/result"
	"github.com/entra-verifier/entra-verifier/routes"
	"github.com/entra-verifier/entra-verifier/store"
)

// Journeys is what the backend routes, the launch link and the page need from journeys (*journey.Service).
type Journeys interface {
	Create(ctx context.Context, keyName string, r *journey.CreateRequest) (*store.Journey, string, error)
	Status(ctx context.Context, id string) (result.JourneyStatus, error)
	Identity(ctx context.Context, id string) ([]byte, error)
	Proof(ctx context.Context, id string) (*ipa.Proof, error)
	Open(ctx context.Context, token, ownerHash string) (*store.Journey, error)
	Active(ctx context.Context, ownerHash string) (*store.Journey, error)
	StartIPA(ctx context.Context, j *store.Journey, ownerHash string, consentAt time.Time) (*store.IPASession, bool, error)
	StartPresentation(ctx context.Context, j *store.Journey, ownerHash string) (*store.Presentation, bool, error)
}

// apiKeyNameKey holds, in the gin context, the NAME of the backend key a request was authenticated with.
const apiKeyNameKey = "verifier.api_key"

var errUnauthorized = &Error{Status: http.StatusUnauthorized, Code: "unauthorized", Message: "missing, wrong or revoked API key"}

// mountBackend mounts the backend routes; not browser routes: no cookie, no Origin rule, no per-IP limit.
func (s *Server) mountBackend(api *gin.RouterGroup) {
	b := api.Group("", s.backendAuth)
	b.POST(routes.Journeys, s.globalLimit, s.createJourney)
	b.GET(routes.Journey, s.journeyStatus)
	b.GET(routes.JourneyIdentity, s.journeyIdentity)
	b.GET(routes.JourneyProof, s.journeyProof)
}

// backendAuth lets a request on with a valid key of VERIFIER_API_KEYS (every key compared in constant
// time); 401 otherwise. The key's NAME is logged, never the key.
func (s *Server) backendAuth(c *gin.Context) {
	name, ok := s.apiKeyName(c.GetHeader("Authorization"))
	if !ok {
		writeError(c, errUnauthorized)
		return
	}
	c.Set(apiKeyNameKey, name)
	c.Next()
}

// apiKeyName returns the NAME of the key in an "Authorization: Bearer KEY" header value.
func (s *Server) apiKeyName(header string) (string, bool) {
	key, ok := strings.CutPrefix(header, "Bearer ")
	if !ok || key == "" {
		return "", false
	}
	found := ""
	for _, k := range s.cfg.APIKeys { // no early exit: the time does not say which key matched
		if subtle.ConstantTimeCompare([]byte(key), []byte(k.Key)) == 1 {
			found = k.Name
		}
	}
	return found, found != ""
}

// backendNoRoute answers an unknown path under /api/backend/: 401 without a valid key, 404 with one.
func (s *Server) backendNoRoute(c *gin.Context) bool {
	if !s.backendOn || !strings.HasPrefix(c.Request.URL.Path, routes.Backend) {
		return false
	}
	if _, ok := s.apiKeyName(c.GetHeader("Authorization")); !ok {
		writeError(c, errUnauthorized)
		return true
	}
	return false
}

// globalLimit counts a backend create against VERIFIER_RATE_LIMIT_GLOBAL only.
func (s *Server) globalLimit(c *gin.Context) {
	s.limitBy(c, []limit{{"global", "create:global", s.cfg.RateLimitGlobal}})
}

func (s *Server) createJourney(c *gin.Context) {
	raw, err := readLimited(c, journey.MaxCreateBody)
	if err != nil {
		writeError(c, err)
		return
	}
	var req journey.CreateRequest
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil || dec.More() {
		writeError(c, &Error{Status: http.StatusBadRequest, Code: "malformed", Message: "the body is not a journey request (unknown fields are refused)", Err: err})
		return
	}
	if err := req.Validate(journey.Halves{IPA: s.sessions != nil, Presentation: s.presentations != nil}); err != nil {
		writeError(c, &Error{Status: http.StatusBadRequest, Code: "invalid", Message: err.Error()})
		return
	}
	if req.ReturnURL != "" {
		var err error
		if req.ReturnURL, err = s.allowedReturn(req.ReturnURL); err != nil {
			writeError(c, err)
			return
		}
	}
	j, launch, err := s.journeys.Create(c.Request.Context(), c.GetString(apiKeyNameKey), &req)
	if err != nil {
		writeError(c, err)
		return
	}
	s.metrics.created.WithLabelValues("journey").Inc()
	c.JSON(http.StatusCreated, gin.H{"journeyId": j.ID, "launchUrl": launch, "expiresAt": rfc3339(j.ExpiresAt)})
}

func (s *Server) journeyStatus(c *gin.Context) {
	st, err := s.journeys.Status(c.Request.Context(), c.Param("journeyId"))
	if err != nil {
		writeError(c, err)
		return
	}
	c.JSON(http.StatusOK, st)
}

func (s *Server) journeyIdentity(c *gin.Context) {
	payload, err := s.journeys.Identity(c.Request.Context(), c.Param("journeyId"))
	if err != nil {
		writeError(c, err)
		return
	}
	c.Data(http.StatusOK, "application/json", payload)
}

// journeyProof streams the proof archive through as IDEMIA sends it, never holding it whole.
func (s *Server) journeyProof(c *gin.Context) {
	ctx := c.Request.Context()
	proof, err := s.journeys.Proof(ctx, c.Param("journeyId"))
	if err != nil {
		writeError(c, err)
		return
	}
	defer proof.Body.Close()
	ct := proof.ContentType
	if ct == "" {
		ct = "application/octet-stream"
	}
	c.Header("Content-Type", ct)
	c.Status(http.StatusOK)
	if _, err := io.Copy(c.Writer, proof.Body); err != nil && !errors.Is(err, context.Canceled) {
		slog.WarnContext(ctx, "proof stream cut short", "journeyId", c.Param("journeyId"), "err", err)
	}
}

// keyNames lists the names of keys, for the start-up log.
func keyNames(keys []config.APIKey) []string {
	names := make([]string, len(keys))
	for i, k := range keys {
		names[i] = k.Name
	}
	return names
}
