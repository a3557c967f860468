package web_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/entra-verifier/entra-verifier/ipa"
	"github.com/entra-verifier/entra-verifier/journey"
	"github.com/entra-verifier/entra-verifier/result"
	"github.com/entra-verifier/entra-verifier/store"
	"github.com/entra-verifier/entra-verifier/web"
)

const (
	unitKey    = "unit-backend-key-0123456789abcdef01234567"
	unitKeyOld = "unit-backend-old-0123456789abcdef01234567"
)

// journeysFake is a web.Journeys whose methods are its fields; a nil field answers errUnexpected.
type journeysFake struct {
	create   func(ctx context.Context, keyName string, r *journey.CreateRequest) (*store.Journey, string, error)
	status   func(ctx context.Context, id string) (result.JourneyStatus, error)
	identity func(ctx context.Context, id string) ([]byte, error)
	proof    func(ctx context.Context, id string) (*ipa.Proof, error)
	open     func(ctx context.Context, token, ownerHash string) (*store.Journey, error)
	active   func(ctx context.Context, ownerHash string) (*store.Journey, error)
}

var _ web.Journeys = (*journeysFake)(nil)

func (f *journeysFake) Create(ctx context.Context, keyName string, r *journey.CreateRequest) (*store.Journey, string, error) {
	if f.create == nil {
		return nil, "", errUnexpected
	}
	return f.create(ctx, keyName, r)
}

func (f *journeysFake) Status(ctx context.Context, id string) (result.JourneyStatus, error) {
	if f.status == nil {
		return result.JourneyStatus{}, errUnexpected
	}
	return f.status(ctx, id)
}

func (f *journeysFake) Identity(ctx context.Context, id string) ([]byte, error) {
	if f.identity == nil {
		return nil, errUnexpected
	}
	return f.identity(ctx, id)
}

func (f *journeysFake) Proof(ctx context.Context, id string) (*ipa.Proof, error) {
	if f.proof == nil {
		return nil, errUnexpected
	}
	return f.proof(ctx, id)
}

func (f *journeysFake) Open(ctx context.Context, token, ownerHash string) (*store.Journey, error) {
	if f.open == nil {
		return nil, errUnexpected
	}
	return f.open(ctx, token, ownerHash)
}

func (f *journeysFake) Active(ctx context.Context, ownerHash string) (*store.Journey, error) {
	if f.active == nil {
		return nil, store.ErrNotFound // the page asks on every load: no journey unless a test says so
	}
	return f.active(ctx, ownerHash)
}

func (f *journeysFake) StartIPA(context.Context, *store.Journey, string, time.Time) (*store.IPASession, bool, error) {
	return nil, false, errUnexpected
}

func (f *journeysFake) StartPresentation(context.Context, *store.Journey, string) (*store.Presentation, bool, error) {
	return nil, false, errUnexpected
}

// backendServer is a unit server with the backend routes on (keys "crm" and "old") and journeys f.
func backendServer(t *testing.T, f *journeysFake, kv ...string) http.Handler {
	t.Helper()
	kv = append([]string{"VERIFIER_API_KEYS", "crm:" + unitKey + ",old:" + unitKeyOld}, kv...)
	return unitServer(t, web.Options{Config: testConfig(t, kv...), Journeys: f}).Handler()
}

func bearer(key string) map[string]string {
	return map[string]string{"Authorization": "Bearer " + key, "Content-Type": "application/json"}
}

// TestBackendAuth: only "Bearer KEY" with a configured key passes, and the handler learns the key's NAME.
func TestBackendAuth(t *testing.T) {
	var gotName string
	f := &journeysFake{create: func(_ context.Context, name string, r *journey.CreateRequest) (*store.Journey, string, error) {
		gotName = name
		return &store.Journey{ID: "jrn_1", ExpiresAt: now}, "https://verifier.example.com/start/t", nil
	}}
	h := backendServer(t, f)
	for _, tt := range []struct {
		name, header string
		want         int
		keyName      string
	}{
		{"no header", "", http.StatusUnauthorized, ""},
		{"empty bearer", "Bearer ", http.StatusUnauthorized, ""},
		{"lowercase scheme", "bearer " + unitKey, http.StatusUnauthorized, ""},
		{"basic", "Basic " + base64.StdEncoding.EncodeToString([]byte("crm:"+unitKey)), http.StatusUnauthorized, ""},
		{"prefix of a key", "Bearer " + unitKey[:20], http.StatusUnauthorized, ""},
		{"key with a suffix", "Bearer " + unitKey + "x", http.StatusUnauthorized, ""},
		{"the name, not the key", "Bearer crm", http.StatusUnauthorized, ""},
		{"first key", "Bearer " + unitKey, http.StatusCreated, "crm"},
		{"second key", "Bearer " + unitKeyOld, http.StatusCreated, "old"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			gotName = ""
			hdr := map[string]string{"Content-Type": "application/json"}
			if tt.header != "" {
				hdr["Authorization"] = tt.header
			}
			rec := do(h, http.MethodPost, "/api/backend/journeys", strings.NewReader(`{"reference":"r"}`), hdr)
			require.Equal(t, tt.want, rec.Code, rec.Body.String())
			assert.Equal(t, tt.keyName, gotName)
			if tt.want == http.StatusUnauthorized {
				assert.Equal(t, "unauthorized", errorOf(t, rec))
			}
		})
	}
}

// TestBackendUnknownPath: 401 without a valid key, 404 with one; without VERIFIER_API_KEYS the routes are
// not mounted at all.
func TestBackendUnknownPath(t *testing.T) {
	h := backendServer(t, &journeysFake{})
	assert.Equal(t, http.StatusUnauthorized, do(h, http.MethodGet, "/api/backend/nothing", nil, nil).Code)
	rec := do(h, http.MethodGet, "/api/backend/nothing", nil, bearer(unitKey))
	assert.Equal(t, http.StatusNotFound, rec.Code)
	off := unitServer(t, web.Options{Journeys: &journeysFake{}}).Handler()
	for _, path := range []string{"/api/backend/journeys/jrn_1", "/api/backend/nothing", "/start/token"} {
		assert.Equal(t, http.StatusNotFound, do(off, http.MethodGet, path, nil, bearer(unitKey)).Code, path)
	}
}

// TestCreateJourneyAnswers: the create route's error codes and its 201.
func TestCreateJourneyAnswers(t *testing.T) {
	var got *journey.CreateRequest
	f := &journeysFake{create: func(_ context.Context, _ string, r *journey.CreateRequest) (*store.Journey, string, error) {
		if r.Reference == "store-down" {
			return nil, "", fmt.Errorf("store journey: %w", store.ErrUnavailable)
		}
		got = r
		return &store.Journey{ID: "jrn_1", ExpiresAt: now.Add(30 * time.Minute)}, "https://verifier.example.com/start/tok", nil
	}}
	h := backendServer(t, f)
	withHandoff := unitServer(t, web.Options{Config: testConfig(t, "VERIFIER_API_KEYS", "crm:"+unitKey), Journeys: f, Handoff: testHandoff(t)}).Handler()
	for _, tt := range []struct {
		name    string
		handler http.Handler
		body    string
		status  int
		code    string
	}{
		{"not JSON", h, `reference`, http.StatusBadRequest, "malformed"},
		{"unknown field", h, `{"reference":"r","colour":"red"}`, http.StatusBadRequest, "malformed"},
		{"two objects", h, `{"reference":"r"}{"reference":"s"}`, http.StatusBadRequest, "malformed"},
		{"wrong type", h, `{"reference":5}`, http.StatusBadRequest, "malformed"},
		{"too large", h, `{"reference":"` + strings.Repeat("x", journey.MaxCreateBody) + `"}`, http.StatusRequestEntityTooLarge, "too_large"},
		{"no reference", h, `{}`, http.StatusBadRequest, "invalid"},
		{"bad steps", h, `{"reference":"r","steps":["presentation","ipa"]}`, http.StatusBadRequest, "invalid"},
		{"return URL without a hand-off", h, `{"reference":"r","returnUrl":"https://rp.example.com/onboarding/x"}`, http.StatusBadRequest, "return_to_not_allowed"},
		{"return URL off the list", withHandoff, `{"reference":"r","returnUrl":"https://evil.example/"}`, http.StatusBadRequest, "return_to_not_allowed"},
		{"store down", h, `{"reference":"store-down"}`, http.StatusServiceUnavailable, "store_unavailable"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			rec := do(tt.handler, http.MethodPost, "/api/backend/journeys", strings.NewReader(tt.body), bearer(unitKey))
			require.Equal(t, tt.status, rec.Code, rec.Body.String())
			assert.Equal(t, tt.code, errorOf(t, rec))
			assert.Equal(t, "no-store", rec.Header().Get("Cache-Control"))
		})
	}

	rec := do(withHandoff, http.MethodPost, "/api/backend/journeys", strings.NewReader(
		`{"reference":"case-1","steps":["ipa"],"returnUrl":"https://rp.example.com/onboarding/done","locale":"fr"}`), bearer(unitKey))
	require.Equal(t, http.StatusCreated, rec.Code, rec.Body.String())
	var body map[string]any
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &body))
	assert.Equal(t, map[string]any{"journeyId": "jrn_1", "launchUrl": "https://verifier.example.com/start/tok",
		"expiresAt": "2026-11-25T08:30:00Z"}, body)
	assert.Equal(t, &journey.CreateRequest{Reference: "case-1", Steps: []string{"ipa"},
		ReturnURL: "https://rp.example.com/onboarding/done", Locale: "fr"}, got)
}

// TestJourneyReadAnswers: status, identity and proof map the journey errors to their codes.
func TestJourneyReadAnswers(t *testing.T) {
	errs := map[string]error{
		"jrn_gone":     store.ErrNotFound,
		"jrn_off":      journey.ErrRetrievalOff,
		"jrn_early":    journey.ErrNotCompleted,
		"jrn_refused":  fmt.Errorf("proof: %w", ipa.ErrProofRefused),
		"jrn_upstream": fmt.Errorf("identity: %w", ipa.ErrUpstream),
	}
	f := &journeysFake{
		status: func(_ context.Context, id string) (result.JourneyStatus, error) {
			if err := errs[id]; err != nil {
				return result.JourneyStatus{}, err
			}
			return result.JourneyStatus{JourneyID: id, Reference: "case-1", Status: result.JourneyPending}, nil
		},
		identity: func(_ context.Context, id string) ([]byte, error) {
			if err := errs[id]; err != nil {
				return nil, err
			}
			return []byte(`{"id":"gips-1", "raw" : true}`), nil
		},
		proof: func(_ context.Context, id string) (*ipa.Proof, error) {
			if err := errs[id]; err != nil {
				return nil, err
			}
			ct := "application/zip"
			if id == "jrn_untyped" {
				ct = ""
			}
			return &ipa.Proof{Body: io.NopCloser(strings.NewReader("PK\x05\x06")), ContentType: ct}, nil
		},
	}
	h := backendServer(t, f)
	for _, tt := range []struct {
		route, id string
		status    int
		code      string
	}{
		{"", "jrn_gone", http.StatusNotFound, "not_found"},
		{"/identity", "jrn_gone", http.StatusNotFound, "not_found"},
		{"/identity", "jrn_off", http.StatusNotFound, "retrieval_off"},
		{"/identity", "jrn_early", http.StatusConflict, "not_completed"},
		{"/identity", "jrn_upstream", http.StatusBadGateway, "upstream_error"},
		{"/proof", "jrn_off", http.StatusNotFound, "retrieval_off"},
		{"/proof", "jrn_early", http.StatusConflict, "not_completed"},
		{"/proof", "jrn_refused", http.StatusBadGateway, "proof_url_refused"},
	} {
		t.Run(tt.id+tt.route, func(t *testing.T) {
			rec := do(h, http.MethodGet, "/api/backend/journeys/"+tt.id+tt.route, nil, bearer(unitKey))
			require.Equal(t, tt.status, rec.Code, rec.Body.String())
			assert.Equal(t, tt.code, errorOf(t, rec))
		})
	}

	rec := do(h, http.MethodGet, "/api/backend/journeys/jrn_1", nil, bearer(unitKey))
	require.Equal(t, http.StatusOK, rec.Code)
	assert.Contains(t, rec.Body.String(), `"reference":"case-1"`)
	rec = do(h, http.MethodGet, "/api/backend/journeys/jrn_1/identity", nil, bearer(unitKey))
	require.Equal(t, http.StatusOK, rec.Code)
	assert.Equal(t, `{"id":"gips-1", "raw" : true}`, rec.Body.String(), "byte for byte")
	assert.Equal(t, "application/json", rec.Header().Get("Content-Type"))
	rec = do(h, http.MethodGet, "/api/backend/journeys/jrn_1/proof", nil, bearer(unitKey))
	require.Equal(t, http.StatusOK, rec.Code)
	assert.Equal(t, "application/zip", rec.Header().Get("Content-Type"))
	assert.Equal(t, "PK\x05\x06", rec.Body.String())
	rec = do(h, http.MethodGet, "/api/backend/journeys/jrn_untyped/proof", nil, bearer(unitKey))
	assert.Equal(t, "application/octet-stream", rec.Header().Get("Content-Type"))
}

// TestLaunchLink: the 303 with a new cookie, the 303 without one for a browser that has it, the 410 page,
// and a store failure as JSON.
func TestLaunchLink(t *testing.T) {
	var owners []string
	f := &journeysFake{open: func(_ context.Context, token, owner string) (*store.Journey, error) {
		owners = append(owners, owner)
		switch token {
		case "gone":
			return nil, journey.ErrLinkGone
		case "down":
			return nil, store.ErrUnavailable
		}
		return &store.Journey{ID: "jrn_1"}, nil
	}}
	h := backendServer(t, f)

	rec := do(h, http.MethodGet, "/start/good", nil, nil)
	require.Equal(t, http.StatusSeeOther, rec.Code)
	assert.Equal(t, "/", rec.Header().Get("Location"))
	cookie := rec.Result().Cookies()
	require.Len(t, cookie, 1)
	assert.Equal(t, web.SecureCookieName, cookie[0].Name)
	assert.Equal(t, web.HashOwner(cookie[0].Value), owners[0], "the journey is bound to the cookie it sets")

	rec = do(h, http.MethodGet, "/start/good", nil, map[string]string{"Cookie": web.SecureCookieName + "=" + cookie[0].Value})
	require.Equal(t, http.StatusSeeOther, rec.Code)
	assert.Empty(t, rec.Header().Get("Set-Cookie"), "a browser with the cookie keeps it")
	assert.Equal(t, owners[0], owners[1])

	rec = do(h, http.MethodGet, "/start/gone", nil, nil)
	require.Equal(t, http.StatusGone, rec.Code)
	assert.Contains(t, rec.Header().Get("Content-Type"), "text/html")
	assert.Contains(t, rec.Header().Get("Content-Security-Policy"), "default-src 'self'")
	assert.Empty(t, rec.Header().Get("Set-Cookie"), "a refused link sets no cookie")

	rec = do(h, http.MethodGet, "/start/down", nil, nil)
	require.Equal(t, http.StatusServiceUnavailable, rec.Code)
	assert.Equal(t, "store_unavailable", errorOf(t, rec))
}

// TestPageJourneyAnswer: GET /api/journey names the steps and locale of the journey the browser is in, null
// otherwise.
func TestPageJourneyAnswer(t *testing.T) {
	cookieValue := base64.RawURLEncoding.EncodeToString(make([]byte, 32))
	in := web.HashOwner(cookieValue)
	f := &journeysFake{active: func(_ context.Context, owner string) (*store.Journey, error) {
		switch owner {
		case in:
			return &store.Journey{ID: "jrn_1", Steps: []string{"presentation"}, Locale: "fr"}, nil
		case "":
			return nil, store.ErrNotFound
		}
		return nil, store.ErrUnavailable
	}}
	h := backendServer(t, f)
	answer := func(cookie string) (int, map[string]any) {
		hdr := map[string]string{}
		if cookie != "" {
			hdr["Cookie"] = web.SecureCookieName + "=" + cookie
		}
		rec := do(h, http.MethodGet, "/api/journey", nil, hdr)
		var body map[string]any
		_ = json.Unmarshal(rec.Body.Bytes(), &body)
		return rec.Code, body
	}
	status, body := answer(cookieValue)
	require.Equal(t, http.StatusOK, status)
	assert.Equal(t, map[string]any{"steps": []any{"presentation"}, "locale": "fr"}, body["journey"])
	status, body = answer("")
	require.Equal(t, http.StatusOK, status)
	assert.Nil(t, body["journey"])
	status, _ = answer(base64.RawURLEncoding.EncodeToString([]byte(strings.Repeat("z", 32))))
	assert.Equal(t, http.StatusServiceUnavailable, status, "a store failure is not a journey-less browser")

	f.active = func(context.Context, string) (*store.Journey, error) {
		return &store.Journey{ID: "jrn_2", Steps: []string{"ipa", "presentation"}}, nil
	}
	_, body = answer(cookieValue)
	assert.Equal(t, map[string]any{"steps": []any{"ipa", "presentation"}, "locale": nil}, body["journey"])
}
