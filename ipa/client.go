package ipa

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"
)

// Defaults of the IDEMIA endpoints and of the HTTP timeouts.
const (
	DefaultCreateSessionURL = "https://rp-handler.did.idemia.io/api/v1/sessions"
	DefaultStartURL         = "https://rp-handler.did.idemia.io/api/v1/ipa/start"
	// DefaultTimeout bounds a token or create-session call when the injected client has no Timeout.
	DefaultTimeout = 10 * time.Second
	// DefaultRetrievalTimeout bounds an identity or proof call when the injected client has no Timeout.
	DefaultRetrievalTimeout = 30 * time.Second
)

// maxResponseBytes bounds the answers of the token and create-session endpoints.
const maxResponseBytes = 64 << 10

// Config is what the IPA half needs: the IPA_* and optional IDV_URL / GIPS_RS_API_KEY settings.
type Config struct {
	// CognitoURL is IPA_COGNITO_URL; the token endpoint is CognitoURL + "/oauth2/token".
	CognitoURL   string
	ClientID     string
	ClientSecret string
	// CreateSessionURL is IPA_CREATE_SESSION_URL; DefaultCreateSessionURL when empty.
	CreateSessionURL string
	// ApplicationID is IPA_APPLICATION_ID; when set, callbacks must carry it.
	ApplicationID string
	// IDVURL ("proofing.idemia.io" or "https://proofing.idemia.io") and GIPSAPIKey turn identity retrieval
	// on when both are set.
	IDVURL     string
	GIPSAPIKey string
	// HTTPClient makes every call (it is copied, never modified); a client with DefaultTimeout when nil.
	HTTPClient *http.Client
	// TokenExpiryDelta is how long before its expiry a token is replaced; oauth2's 10 s when zero.
	TokenExpiryDelta time.Duration
}

// Client talks to IDEMIA IPA and, when configured, to the ID&V platform. It is safe for concurrent use;
// create one per process so the Cognito token is shared.
type Client struct {
	hc            *http.Client // token and create session
	idv           *http.Client // identity and proof: never follows redirects
	createURL     string
	applicationID string
	idvHost       string // host[:port] for building URLs; empty when retrieval is off
	apiKey        string
	newTokens     func() oauth2.TokenSource

	mu     sync.Mutex
	tokens oauth2.TokenSource
}

// New checks cfg and returns a Client. It makes no request: the first token is fetched on first use.
func New(cfg Config) (*Client, error) {
	var errs []error
	cognito, err := serviceURL("IPA_COGNITO_URL", cfg.CognitoURL)
	errs = append(errs, err)
	if cfg.CreateSessionURL == "" {
		cfg.CreateSessionURL = DefaultCreateSessionURL
	}
	create, err := serviceURL("IPA_CREATE_SESSION_URL", cfg.CreateSessionURL)
	errs = append(errs, err)
	if cfg.ClientID == "" {
		errs = append(errs, errors.New("IPA_CLIENT_ID is required"))
	}
	if cfg.ClientSecret == "" {
		errs = append(errs, errors.New("IPA_CLIENT_SECRET is required"))
	}
	var idvHost string
	switch {
	case cfg.IDVURL != "" && cfg.GIPSAPIKey != "":
		idvHost, err = normaliseIDVHost(cfg.IDVURL)
		errs = append(errs, err)
	case cfg.IDVURL != "" || cfg.GIPSAPIKey != "":
		errs = append(errs, errors.New("IDV_URL and GIPS_RS_API_KEY must be set together"))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("ipa: %w", err)
	}

	hc := withTimeout(cfg.HTTPClient, DefaultTimeout)
	idv := withTimeout(cfg.HTTPClient, DefaultRetrievalTimeout)
	idv.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

	cc := &clientcredentials.Config{
		ClientID:     cfg.ClientID,
		ClientSecret: cfg.ClientSecret,
		TokenURL:     strings.TrimSuffix(cognito.String(), "/") + "/oauth2/token",
		AuthStyle:    oauth2.AuthStyleInParams,
	}
	// The token source outlives every request, so it gets its own context carrying our client.
	tokenCtx := context.WithValue(context.Background(), oauth2.HTTPClient, hc)
	delta := cfg.TokenExpiryDelta
	c := &Client{
		hc:            hc,
		idv:           idv,
		createURL:     create.String(),
		applicationID: cfg.ApplicationID,
		idvHost:       idvHost,
		apiKey:        cfg.GIPSAPIKey,
		newTokens: func() oauth2.TokenSource {
			return oauth2.ReuseTokenSourceWithExpiry(nil, cc.TokenSource(tokenCtx), delta)
		},
	}
	c.tokens = c.newTokens()
	return c, nil
}

// withTimeout returns a copy of hc (or of a new client) with timeout unless hc has its own.
func withTimeout(hc *http.Client, timeout time.Duration) *http.Client {
	var c http.Client
	if hc != nil {
		c = *hc
	}
	if c.Timeout == 0 {
		c.Timeout = timeout
	}
	return &c
}

// serviceURL parses an absolute https URL (http only to a loopback host, for local fakes).
func serviceURL(name, raw string) (*url.URL, error) {
	if raw == "" {
		return nil, fmt.Errorf("%s is required", name)
	}
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || u.User != nil {
		return nil, fmt.Errorf("%s must be an absolute URL without credentials", name)
	}
	if u.Scheme != "https" && (u.Scheme != "http" || !isLoopback(u.Hostname())) {
		return nil, fmt.Errorf("%s must be https (http only to a loopback host)", name)
	}
	return u, nil
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// token returns the shared Cognito token, fetching it only when none is valid.
func (c *Client) token(ctx context.Context) (*oauth2.Token, error) {
	if err := ctx.Err(); err != nil {
		return nil, &UpstreamError{Op: "token", Err: err}
	}
	c.mu.Lock()
	ts := c.tokens
	c.mu.Unlock()
	tok, err := ts.Token()
	if err != nil {
		ue := &UpstreamError{Op: "token", Err: err}
		if re, ok := errors.AsType[*oauth2.RetrieveError](err); ok && re.Response != nil {
			ue.StatusCode = re.Response.StatusCode
		}
		return nil, ue
	}
	return tok, nil
}

// dropToken forgets the cached token (IDEMIA refused it), so the next call fetches a new one.
func (c *Client) dropToken() {
	c.mu.Lock()
	c.tokens = c.newTokens()
	c.mu.Unlock()
}

// CheckToken obtains a token (from the cache when one is valid), for `verifier check` and readiness.
func (c *Client) CheckToken(ctx context.Context) error {
	_, err := c.token(ctx)
	return err
}

// CreateSession asks IDEMIA for a new IPA session whose end-of-process notification goes to callbackURL and
// whose last page sends the phone to gotoURL. It returns IDEMIA's sessionId (a UUID, lower case).
func (c *Client) CreateSession(ctx context.Context, callbackURL, gotoURL string) (string, error) {
	const op = "create session"
	tok, err := c.token(ctx)
	if err != nil {
		return "", err
	}
	var body bytes.Buffer
	enc := json.NewEncoder(&body)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(struct {
		CallbackURL string `json:"callbackUrl,omitempty"`
		GotoURL     string `json:"gotoUrl,omitempty"`
	}{callbackURL, gotoURL}); err != nil {
		return "", fmt.Errorf("ipa: %s: %w", op, err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.createURL, bytes.NewReader(bytes.TrimSpace(body.Bytes())))
	if err != nil {
		return "", fmt.Errorf("ipa: %s: %w", op, err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("Authorization", "Bearer "+tok.AccessToken)

	resp, err := c.hc.Do(req)
	if err != nil {
		return "", &UpstreamError{Op: op, Err: err}
	}
	defer resp.Body.Close()
	data, err := readLimited(resp.Body, maxResponseBytes)
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		if resp.StatusCode == http.StatusUnauthorized {
			c.dropToken()
		}
		return "", &UpstreamError{Op: op, StatusCode: resp.StatusCode}
	}
	if err != nil {
		return "", &UpstreamError{Op: op, StatusCode: resp.StatusCode, Err: err}
	}
	var answer struct {
		SessionID string `json:"sessionId"`
	}
	if err := json.Unmarshal(data, &answer); err != nil {
		return "", &UpstreamError{Op: op, StatusCode: resp.StatusCode, Err: errors.New("answer is not the documented JSON")}
	}
	id, ok := canonicalUUID(answer.SessionID)
	if !ok {
		return "", &UpstreamError{Op: op, StatusCode: resp.StatusCode, Err: errors.New("sessionId is not a UUID")}
	}
	return id, nil
}

// readLimited reads r to its end, failing when it holds more than limit bytes.
func readLimited(r io.Reader, limit int64) ([]byte, error) {
	data, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("answer larger than %d bytes", limit)
	}
	return data, nil
}
