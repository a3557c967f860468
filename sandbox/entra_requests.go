package sandbox

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Failure is a canned Request Service error answer, served instead of the next creates.
type Failure struct {
	Status     int
	Code       string // outer error code, e.g. "tooManyRequests"
	Inner      string // innererror code, e.g. "transientError"
	Message    string
	RetryAfter string // Retry-After header value, if any
}

// Throttled is the documented 429 answer.
var Throttled = Failure{Status: http.StatusTooManyRequests, Code: "tooManyRequests", Inner: "transientError", Message: "Too many requests.", RetryAfter: "1"}

// Unavailable is a 503 answer.
var Unavailable = Failure{Status: http.StatusServiceUnavailable, Code: "serviceUnavailable", Inner: "transientError", Message: "The service is unavailable."}

// Received is one createPresentationRequest the fake accepted.
type Received struct {
	RequestID string
	Header    http.Header
	Body      []byte
	Request   struct {
		Authority string `json:"authority"`
		Callback  struct {
			URL     string            `json:"url"`
			State   string            `json:"state"`
			Headers map[string]string `json:"headers"`
		} `json:"callback"`
	}
}

// RequestService fakes the Entra Verified ID Request Service: createPresentationRequest (bearer token from
// the IdentityPlatform fake, documented error envelope, canned failures) and the callbacks it then sends.
type RequestService struct {
	// Identity validates bearer tokens.
	Identity *IdentityPlatform
	// Lifetime of a created request; 0 means 5 minutes.
	Lifetime time.Duration
	// CallbackClient posts callbacks; nil means http.DefaultClient.
	CallbackClient *http.Client
	// URLPrefix starts the url of a create answer, before the request URI; "" means "openid-vc://?request_uri="
	// (Microsoft answered "openid://vc/?request_uri=" in 2022: the scheme is not ours to rely on).
	URLPrefix string

	mu       sync.Mutex
	delay    time.Duration
	calls    int
	failures []Failure
	requests map[string]*Received
	order    []string
}

// Fail queues failures served, in order, to the next create calls.
func (s *RequestService) Fail(f ...Failure) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failures = append(s.failures, f...)
}

// SetDelay holds every later create answer for d (a slow service).
func (s *RequestService) SetDelay(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.delay = d
}

// Calls counts create calls received, failed or not.
func (s *RequestService) Calls() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls
}

// Request returns the create the fake accepted for requestID.
func (s *RequestService) Request(requestID string) (*Received, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.requests[requestID]
	return r, ok
}

// Last returns the most recent accepted create.
func (s *RequestService) Last() *Received {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.order) == 0 {
		return nil
	}
	return s.requests[s.order[len(s.order)-1]]
}

// ServeHTTP implements http.Handler for POST {base}/verifiableCredentials/createPresentationRequest.
func (s *RequestService) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost || !strings.HasSuffix(r.URL.Path, "/verifiableCredentials/createPresentationRequest") {
		apiError(w, http.StatusNotFound, "notFound", "notFound", "The requested resource was not found.", "")
		return
	}
	s.mu.Lock()
	delay := s.delay
	s.mu.Unlock()
	time.Sleep(delay)
	s.mu.Lock()
	s.calls++
	var fail *Failure
	if len(s.failures) > 0 {
		fail = &s.failures[0]
		s.failures = s.failures[1:]
	}
	s.mu.Unlock()
	if fail != nil {
		if fail.RetryAfter != "" {
			w.Header().Set("Retry-After", fail.RetryAfter)
		}
		apiError(w, fail.Status, fail.Code, fail.Inner, fail.Message, "")
		return
	}
	token, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	roles, ok := s.Identity.TokenRoles(token)
	if !ok {
		apiError(w, http.StatusUnauthorized, "unauthorized", "invalid_aad_access_token", "Provided access token is invalid.", "")
		return
	}
	if !hasRole(roles, "VerifiableCredential.Create.All", "VerifiableCredential.Create.PresentRequest") {
		apiError(w, http.StatusUnauthorized, "unauthorized", "invalid_aad_access_token",
			`No acceptable roles were found in access token, required roles are ["VerifiableCredential.Create.All"]`, "")
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		apiError(w, http.StatusBadRequest, "badRequest", "badOrMissingField", "The request body could not be read.", "")
		return
	}
	rec := &Received{RequestID: newUUID(), Header: r.Header.Clone(), Body: body}
	if target, msg := validateCreate(body, &rec.Request); target != "" {
		apiError(w, http.StatusBadRequest, "badRequest", "badOrMissingField", msg, target)
		return
	}
	s.mu.Lock()
	if s.requests == nil {
		s.requests = map[string]*Received{}
	}
	s.requests[rec.RequestID] = rec
	s.order = append(s.order, rec.RequestID)
	s.mu.Unlock()
	lifetime := s.Lifetime
	if lifetime == 0 {
		lifetime = 5 * time.Minute
	}
	prefix := s.URLPrefix
	if prefix == "" {
		prefix = "openid-vc://?request_uri="
	}
	writeJSON(w, http.StatusCreated, map[string]any{
		"requestId": rec.RequestID,
		"url":       prefix + "https://" + r.Host + "/v1.0/tenants/sandbox/verifiableCredentials/presentationRequests/" + rec.RequestID,
		"expiry":    time.Now().Add(lifetime).Unix(),
	})
}

// validateCreate checks what the real service rejects with badOrMissingField; it returns the target and message.
func validateCreate(body []byte, into any) (target, message string) {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(body, &raw); err != nil {
		return "body", "The request body is not valid JSON."
	}
	for _, b := range []string{"includeQRCode", "includeReceipt"} {
		if v, ok := raw[b]; ok && string(v) != "true" && string(v) != "false" {
			return b, fmt.Sprintf("The request contains `%s`, but it is not boolean.", b)
		}
	}
	if err := json.Unmarshal(body, into); err != nil {
		return "body", "The request body does not match the schema."
	}
	var req struct {
		Authority string `json:"authority"`
		Callback  struct {
			URL     string            `json:"url"`
			State   string            `json:"state"`
			Headers map[string]string `json:"headers"`
		} `json:"callback"`
		RequestedCredentials []struct {
			Type string `json:"type"`
		} `json:"requestedCredentials"`
	}
	_ = json.Unmarshal(body, &req)
	if !strings.HasPrefix(req.Authority, "did:") {
		return "authority", "The request does not contain a valid authority DID."
	}
	if u, err := url.Parse(req.Callback.URL); err != nil || !u.IsAbs() {
		return "callback.url", "The callback URL is missing or invalid."
	}
	if req.Callback.State == "" {
		return "callback.state", "The callback state is missing."
	}
	for h := range req.Callback.Headers {
		if !strings.EqualFold(h, "api-key") && !strings.EqualFold(h, "Authorization") {
			return "callback.headers", "Invalid callback header: " + h
		}
	}
	if len(req.RequestedCredentials) == 0 || req.RequestedCredentials[0].Type == "" {
		return "requestedCredentials", "The request does not contain requested credentials."
	}
	return "", ""
}

// SendCallback posts a callback for requestID to the URL it was created with, echoing its callback headers
// and state, as the Request Service does. event holds the body's other fields (see the Event helpers).
// It returns the status our service answered.
func (s *RequestService) SendCallback(ctx context.Context, requestID string, event map[string]any) (int, error) {
	rec, ok := s.Request(requestID)
	if !ok {
		return 0, fmt.Errorf("sandbox: no request %s", requestID)
	}
	body := map[string]any{"requestId": requestID, "state": rec.Request.Callback.State}
	for k, v := range event {
		body[k] = v
	}
	b, err := json.Marshal(body)
	if err != nil {
		return 0, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, rec.Request.Callback.URL, bytes.NewReader(b))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	for k, v := range rec.Request.Callback.Headers {
		req.Header.Set(k, v)
	}
	hc := s.CallbackClient
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, nil
}

func hasRole(roles []string, want ...string) bool {
	for _, r := range roles {
		for _, w := range want {
			if r == w {
				return true
			}
		}
	}
	return false
}

func apiError(w http.ResponseWriter, status int, code, inner, message, target string) {
	ie := map[string]string{"code": inner, "message": message}
	if target != "" {
		ie["target"] = target
	}
	writeJSON(w, status, map[string]any{
		"requestId": newUUID(), "date": time.Now().UTC().Format(http.TimeFormat), "mscv": "sandbox." + strconv.Itoa(status),
		"error": map[string]any{"code": code, "message": message, "innererror": ie},
	})
}

func newUUID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}
