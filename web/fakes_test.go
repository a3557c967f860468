package web_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/stretchr/testify/require"

	"github.com/entra-verifier/entra-verifier/config"
	"github.com/entra-verifier/entra-verifier/ipa"
	"github.com/entra-verifier/entra-verifier/store"
	"github.com/entra-verifier/entra-verifier/verifier"
	"github.com/entra-verifier/entra-verifier/web"
)

// errUnexpected is what a func-field fake answers for a call its test did not expect.
var errUnexpected = errors.New("fake: unexpected call")

// presentationsFake is a web.Presentations whose methods are its fields; a nil field answers errUnexpected.
type presentationsFake struct {
	create   func(ctx context.Context, owner, returnTo string) (*store.Presentation, error)
	get      func(ctx context.Context, id, owner string) (*store.Presentation, error)
	handOff  func(ctx context.Context, id, owner string) (*store.Presentation, error)
	callback func(ctx context.Context, apiKey string, body []byte) (verifier.Outcome, error)
}

var _ web.Presentations = (*presentationsFake)(nil)

func (f *presentationsFake) Create(ctx context.Context, owner, returnTo string) (*store.Presentation, error) {
	if f.create == nil {
		return nil, errUnexpected
	}
	return f.create(ctx, owner, returnTo)
}

func (f *presentationsFake) Get(ctx context.Context, id, owner string) (*store.Presentation, error) {
	if f.get == nil {
		return nil, errUnexpected
	}
	return f.get(ctx, id, owner)
}

func (f *presentationsFake) HandOff(ctx context.Context, id, owner string) (*store.Presentation, error) {
	if f.handOff == nil {
		return nil, errUnexpected
	}
	return f.handOff(ctx, id, owner)
}

func (f *presentationsFake) HandleCallback(ctx context.Context, apiKey string, body []byte) (verifier.Outcome, error) {
	if f.callback == nil {
		return verifier.Outcome{}, errUnexpected
	}
	return f.callback(ctx, apiKey, body)
}

// sessionsFake is a web.Sessions whose methods are its fields; a nil field answers errUnexpected.
type sessionsFake struct {
	create   func(ctx context.Context, owner string) (*store.IPASession, error)
	get      func(ctx context.Context, id, owner string) (*store.IPASession, error)
	callback func(ctx context.Context, token string, body []byte) (ipa.Outcome, error)
}

var _ web.Sessions = (*sessionsFake)(nil)

func (f *sessionsFake) Create(ctx context.Context, owner string) (*store.IPASession, error) {
	if f.create == nil {
		return nil, errUnexpected
	}
	return f.create(ctx, owner)
}

func (f *sessionsFake) Get(ctx context.Context, id, owner string) (*store.IPASession, error) {
	if f.get == nil {
		return nil, errUnexpected
	}
	return f.get(ctx, id, owner)
}

func (f *sessionsFake) HandleCallback(ctx context.Context, token string, body []byte) (ipa.Outcome, error) {
	if f.callback == nil {
		return ipa.Outcome{}, errUnexpected
	}
	return f.callback(ctx, token, body)
}

// storeFake is the server's store (Watcher, Pinger, Limiter) as func fields; nil fields mean: a watch that
// never fires, a store that answers, and a limit never reached.
type storeFake struct {
	watch func(ctx context.Context, topic string) (<-chan struct{}, error)
	ping  func(ctx context.Context) error
	allow func(ctx context.Context, key string, limit int, window time.Duration) (bool, time.Duration, error)
}

func (f *storeFake) Watch(ctx context.Context, topic string) (<-chan struct{}, error) {
	if f.watch == nil {
		return make(chan struct{}), nil
	}
	return f.watch(ctx, topic)
}

func (f *storeFake) Ping(ctx context.Context) error {
	if f.ping == nil {
		return nil
	}
	return f.ping(ctx)
}

func (f *storeFake) Allow(ctx context.Context, key string, limit int, window time.Duration) (bool, time.Duration, error) {
	if f.allow == nil {
		return true, 0, nil
	}
	return f.allow(ctx, key, limit, window)
}

// testConfig is a valid configuration with both halves on and an https public URL; kv are extra settings,
// name then value.
func testConfig(t *testing.T, kv ...string) *config.Config {
	t.Helper()
	env := map[string]string{
		"VERIFIER_PUBLIC_URL": "https://verifier.example.com",
		"ENTRA_TENANT_ID":     "tenant", "ENTRA_CLIENT_ID": "client", "ENTRA_CLIENT_SECRET": "secret",
		"ENTRA_VERIFIER_DID": "did:web:verifier.example.com",
		"IPA_COGNITO_URL":    "https://cognito.example.com", "IPA_CLIENT_ID": "ipa", "IPA_CLIENT_SECRET": "ipa-secret",
	}
	for i := 0; i+1 < len(kv); i += 2 {
		env[kv[i]] = kv[i+1]
	}
	cfg := config.Load(func(k string) string { return env[k] })
	require.NoError(t, cfg.Validate())
	return cfg
}

// unitServer builds a server from opts, filling in a test configuration, a storeFake, empty fakes of both
// halves and the fixed clock `now` where opts leaves them unset.
func unitServer(t *testing.T, opts web.Options) *web.Server {
	t.Helper()
	gin.SetMode(gin.TestMode)
	if opts.Config == nil {
		opts.Config = testConfig(t)
	}
	if opts.Store == nil {
		opts.Store = &storeFake{}
	}
	if opts.Presentations == nil {
		opts.Presentations = &presentationsFake{}
	}
	if opts.Sessions == nil {
		opts.Sessions = &sessionsFake{}
	}
	if opts.Now == nil {
		opts.Now = func() time.Time { return now }
	}
	srv, err := web.New(opts)
	require.NoError(t, err)
	t.Cleanup(srv.Close)
	return srv
}

// do serves one request to h in process and returns the recorded answer.
func do(h http.Handler, method, path string, body io.Reader, header map[string]string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, "https://verifier.example.com"+path, body)
	for k, v := range header {
		req.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

// errorOf decodes our error envelope, requiring a message.
func errorOf(t *testing.T, rec *httptest.ResponseRecorder) string {
	t.Helper()
	return errorCodeOf(t, rec.Body.Bytes())
}

func errorCodeOf(t *testing.T, body []byte) string {
	t.Helper()
	var e struct {
		Error struct{ Code, Message string } `json:"error"`
	}
	require.NoErrorf(t, json.Unmarshal(body, &e), "%s", body)
	require.NotEmpty(t, e.Error.Message, string(body))
	return e.Error.Code
}

// metric returns the value of the series line starting with series (name and labels) in h's /metrics, or
// "missing".
func metric(t *testing.T, h http.Handler, series string) string {
	t.Helper()
	rec := do(h, http.MethodGet, "/metrics", nil, nil)
	require.Equal(t, http.StatusOK, rec.Code)
	for line := range strings.Lines(rec.Body.String()) {
		if strings.HasPrefix(line, series+" ") {
			return strings.TrimSpace(strings.TrimPrefix(line, series))
		}
	}
	return "missing"
}

// calls counts calls from handlers and streams, which may run on other goroutines.
type calls struct {
	mu   sync.Mutex
	args []string
}

func (c *calls) add(arg string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.args = append(c.args, arg)
}

func (c *calls) list() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.args...)
}
