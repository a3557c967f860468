package web

import (
	"crypto/rand"
	"log/slog"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/entra-verifier/entra-verifier/logging"
	"github.com/entra-verifier/entra-verifier/routes"
)

var validRequestID = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)

// requestID takes a sane X-Request-Id from the caller or makes one, and puts it in the context and answer.
func requestID(c *gin.Context) {
	id := c.GetHeader("X-Request-Id")
	if !validRequestID.MatchString(id) {
		id = rand.Text()[:20]
	}
	c.Header("X-Request-Id", id)
	c.Request = c.Request.WithContext(logging.WithRequestID(c.Request.Context(), id))
	c.Next()
}

// accessLog logs one line per request with the route template, never the raw path (IPA callback paths
// carry secrets) nor the query, and counts it under labels that take known values only: the route
// template ("unmatched" for none) and a standard method or "other".
func (s *Server) accessLog(c *gin.Context) {
	start := time.Now()
	c.Next()
	route := c.FullPath()
	if route == "" {
		route = "unmatched"
	}
	status, method := c.Writer.Status(), methodLabel(c.Request.Method)
	s.metrics.observe(route, method, status, time.Since(start))
	if c.GetString(errorCodeKey) == "store_unavailable" {
		s.metrics.storeErrors.Inc()
	}
	level := slog.LevelInfo
	switch {
	case route == routes.Healthz || route == routes.Readyz || route == routes.Metrics:
		level = slog.LevelDebug
	case status < 300 && (route == routes.EntraCallback || route == routes.IPACallback):
		level = slog.LevelDebug // the domain logs what an accepted callback did; one line per callback is enough
	}
	ctx := c.Request.Context()
	if !slog.Default().Enabled(ctx, level) {
		return
	}
	attrs := []any{"method", method, "route", route,
		"status", status, "duration_ms", float64(time.Since(start).Microseconds()) / 1000, "client_ip", c.ClientIP()}
	if name := c.GetString(apiKeyNameKey); name != "" {
		attrs = append(attrs, "keyName", name) // the key's NAME, never the key ("apiKey" would be redacted)
	}
	slog.Log(ctx, level, "http request", attrs...)
}

// recovery answers 500 through writeError when a handler panics.
func recovery(c *gin.Context) {
	defer func() {
		if r := recover(); r != nil {
			if r == http.ErrAbortHandler {
				panic(r)
			}
			slog.ErrorContext(c.Request.Context(), "panic in handler", "panic", r)
			writeError(c, &Error{Status: http.StatusInternalServerError, Code: "internal", Message: "internal error"})
		}
	}()
	c.Next()
}

// securityHeaders are set on every answer; HSTS when the public URL is https.
func (s *Server) securityHeaders(c *gin.Context) {
	h := c.Writer.Header()
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	if s.cfg.PublicURL != nil && s.cfg.PublicURL.Scheme == "https" {
		h.Set("Strict-Transport-Security", "max-age=63072000; includeSubDomains")
	}
	c.Next()
}

func noStore(c *gin.Context) {
	c.Header("Cache-Control", "no-store")
	c.Next()
}

// sameOrigin refuses browser POSTs from another site (SPEC section 8); server-to-server callbacks carry
// neither header and pass.
func (s *Server) sameOrigin(c *gin.Context) {
	origin := c.GetHeader("Origin")
	foreign := false
	if origin != "" {
		u, err := url.Parse(origin)
		foreign = err != nil || normalOrigin(u) != s.origin
	}
	if foreign || c.GetHeader("Sec-Fetch-Site") == "cross-site" {
		writeError(c, &Error{Status: http.StatusForbidden, Code: "cross_origin", Message: "cross-site requests are not allowed"})
		return
	}
	c.Next()
}

// normalOrigin is scheme://host[:port] in lower case, without the scheme's default port.
func normalOrigin(u *url.URL) string {
	host := strings.ToLower(u.Hostname())
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	if p := u.Port(); p != "" && !(u.Scheme == "https" && p == "443" || u.Scheme == "http" && p == "80") {
		host += ":" + p
	}
	return strings.ToLower(u.Scheme) + "://" + host
}
