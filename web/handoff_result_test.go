package web_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestReturnToWithResultIsRefused: a return URL that already carries result= is refused on the page (the
// refused page) and on create (400 return_to_not_allowed), like any URL off the allow-list.
func TestReturnToWithResultIsRefused(t *testing.T) {
	h := newServer(t).Handler()
	tests := []struct {
		name, returnTo string
		ok             bool
	}{
		{"allowed", "https://rp.example.com/onboarding/done?step=2", true},
		{"with result", "https://rp.example.com/onboarding/done?result=eyJhbGciOiJFUzI1NiJ9.e30.sig", false},
		{"with result after another", "https://rp.example.com/onboarding/done?step=2&result=x", false},
		{"with an encoded result", "https://rp.example.com/onboarding/done?%72esult=x", false},
	}
	for _, tc := range tests {
		t.Run(tc.name+"/page", func(t *testing.T) {
			rec := serve(t, h, http.MethodGet, "/?return_to="+url.QueryEscape(tc.returnTo), nil)
			if tc.ok {
				assert.Equal(t, http.StatusOK, rec.Code)
				return
			}
			assert.Equal(t, http.StatusBadRequest, rec.Code)
			assert.Contains(t, rec.Header().Get("Content-Type"), "text/html", "the refused page")
			assert.NotContains(t, rec.Body.String(), "eyJhbGciOiJFUzI1NiJ9", "the refused URL is not echoed")
		})
		t.Run(tc.name+"/create", func(t *testing.T) {
			body, err := json.Marshal(map[string]string{"returnTo": tc.returnTo})
			require.NoError(t, err)
			req := httptest.NewRequest(http.MethodPost, "https://verifier.example.com/api/verifier/presentation-requests", strings.NewReader(string(body)))
			req.Header.Set("Content-Type", "application/json")
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if tc.ok {
				assert.Equal(t, http.StatusCreated, rec.Code)
				return
			}
			assert.Equal(t, http.StatusBadRequest, rec.Code)
			assert.Equal(t, "return_to_not_allowed", errorCode(t, rec.Body.Bytes()))
			assert.Empty(t, rec.Header().Get("Set-Cookie"), "a refused create sets no cookie")
		})
	}
}

// errorCode is the code of an error envelope {"error": {"code", "message"}}.
func errorCode(t *testing.T, body []byte) string {
	t.Helper()
	var e struct {
		Error struct{ Code, Message string } `json:"error"`
	}
	require.NoError(t, json.Unmarshal(body, &e), "%s", body)
	assert.NotEmpty(t, e.Error.Message, "every error has a message")
	return e.Error.Code
}
