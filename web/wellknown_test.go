package web_test

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/entra-verifier/entra-verifier/config"
	"github.com/entra-verifier/entra-verifier/store/memory"
	"github.com/entra-verifier/entra-verifier/web"
	"github.com/entra-verifier/entra-verifier/wellknown"
)

func TestDIDJSONServedAtItsDIDPath(t *testing.T) {
	tests := []struct {
		name, did, didPath string
	}{
		{"host only", "did:web:verifier.example.com", "/.well-known/did.json"},
		{"did:web path", "did:web:verifier.example.com:verifier:eu", "/verifier/eu/did.json"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			env := map[string]string{"VERIFIER_PUBLIC_URL": "https://verifier.example.com",
				"IPA_COGNITO_URL": "https://cognito.example.com", "IPA_CLIENT_ID": "ipa", "IPA_CLIENT_SECRET": "ipa-secret"}
			cfg := config.Load(func(k string) string { return env[k] })
			require.NoError(t, cfg.Validate())
			st := memory.New(memory.Options{})
			t.Cleanup(func() { _ = st.Close() })
			didJSON, conf := []byte(`{"id":"`+tc.did+`"}`), []byte(`{"linked_dids":[]}`)
			srv, err := web.New(web.Options{Config: cfg, Store: st, Sessions: fakeSessions{}, Now: func() time.Time { return now },
				WellKnown: &wellknown.Descriptors{DIDDocument: didJSON, Configuration: conf, ID: tc.did}})
			require.NoError(t, err)
			t.Cleanup(srv.Close)
			get := func(path string) *httptest.ResponseRecorder {
				rec := httptest.NewRecorder()
				srv.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
				return rec
			}
			rec := get(tc.didPath)
			assert.Equal(t, http.StatusOK, rec.Code)
			assert.Equal(t, didJSON, rec.Body.Bytes())
			assert.Equal(t, "application/json", rec.Header().Get("Content-Type"))
			assert.Equal(t, "*", rec.Header().Get("Access-Control-Allow-Origin"))
			rec = get("/.well-known/did-configuration.json")
			assert.Equal(t, http.StatusOK, rec.Code, "did-configuration.json stays under /.well-known/")
			assert.Equal(t, conf, rec.Body.Bytes())
			if tc.didPath != "/.well-known/did.json" {
				assert.Equal(t, http.StatusNotFound, get("/.well-known/did.json").Code)
			}
		})
	}
}
