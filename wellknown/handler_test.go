package wellknown

import (
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestHandlers(t *testing.T) {
	d, err := Load("testdata/did.json", "testdata/did-configuration.json")
	require.NoError(t, err)
	didRaw, err := os.ReadFile("testdata/did.json")
	require.NoError(t, err)
	cfgRaw, err := os.ReadFile("testdata/did-configuration.json")
	require.NoError(t, err)

	mux := http.NewServeMux()
	mux.Handle(DIDPath, d.DIDHandler())
	mux.Handle(ConfigurationPath, d.ConfigurationHandler())
	mux.Handle("/empty", NewHandler([]byte{}))
	mux.Handle("/not-served", NewHandler(nil))

	tests := []struct {
		name, method, path string
		status             int
		body               []byte
	}{
		{name: "did.json", method: http.MethodGet, path: DIDPath, status: http.StatusOK, body: didRaw},
		{name: "did-configuration.json", method: http.MethodGet, path: ConfigurationPath, status: http.StatusOK, body: cfgRaw},
		{name: "HEAD did.json", method: http.MethodHead, path: DIDPath, status: http.StatusOK, body: didRaw},
		{name: "POST refused", method: http.MethodPost, path: DIDPath, status: http.StatusMethodNotAllowed},
		{name: "PUT refused", method: http.MethodPut, path: ConfigurationPath, status: http.StatusMethodNotAllowed},
		{name: "OPTIONS refused", method: http.MethodOptions, path: DIDPath, status: http.StatusMethodNotAllowed},
		{name: "empty file", method: http.MethodGet, path: "/empty", status: http.StatusOK, body: []byte{}},
		{name: "not served", method: http.MethodGet, path: "/not-served", status: http.StatusNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(mux)
			defer srv.Close()
			req, err := http.NewRequestWithContext(t.Context(), tt.method, srv.URL+tt.path, nil)
			require.NoError(t, err)
			resp, err := srv.Client().Do(req)
			require.NoError(t, err)
			defer resp.Body.Close()
			got, err := io.ReadAll(resp.Body)
			require.NoError(t, err)
			require.Equal(t, tt.status, resp.StatusCode)
			switch tt.status {
			case http.StatusMethodNotAllowed:
				assert.Equal(t, "GET, HEAD", resp.Header.Get("Allow"))
				return
			case http.StatusNotFound:
				return
			}
			assert.Equal(t, "application/json", resp.Header.Get("Content-Type"))
			assert.Equal(t, "*", resp.Header.Get("Access-Control-Allow-Origin"))
			assert.Equal(t, "public, max-age=300", resp.Header.Get("Cache-Control"))
			assert.Equal(t, "nosniff", resp.Header.Get("X-Content-Type-Options"))
			assert.Equal(t, int64(len(tt.body)), resp.ContentLength)
			if tt.method == http.MethodHead {
				assert.Empty(t, got)
				return
			}
			assert.Equal(t, tt.body, got, "served byte for byte")
		})
	}
}

func TestHandlersNilDescriptors(t *testing.T) {
	var d *Descriptors
	for _, h := range []http.Handler{d.DIDHandler(), d.ConfigurationHandler(), (&Descriptors{}).DIDHandler()} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, DIDPath, nil))
		assert.Equal(t, http.StatusNotFound, rec.Code)
	}
}
