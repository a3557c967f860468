package verifier_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/entra-verifier/entra-verifier/config"
	"github.com/entra-verifier/entra-verifier/sandbox"
	"github.com/entra-verifier/entra-verifier/verifier"
)

// gatedIdP is the identity platform fake whose token endpoint waits for its gate to open.
type gatedIdP struct {
	*sandbox.IdentityPlatform
	gate chan struct{}
}

func (g *gatedIdP) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if strings.HasSuffix(r.URL.Path, "/token") && g.gate != nil {
		<-g.gate
	}
	g.IdentityPlatform.ServeHTTP(w, r)
}

func identityPlatform(t *testing.T, idp http.Handler) (string, *http.Client) {
	srv := httptest.NewTLSServer(idp)
	t.Cleanup(srv.Close)
	pool := x509.NewCertPool()
	pool.AddCert(srv.Certificate())
	return srv.URL, &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
}

// certificatePEM returns a self-signed RSA certificate followed by its PKCS#8 key.
func certificatePEM(t *testing.T) []byte {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "verifier"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(t, err)
	pk, err := x509.MarshalPKCS8PrivateKey(key)
	require.NoError(t, err)
	return append(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pk})...)
}

func TestTokenWithACertificate(t *testing.T) {
	idp := &sandbox.IdentityPlatform{ClientID: "c"} // no secret: only a client assertion is accepted
	host, hc := identityPlatform(t, idp)
	certPEM := certificatePEM(t)
	file := filepath.Join(t.TempDir(), "cert.pem")
	require.NoError(t, os.WriteFile(file, certPEM, 0o600))
	for name, cert := range map[string]string{"inline PEM": string(certPEM), "file path": file} {
		t.Run(name, func(t *testing.T) {
			ts, err := verifier.NewTokenSource(config.Entra{TenantID: "t", ClientID: "c", ClientCertificate: cert, AuthorityHost: host}, hc)
			require.NoError(t, err)
			token, err := ts.Token(t.Context())
			require.NoError(t, err)
			roles, ok := idp.TokenRoles(token)
			require.True(t, ok, "a token the platform issued")
			assert.Equal(t, sandbox.DefaultRoles, roles)
		})
	}
}

func TestTokenSourceRefusesBadSettings(t *testing.T) {
	bad := filepath.Join(t.TempDir(), "bad.pem")
	require.NoError(t, os.WriteFile(bad, []byte("not a certificate"), 0o600))
	tests := []struct {
		name string
		cfg  config.Entra
		want string
	}{
		{"certificate file missing", config.Entra{ClientCertificate: filepath.Join(t.TempDir(), "missing.pem")}, "ENTRA_CLIENT_CERTIFICATE"},
		{"certificate file unreadable as PEM", config.Entra{ClientCertificate: bad}, "ENTRA_CLIENT_CERTIFICATE"},
		{"inline PEM without a key", config.Entra{ClientCertificate: "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"}, "ENTRA_CLIENT_CERTIFICATE"},
		{"authority not a URL", config.Entra{ClientSecret: "s", AuthorityHost: "https://[::1", TenantID: "t"}, "entra authority"},
		{"authority not https", config.Entra{ClientSecret: "s", AuthorityHost: "http://login.example.com", TenantID: "t"}, "entra client"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.cfg.ClientID = "c"
			_, err := verifier.NewTokenSource(tc.cfg, http.DefaultClient)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
			_, err = verifier.NewClient(tc.cfg, http.DefaultClient)
			assert.Error(t, err, "NewClient fails as its token source does")
		})
	}
}

func TestNewClient(t *testing.T) {
	host, hc := identityPlatform(t, &sandbox.IdentityPlatform{ClientID: "c", ClientSecret: "s"})
	c, err := verifier.NewClient(config.Entra{TenantID: "t", ClientID: "c", ClientSecret: "s", AuthorityHost: host,
		RequestServiceURL: "https://rs.example.com/v1.0"}, hc)
	require.NoError(t, err)
	assert.Equal(t, "https://rs.example.com/v1.0", c.BaseURL)
	assert.Same(t, hc, c.HTTP)
	require.NotNil(t, c.Tokens)
	token, err := c.Tokens.Token(t.Context())
	require.NoError(t, err)
	assert.NotEmpty(t, token)
}

// TestTokenColdBurstMakesOneRequest: callers waiting for the first token share one token request, and later
// callers are answered from MSAL's cache.
func TestTokenColdBurstMakesOneRequest(t *testing.T) {
	idp := &gatedIdP{IdentityPlatform: &sandbox.IdentityPlatform{ClientID: "c", ClientSecret: "s"}, gate: make(chan struct{})}
	host, hc := identityPlatform(t, idp)
	ts, err := verifier.NewTokenSource(config.Entra{TenantID: "t", ClientID: "c", ClientSecret: "s", AuthorityHost: host}, hc)
	require.NoError(t, err)
	tokens := make([]string, 8)
	var wg sync.WaitGroup
	for i := range tokens {
		wg.Go(func() {
			tok, err := ts.Token(context.Background())
			assert.NoError(t, err)
			tokens[i] = tok
		})
	}
	time.Sleep(100 * time.Millisecond) // let every caller join the flight
	close(idp.gate)
	wg.Wait()
	assert.Equal(t, 1, idp.TokenCalls())
	for _, tok := range tokens {
		assert.Equal(t, tokens[0], tok)
	}
	again, err := ts.Token(t.Context())
	require.NoError(t, err)
	assert.Equal(t, tokens[0], again, "from the cache")
	assert.Equal(t, 1, idp.TokenCalls())
}

// TestTokenCallerGivesUp: a caller whose context ends stops waiting with ErrToken; the shared request goes on
// and serves the next caller.
func TestTokenCallerGivesUp(t *testing.T) {
	idp := &gatedIdP{IdentityPlatform: &sandbox.IdentityPlatform{ClientID: "c", ClientSecret: "s"}, gate: make(chan struct{})}
	host, hc := identityPlatform(t, idp)
	ts, err := verifier.NewTokenSource(config.Entra{TenantID: "t", ClientID: "c", ClientSecret: "s", AuthorityHost: host}, hc)
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
	defer cancel()
	_, err = ts.Token(ctx)
	assert.ErrorIs(t, err, verifier.ErrToken)
	assert.ErrorIs(t, err, context.DeadlineExceeded)
	close(idp.gate)
	tok, err := ts.Token(t.Context())
	require.NoError(t, err)
	assert.NotEmpty(t, tok)
	assert.Equal(t, 1, idp.TokenCalls(), "the abandoned request's token is the one served")
}

func TestTokenRefused(t *testing.T) {
	host, hc := identityPlatform(t, &sandbox.IdentityPlatform{ClientID: "c", ClientSecret: "right"})
	ts, err := verifier.NewTokenSource(config.Entra{TenantID: "t", ClientID: "c", ClientSecret: "wrong", AuthorityHost: host}, hc)
	require.NoError(t, err)
	_, err = ts.Token(t.Context())
	assert.ErrorIs(t, err, verifier.ErrToken)
	assert.Contains(t, err.Error(), "invalid_client")
}

func TestCheckRoles(t *testing.T) {
	jwt := func(payload string) string {
		return "eyJhbGciOiJub25lIn0." + base64.RawURLEncoding.EncodeToString([]byte(payload)) + ".sig"
	}
	tests := []struct {
		name      string
		token     string
		wantRoles []string
		wantErr   string
	}{
		{"Create.All", jwt(`{"roles":["VerifiableCredential.Create.All"]}`), []string{verifier.RoleCreateAll}, ""},
		{"Create.PresentRequest among others", jwt(`{"roles":["User.Read","VerifiableCredential.Create.PresentRequest"]}`), []string{"User.Read", verifier.RolePresentRequest}, ""},
		{"other roles only", jwt(`{"roles":["User.Read"]}`), []string{"User.Read"}, "admin consent is missing"},
		{"no roles", jwt(`{"aud":"x"}`), nil, "has no VerifiableCredential.Create.All or VerifiableCredential.Create.PresentRequest role"},
		{"not a JWT", "opaque-token", nil, "not a JWT"},
		{"payload not base64url", "a.!!!.c", nil, "not base64url"},
		{"payload not JSON", jwt("roles"), nil, "not JSON"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			roles, err := verifier.CheckRoles(tc.token)
			assert.Equal(t, tc.wantRoles, roles)
			if tc.wantErr == "" {
				assert.NoError(t, err)
				return
			}
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.wantErr)
		})
	}
}

// TestCheckRolesOnIssuedTokens reads the roles of tokens the identity platform fake issues.
func TestCheckRolesOnIssuedTokens(t *testing.T) {
	idp := &sandbox.IdentityPlatform{ClientID: "c", ClientSecret: "s", Roles: []string{"User.Read"}}
	host, hc := identityPlatform(t, idp)
	ts, err := verifier.NewTokenSource(config.Entra{TenantID: "t", ClientID: "c", ClientSecret: "s", AuthorityHost: host}, hc)
	require.NoError(t, err)
	tok, err := ts.Token(t.Context())
	require.NoError(t, err)
	roles, err := verifier.CheckRoles(tok)
	assert.Equal(t, []string{"User.Read"}, roles)
	assert.ErrorContains(t, err, "Verifiable Credentials Service Request")
}
