package e2e

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
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/stretchr/testify/require"

	"github.com/entra-verifier/entra-verifier/app"
	"github.com/entra-verifier/entra-verifier/config"
	"github.com/entra-verifier/entra-verifier/sandbox"
)

const TestSecret = "test-callback-secret-0123456789"

// Harness is the real application, in process, against TLS fakes of Microsoft's services.
type Harness struct {
	T        testing.TB
	Cfg      *config.Config
	URL      string // our server's base URL
	IdP      *sandbox.IdentityPlatform
	RS       *sandbox.RequestService
	Cognito  *sandbox.Cognito
	IPA      *sandbox.IPA
	GIPS     *sandbox.GIPS
	Browser  *http.Client // keeps the binding cookie
	Stranger *http.Client // another browser
	FakesCA  *x509.CertPool
	Fakes    []*httptest.Server
	Vars     map[string]string // the environment the application was configured with
	App      *app.App
}

// New starts fakes and the application; env overrides the default settings.
func New(t testing.TB, env map[string]string) *Harness {
	t.Helper()
	h := &Harness{T: t, IdP: &sandbox.IdentityPlatform{ClientID: "client-id", ClientSecret: "client-secret"}}
	idpSrv := httptest.NewTLSServer(h.IdP)
	t.Cleanup(idpSrv.Close)
	h.RS = &sandbox.RequestService{Identity: h.IdP}
	rsSrv := httptest.NewTLSServer(h.RS)
	t.Cleanup(rsSrv.Close)
	h.Cognito = sandbox.NewCognito("ipa-client", "ipa-secret")
	cognitoSrv := httptest.NewTLSServer(h.Cognito)
	t.Cleanup(cognitoSrv.Close)
	h.IPA = sandbox.NewIPA(h.Cognito, "ipa-application")
	ipaSrv := httptest.NewTLSServer(h.IPA)
	t.Cleanup(ipaSrv.Close)
	h.GIPS = sandbox.NewGIPS("gips-key")
	gipsSrv := httptest.NewTLSServer(h.GIPS)
	t.Cleanup(gipsSrv.Close)
	h.IPA.SetGIPS(h.GIPS, gipsSrv.URL)
	h.IPA.SetRetry(2, 10*time.Millisecond)
	h.FakesCA = x509.NewCertPool()
	h.Fakes = []*httptest.Server{idpSrv, rsSrv, cognitoSrv, ipaSrv, gipsSrv}
	for _, srv := range h.Fakes {
		h.FakesCA.AddCert(srv.Certificate())
	}

	ours := httptest.NewUnstartedServer(nil)
	ours.Start()
	t.Cleanup(ours.Close)
	h.URL = ours.URL
	vars := map[string]string{
		"VERIFIER_PUBLIC_URL":       ours.URL,
		"ENTRA_TENANT_ID":           "11111111-2222-3333-4444-555555555555",
		"ENTRA_CLIENT_ID":           "client-id",
		"ENTRA_CLIENT_SECRET":       "client-secret",
		"ENTRA_AUTHORITY_HOST":      idpSrv.URL,
		"ENTRA_REQUEST_SERVICE_URL": rsSrv.URL + "/v1.0",
		"ENTRA_VERIFIER_DID":        "did:web:verifier.example.com",
		"ENTRA_PURPOSE":             "Open your account",
		"ENTRA_CALLBACK_SECRET":     TestSecret,
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
	h.Vars = vars
	h.Cfg = config.Load(func(k string) string { return vars[k] })
	require.NoError(t, h.Cfg.Validate())
	svc, err := app.New(t.Context(), h.Cfg, nil, h.Outbound(), nil)
	require.NoError(t, err)
	t.Cleanup(svc.Close)
	h.App = svc
	ours.Config.Handler = svc.Server.Handler()
	t.Cleanup(svc.Server.Close)

	h.Browser, h.Stranger = NewBrowser(t), NewBrowser(t)
	return h
}

// outbound is a client trusting the fakes, as SSL_CERT_FILE makes the binary's.
func (h *Harness) Outbound() *http.Client {
	return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: h.FakesCA}}}
}

// fakesPEM returns the fakes' certificates, for SSL_CERT_FILE.
func (h *Harness) FakesPEM() []byte {
	var out []byte
	for _, s := range h.Fakes {
		out = append(out, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: s.Certificate().Raw})...)
	}
	return out
}

// RandomID returns an unguessable identifier.
func RandomID() string { return rand.Text() }

func NewBrowser(t testing.TB) *http.Client {
	jar, err := cookiejar.New(nil)
	require.NoError(t, err)
	return &http.Client{Jar: jar, Timeout: 10 * time.Second}
}

// do sends a request and returns the status and body.
func (h *Harness) Do(c *http.Client, method, path string, body io.Reader, header map[string]string) (int, []byte, http.Header) {
	h.T.Helper()
	req, err := http.NewRequestWithContext(h.T.Context(), method, h.URL+path, body)
	require.NoError(h.T, err)
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := c.Do(req)
	require.NoError(h.T, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(h.T, err)
	return resp.StatusCode, b, resp.Header
}

// Created is our create answer.
type Created struct {
	RequestID string `json:"requestId"`
	URL       string `json:"url"`
	QRCodeURL string `json:"qrCodeUrl"`
	ExpiresAt string `json:"expiresAt"`
}

// call makes a request as the Harness browser, requires the status want, and decodes the JSON answer into out.
func (h *Harness) Call(method, path string, want int, out any) {
	h.T.Helper()
	status, body, _ := h.Do(h.Browser, method, path, nil, nil)
	require.Equal(h.T, want, status, string(body))
	require.NoError(h.T, json.Unmarshal(body, out))
}

// create makes a presentation request from the Harness browser.
func (h *Harness) Create() (c Created) {
	h.T.Helper()
	h.Call(http.MethodPost, "/api/verifier/presentation-requests", http.StatusCreated, &c)
	return c
}

// statusOf reads a request's status through our API as the creating browser.
func (h *Harness) StatusOf(id string) (v map[string]any) {
	h.T.Helper()
	h.Call(http.MethodGet, "/api/verifier/presentation-requests/"+id, http.StatusOK, &v)
	return v
}

// callback posts a raw callback body with an api-key header ("" = none).
func (h *Harness) Callback(apiKey, body string) (int, []byte) {
	h.T.Helper()
	hdr := map[string]string{"Content-Type": "application/json"}
	if apiKey != "" {
		hdr["api-key"] = apiKey
	}
	status, b, _ := h.Do(http.DefaultClient, http.MethodPost, "/api/verifier/callback", strings.NewReader(body), hdr)
	return status, b
}

// send delivers a callback event the way the Request Service does (its fake), returning our status code.
func (h *Harness) Send(requestID string, event map[string]any) int {
	h.T.Helper()
	status, err := h.RS.SendCallback(context.WithoutCancel(h.T.Context()), requestID, event)
	require.NoError(h.T, err)
	return status
}

// ErrorCode decodes our error envelope.
func ErrorCode(t *testing.T, body []byte) string {
	t.Helper()
	var e struct {
		Error struct{ Code, Message string } `json:"error"`
	}
	require.NoError(t, json.Unmarshal(body, &e), string(body))
	require.NotEmpty(t, e.Error.Message)
	return e.Error.Code
}

type IPACreated struct {
	SessionID, StartURL, QRCodeURL, ExpiresAt string
}

// createSession starts an IPA session from the Harness browser.
func (h *Harness) CreateSession() (c IPACreated) {
	h.T.Helper()
	h.Call(http.MethodPost, "/api/ipa/sessions", http.StatusCreated, &c)
	return c
}

// endSession delivers IDEMIA's end-of-process callback for session id (through its fake) and requires our 204.
func (h *Harness) EndSession(id string, outcome sandbox.IPAOutcome) {
	h.T.Helper()
	status, err := h.IPA.DeliverCallback(h.T.Context(), id, outcome)
	require.NoError(h.T, err)
	require.Equal(h.T, http.StatusNoContent, status)
}

// sessionOf reads a session's status as the creating browser.
func (h *Harness) SessionOf(id string) (v map[string]any) {
	h.T.Helper()
	h.Call(http.MethodGet, "/api/ipa/sessions/"+id, http.StatusOK, &v)
	return v
}

// callbackURL is the callbackUrl IDEMIA's fake received when session id was Created.
func (h *Harness) CallbackURL(id string) string {
	s, ok := h.IPA.Session(id)
	require.True(h.T, ok)
	return s.CallbackURL
}

const USDID, EUDID = "did:web:us.did.idemia.io", "did:web:eu.did.idemia.io"

func Person() map[string]any {
	return map[string]any{"firstName": "Megan", "lastName": "Bowen", "dateOfBirth": "1990-04-12", "portrait": "_9j_4AAQSkZJRg"}
}

func ToAny(s []string) []any {
	out := make([]any, len(s))
	for i, v := range s {
		out[i] = v
	}
	return out
}

// Quiet sets gin to test mode and discards the default logger, for a test binary's TestMain: tests that read
// logs capture their own.
func Quiet() {
	gin.SetMode(gin.TestMode)
	slog.SetDefault(slog.New(slog.NewTextHandler(io.Discard, nil)))
}
