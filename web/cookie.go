package web

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"net/http"
	"net/url"

	"github.com/gin-gonic/gin"
)

const (
	// CookieName is the cookie binding a browser to the sessions and requests it creates, when
	// VERIFIER_PUBLIC_URL is http://localhost (development).
	CookieName = "verifier_session"
	// SecureCookieName is the binding cookie's name when VERIFIER_PUBLIC_URL is https: browsers accept a
	// __Host- cookie only with Secure, Path=/ and no Domain, so no sibling subdomain can plant or shadow it.
	SecureCookieName = "__Host-" + CookieName
)

// CookieNameFor is the binding cookie's name for a deployment at publicURL; only that name is ever read, so
// under https a planted verifier_session cookie binds nothing.
func CookieNameFor(publicURL *url.URL) string {
	if publicURL != nil && publicURL.Scheme == "https" {
		return SecureCookieName
	}
	return CookieName
}

// sessionCookie returns the first well-formed value of the cookie called name in r's Cookie headers, or ""
// when there is none. A malformed one (planted, or from an older version) is skipped, never an error.
func sessionCookie(r *http.Request, name string) string {
	for _, c := range r.CookiesNamed(name) {
		if validCookie(c.Value) {
			return c.Value
		}
	}
	return ""
}

// ownerFromCookie returns the hash of the browser's binding cookie, or "" when it has none.
func (s *Server) ownerFromCookie(c *gin.Context) string {
	if v := sessionCookie(c.Request, s.cookieName); v != "" {
		return hashOwner(v)
	}
	return ""
}

// owner returns the hash of the browser's binding cookie and a func that sets the cookie when the browser
// has none yet: call it once the create has succeeded.
func (s *Server) owner(c *gin.Context) (hash string, bind func()) {
	if v := sessionCookie(c.Request, s.cookieName); v != "" {
		return hashOwner(v), func() {}
	}
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	v := base64.RawURLEncoding.EncodeToString(b)
	return hashOwner(v), func() {
		http.SetCookie(c.Writer, &http.Cookie{
			Name: s.cookieName, Value: v, Path: "/", HttpOnly: true, SameSite: http.SameSiteLaxMode,
			Secure: s.cookieName == SecureCookieName, // never a Domain: host-only, as __Host- requires
		})
	}
}

func validCookie(v string) bool {
	b, err := base64.RawURLEncoding.DecodeString(v)
	return err == nil && len(b) == 32
}

// hashOwner is what the store keeps instead of the cookie.
func hashOwner(v string) string {
	sum := sha256.Sum256([]byte(v))
	return hex.EncodeToString(sum[:])
}
