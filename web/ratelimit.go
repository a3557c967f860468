package web

import (
	"context"
	"math"
	"net/http"
	"net/netip"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/entra-verifier/entra-verifier/config"
)

// Limiter counts events in fixed windows (store.Store.Allow), shared across replicas with Redis.
type Limiter interface {
	Allow(ctx context.Context, key string, limit int, window time.Duration) (ok bool, retryAfter time.Duration, err error)
}

// rateLimit guards the creates, each of which costs a (possibly billed) call to Microsoft or IDEMIA:
// VERIFIER_RATE_LIMIT_PER_IP per client address (X-Forwarded-For only from VERIFIER_TRUSTED_PROXIES), then
// VERIFIER_RATE_LIMIT_GLOBAL for the whole deployment.
func (s *Server) rateLimit(c *gin.Context) {
	s.limitBy(c, []limit{{"ip", "create:ip:" + clientKey(c.ClientIP()), s.cfg.RateLimitPerIP}, {"global", "create:global", s.cfg.RateLimitGlobal}})
}

// limit is one fixed-window limit: its metric label, its counter's key and its rate.
type limit struct {
	name, key string
	rate      config.Rate
}

// limitBy counts the request against each of limits and answers 429 at the first one it is over.
func (s *Server) limitBy(c *gin.Context, limits []limit) {
	ctx := c.Request.Context()
	for _, l := range limits {
		if l.rate.N <= 0 {
			continue
		}
		ok, retryAfter, err := s.limits.Allow(ctx, l.key, l.rate.N, l.rate.Per)
		if err != nil {
			writeError(c, err)
			return
		}
		if !ok {
			s.metrics.rateLimited.WithLabelValues(l.name).Inc()
			c.Header("Retry-After", strconv.Itoa(max(1, int(math.Ceil(retryAfter.Seconds())))))
			writeError(c, &Error{Status: http.StatusTooManyRequests, Code: "rate_limited", Message: "too many requests; try again later"})
			return
		}
	}
	c.Next()
}

// clientKey is what one client is counted under: its IPv4 address, or its IPv6 /64 (one host commonly holds
// a whole /64, and could otherwise rotate addresses to escape its limit).
func clientKey(ip string) string {
	addr, err := netip.ParseAddr(ip)
	if err != nil {
		return ip
	}
	addr = addr.Unmap()
	if addr.Is4() {
		return addr.String()
	}
	prefix, _ := addr.Prefix(64)
	return prefix.String()
}
