package web_test

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/entra-verifier/entra-verifier/store"
	"github.com/entra-verifier/entra-verifier/web"
)

// browserCookie is a well-formed binding cookie value; owner is the hash the store sees for it.
const browserCookie = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"

var owner = web.HashOwner(browserCookie)

// withCookie is the Cookie header of the browser holding browserCookie under the https name.
var withCookie = map[string]string{"Cookie": web.SecureCookieName + "=" + browserCookie}

// newestOf answers store.Owners.Newest from ids (kind to id) for owner only, recording each kind asked.
func newestOf(asked *calls, ids map[store.Kind]string) func(context.Context, string, store.Kind) (string, error) {
	return func(_ context.Context, o string, kind store.Kind) (string, error) {
		asked.add(string(kind))
		if id, ok := ids[kind]; ok && o == owner {
			return id, nil
		}
		return "", store.ErrNotFound
	}
}

// journeyOf decodes GET /api/journey's answer.
func journeyOf(t *testing.T, h http.Handler, header map[string]string) map[string]any {
	t.Helper()
	rec := do(h, http.MethodGet, "/api/journey", nil, header)
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	assert.Equal(t, "no-store", rec.Header().Get("Cache-Control"))
	var out map[string]any
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &out))
	return out
}

// TestJourneyWithoutCookie: a browser without the binding cookie (or with one that created nothing) resumes
// nothing; the consent block is there when terms are configured, without an acceptance.
func TestJourneyWithoutCookie(t *testing.T) {
	tests := []struct {
		name   string
		kv     []string
		header map[string]string
		want   string
	}{
		{"no cookie", nil, nil, `{"journey":null,"ipaSession":null,"presentationRequest":null}`},
		{"a cookie that created nothing", nil, withCookie, `{"journey":null,"ipaSession":null,"presentationRequest":null}`},
		{"a malformed cookie", nil, map[string]string{"Cookie": web.SecureCookieName + "=planted"}, `{"journey":null,"ipaSession":null,"presentationRequest":null}`},
		{"no cookie, terms", []string{"VERIFIER_TERMS_URL", "https://bank.example/terms", "VERIFIER_PRIVACY_URL", "https://bank.example/privacy"}, nil,
			`{"journey":null,"ipaSession":null,"presentationRequest":null,"consent":{"termsUrl":"https://bank.example/terms","privacyUrl":"https://bank.example/privacy"}}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := unitServer(t, web.Options{Config: testConfig(t, tc.kv...)}).Handler()
			rec := do(h, http.MethodGet, "/api/journey", nil, tc.header)
			require.Equal(t, http.StatusOK, rec.Code)
			assert.JSONEq(t, tc.want, rec.Body.String())
		})
	}
}

// TestJourneyResumesNewest: the browser's newest session and request, each as its status read, with the
// create answer's fields while it is not final and without them once it is; the consent block carries the
// session's acceptance time.
func TestJourneyResumesNewest(t *testing.T) {
	expires := now.Add(4 * time.Minute)
	tests := []struct {
		name               string
		sess               store.IPASession
		pres               store.Presentation
		wantIPA, wantEntra string
	}{
		{
			name: "neither final: the create answers too",
			sess: store.IPASession{ID: "sess-1", Status: store.IPAPending, StartURL: "https://ipa.example.com/start?session-id=sess-1",
				ConsentAt: now.Add(-time.Minute), UpdatedAt: now, ExpiresAt: expires},
			pres: store.Presentation{ID: "req-1", Status: store.PresentationRetrieved, URL: "openid-vc://?request_uri=https://rs/req-1", ExpiresAt: expires},
			wantIPA: `{"sessionId":"sess-1","status":"pending","updatedAt":"2026-11-25T08:00:00Z","expiresAt":"2026-11-25T08:04:00Z",
				"startUrl":"https://ipa.example.com/start?session-id=sess-1","qrCodeUrl":"/api/ipa/sessions/sess-1/qr.png"}`,
			wantEntra: `{"requestId":"req-1","status":"retrieved","expiresAt":"2026-11-25T08:04:00Z",
				"url":"openid-vc://?request_uri=https://rs/req-1","qrCodeUrl":"/api/verifier/presentation-requests/req-1/qr.png"}`,
		},
		{
			name: "both final: the status reads only",
			sess: store.IPASession{ID: "sess-2", Status: store.IPACompleted, IdentityID: "id-9", StartURL: "https://ipa.example.com/start?session-id=sess-2",
				ConsentAt: now.Add(-time.Minute), UpdatedAt: now, ExpiresAt: expires},
			pres: store.Presentation{ID: "req-2", Status: store.PresentationVerified, URL: "openid-vc://?request_uri=https://rs/req-2",
				Issuer: "did:web:us.did.idemia.io", Claims: map[string]any{"firstName": "Megan"}, ExpiresAt: expires},
			wantIPA: `{"sessionId":"sess-2","status":"completed","identityId":"id-9","updatedAt":"2026-11-25T08:00:00Z","expiresAt":"2026-11-25T08:04:00Z"}`,
			wantEntra: `{"requestId":"req-2","status":"verified","issuer":"did:web:us.did.idemia.io","claims":{"firstName":"Megan"},
				"expiresAt":"2026-11-25T08:04:00Z"}`,
		},
		{
			name: "past their expiry: expired, final, no claims",
			sess: store.IPASession{ID: "sess-3", Status: store.IPAPending, StartURL: "https://ipa.example.com/start?session-id=sess-3",
				ConsentAt: now.Add(-time.Minute), UpdatedAt: now.Add(-time.Hour), ExpiresAt: now},
			pres:      store.Presentation{ID: "req-3", Status: store.PresentationCreated, URL: "openid-vc://?request_uri=https://rs/req-3", ExpiresAt: now},
			wantIPA:   `{"sessionId":"sess-3","status":"expired","updatedAt":"2026-11-25T07:00:00Z","expiresAt":"2026-11-25T08:00:00Z"}`,
			wantEntra: `{"requestId":"req-3","status":"expired","expiresAt":"2026-11-25T08:00:00Z"}`,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var asked, reads calls
			sessions := &sessionsFake{get: func(_ context.Context, id, o string) (*store.IPASession, error) {
				reads.add("ipa " + id + " " + o)
				s := tc.sess
				return &s, nil
			}}
			presentations := &presentationsFake{get: func(_ context.Context, id, o string) (*store.Presentation, error) {
				reads.add("entra " + id + " " + o)
				p := tc.pres
				return &p, nil
			}}
			h := unitServer(t, web.Options{
				Config:   testConfig(t, "VERIFIER_TERMS_URL", "https://bank.example/terms"),
				Sessions: sessions, Presentations: presentations,
				Store: &storeFake{newest: newestOf(&asked, map[store.Kind]string{store.KindIPASession: tc.sess.ID, store.KindPresentation: tc.pres.ID})},
			}).Handler()
			out := journeyOf(t, h, withCookie)
			assert.Nil(t, out["journey"])
			got, err := json.Marshal(out["ipaSession"])
			require.NoError(t, err)
			assert.JSONEq(t, tc.wantIPA, string(got))
			got, err = json.Marshal(out["presentationRequest"])
			require.NoError(t, err)
			assert.JSONEq(t, tc.wantEntra, string(got))
			assert.Equal(t, map[string]any{"termsUrl": "https://bank.example/terms", "acceptedAt": "2026-11-25T07:59:00Z"}, out["consent"])
			assert.ElementsMatch(t, []string{string(store.KindIPASession), string(store.KindPresentation)}, asked.list())
			assert.Equal(t, []string{"ipa " + tc.sess.ID + " " + owner, "entra " + tc.pres.ID + " " + owner}, reads.list(),
				"each record is read as this browser sees it")
		})
	}
}

// TestJourneyStoreTrouble: a failing owner index or read is a 500, never a blank resume; a record gone
// since (ErrNotFound) is simply not resumed.
func TestJourneyStoreTrouble(t *testing.T) {
	t.Run("owner index down", func(t *testing.T) {
		h := unitServer(t, web.Options{Store: &storeFake{newest: func(context.Context, string, store.Kind) (string, error) {
			return "", assert.AnError
		}}}).Handler()
		rec := do(h, http.MethodGet, "/api/journey", nil, withCookie)
		assert.Equal(t, http.StatusInternalServerError, rec.Code)
		assert.Equal(t, "internal", errorOf(t, rec))
	})
	t.Run("request read fails", func(t *testing.T) {
		var asked calls
		h := unitServer(t, web.Options{
			Store:         &storeFake{newest: newestOf(&asked, map[store.Kind]string{store.KindPresentation: "req-1"})},
			Presentations: &presentationsFake{get: func(context.Context, string, string) (*store.Presentation, error) { return nil, assert.AnError }},
		}).Handler()
		assert.Equal(t, http.StatusInternalServerError, do(h, http.MethodGet, "/api/journey", nil, withCookie).Code)
	})
	t.Run("session gone", func(t *testing.T) {
		var asked calls
		h := unitServer(t, web.Options{
			Store:    &storeFake{newest: newestOf(&asked, map[store.Kind]string{store.KindIPASession: "sess-1"})},
			Sessions: &sessionsFake{get: func(context.Context, string, string) (*store.IPASession, error) { return nil, store.ErrNotFound }},
		}).Handler()
		out := journeyOf(t, h, withCookie)
		assert.Nil(t, out["ipaSession"])
		assert.Nil(t, out["presentationRequest"])
	})
}

// TestCreateSessionConsent: with VERIFIER_TERMS_URL a create needs {"consent": true} (400 consent_required,
// nothing created, otherwise) and passes the acceptance time to Sessions.Create; without terms it passes
// none.
func TestCreateSessionConsent(t *testing.T) {
	terms := []string{"VERIFIER_TERMS_URL", "https://bank.example/terms"}
	tests := []struct {
		name        string
		kv          []string
		body        string
		wantStatus  int
		wantCode    string
		wantConsent time.Time
	}{
		{"terms, no body", terms, "", http.StatusBadRequest, "consent_required", time.Time{}},
		{"terms, not accepted", terms, `{"consent": false}`, http.StatusBadRequest, "consent_required", time.Time{}},
		{"terms, malformed", terms, `{"consent": "yes"}`, http.StatusBadRequest, "malformed", time.Time{}},
		{"terms, accepted", terms, `{"consent": true}`, http.StatusCreated, "", now},
		{"no terms, no body", nil, "", http.StatusCreated, "", time.Time{}},
		{"no terms, accepted anyway", nil, `{"consent": true}`, http.StatusCreated, "", time.Time{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var created calls
			sessions := &sessionsFake{create: func(_ context.Context, o string) (*store.IPASession, error) {
				created.add(o)
				return &store.IPASession{ID: "sess-1", StartURL: "https://ipa.example.com/start", CreatedAt: now, ExpiresAt: now.Add(time.Hour)}, nil
			}}
			h := unitServer(t, web.Options{Config: testConfig(t, tc.kv...), Sessions: sessions}).Handler()
			rec := do(h, http.MethodPost, "/api/ipa/sessions", strings.NewReader(tc.body), map[string]string{"Content-Type": "application/json"})
			require.Equal(t, tc.wantStatus, rec.Code, rec.Body.String())
			if tc.wantCode != "" {
				assert.Equal(t, tc.wantCode, errorOf(t, rec))
				assert.Empty(t, created.list(), "nothing is created")
				assert.Empty(t, rec.Header().Values("Set-Cookie"), "no cookie for a refused create")
				return
			}
			assert.Len(t, created.list(), 1)
			assert.True(t, tc.wantConsent.Equal(sessions.consentAt), "consent time %v, want %v", sessions.consentAt, tc.wantConsent)
			if !sessions.consentAt.IsZero() {
				assert.Equal(t, time.UTC, sessions.consentAt.Location())
			}
		})
	}
}

// TestPageLanguageChoice: ?lang= choosing an offered language is remembered in a cookie (__Host- and Secure
// under https) and the browser sent back without it, the rest of the query kept; the cookie then wins over
// Accept-Language.
func TestPageLanguageChoice(t *testing.T) {
	tests := []struct {
		name, publicURL, path string
		wantLocation          string
		wantCookie            string // "" for none
	}{
		{"https", "https://verifier.example.com", "/?lang=fr", "/", "__Host-verifier_lang=fr; Path=/; Max-Age=31536000; Secure; SameSite=Lax"},
		{"http localhost", "http://localhost:8080", "/?lang=de", "/", "verifier_lang=de; Path=/; Max-Age=31536000; SameSite=Lax"},
		{"the rest of the query kept", "https://verifier.example.com", "/?return_to=https%3A%2F%2Fbank.example%2F&lang=it",
			"/?return_to=https%3A%2F%2Fbank.example%2F", "__Host-verifier_lang=it; Path=/; Max-Age=31536000; Secure; SameSite=Lax"},
		{"a language not offered", "https://verifier.example.com", "/?lang=xx", "/", ""},
		{"the done page too", "https://verifier.example.com", "/ipa/done?lang=pl", "/ipa/done", "__Host-verifier_lang=pl; Path=/; Max-Age=31536000; Secure; SameSite=Lax"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := unitServer(t, web.Options{Config: testConfig(t, "VERIFIER_PUBLIC_URL", tc.publicURL)}).Handler()
			rec := do(h, http.MethodGet, tc.path, nil, nil)
			require.Equal(t, http.StatusSeeOther, rec.Code, rec.Body.String())
			assert.Equal(t, tc.wantLocation, rec.Header().Get("Location"))
			if tc.wantCookie == "" {
				assert.Empty(t, rec.Header().Values("Set-Cookie"))
			} else {
				assert.Equal(t, []string{tc.wantCookie}, rec.Header().Values("Set-Cookie"))
			}
		})
	}

	h := unitServer(t, web.Options{}).Handler()
	page := func(header map[string]string) string {
		rec := do(h, http.MethodGet, "/", nil, header)
		require.Equal(t, http.StatusOK, rec.Code)
		assert.Equal(t, "Accept-Language, Cookie", rec.Header().Get("Vary"))
		return rec.Body.String()
	}
	assert.Contains(t, page(map[string]string{"Accept-Language": "nl-BE,nl;q=0.9"}), `<html lang="nl">`)
	assert.Contains(t, page(map[string]string{"Accept-Language": "nl", "Cookie": "__Host-verifier_lang=es"}), `<html lang="es">`, "the choice wins")
	assert.Contains(t, page(map[string]string{"Accept-Language": "nl", "Cookie": "verifier_lang=es"}), `<html lang="nl">`,
		"under https only the __Host- cookie is read")
	assert.Contains(t, page(map[string]string{"Accept-Language": "nl", "Cookie": "__Host-verifier_lang=xx"}), `<html lang="nl">`,
		"a language not offered is ignored")
	assert.Contains(t, page(map[string]string{"Accept-Language": "ja"}), `<html lang="en">`, "else the first language")
}

// TestBrandAssets: the accent colour as a style sheet and the logo under its own CSP, both cacheable; no
// logo route without VERIFIER_BRAND_LOGO.
func TestBrandAssets(t *testing.T) {
	logo := filepath.Join(t.TempDir(), "logo.svg")
	svg := `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 1 1"/>`
	require.NoError(t, os.WriteFile(logo, []byte(svg), 0o600))
	h := unitServer(t, web.Options{Config: testConfig(t, "VERIFIER_BRAND_LOGO", logo, "VERIFIER_BRAND_COLOR", "#0b5e3c")}).Handler()

	rec := do(h, http.MethodGet, "/brand/brand.css", nil, nil)
	require.Equal(t, http.StatusOK, rec.Code)
	assert.Equal(t, "text/css; charset=utf-8", rec.Header().Get("Content-Type"))
	assert.Equal(t, "public, max-age=86400", rec.Header().Get("Cache-Control"))
	assert.Equal(t, ":root { --accent: #0b5e3c; }\n", rec.Body.String())

	rec = do(h, http.MethodGet, "/brand/logo", nil, nil)
	require.Equal(t, http.StatusOK, rec.Code)
	assert.Equal(t, "image/svg+xml", rec.Header().Get("Content-Type"))
	assert.Equal(t, "public, max-age=86400", rec.Header().Get("Cache-Control"))
	assert.Equal(t, "default-src 'none'; style-src 'unsafe-inline'; sandbox", rec.Header().Get("Content-Security-Policy"))
	assert.Equal(t, "nosniff", rec.Header().Get("X-Content-Type-Options"))
	assert.Equal(t, svg, rec.Body.String())

	page := do(h, http.MethodGet, "/", nil, nil).Body.String()
	assert.Contains(t, page, `<img class="logo" src="/brand/logo?v=`)
	assert.Contains(t, page, `<link rel="stylesheet" href="/brand/brand.css?v=`)

	plain := unitServer(t, web.Options{}).Handler()
	assert.Equal(t, http.StatusNotFound, do(plain, http.MethodGet, "/brand/logo", nil, nil).Code)
	assert.NotContains(t, do(plain, http.MethodGet, "/", nil, nil).Body.String(), "/brand/logo")
	assert.Equal(t, http.StatusOK, do(plain, http.MethodGet, "/brand/brand.css", nil, nil).Code)
}

// TestIPADoneByCookie: the browser that created the session goes back to the page; a browser without the
// cookie, or whose cookie created no session, gets the go-back page.
func TestIPADoneByCookie(t *testing.T) {
	var asked calls
	sessions := &sessionsFake{get: func(_ context.Context, id, o string) (*store.IPASession, error) {
		if id != "sess-1" || o != owner {
			return nil, store.ErrNotFound
		}
		return &store.IPASession{ID: id, Status: store.IPACompleted, ExpiresAt: now.Add(time.Hour)}, nil
	}}
	h := unitServer(t, web.Options{Sessions: sessions,
		Store: &storeFake{newest: newestOf(&asked, map[store.Kind]string{store.KindIPASession: "sess-1"})}}).Handler()

	rec := do(h, http.MethodGet, "/ipa/done", nil, withCookie)
	assert.Equal(t, http.StatusSeeOther, rec.Code)
	assert.Equal(t, "/", rec.Header().Get("Location"))

	other := map[string]string{"Cookie": web.SecureCookieName + "=BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB"}
	for name, header := range map[string]map[string]string{"no cookie": nil, "another browser": other,
		"the http cookie name under https": {"Cookie": web.CookieName + "=" + browserCookie}} {
		rec := do(h, http.MethodGet, "/ipa/done", nil, header)
		assert.Equal(t, http.StatusOK, rec.Code, name)
		assert.Contains(t, rec.Body.String(), `id="done-title"`, name)
		assert.Equal(t, "no-store", rec.Header().Get("Cache-Control"), name)
	}
}
