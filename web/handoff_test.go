package web_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/lestrrat-go/jwx/v3/jwk"
	"github.com/lestrrat-go/jwx/v3/jwt"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/entra-verifier/entra-verifier/store"
	"github.com/entra-verifier/entra-verifier/verifier"
	"github.com/entra-verifier/entra-verifier/web"
)

// TestCreateReturnTo: the create body's optional returnTo reaches the domain only when it is on the
// allow-list; a bad body, a foreign URL or a deployment without hand-off is refused before anything is
// created.
func TestCreateReturnTo(t *testing.T) {
	tests := []struct {
		name    string
		handoff bool
		body    string
		status  int
		code    string
		want    string // returnTo given to Create
	}{
		{"no body", true, "", http.StatusCreated, "", ""},
		{"empty object", true, "{}", http.StatusCreated, "", ""},
		{"allowed", true, `{"returnTo":"https://rp.example.com/onboarding/done?step=2"}`, http.StatusCreated, "", "https://rp.example.com/onboarding/done?step=2"},
		{"unknown field ignored", true, `{"returnTo":"","other":1}`, http.StatusCreated, "", ""},
		{"foreign host", true, `{"returnTo":"https://evil.example/onboarding/"}`, http.StatusBadRequest, "return_to_not_allowed", ""},
		{"climbing out of the prefix", true, `{"returnTo":"https://rp.example.com/onboarding/../admin"}`, http.StatusBadRequest, "return_to_not_allowed", ""},
		{"javascript URL", true, `{"returnTo":"javascript:alert(1)"}`, http.StatusBadRequest, "return_to_not_allowed", ""},
		{"not JSON", true, `returnTo=https://rp.example.com/`, http.StatusBadRequest, "malformed", ""},
		{"too large", true, `{"returnTo":"` + strings.Repeat("a", 17<<10) + `"}`, http.StatusRequestEntityTooLarge, "too_large", ""},
		{"hand-off off, none asked", false, "", http.StatusCreated, "", ""},
		{"hand-off off, one asked", false, `{"returnTo":"https://rp.example.com/onboarding/"}`, http.StatusBadRequest, "return_to_not_allowed", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var created calls
			opts := web.Options{Presentations: &presentationsFake{create: func(_ context.Context, _, returnTo string) (*store.Presentation, error) {
				created.add(returnTo)
				p := pRecord
				return &p, nil
			}}}
			if tc.handoff {
				opts.Handoff = testHandoff(t)
			}
			h := unitServer(t, opts).Handler()
			rec := do(h, http.MethodPost, "/api/verifier/presentation-requests", strings.NewReader(tc.body), map[string]string{"Content-Type": "application/json"})
			require.Equal(t, tc.status, rec.Code, rec.Body.String())
			if tc.code != "" {
				assert.Equal(t, tc.code, errorOf(t, rec))
				assert.Empty(t, created.list(), "a refused create calls nobody")
				assert.Empty(t, rec.Header().Get("Set-Cookie"), "nor binds a cookie")
				return
			}
			assert.Equal(t, []string{tc.want}, created.list())
		})
	}
}

// TestPresentationReturn: GET .../return sends the creating browser back to its allow-listed URL with a
// signed result token, once, and only for a finished request that has a return URL.
func TestPresentationReturn(t *testing.T) {
	const returnTo = "https://rp.example.com/onboarding/done?step=2"
	verified := pRecord
	verified.ReturnTo = returnTo
	verified.Claims = map[string]any{"firstName": "Ada", "lastName": "Lovelace"}
	failed := verified
	failed.Status, failed.Claims = store.PresentationFailed, nil
	pending := verified
	pending.Status = store.PresentationRetrieved
	noReturn := verified
	noReturn.ReturnTo = ""
	offList := verified
	offList.ReturnTo = "https://old-rp.example.com/onboarding/"

	tests := []struct {
		name       string
		record     *store.Presentation
		getErr     error
		handOffErr error
		status     int
		code       string
		handedOff  bool
	}{
		{"verified", &verified, nil, nil, http.StatusSeeOther, "", true},
		{"failed", &failed, nil, nil, http.StatusSeeOther, "", true},
		{"not finished", &pending, nil, nil, http.StatusConflict, "not_finished", false},
		{"no return URL", &noReturn, nil, nil, http.StatusNotFound, "not_found", false},
		{"another browser's", nil, store.ErrNotFound, nil, http.StatusNotFound, "not_found", false},
		{"allow-list changed since", &offList, nil, nil, http.StatusBadRequest, "return_to_not_allowed", false},
		{"already handed off", &verified, nil, verifier.ErrHandedOff, http.StatusGone, "already_returned", true},
		{"store down at hand-off", &verified, nil, store.ErrUnavailable, http.StatusServiceUnavailable, "store_unavailable", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cookie := testCookie(1)
			var handOffs calls
			h := unitServer(t, web.Options{
				Handoff: testHandoff(t),
				Presentations: &presentationsFake{
					get: func(_ context.Context, id, owner string) (*store.Presentation, error) {
						assert.Equal(t, ownerHash(cookie), owner)
						if tc.getErr != nil {
							return nil, tc.getErr
						}
						p := *tc.record
						return &p, nil
					},
					handOff: func(_ context.Context, id, owner string) (*store.Presentation, error) {
						handOffs.add(id + " " + owner)
						if tc.handOffErr != nil {
							return nil, tc.handOffErr
						}
						p := *tc.record
						p.HandedOff = true
						return &p, nil
					},
				},
			}).Handler()
			rec := do(h, http.MethodGet, "/api/verifier/presentation-requests/"+pRecord.ID+"/return", nil,
				map[string]string{"Cookie": web.SecureCookieName + "=" + cookie})
			require.Equal(t, tc.status, rec.Code, rec.Body.String())
			if tc.handedOff {
				assert.Equal(t, []string{pRecord.ID + " " + ownerHash(cookie)}, handOffs.list())
			} else {
				assert.Empty(t, handOffs.list())
			}
			if tc.code != "" {
				assert.Equal(t, tc.code, errorOf(t, rec))
				assert.Empty(t, rec.Header().Get("Location"))
				return
			}
			loc, err := url.Parse(rec.Header().Get("Location"))
			require.NoError(t, err)
			token := loc.Query().Get("result")
			loc.RawQuery = strings.TrimSuffix(loc.RawQuery, "&result="+url.QueryEscape(token))
			assert.Equal(t, returnTo, loc.String(), "the relying party's URL, its own query kept")

			set, err := jwk.Parse(do(h, http.MethodGet, "/.well-known/jwks.json", nil, nil).Body.Bytes())
			require.NoError(t, err)
			tok, err := jwt.Parse([]byte(token), jwt.WithKeySet(set), jwt.WithValidate(false)) // issued at the fake clock
			require.NoError(t, err, "signed by the key /.well-known/jwks.json publishes")
			sub, _ := tok.Subject()
			aud, _ := tok.Audience()
			iss, _ := tok.Issuer()
			assert.Equal(t, pRecord.ID, sub)
			assert.Equal(t, []string{"https://rp.example.com"}, aud)
			assert.Equal(t, "https://verifier.example.com", iss)
			var status, back string
			require.NoError(t, tok.Get("status", &status))
			require.NoError(t, tok.Get("return_to", &back))
			assert.Equal(t, string(tc.record.Status), status)
			assert.Equal(t, returnTo, back)
			var claims map[string]any
			if tc.record.Claims != nil {
				require.NoError(t, tok.Get("claims", &claims))
				assert.Equal(t, map[string]any{"firstName": "Ada"}, claims, "only the allowed claims travel")
			} else {
				assert.Error(t, tok.Get("claims", &claims))
			}
		})
	}

	// Without hand-off the route is not mounted.
	h := unitServer(t, web.Options{}).Handler()
	rec := do(h, http.MethodGet, "/api/verifier/presentation-requests/"+pRecord.ID+"/return", nil, nil)
	assert.Equal(t, http.StatusNotFound, rec.Code)
	assert.Equal(t, http.StatusNotFound, do(h, http.MethodGet, "/.well-known/jwks.json", nil, nil).Code)
}

func TestJWKS(t *testing.T) {
	h := unitServer(t, web.Options{Handoff: testHandoff(t)}).Handler()
	rec := do(h, http.MethodGet, "/.well-known/jwks.json", nil, nil)
	require.Equal(t, http.StatusOK, rec.Code)
	assert.Equal(t, "application/json", rec.Header().Get("Content-Type"))
	assert.Equal(t, "*", rec.Header().Get("Access-Control-Allow-Origin"))
	assert.Equal(t, "public, max-age=300", rec.Header().Get("Cache-Control"))
	set, err := jwk.Parse(rec.Body.Bytes())
	require.NoError(t, err)
	require.Equal(t, 1, set.Len())
	key, _ := set.Key(0)
	_, private := key.(jwk.ECDSAPrivateKey)
	assert.False(t, private, "only the public key is published")
}

// TestPageReturnTo: the page's ?return_to= is rendered when allowed and refused with a page of its own
// otherwise.
func TestPageReturnTo(t *testing.T) {
	tests := []struct {
		name    string
		handoff bool
		query   string
		status  int
		render  string
	}{
		{"none", true, "", http.StatusOK, ""},
		{"allowed", true, "?return_to=" + url.QueryEscape("https://rp.example.com/onboarding/x"), http.StatusOK, `data-return-to="https://rp.example.com/onboarding/x"`},
		{"foreign", true, "?return_to=" + url.QueryEscape("https://evil.example/"), http.StatusBadRequest, ""},
		{"empty", true, "?return_to=", http.StatusBadRequest, ""},
		{"hand-off off", false, "?return_to=" + url.QueryEscape("https://rp.example.com/onboarding/x"), http.StatusBadRequest, ""},
		{"hand-off off, none", false, "", http.StatusOK, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			opts := web.Options{}
			if tc.handoff {
				opts.Handoff = testHandoff(t)
			}
			rec := do(unitServer(t, opts).Handler(), http.MethodGet, "/"+tc.query, nil, nil)
			assert.Equal(t, tc.status, rec.Code)
			assert.Contains(t, rec.Header().Get("Content-Type"), "text/html")
			assert.Equal(t, "DENY", rec.Header().Get("X-Frame-Options"))
			assert.Contains(t, rec.Header().Get("Content-Security-Policy"), "default-src 'self'")
			assert.Equal(t, "no-store", rec.Header().Get("Cache-Control"))
			if tc.render != "" {
				assert.Contains(t, rec.Body.String(), tc.render)
			} else {
				assert.NotContains(t, rec.Body.String(), "data-return-to")
			}
			assert.NotContains(t, rec.Body.String(), "evil.example", "a refused URL is not echoed")
		})
	}
}
