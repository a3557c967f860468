package sandbox

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"
)

// IPAFailure selects how the IPA fake's create-session endpoint misbehaves.
type IPAFailure int

// IPA failure modes.
const (
	// IPAWorking answers normally.
	IPAWorking IPAFailure = iota
	// IPAServerError answers 503 with a JSON message.
	IPAServerError
	// IPADisconnect drops the connection without an answer, like a service that is down.
	IPADisconnect
	// IPAHang answers nothing until the caller gives up (or a minute passes), for timeout tests.
	IPAHang
)

// IPARequest is one request received by the create-session endpoint, as it arrived.
type IPARequest struct {
	Header http.Header
	Body   []byte
}

// IPASession is a session the IPA fake created, with the URLs it was created with.
type IPASession struct {
	ID          string
	CallbackURL string
	GotoURL     string
	CreatedAt   time.Time
}

// IPA fakes IDEMIA's IPA rp-handler: POST /api/v1/sessions creates a session for a bearer token issued by its
// Cognito fake, and DeliverCallback plays the end-of-process notification IDEMIA POSTs to the session's
// callbackUrl. Every create request is recorded for tests to inspect.
type IPA struct {
	cognito       *Cognito
	applicationID string

	mu         sync.Mutex
	failure    IPAFailure
	sessions   map[string]IPASession
	requests   []IPARequest
	gips       *GIPS
	gipsURL    string
	client     *http.Client
	retries    int
	retryPause time.Duration
	attempts   int
}

// NewIPA returns an IPA fake accepting the tokens of cognito and naming applicationID in its callbacks.
// Callbacks are retried like IDEMIA's: 2 more times, 1 s apart (see SetRetry).
func NewIPA(cognito *Cognito, applicationID string) *IPA {
	return &IPA{
		cognito:       cognito,
		applicationID: applicationID,
		sessions:      map[string]IPASession{},
		client:        &http.Client{Timeout: 10 * time.Second},
		retries:       2,
		retryPause:    time.Second,
	}
}

// SetFailure switches the create-session endpoint to failure mode f (IPAWorking restores it).
func (p *IPA) SetFailure(f IPAFailure) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.failure = f
}

// SetGIPS names the GIPS fake, served at baseURL (such as https://127.0.0.1:1234), that holds the identities
// of completed sessions; their proofUrl points there.
func (p *IPA) SetGIPS(g *GIPS, baseURL string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.gips, p.gipsURL = g, strings.TrimSuffix(baseURL, "/")
}

// SetCallbackClient sets the client that delivers callbacks (for example an httptest server's Client()).
func (p *IPA) SetCallbackClient(hc *http.Client) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.client = hc
}

// SetRetry sets how many more times a callback answered with a non-2xx (or not answered) is sent, and the
// pause between attempts.
func (p *IPA) SetRetry(retries int, pause time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.retries, p.retryPause = retries, pause
}

// Requests returns a copy of every request received by the create-session endpoint, in order.
func (p *IPA) Requests() []IPARequest {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]IPARequest, len(p.requests))
	for i, r := range p.requests {
		out[i] = IPARequest{Header: r.Header.Clone(), Body: append([]byte(nil), r.Body...)}
	}
	return out
}

// Session returns the session the fake created with IDEMIA sessionId id.
func (p *IPA) Session(id string) (IPASession, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	s, ok := p.sessions[id]
	return s, ok
}

// ServeHTTP answers POST /api/v1/sessions.
func (p *IPA) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/api/v1/sessions" {
		http.NotFound(w, r)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 64<<10))
	p.mu.Lock()
	p.requests = append(p.requests, IPARequest{Header: r.Header.Clone(), Body: body})
	failure := p.failure
	p.mu.Unlock()

	switch failure {
	case IPAServerError:
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"message": "Service Unavailable"})
		return
	case IPADisconnect:
		// net/http's sanctioned way to drop the connection without an answer.
		panic(http.ErrAbortHandler)
	case IPAHang:
		select {
		case <-r.Context().Done():
		case <-time.After(time.Minute):
		}
		return
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		writeJSON(w, http.StatusMethodNotAllowed, map[string]string{"message": "Method Not Allowed"})
		return
	}
	token, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok || !p.cognito.Valid(token) {
		writeJSON(w, http.StatusUnauthorized, map[string]string{"message": "Unauthorized"})
		return
	}
	var req struct {
		CallbackURL string `json:"callbackUrl"`
		GotoURL     string `json:"gotoUrl"`
	}
	if err != nil || json.Unmarshal(body, &req) != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"message": "Invalid request body"})
		return
	}
	s := IPASession{ID: newUUID(), CallbackURL: req.CallbackURL, GotoURL: req.GotoURL, CreatedAt: time.Now()}
	p.mu.Lock()
	p.sessions[s.ID] = s
	p.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]string{"sessionId": s.ID})
}
