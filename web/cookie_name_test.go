package web_test

import (
	"crypto/rand"
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/entra-verifier/entra-verifier/web"
)

// cookieValue is a well-formed binding cookie value.
func cookieValue() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// TestBindingCookieName: under an https public URL the cookie is __Host-verifier_session (Secure, Path=/,
// no Domain); under http://localhost it is verifier_session.
func TestBindingCookieName(t *testing.T) {
	tests := []struct {
		publicURL, name string
		secure          bool
	}{
		{"https://verifier.example.com", "__Host-verifier_session", true},
		{"http://localhost:8080", "verifier_session", false},
	}
	for _, tc := range tests {
		t.Run(tc.publicURL, func(t *testing.T) {
			h := newServer(t, "VERIFIER_PUBLIC_URL", tc.publicURL).Handler()
			req := httptest.NewRequest(http.MethodPost, tc.publicURL+"/api/verifier/presentation-requests", nil)
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			require.Equal(t, http.StatusCreated, rec.Code, rec.Body.String())
			cookies := rec.Result().Cookies()
			require.Len(t, cookies, 1)
			c := cookies[0]
			assert.Equal(t, tc.name, c.Name)
			assert.Equal(t, tc.secure, c.Secure)
			assert.Equal(t, "/", c.Path)
			assert.Empty(t, c.Domain, "host-only: no Domain")
			assert.True(t, c.HttpOnly)
			assert.Equal(t, http.SameSiteLaxMode, c.SameSite)
			raw := rec.Header().Get("Set-Cookie")
			assert.NotContains(t, strings.ToLower(raw), "domain=")
		})
	}
}

// TestPlantedCookieBindsNothing: under https only __Host-verifier_session is read. A verifier_session
// cookie planted by a sibling subdomain neither names the owner of a create (a fresh __Host- cookie is set)
// nor reads a record created under its value.
func TestPlantedCookieBindsNothing(t *testing.T) {
	records := newOwnedRecords()
	h := newServerWith(t, ownedPresentations{records}, ownedSessions{records}).Handler()
	planted := cookieValue()
	records.add("req-planted", web.HashOwner(planted))

	do := func(method, path string, cookies ...*http.Cookie) *httptest.ResponseRecorder {
		req := httptest.NewRequest(method, "https://verifier.example.com"+path, nil)
		for _, c := range cookies {
			req.AddCookie(c)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec
	}
	plantedCookie := &http.Cookie{Name: web.CookieName, Value: planted}

	rec := do(http.MethodPost, "/api/verifier/presentation-requests", plantedCookie)
	require.Equal(t, http.StatusCreated, rec.Code)
	assert.NotEqual(t, web.HashOwner(planted), records.lastCreateOwner(), "the planted cookie does not own the create")
	set := rec.Result().Cookies()
	require.Len(t, set, 1, "a fresh binding cookie is set")
	assert.Equal(t, web.SecureCookieName, set[0].Name)
	assert.NotEqual(t, planted, set[0].Value)

	for _, path := range []string{"/api/verifier/presentation-requests/req-planted", "/api/verifier/presentation-requests/req-planted/qr.png", "/api/verifier/presentation-requests/req-planted/events"} {
		rec = do(http.MethodGet, path, plantedCookie)
		assert.Equal(t, http.StatusNotFound, rec.Code, "%s with only the planted cookie", path)
		assert.Empty(t, records.lastReadOwner(), "%s: the planted cookie names no owner", path)
	}
	// The same value under the __Host- name does bind: the refusal above is the name, not the value.
	rec = do(http.MethodGet, "/api/verifier/presentation-requests/req-planted", &http.Cookie{Name: web.SecureCookieName, Value: planted}, plantedCookie)
	assert.Equal(t, http.StatusOK, rec.Code)
}

// TestSessionCookie: the first well-formed value of the named cookie; malformed ones are skipped.
func TestSessionCookie(t *testing.T) {
	good, other := cookieValue(), cookieValue()
	tests := []struct {
		name, header, want string
	}{
		{"none", "", ""},
		{"only the http name", "verifier_session=" + good, ""},
		{"the __Host- name", "__Host-verifier_session=" + good, good},
		{"both names", "verifier_session=" + other + "; __Host-verifier_session=" + good, good},
		{"malformed first", "__Host-verifier_session=short; __Host-verifier_session=" + good, good},
		{"two well-formed", "__Host-verifier_session=" + good + "; __Host-verifier_session=" + other, good},
		{"case differs", "__host-verifier_session=" + good, ""},
		{"garbage", "__Host-verifier_session", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req := httptest.NewRequest(http.MethodGet, "/", nil)
			req.Header.Set("Cookie", tc.header)
			assert.Equal(t, tc.want, web.SessionCookie(req, web.SecureCookieName))
		})
	}
}

// FuzzSessionCookie: whatever Cookie header arrives, the value read is "" or a well-formed value that the
// header holds under the exact name asked for.
func FuzzSessionCookie(f *testing.F) {
	good := cookieValue()
	for _, seed := range []string{
		"", "__Host-verifier_session=" + good, "verifier_session=" + good, "a=b; __Host-verifier_session=" + good,
		"__Host-verifier_session=\"" + good + "\"", "__Host-verifier_session=x; __Host-verifier_session=" + good, ";;=;",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, header string) {
		req := httptest.NewRequest(http.MethodGet, "/", nil)
		req.Header.Set("Cookie", header)
		for _, name := range []string{web.SecureCookieName, web.CookieName} {
			v := web.SessionCookie(req, name)
			if v == "" {
				continue
			}
			if b, err := base64.RawURLEncoding.DecodeString(v); err != nil || len(b) != 32 {
				t.Fatalf("%q read from %q is not a well-formed cookie value", v, header)
			}
			if !strings.Contains(header, name) || !strings.Contains(header, v) {
				t.Fatalf("%q read under %s from %q, which does not hold both", v, name, header)
			}
		}
	})
}
