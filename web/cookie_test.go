package web_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/entra-verifier/entra-verifier/store"
	"github.com/entra-verifier/entra-verifier/web"
)

// testCookie is a well-formed binding cookie value (32 bytes, base64url), distinct for each n.
func testCookie(n byte) string {
	return base64.RawURLEncoding.EncodeToString(bytes.Repeat([]byte{n}, 32))
}

// ownerHash is what the domain is given for a browser holding cookie v.
func ownerHash(v string) string {
	sum := sha256.Sum256([]byte(v))
	return hex.EncodeToString(sum[:])
}

// TestCookieBinding: a create binds the browser with a fresh cookie unless it holds a well-formed one, and
// the domain only ever sees the cookie's hash; reads pass the hash of a well-formed cookie and "" otherwise.
func TestCookieBinding(t *testing.T) {
	tests := []struct {
		name, cookie string
		reused       bool
	}{
		{"no cookie", "", false},
		{"well-formed cookie", testCookie(7), true},
		{"too short", base64.RawURLEncoding.EncodeToString([]byte("short")), false},
		{"not base64url", strings.Repeat("!", 43), false},
		{"padded", base64.URLEncoding.EncodeToString(bytes.Repeat([]byte{7}, 32)), false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var owners calls
			h := unitServer(t, web.Options{
				Presentations: &presentationsFake{
					create: func(_ context.Context, owner, _ string) (*store.Presentation, error) {
						owners.add("create " + owner)
						p := pRecord
						return &p, nil
					},
					get: func(_ context.Context, _, owner string) (*store.Presentation, error) {
						owners.add("get " + owner)
						return nil, store.ErrNotFound
					},
				},
				Sessions: &sessionsFake{create: func(_ context.Context, owner string) (*store.IPASession, error) {
					owners.add("create " + owner)
					s := sRecord
					return &s, nil
				}},
			}).Handler()
			hdr := map[string]string{}
			if tc.cookie != "" {
				hdr["Cookie"] = web.SecureCookieName + "=" + tc.cookie
			}
			for _, path := range []string{"/api/verifier/presentation-requests", "/api/ipa/sessions"} {
				owners = calls{}
				rec := do(h, http.MethodPost, path, nil, hdr)
				require.Equal(t, http.StatusCreated, rec.Code, rec.Body.String())
				set := rec.Result().Cookies()
				if tc.reused {
					assert.Empty(t, set, "%s: a bound browser keeps its cookie", path)
					assert.Equal(t, []string{"create " + ownerHash(tc.cookie)}, owners.list())
					continue
				}
				require.Len(t, set, 1, path)
				c := set[0]
				assert.Equal(t, web.SecureCookieName, c.Name, "https: the __Host- name")
				assert.Equal(t, "/", c.Path)
				assert.True(t, c.HttpOnly)
				assert.True(t, c.Secure, "the public URL is https")
				assert.Equal(t, http.SameSiteLaxMode, c.SameSite)
				raw, err := base64.RawURLEncoding.DecodeString(c.Value)
				require.NoError(t, err)
				assert.Len(t, raw, 32, "256 random bits")
				assert.NotEqual(t, tc.cookie, c.Value)
				assert.Equal(t, []string{"create " + ownerHash(c.Value)}, owners.list(), "the domain gets the hash, never the cookie")
			}

			owners = calls{}
			rec := do(h, http.MethodGet, "/api/verifier/presentation-requests/"+pRecord.ID, nil, hdr)
			assert.Equal(t, http.StatusNotFound, rec.Code)
			want := ""
			if tc.reused {
				want = ownerHash(tc.cookie)
			}
			assert.Equal(t, []string{"get " + want}, owners.list())
			assert.Empty(t, rec.Result().Cookies(), "reads never set a cookie")
		})
	}

	t.Run("two creates get two cookies", func(t *testing.T) {
		h := unitServer(t, web.Options{Presentations: &presentationsFake{create: func(context.Context, string, string) (*store.Presentation, error) {
			p := pRecord
			return &p, nil
		}}}).Handler()
		a := do(h, http.MethodPost, "/api/verifier/presentation-requests", nil, nil).Result().Cookies()
		b := do(h, http.MethodPost, "/api/verifier/presentation-requests", nil, nil).Result().Cookies()
		require.Len(t, a, 1)
		require.Len(t, b, 1)
		assert.NotEqual(t, a[0].Value, b[0].Value)
	})

	t.Run("failed create binds nothing", func(t *testing.T) {
		h := unitServer(t, web.Options{Sessions: &sessionsFake{create: func(context.Context, string) (*store.IPASession, error) {
			return nil, store.ErrFull
		}}}).Handler()
		rec := do(h, http.MethodPost, "/api/ipa/sessions", nil, nil)
		assert.Equal(t, http.StatusServiceUnavailable, rec.Code)
		assert.Equal(t, "busy", errorOf(t, rec))
		assert.Empty(t, rec.Result().Cookies())
	})

	t.Run("http public URL", func(t *testing.T) {
		h := unitServer(t, web.Options{
			Config: testConfig(t, "VERIFIER_PUBLIC_URL", "http://localhost:8080"),
			Sessions: &sessionsFake{create: func(context.Context, string) (*store.IPASession, error) {
				s := sRecord
				return &s, nil
			}},
		}).Handler()
		set := do(h, http.MethodPost, "/api/ipa/sessions", nil, nil).Result().Cookies()
		require.Len(t, set, 1)
		assert.False(t, set[0].Secure, "http://localhost cannot carry a Secure cookie")
	})
}
