package ipa_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/entra-verifier/entra-verifier/ipa"
	"github.com/entra-verifier/entra-verifier/store"
)

// TestRetrieveFailureReasons: each way an ID&V answer goes wrong becomes its own short code in the summary.
func TestRetrieveFailureReasons(t *testing.T) {
	var mu sync.Mutex
	var apiKeys []string
	idv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		apiKeys = append(apiKeys, r.Header.Get("apikey"))
		mu.Unlock()
		switch r.URL.Path {
		case "/gips/v1/identities/gips-ok":
			_, _ = io.WriteString(w, `{"levelOfAssurance":"LOA3","status":"VERIFIED","attributes":{"firstName":"Megan"}}`)
		case "/gips/v1/identities/gips-not-json":
			_, _ = io.WriteString(w, `<html>`)
		case "/gips/v1/identities/gips-odd-values":
			_, _ = io.WriteString(w, `{"levelOfAssurance":"LOA3\n","status":"<script>"}`)
		case "/gips/v1/identities/gips-ok/redirected":
			http.Redirect(w, r, "https://elsewhere.example.com/", http.StatusFound)
		case "/gips/v1/identities/gips-ok/cut":
			w.Header().Set("Content-Length", "1000")
			_, _ = io.WriteString(w, "partial")
			if hj, ok := w.(http.Hijacker); ok {
				c, _, _ := hj.Hijack()
				_ = c.Close()
			}
		case "/gips/v1/identities/gips-ok/huge":
			chunk := make([]byte, 1<<20)
			for range ipa.MaxProofBytes>>20 + 1 {
				if _, err := w.Write(chunk); err != nil {
					return
				}
			}
		default:
			http.NotFound(w, r)
		}
	}))
	defer idv.Close()
	f := newFakes(t)
	f.cfg.IDVURL = idv.URL
	c := f.client(t)
	completed := func(identityID, proofPath string) *ipa.Callback {
		cb := &ipa.Callback{Status: store.IPACompleted, IdentityID: identityID}
		if proofPath != "" {
			cb.ProofURL = idv.URL + proofPath
		}
		return cb
	}
	tests := []struct {
		name string
		cb   *ipa.Callback
		want store.IdentitySummary
	}{
		{"identity only", completed("gips-ok", ""), store.IdentitySummary{LevelOfAssurance: "LOA3", Status: "VERIFIED"}},
		{"identity not JSON", completed("gips-not-json", ""), store.IdentitySummary{Error: "identity_invalid_answer"}},
		{"identity with odd values", completed("gips-odd-values", ""), store.IdentitySummary{Error: "identity_invalid_answer"}},
		{"identity unknown", completed("gips-missing", ""), store.IdentitySummary{Error: "identity_http_404"}},
		{"a proofUrl is never fetched on our own", completed("gips-ok", "/gips/v1/identities/gips-ok/redirected"),
			store.IdentitySummary{LevelOfAssurance: "LOA3", Status: "VERIFIED"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := c.Retrieve(t.Context(), tc.cb)
			require.NotNil(t, got)
			assert.Equal(t, tc.want, *got)
			assert.NotContains(t, got.Error, "Megan")
		})
	}
	mu.Lock()
	defer mu.Unlock()
	require.NotEmpty(t, apiKeys)
	for _, k := range apiKeys {
		assert.Equal(t, testAPIKey, k, "every ID&V call carries the apikey header")
	}

	idv.Close()
	got := c.Retrieve(t.Context(), completed("gips-ok", "/gips/v1/identities/gips-ok/proof"))
	require.NotNil(t, got)
	assert.Equal(t, store.IdentitySummary{Error: "identity_unreachable"}, *got)
	assert.False(t, strings.Contains(got.Error, "gips-ok"), "no identity id in the reason")
}
