package sandbox

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"maps"
	"mime"
	"net/http"
	"slices"
	"sync"
	"time"
)

// Cognito fakes the Amazon Cognito token endpoint of IDEMIA IPA: POST /oauth2/token with
// grant_type=client_credentials and client_id / client_secret in the form body, as IDEMIA's guide documents.
// Tokens it issues are opaque random strings that IPA accepts until they expire.
type Cognito struct {
	clientID, clientSecret string

	mu        sync.Mutex
	expiresIn int
	tokens    map[string]time.Time // token → expiry
	requests  int
}

// NewCognito returns a token endpoint that accepts only clientID and clientSecret and issues tokens that
// last 3600 s.
func NewCognito(clientID, clientSecret string) *Cognito {
	return &Cognito{clientID: clientID, clientSecret: clientSecret, expiresIn: 3600, tokens: map[string]time.Time{}}
}

// SetExpiresIn sets the lifetime, in seconds, of the tokens issued from now on.
func (c *Cognito) SetExpiresIn(seconds int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.expiresIn = seconds
}

// TokenRequests returns how many requests reached /oauth2/token, refused ones included.
func (c *Cognito) TokenRequests() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.requests
}

// Tokens returns every access token issued so far (tests check none of them leaks).
func (c *Cognito) Tokens() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Collect(maps.Keys(c.tokens))
}

// Valid reports whether token was issued by c and has not expired.
func (c *Cognito) Valid(token string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	exp, ok := c.tokens[token]
	return ok && time.Now().Before(exp)
}

// ServeHTTP answers POST /oauth2/token.
func (c *Cognito) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/oauth2/token" {
		http.NotFound(w, r)
		return
	}
	c.mu.Lock()
	c.requests++
	c.mu.Unlock()
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		writeJSON(w, http.StatusMethodNotAllowed, map[string]string{"error": "invalid_request"})
		return
	}
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != "application/x-www-form-urlencoded" {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "invalid_request"})
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 16<<10)
	if err := r.ParseForm(); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "invalid_request"})
		return
	}
	if r.PostForm.Get("grant_type") != "client_credentials" {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "unsupported_grant_type"})
		return
	}
	idOK := subtle.ConstantTimeCompare([]byte(r.PostForm.Get("client_id")), []byte(c.clientID)) == 1
	secretOK := subtle.ConstantTimeCompare([]byte(r.PostForm.Get("client_secret")), []byte(c.clientSecret)) == 1
	if !idOK || !secretOK {
		writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "invalid_client"})
		return
	}
	b := make([]byte, 32)
	_, _ = rand.Read(b) // never fails: crypto/rand crashes the program instead
	token := "sandbox-cognito." + base64.RawURLEncoding.EncodeToString(b)
	now := time.Now()
	c.mu.Lock()
	for t, exp := range c.tokens {
		if now.After(exp) {
			delete(c.tokens, t)
		}
	}
	expiresIn := c.expiresIn
	c.tokens[token] = now.Add(time.Duration(expiresIn) * time.Second)
	c.mu.Unlock()
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, map[string]any{"access_token": token, "expires_in": expiresIn, "token_type": "Bearer"})
}
