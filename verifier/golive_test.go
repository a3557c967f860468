package verifier_test

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/entra-verifier/entra-verifier/config"
	"github.com/entra-verifier/entra-verifier/sandbox"
	"github.com/entra-verifier/entra-verifier/store"
	"github.com/entra-verifier/entra-verifier/store/memory"
	"github.com/entra-verifier/entra-verifier/verifier"
)

// quickSetupIssuer is an issuer DID in the shape of an Entra quick-setup tenant, as the request body the admin
// center generates for IDEMIA's VerifiedIdentity lists it.
const quickSetupIssuer = "did:web:verifiedid.entra.microsoft.com:927eef35-435d-482f-be37-477c1a5164d4:4b1f5e6a-9c1d-4c7e-8f00-1d2e3f4a5b6c"

// goLive is a Service configured from env (over a complete presentation half) against the TLS fakes.
type goLive struct {
	svc *verifier.Service
	rs  *sandbox.RequestService
}

func newGoLive(t *testing.T, env map[string]string) *goLive {
	t.Helper()
	client, _, rs, _ := upstream(t)
	vars := map[string]string{
		"VERIFIER_PUBLIC_URL": "https://verifier.example.com", "ENTRA_TENANT_ID": "t", "ENTRA_CLIENT_ID": "c",
		"ENTRA_CLIENT_SECRET": "s", "ENTRA_VERIFIER_DID": "did:web:verifier.example.com",
	}
	for k, v := range env {
		vars[k] = v
	}
	cfg := config.Load(func(k string) string { return vars[k] })
	require.NoError(t, cfg.Validate())
	st := memory.New(memory.Options{})
	t.Cleanup(func() { _ = st.Close() })
	return &goLive{svc: verifier.NewService(verifier.Options{Config: cfg, Creator: client, Store: st, Secret: []byte(testSecret)}), rs: rs}
}

const testSecret = "golive-callback-secret-0123456789"

// present creates a request, checks what was sent, and answers it as Microsoft would for a credential from
// issuer; it returns the request as stored afterwards.
func (g *goLive) present(t *testing.T, issuer string) (*store.Presentation, map[string]any) {
	t.Helper()
	p, err := g.svc.Create(t.Context(), "owner", "")
	require.NoError(t, err)
	rec, ok := g.rs.Request(p.ID)
	require.True(t, ok)
	var sent map[string]any
	require.NoError(t, json.Unmarshal(rec.Body, &sent))
	body := sandbox.Verified(sandbox.VerifiedIdentity(issuer, map[string]any{"firstName": "Megan", "lastName": "Bowen"}))
	body["requestId"], body["state"] = p.ID, rec.Request.Callback.State
	raw, err := json.Marshal(body)
	require.NoError(t, err)
	_, err = g.svc.HandleCallback(t.Context(), rec.Request.Callback.Headers["api-key"], raw)
	require.NoError(t, err)
	got, err := g.svc.Get(t.Context(), p.ID, "owner")
	require.NoError(t, err)
	return got, sent
}

func sentCredential(sent map[string]any) map[string]any {
	return sent["requestedCredentials"].([]any)[0].(map[string]any)
}

func TestIssuerSettingsEndToEnd(t *testing.T) {
	tests := []struct {
		name     string
		env      map[string]string
		sent     []any
		accepted string
		refused  string
	}{
		{"IDEMIA lower stage", map[string]string{"VERIFIER_IDEMIA_STAGE": "stg"},
			[]any{"did:web:us.did-stg.idemia.io"}, "did:web:us.did-stg.idemia.io", "did:web:us.did.idemia.io"},
		{"lower stage, two regions", map[string]string{"VERIFIER_IDEMIA_STAGE": "stg", "VERIFIER_ACCEPTED_REGIONS": "eu,us"},
			[]any{"did:web:eu.did-stg.idemia.io", "did:web:us.did-stg.idemia.io"}, "did:web:eu.did-stg.idemia.io", "did:web:eu.did.idemia.io"},
		{"explicit issuer list from the admin center", map[string]string{"VERIFIER_ACCEPTED_ISSUERS": quickSetupIssuer},
			[]any{quickSetupIssuer}, quickSetupIssuer, "did:web:us.did.idemia.io"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			g := newGoLive(t, tc.env)
			p, sent := g.present(t, tc.accepted)
			assert.Equal(t, tc.sent, sentCredential(sent)["acceptedIssuers"])
			assert.Equal(t, store.PresentationVerified, p.Status)
			assert.Equal(t, tc.accepted, p.Issuer)
			assert.Equal(t, "Megan", p.Claims["firstName"])

			p, _ = g.present(t, tc.refused)
			assert.Equal(t, store.PresentationFailed, p.Status)
			assert.Equal(t, verifier.ReasonIssuerNotAccepted, p.Reason)
			assert.Empty(t, p.Claims)
		})
	}
}

func TestValidateLinkedDomainIsSent(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		want bool
	}{
		{"default true", nil, true},
		{"off", map[string]string{"ENTRA_VALIDATE_LINKED_DOMAIN": "false"}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			g := newGoLive(t, tc.env)
			_, sent := g.present(t, "did:web:us.did.idemia.io")
			validation := sentCredential(sent)["configuration"].(map[string]any)["validation"].(map[string]any)
			assert.Equal(t, tc.want, validation["validateLinkedDomain"])
			assert.Equal(t, false, validation["allowRevoked"])
		})
	}
}

func TestCreateAnswerURLIsPassedOn(t *testing.T) {
	tests := []struct {
		name, prefix string
	}{
		{"today's scheme", "openid-vc://?request_uri="},
		{"the 2022 scheme", "openid://vc/?request_uri="},
		{"a universal link", "https://verifiedid.did.msidentity.com/open?request_uri="},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, _, rs, _ := upstream(t)
			rs.URLPrefix = tc.prefix
			created, err := c.CreatePresentationRequest(t.Context(), request())
			require.NoError(t, err)
			assert.Regexp(t, `^`+regexpQuote(tc.prefix)+`https://127\.0\.0\.1:\d+/v1\.0/tenants/sandbox/verifiableCredentials/presentationRequests/`+created.RequestID+`$`, created.URL)
		})
	}
}

func TestCreateAnswerWithoutURLIsUpstreamError(t *testing.T) {
	tests := []struct{ name, answer string }{
		{"no url", `{"requestId":"r","expiry":1}`},
		{"not a URL", `{"requestId":"r","url":"request 42","expiry":1}`},
		{"no requestId", `{"url":"openid-vc://?request_uri=https://x/y","expiry":1}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
				w.WriteHeader(http.StatusCreated)
				_, _ = w.Write([]byte(tc.answer))
			}))
			t.Cleanup(srv.Close)
			pool := x509.NewCertPool()
			pool.AddCert(srv.Certificate())
			c := &verifier.Client{BaseURL: srv.URL, Tokens: staticToken("t"),
				HTTP: &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}}
			_, err := c.CreatePresentationRequest(t.Context(), request())
			require.ErrorIs(t, err, verifier.ErrUpstream)
			assert.Contains(t, err.Error(), "answer without requestId or url")
		})
	}
}
