package web

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"net/http"

	"github.com/gin-gonic/gin"
)

// CookieName is the cookie binding a browser to the sessions and requests it creates.
const CookieName = "verifier_session"

// ownerFromCookie returns the hash of the browser's binding cookie, or "" when it has none.
func ownerFromCookie(c *gin.Context) string {
	v, err := c.Cookie(CookieName)
	if err != nil || !validCookie(v) {
		return ""
	}
	return hashOwner(v)
}

// owner returns the hash of the browser's binding cookie and a func that sets the cookie when the browser
// has none yet: call it once the create has succeeded.
func (s *Server) owner(c *gin.Context) (hash string, bind func()) {
	if v, err := c.Cookie(CookieName); err == nil && validCookie(v) {
		return hashOwner(v), func() {}
	}
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	v := base64.RawURLEncoding.EncodeToString(b)
	return hashOwner(v), func() {
		http.SetCookie(c.Writer, &http.Cookie{
			Name: CookieName, Value: v, Path: "/", HttpOnly: true, SameSite: http.SameSiteLaxMode,
			Secure: s.cfg.PublicURL != nil && s.cfg.PublicURL.Scheme == "https",
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
