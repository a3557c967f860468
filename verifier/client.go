package verifier

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// ErrUpstream marks a Request Service failure the person cannot fix (answered 502).
var ErrUpstream = errors.New("entra request service")

// APIError is the Request Service's error envelope.
type APIError struct {
	Status    int    `json:"-"`
	RequestID string `json:"requestId"`
	Date      string `json:"date"`
	MSCV      string `json:"mscv"`
	Body      struct {
		Code       string `json:"code"`
		Message    string `json:"message"`
		InnerError struct {
			Code    string `json:"code"`
			Message string `json:"message"`
			Target  string `json:"target"`
		} `json:"innererror"`
	} `json:"error"`
}

// Error describes the failure for the operator log, with what to do about a missing admin consent.
func (e *APIError) Error() string {
	s := fmt.Sprintf("request service answered %d %s: %s", e.Status, e.Body.Code, e.Body.Message)
	if in := e.Body.InnerError; in.Code != "" {
		s += fmt.Sprintf(" (%s: %s", in.Code, in.Message)
		if in.Target != "" {
			s += ", target " + in.Target
		}
		s += ")"
	}
	if e.Body.InnerError.Code == "invalid_aad_access_token" {
		s += ": the app's token lacks the VerifiableCredential.Create.All or .PresentRequest role: grant it on the " +
			"\"Verifiable Credentials Service Request\" service principal and give admin consent"
	}
	if e.RequestID != "" {
		s += " [requestId " + e.RequestID + ", mscv " + e.MSCV + "]"
	}
	return s
}

// Unwrap lets callers test errors.Is(err, ErrUpstream).
func (e *APIError) Unwrap() error { return ErrUpstream }

func (e *APIError) transient() bool {
	return e.Status == http.StatusTooManyRequests || e.Status >= 500 || e.Body.InnerError.Code == "transientError"
}

// Tokens hands out bearer tokens for the Request Service.
type Tokens interface {
	Token(ctx context.Context) (string, error)
}

// Client calls the Request Service.
type Client struct {
	BaseURL string
	HTTP    *http.Client
	Tokens  Tokens
	// MaxAttempts and Budget bound retries of transient failures (defaults 3 and 10 s).
	MaxAttempts int
	Budget      time.Duration
	// Sleep waits between attempts; nil means a timer honouring ctx.
	Sleep func(ctx context.Context, d time.Duration) error
}

const maxResponse = 1 << 20

// CreatePresentationRequest posts req and returns Microsoft's answer, retrying only 429, 5xx and
// transientError answers, honouring Retry-After, within the attempt and time budget.
func (c *Client) CreatePresentationRequest(ctx context.Context, req *PresentationRequest) (*Created, error) {
	body, err := json.Marshal(req)
	if err != nil {
		return nil, fmt.Errorf("encode presentation request: %w", err)
	}
	attempts, budget := c.MaxAttempts, c.Budget
	if attempts <= 0 {
		attempts = 3
	}
	if budget <= 0 {
		budget = 10 * time.Second
	}
	deadline := time.Now().Add(budget)
	for attempt := 1; ; attempt++ {
		created, retryAfter, err := c.create(ctx, body)
		var apiErr *APIError
		if err == nil || !errors.As(err, &apiErr) || !apiErr.transient() || attempt >= attempts {
			return created, err
		}
		wait := retryAfter
		if wait <= 0 {
			wait = time.Duration(100<<attempt)*time.Millisecond + rand.N(100*time.Millisecond)
		}
		if time.Now().Add(wait).After(deadline) {
			return nil, err
		}
		if err := c.sleep(ctx, wait); err != nil {
			return nil, fmt.Errorf("%w: %w", ErrUpstream, err)
		}
	}
}

func (c *Client) create(ctx context.Context, body []byte) (*Created, time.Duration, error) {
	token, err := c.Tokens.Token(ctx)
	if err != nil {
		return nil, 0, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.BaseURL+"/verifiableCredentials/createPresentationRequest", bytes.NewReader(body))
	if err != nil {
		return nil, 0, fmt.Errorf("%w: %w", ErrUpstream, err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.HTTP.Do(req)
	if err != nil {
		return nil, 0, fmt.Errorf("%w: %w", ErrUpstream, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxResponse))
	if err != nil {
		return nil, 0, fmt.Errorf("%w: read answer: %w", ErrUpstream, err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		apiErr := &APIError{Status: resp.StatusCode}
		if json.Unmarshal(raw, apiErr) != nil || apiErr.Body.Code == "" {
			apiErr.Body.Code, apiErr.Body.Message = http.StatusText(resp.StatusCode), "no error envelope"
		}
		return nil, retryAfter(resp.Header.Get("Retry-After")), apiErr
	}
	var created Created
	if err := json.Unmarshal(raw, &created); err != nil {
		return nil, 0, fmt.Errorf("%w: decode answer: %w", ErrUpstream, err)
	}
	if created.RequestID == "" || !absoluteURL(created.URL) {
		return nil, 0, fmt.Errorf("%w: answer without requestId or url", ErrUpstream)
	}
	return &created, 0, nil
}

// absoluteURL reports whether s is a URL with a scheme. The url is opaque to us and passed on as it is: Microsoft
// changed its scheme before (openid://vc/ in 2022, openid-vc:// now).
func absoluteURL(s string) bool {
	u, err := url.Parse(s)
	return err == nil && u.Scheme != "" && (u.Opaque != "" || u.Host != "" || u.RawQuery != "" || u.Path != "")
}

// retryAfter parses a Retry-After header given in seconds or as an HTTP date.
func retryAfter(v string) time.Duration {
	if v == "" {
		return 0
	}
	if s, err := strconv.Atoi(v); err == nil && s >= 0 {
		return time.Duration(s) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		return time.Until(t)
	}
	return 0
}

func (c *Client) sleep(ctx context.Context, d time.Duration) error {
	if c.Sleep != nil {
		return c.Sleep(ctx, d)
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
