package sandbox

import (
	"crypto/subtle"
	"io"
	"net/http"
	"sync"
	"time"
)

// ipaProof is the proof archive the GIPS fake serves: an empty ZIP file.
var ipaProof = []byte{'P', 'K', 5, 6, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}

// GIPS fakes IDEMIA's ID&V (GIPS) relying-service API: GET /gips/v1/identities/{id} answers an identity with
// made-up attributes and GET /gips/v1/identities/{id}/proof the proof archive, after which, like IDEMIA, it
// discards the identity. Both require the apikey header.
type GIPS struct {
	apiKey string
	mux    *http.ServeMux

	mu               sync.Mutex
	identities       map[string]ipaIdentity
	requests         int
	identityRequests int
	proofRequests    int
	redirect         string
	proofType        string
	proofBody        func() io.Reader
}

type ipaIdentity struct {
	status, levelOfAssurance string
	created                  time.Time
}

// NewGIPS returns a GIPS fake that accepts only apiKey.
func NewGIPS(apiKey string) *GIPS {
	g := &GIPS{apiKey: apiKey, mux: http.NewServeMux(), identities: map[string]ipaIdentity{}}
	g.mux.HandleFunc("GET /gips/v1/identities/{id}", g.identity)
	g.mux.HandleFunc("GET /gips/v1/identities/{id}/proof", g.proof)
	return g
}

// AddIdentity creates an identity with the given status and level of assurance and returns its id (gips-…).
func (g *GIPS) AddIdentity(status, levelOfAssurance string) string {
	id := "gips-" + newUUID()
	g.mu.Lock()
	defer g.mu.Unlock()
	g.identities[id] = ipaIdentity{status: status, levelOfAssurance: levelOfAssurance, created: time.Now().UTC()}
	return id
}

// HasIdentity reports whether identity id exists (it is discarded once its proof is fetched).
func (g *GIPS) HasIdentity(id string) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	_, ok := g.identities[id]
	return ok
}

// SetRedirect makes every request answered with a 302 to target (empty restores normal answers), to test
// that clients do not follow redirects.
func (g *GIPS) SetRedirect(target string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.redirect = target
}

// Requests returns how many requests reached the fake, whatever their path or key.
func (g *GIPS) Requests() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.requests
}

// IdentityRequests returns how many identity reads carried the right apikey.
func (g *GIPS) IdentityRequests() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.identityRequests
}

// ProofRequests returns how many proof reads carried the right apikey.
func (g *GIPS) ProofRequests() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.proofRequests
}

// ServeHTTP answers the identity and proof reads.
func (g *GIPS) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	g.mu.Lock()
	g.requests++
	redirect := g.redirect
	g.mu.Unlock()
	if redirect != "" {
		http.Redirect(w, r, redirect, http.StatusFound)
		return
	}
	if subtle.ConstantTimeCompare([]byte(r.Header.Get("apikey")), []byte(g.apiKey)) != 1 {
		writeJSON(w, http.StatusUnauthorized, map[string]any{"code": 401, "message": "Unauthorized"})
		return
	}
	g.mux.ServeHTTP(w, r)
}

func (g *GIPS) identity(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	g.mu.Lock()
	g.identityRequests++
	ident, ok := g.identities[id]
	g.mu.Unlock()
	if !ok {
		writeJSON(w, http.StatusNotFound, map[string]any{"code": 404, "message": "Identity not found"})
		return
	}
	created := ident.created.Format(time.RFC3339)
	// The attributes are made up: they stand for the personal data a real identity carries.
	writeJSON(w, http.StatusOK, map[string]any{
		"id":                 id,
		"status":             ident.status,
		"levelOfAssurance":   ident.levelOfAssurance,
		"creationDateTime":   created,
		"evaluationDateTime": created,
		"upgradePaths":       map[string]any{},
		"idDocumentData": map[string]any{
			"givenNames":     []string{"Alex"},
			"surname":        "Sandbox",
			"birthDate":      "1990-01-01",
			"documentNumber": "SANDBOX123",
			"documentType":   "PASSPORT",
		},
		"portrait": map[string]any{"status": ident.status, "type": "PORTRAIT"},
	})
}

func (g *GIPS) proof(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	g.mu.Lock()
	g.proofRequests++
	_, ok := g.identities[id]
	delete(g.identities, id) // IDEMIA discards the transaction once its proof is fetched
	g.mu.Unlock()
	if !ok {
		writeJSON(w, http.StatusNotFound, map[string]any{"code": 404, "message": "Identity not found"})
		return
	}
	g.mu.Lock()
	ct, body := g.proofType, g.proofBody
	g.mu.Unlock()
	if body == nil {
		w.Header().Set("Content-Type", "application/zip")
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write(ipaProof)
		return
	}
	w.Header().Set("Content-Type", ct)
	w.WriteHeader(http.StatusOK)
	_, _ = io.Copy(w, body())
}

// SetProof makes the proof archive body(), served with contentType (nil body: the empty ZIP file).
func (g *GIPS) SetProof(contentType string, body func() io.Reader) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.proofType, g.proofBody = contentType, body
}
