package web_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"

	"github.com/entra-verifier/entra-verifier/config"
	"github.com/entra-verifier/entra-verifier/ipa"
	"github.com/entra-verifier/entra-verifier/journey"
	"github.com/entra-verifier/entra-verifier/result"
	"github.com/entra-verifier/entra-verifier/store"
	"github.com/entra-verifier/entra-verifier/store/memory"
	"github.com/entra-verifier/entra-verifier/verifier"
	"github.com/entra-verifier/entra-verifier/web"
	"github.com/entra-verifier/entra-verifier/wellknown"
)

const openAPIFile = "../api/openapi.yaml"

// openAPI is the part of api/openapi.yaml the tests read.
type openAPI struct {
	OpenAPI    string                              `yaml:"openapi"`
	Paths      map[string]map[string]yaml.Node     `yaml:"paths"`
	Components struct{ Schemas map[string]schema } `yaml:"components"`
}

type schema struct {
	Ref        string            `yaml:"$ref"`
	Required   []string          `yaml:"required"`
	Properties map[string]schema `yaml:"properties"`
	Enum       []string          `yaml:"enum"`
}

var httpMethods = []string{"get", "put", "post", "delete", "options", "head", "patch", "trace"}

func loadOpenAPI(t *testing.T) (openAPI, map[string]any) {
	t.Helper()
	raw, err := os.ReadFile(openAPIFile)
	require.NoError(t, err)
	var doc openAPI
	require.NoError(t, yaml.Unmarshal(raw, &doc))
	var tree map[string]any
	require.NoError(t, yaml.Unmarshal(raw, &tree))
	require.Equal(t, "3.1.0", doc.OpenAPI)
	return doc, tree
}

// The fakes know one record each, with every optional field set, so answers show every field they can.
var (
	now      = time.Date(2026, 11, 25, 8, 0, 0, 0, time.UTC)
	expiry   = now.Add(10 * time.Minute)
	pRecord  = store.Presentation{ID: "req-1", URL: "openid-vc://?request_uri=https://example.com/r", Status: store.PresentationVerified, Claims: map[string]any{"firstName": "Ada"}, Issuer: "did:web:us.did.idemia.io", Reason: "face_check_failed", Detail: "claimValidationError", CreatedAt: now, UpdatedAt: now, ExpiresAt: expiry}
	sRecord  = store.IPASession{ID: "3fa85f64-5717-4562-b3fc-2c963f66afa6", StartURL: "https://rp-handler.example.com/start?session-id=3fa85f64", Status: store.IPACompleted, IdentityID: "gips-1", Identity: &store.IdentitySummary{LevelOfAssurance: "LOA3", Status: "VERIFIED"}, CreatedAt: now, UpdatedAt: now, ExpiresAt: expiry}
	notFound = func(id string) bool { return id != pRecord.ID && id != sRecord.ID }
)

type fakePresentations struct{}

func (fakePresentations) Create(ctx context.Context, owner, returnTo string) (*store.Presentation, error) {
	p := pRecord
	return &p, nil
}
func (f fakePresentations) HandOff(ctx context.Context, id, owner string) (*store.Presentation, error) {
	return f.Get(ctx, id, owner)
}
func (fakePresentations) Get(ctx context.Context, id, owner string) (*store.Presentation, error) {
	if notFound(id) {
		return nil, store.ErrNotFound
	}
	p := pRecord
	return &p, nil
}
func (fakePresentations) HandleCallback(ctx context.Context, apiKey string, body []byte) (verifier.Outcome, error) {
	return verifier.Outcome{}, nil
}

type fakeSessions struct{}

func (fakeSessions) Create(ctx context.Context, owner string, _ time.Time) (*store.IPASession, error) {
	s := sRecord
	return &s, nil
}
func (fakeSessions) Get(ctx context.Context, id, owner string) (*store.IPASession, error) {
	if notFound(id) {
		return nil, store.ErrNotFound
	}
	s := sRecord
	return &s, nil
}
func (fakeSessions) HandleCallback(ctx context.Context, token string, body []byte) (ipa.Outcome, error) {
	return ipa.Outcome{}, nil
}

const openAPIKey = "openapi-key-0123456789abcdef0123456789abcdef"

// fakeJourneys knows journey jrn_1 (both steps ended well, every field set), opened by the browser whose
// cookie is journeyCookie; jrn_early has not completed IPA.
func fakeJourneys() *journeysFake {
	reason, detail := "face_check_failed", "claimValidationError"
	j := &store.Journey{ID: "jrn_1", Steps: []string{"ipa", "presentation"}, Locale: "fr", ExpiresAt: expiry}
	return &journeysFake{
		create: func(context.Context, string, *journey.CreateRequest) (*store.Journey, string, error) {
			return j, "https://verifier.example.com/start/tok", nil
		},
		status: func(_ context.Context, id string) (result.JourneyStatus, error) {
			if id != j.ID {
				return result.JourneyStatus{}, store.ErrNotFound
			}
			return result.JourneyStatus{JourneyID: id, Reference: "case-4711", Status: result.JourneyCompleted, Steps: j.Steps,
				CreatedAt: "2026-11-25T08:00:00Z", UpdatedAt: "2026-11-25T08:05:00Z", ExpiresAt: "2026-11-25T09:00:00Z",
				IPA: &result.JourneyIPA{SessionID: sRecord.ID, Status: "completed", IdentityID: "gips-1", LevelOfAssurance: "LOA3"},
				Presentation: &result.JourneyPresentation{RequestID: pRecord.ID, Status: "verified", Issuer: "did:web:us.did.idemia.io",
					Reason: &reason, Detail: &detail, Claims: map[string]any{"firstName": "Ada"}}}, nil
		},
		identity: func(context.Context, string) ([]byte, error) { return nil, journey.ErrNotCompleted },
		proof:    func(context.Context, string) (*ipa.Proof, error) { return nil, journey.ErrNotCompleted },
		open:     func(context.Context, string, string) (*store.Journey, error) { return j, nil },
		active: func(_ context.Context, owner string) (*store.Journey, error) {
			if owner == web.HashOwner(journeyCookie) {
				return j, nil
			}
			return nil, store.ErrNotFound
		},
	}
}

var journeyCookie = strings.Repeat("A", 43) // 32 zero bytes, base64url

// newServer builds the server with both halves and both descriptors on: every route the API has. kv are
// extra settings, name then value. The store is the real memory store (watch, ping, rate limits).
func newServer(t *testing.T, kv ...string) *web.Server {
	t.Helper()
	return newServerWith(t, fakePresentations{}, fakeSessions{}, kv...)
}

// newServerWith is newServer with the given domain fakes.
func newServerWith(t *testing.T, p web.Presentations, sessions web.Sessions, kv ...string) *web.Server {
	t.Helper()
	gin.SetMode(gin.TestMode)
	env := map[string]string{
		"VERIFIER_PUBLIC_URL": "https://verifier.example.com",
		"ENTRA_TENANT_ID":     "tenant", "ENTRA_CLIENT_ID": "client", "ENTRA_CLIENT_SECRET": "secret",
		"ENTRA_VERIFIER_DID": "did:web:verifier.example.com",
		"IPA_COGNITO_URL":    "https://cognito.example.com", "IPA_CLIENT_ID": "ipa", "IPA_CLIENT_SECRET": "ipa-secret",
		"VERIFIER_API_KEYS": "crm:" + openAPIKey, // the backend routes and the launch link
	}
	logo := filepath.Join(t.TempDir(), "logo.svg") // so /brand/logo is served
	require.NoError(t, os.WriteFile(logo, []byte(`<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 1 1"/>`), 0o600))
	env["VERIFIER_BRAND_LOGO"] = logo
	for i := 0; i+1 < len(kv); i += 2 {
		env[kv[i]] = kv[i+1]
	}
	cfg := config.Load(func(k string) string { return env[k] })
	require.NoError(t, cfg.Validate())
	st := memory.New(memory.Options{})
	t.Cleanup(func() { _ = st.Close() })
	srv, err := web.New(web.Options{
		Config: cfg, Store: st, Presentations: p, Sessions: sessions, Journeys: fakeJourneys(),
		IdentityRetrieval: true,
		Handoff:           testHandoff(t),
		WellKnown:         &wellknown.Descriptors{DIDDocument: []byte(`{"id":"did:web:verifier.example.com"}`), Configuration: []byte(`{}`), ID: "did:web:verifier.example.com"},
		Now:               func() time.Time { return now },
	})
	require.NoError(t, err)
	t.Cleanup(srv.Close)
	return srv
}

// testHandoff turns the return-URL hand-off on, so its routes are mounted.
func testHandoff(t *testing.T) *web.Handoff {
	allow, err := result.ParseAllowlist("https://rp.example.com/onboarding/")
	require.NoError(t, err)
	signer, err := result.NewSigner("")
	require.NoError(t, err)
	return &web.Handoff{Allowlist: allow, Signer: signer, Claims: result.ParseClaims("firstName")}
}

var ginParam = regexp.MustCompile(`[:*]([A-Za-z0-9_]+)`)

// TestOpenAPIRoutes fails when the routes the server mounts and the operations api/openapi.yaml documents
// differ, either way.
func TestOpenAPIRoutes(t *testing.T) {
	doc, _ := loadOpenAPI(t)
	documented := map[string]bool{}
	for path, item := range doc.Paths {
		for key := range item {
			if slices.Contains(httpMethods, key) {
				documented[strings.ToUpper(key)+" "+path] = true
			}
		}
	}
	served := map[string]bool{}
	for _, r := range newServer(t).Routes() {
		served[r.Method+" "+ginParam.ReplaceAllString(r.Path, "{$1}")] = true
	}
	for op := range served {
		assert.True(t, documented[op], "%s is served but missing from %s", op, openAPIFile)
	}
	for op := range documented {
		assert.True(t, served[op], "%s is documented in %s but not served", op, openAPIFile)
	}
}

// TestOpenAPIRefs checks that every $ref in the document points at something.
func TestOpenAPIRefs(t *testing.T) {
	_, tree := loadOpenAPI(t)
	var walk func(v any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			if ref, ok := v["$ref"].(string); ok {
				target, ok := pointer(tree, ref)
				assert.True(t, ok && target != nil, "dangling $ref %s", ref)
			}
			for _, c := range v {
				walk(c)
			}
		case []any:
			for _, c := range v {
				walk(c)
			}
		}
	}
	walk(tree)
}

func pointer(tree map[string]any, ref string) (any, bool) {
	path, ok := strings.CutPrefix(ref, "#/")
	if !ok {
		return nil, false
	}
	var cur any = tree
	for _, part := range strings.Split(path, "/") {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil, false
		}
		if cur, ok = m[strings.ReplaceAll(strings.ReplaceAll(part, "~1", "/"), "~0", "~")]; !ok {
			return nil, false
		}
	}
	return cur, true
}

// TestOpenAPIBodies checks the JSON answers against their schemas: every field sent is documented and every
// required field is sent.
func TestOpenAPIBodies(t *testing.T) {
	doc, _ := loadOpenAPI(t)
	h := newServer(t).Handler()
	limited := newServer(t, "VERIFIER_RATE_LIMIT_PER_IP", "1/h").Handler()
	limited.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodPost, "/api/ipa/sessions", nil))
	tests := []struct {
		name, method, path string
		handler            http.Handler
		status             int
		schema             string
	}{
		{"create presentation", http.MethodPost, "/api/verifier/presentation-requests", h, http.StatusCreated, "PresentationCreated"},
		{"presentation status", http.MethodGet, "/api/verifier/presentation-requests/" + pRecord.ID, h, http.StatusOK, "PresentationStatus"},
		{"create session", http.MethodPost, "/api/ipa/sessions", h, http.StatusCreated, "SessionCreated"},
		{"session status", http.MethodGet, "/api/ipa/sessions/" + sRecord.ID, h, http.StatusOK, "SessionStatus"},
		{"unknown request", http.MethodGet, "/api/verifier/presentation-requests/nope", h, http.StatusNotFound, "Error"},
		{"cross-site create", http.MethodPost, "/api/ipa/sessions", h, http.StatusForbidden, "Error"},
		{"over the rate limit", http.MethodPost, "/api/verifier/presentation-requests", limited, http.StatusTooManyRequests, "Error"},
		{"page journey", http.MethodGet, "/api/journey", h, http.StatusOK, "Journey"},
		{"create journey", http.MethodPost, "/api/backend/journeys", h, http.StatusCreated, "JourneyCreated"},
		{"journey status", http.MethodGet, "/api/backend/journeys/jrn_1", h, http.StatusOK, "JourneyStatus"},
		{"unknown journey", http.MethodGet, "/api/backend/journeys/jrn_nope", h, http.StatusNotFound, "Error"},
		{"identity too early", http.MethodGet, "/api/backend/journeys/jrn_1/identity", h, http.StatusConflict, "Error"},
		{"proof too early", http.MethodGet, "/api/backend/journeys/jrn_1/proof", h, http.StatusConflict, "Error"},
		{"no backend key", http.MethodGet, "/api/backend/journeys/jrn_1", h, http.StatusUnauthorized, "Error"},
		{"invalid journey body", http.MethodPost, "/api/backend/journeys", h, http.StatusBadRequest, "Error"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var body io.Reader
			if strings.HasPrefix(tt.name, "create journey") {
				body = strings.NewReader(`{"reference":"case-4711"}`)
			}
			if tt.name == "invalid journey body" {
				body = strings.NewReader(`{"reference":""}`)
			}
			req := httptest.NewRequest(tt.method, tt.path, body)
			if tt.status == http.StatusForbidden {
				req.Header.Set("Origin", "https://evil.example")
			}
			if strings.HasPrefix(tt.path, "/api/backend/") && tt.status != http.StatusUnauthorized {
				req.Header.Set("Authorization", "Bearer "+openAPIKey)
			}
			if tt.path == "/api/journey" {
				req.AddCookie(&http.Cookie{Name: web.SecureCookieName, Value: journeyCookie})
			}
			w := httptest.NewRecorder()
			tt.handler.ServeHTTP(w, req)
			require.Equal(t, tt.status, w.Code, w.Body.String())
			assert.Equal(t, "no-store", w.Header().Get("Cache-Control"))
			var got map[string]any
			require.NoError(t, json.Unmarshal(w.Body.Bytes(), &got))
			s, ok := doc.Components.Schemas[tt.schema]
			require.True(t, ok, "no schema %s", tt.schema)
			conforms(t, doc, tt.schema, s, got)
			if tt.path == "/api/journey" {
				assert.NotNil(t, got["journey"], "a browser in a journey: its steps and locale checked too")
			}
			if e, isError := got["error"].(map[string]any); isError && tt.schema == "Error" {
				assert.Contains(t, errorCodes(t, doc), e["code"], "the error code is in the Error schema's enum")
			}
			if tt.status == http.StatusTooManyRequests {
				assert.NotEmpty(t, w.Header().Get("Retry-After"))
			}
			if tt.status == http.StatusCreated && !strings.Contains(tt.path, "/backend/") {
				assert.Contains(t, w.Header().Get("Set-Cookie"), web.CookieName+"=", "creates set the binding cookie")
			}
		})
	}
}

// errorCodes is the enum of the Error schema's code.
func errorCodes(t *testing.T, doc openAPI) []string {
	t.Helper()
	return doc.Components.Schemas["Error"].Properties["error"].Properties["code"].Enum
}

// conforms checks an object's field names (recursively for documented objects) and string enums.
func conforms(t *testing.T, doc openAPI, name string, s schema, body map[string]any) {
	t.Helper()
	for _, r := range s.Required {
		assert.Contains(t, body, r, "%s: required field missing", name)
	}
	for k, v := range body {
		p, ok := s.Properties[k]
		if !assert.True(t, ok, "%s: field %q is sent but not documented", name, k) {
			continue
		}
		if ref, isRef := strings.CutPrefix(p.Ref, "#/components/schemas/"); isRef {
			p, ok = doc.Components.Schemas[ref]
			require.True(t, ok, "no schema %s", ref)
		}
		if str, isString := v.(string); isString && len(p.Enum) > 0 {
			assert.Contains(t, p.Enum, str, "%s.%s", name, k)
		}
		if obj, isObject := v.(map[string]any); isObject && len(p.Properties) > 0 {
			conforms(t, doc, name+"."+k, p, obj)
		}
	}
}
