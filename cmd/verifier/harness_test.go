package main

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/stretchr/testify/require"

	"github.com/entra-verifier/entra-verifier/config"
	"github.com/entra-verifier/entra-verifier/sandbox"
)

func TestMain(m *testing.M) {
	gin.SetMode(gin.TestMode)
	slog.SetDefault(slog.New(slog.NewTextHandler(io.Discard, nil))) // tests that read logs capture their own
	os.Exit(m.Run())
}

const testSecret = "test-callback-secret-0123456789"

// harness is the real application, in process, against TLS fakes of Microsoft's services.
type harness struct {
	t        testing.TB
	cfg      *config.Config
	url      string // our server's base URL
	idp      *sandbox.IdentityPlatform
	rs       *sandbox.RequestService
	cognito  *sandbox.Cognito
	ipa      *sandbox.IPA
	gips     *sandbox.GIPS
	browser  *http.Client // keeps the binding cookie
	stranger *http.Client // another browser
	fakesCA  *x509.CertPool
	fakes    []*httptest.Server
	vars     map[string]string // the environment the application was configured with
	app      *application
}

// newHarness starts fakes and the application; env overrides the default settings.
func newHarness(t testing.TB, env map[string]string) *harness {
	t.Helper()
	h := &harness{t: t, idp: &sandbox.IdentityPlatform{ClientID: "client-id", ClientSecret: "client-secret"}}
	idpSrv := httptest.NewTLSServer(h.idp)
	t.Cleanup(idpSrv.Close)
	h.rs = &sandbox.RequestService{Identity: h.idp}
	rsSrv := httptest.NewTLSServer(h.rs)
	t.Cleanup(rsSrv.Close)
	h.cognito = sandbox.NewCognito("ipa-client", "ipa-secret")
	cognitoSrv := httptest.NewTLSServer(h.cognito)
	t.Cleanup(cognitoSrv.Close)
	h.ipa = sandbox.NewIPA(h.cognito, "ipa-application")
	ipaSrv := httptest.NewTLSServer(h.ipa)
	t.Cleanup(ipaSrv.Close)
	h.gips = sandbox.NewGIPS("gips-key")
	gipsSrv := httptest.NewTLSServer(h.gips)
	t.Cleanup(gipsSrv.Close)
	h.ipa.SetGIPS(h.gips, gipsSrv.URL)
	h.ipa.SetRetry(2, 10*time.Millisecond)
	h.fakesCA = x509.NewCertPool()
	h.fakes = []*httptest.Server{idpSrv, rsSrv, cognitoSrv, ipaSrv, gipsSrv}
	for _, srv := range h.fakes {
		h.fakesCA.AddCert(srv.Certificate())
	}

	ours := httptest.NewUnstartedServer(nil)
	ours.Start()
	t.Cleanup(ours.Close)
	h.url = ours.URL
	vars := map[string]string{
		"VERIFIER_PUBLIC_URL":       ours.URL,
		"ENTRA_TENANT_ID":           "11111111-2222-3333-4444-555555555555",
		"ENTRA_CLIENT_ID":           "client-id",
		"ENTRA_CLIENT_SECRET":       "client-secret",
		"ENTRA_AUTHORITY_HOST":      idpSrv.URL,
		"ENTRA_REQUEST_SERVICE_URL": rsSrv.URL + "/v1.0",
		"ENTRA_VERIFIER_DID":        "did:web:verifier.example.com",
		"ENTRA_PURPOSE":             "Open your account",
		"ENTRA_CALLBACK_SECRET":     testSecret,
		"IPA_COGNITO_URL":           cognitoSrv.URL,
		"IPA_CLIENT_ID":             "ipa-client",
		"IPA_CLIENT_SECRET":         "ipa-secret",
		"IPA_CREATE_SESSION_URL":    ipaSrv.URL + "/api/v1/sessions",
		"IPA_START_URL":             "https://ipa.example.com/api/v1/ipa/start",
		"IPA_APPLICATION_ID":        "ipa-application",
		"IDV_URL":                   gipsSrv.URL,
		"GIPS_RS_API_KEY":           "gips-key",
		// Tests create many requests from one address; the abuse tests set their own limits.
		"VERIFIER_RATE_LIMIT_PER_IP": "100000/min",
		"VERIFIER_RATE_LIMIT_GLOBAL": "100000/min",
	}
	for k, v := range env {
		if v == "" {
			delete(vars, k)
		} else {
			vars[k] = v
		}
	}
	h.vars = vars
	h.cfg = config.Load(func(k string) string { return vars[k] })
	require.NoError(t, h.cfg.Validate())
	app, err := newApplication(t.Context(), h.cfg, nil, h.outbound(), nil)
	require.NoError(t, err)
	t.Cleanup(app.Close)
	h.app = app
	ours.Config.Handler = app.server.Handler()
	t.Cleanup(app.server.Close)

	h.browser, h.stranger = newBrowser(t), newBrowser(t)
	return h
}

// outbound is a client trusting the fakes, as SSL_CERT_FILE makes the binary's.
func (h *harness) outbound() *http.Client {
	return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: h.fakesCA}}}
}

// fakesPEM returns the fakes' certificates, for SSL_CERT_FILE.
func (h *harness) fakesPEM() []byte {
	var out []byte
	for _, s := range h.fakes {
		out = append(out, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: s.Certificate().Raw})...)
	}
	return out
}

// randomID returns an unguessable identifier.
func randomID() string { return rand.Text() }

func newBrowser(t testing.TB) *http.Client {
	jar, err := cookiejar.New(nil)
	require.NoError(t, err)
	return &http.Client{Jar: jar, Timeout: 10 * time.Second}
}

// do sends a request and returns the status and body.
func (h *harness) do(c *http.Client, method, path string, body io.Reader, header map[string]string) (int, []byte, http.Header) {
	h.t.Helper()
	req, err := http.NewRequestWithContext(h.t.Context(), method, h.url+path, body)
	require.NoError(h.t, err)
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := c.Do(req)
	require.NoError(h.t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(h.t, err)
	return resp.StatusCode, b, resp.Header
}

// created is our create answer.
type created struct {
	RequestID string `json:"requestId"`
	URL       string `json:"url"`
	QRCodeURL string `json:"qrCodeUrl"`
	ExpiresAt string `json:"expiresAt"`
}

// call makes a request as the harness browser, requires the status want, and decodes the JSON answer into out.
func (h *harness) call(method, path string, want int, out any) {
	h.t.Helper()
	status, body, _ := h.do(h.browser, method, path, nil, nil)
	require.Equal(h.t, want, status, string(body))
	require.NoError(h.t, json.Unmarshal(body, out))
}

// create makes a presentation request from the harness browser.
func (h *harness) create() (c created) {
	h.t.Helper()
	h.call(http.MethodPost, "/api/verifier/presentation-requests", http.StatusCreated, &c)
	return c
}

// statusOf reads a request's status through our API as the creating browser.
func (h *harness) statusOf(id string) (v map[string]any) {
	h.t.Helper()
	h.call(http.MethodGet, "/api/verifier/presentation-requests/"+id, http.StatusOK, &v)
	return v
}

// callback posts a raw callback body with an api-key header ("" = none).
func (h *harness) callback(apiKey, body string) (int, []byte) {
	h.t.Helper()
	hdr := map[string]string{"Content-Type": "application/json"}
	if apiKey != "" {
		hdr["api-key"] = apiKey
	}
	status, b, _ := h.do(http.DefaultClient, http.MethodPost, "/api/verifier/callback", strings.NewReader(body), hdr)
	return status, b
}

// send delivers a callback event the way the Request Service does (its fake), returning our status code.
func (h *harness) send(requestID string, event map[string]any) int {
	h.t.Helper()
	status, err := h.rs.SendCallback(context.WithoutCancel(h.t.Context()), requestID, event)
	require.NoError(h.t, err)
	return status
}

// errorCode decodes our error envelope.
func errorCode(t *testing.T, body []byte) string {
	t.Helper()
	var e struct {
		Error struct{ Code, Message string } `json:"error"`
	}
	require.NoError(t, json.Unmarshal(body, &e), string(body))
	require.NotEmpty(t, e.Error.Message)
	return e.Error.Code
}
