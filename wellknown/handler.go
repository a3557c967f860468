package wellknown

import (
	"net/http"
	"strconv"
)

// Paths at which the descriptors are served.
const (
	// DIDPath is where did:web resolvers fetch did.json.
	DIDPath = "/.well-known/did.json"
	// ConfigurationPath is where domain-linkage verifiers fetch did-configuration.json.
	ConfigurationPath = "/.well-known/did-configuration.json"
)

// CacheControl is sent with every descriptor: short, so that a key rotation
// reaches resolvers within minutes.
const CacheControl = "public, max-age=300"

// NewHandler returns a handler that serves body byte for byte as
// application/json to GET and HEAD, readable cross-origin, and answers 405
// to any other method. A nil body is answered with 404 (descriptor not served).
func NewHandler(body []byte) http.Handler {
	if body == nil {
		return http.NotFoundHandler()
	}
	length := strconv.Itoa(len(body))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			h.Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		h.Set("Content-Type", "application/json")
		h.Set("Content-Length", length)
		h.Set("Access-Control-Allow-Origin", "*")
		h.Set("Cache-Control", CacheControl)
		h.Set("X-Content-Type-Options", "nosniff")
		w.WriteHeader(http.StatusOK)
		if r.Method == http.MethodHead {
			return
		}
		_, _ = w.Write(body)
	})
}

// DIDPath returns where did.json is served: DIDPath for a did:web DID without
// a path (and any other method), /{segments}/did.json for a did:web DID with
// a path (did:web:example.com:verifier:eu → /verifier/eu/did.json).
func (d *Descriptors) DIDPath() string {
	if d == nil {
		return DIDPath
	}
	p, err := DIDDocumentPath(d.ID)
	if err != nil { // refused by Load
		return DIDPath
	}
	return p
}

// DIDHandler serves did.json (404 when it is not served).
func (d *Descriptors) DIDHandler() http.Handler {
	if d == nil {
		return http.NotFoundHandler()
	}
	return NewHandler(d.DIDDocument)
}

// ConfigurationHandler serves did-configuration.json (404 when it is not served).
func (d *Descriptors) ConfigurationHandler() http.Handler {
	if d == nil {
		return http.NotFoundHandler()
	}
	return NewHandler(d.Configuration)
}
