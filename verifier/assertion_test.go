package verifier_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/entra-verifier/entra-verifier/config"
	"github.com/entra-verifier/entra-verifier/sandbox"
	"github.com/entra-verifier/entra-verifier/verifier"
)

type staticToken string

func (s staticToken) Token(context.Context) (string, error) { return string(s), nil }

func regexpQuote(s string) string { return regexp.QuoteMeta(s) }

// Federated tokens in the shape Azure Workload Identity projects (header.payload.signature).
const (
	firstAssertion  = "eyJhbGciOiJSUzI1NiIsImtpZCI6ImsxIn0.eyJzdWIiOiJzeXN0ZW06c2VydmljZWFjY291bnQ6dmVyaWZpZXI6ZW50cmEtdmVyaWZpZXIiLCJuIjoxfQ.c2lnbmF0dXJlLTE"
	secondAssertion = "eyJhbGciOiJSUzI1NiIsImtpZCI6ImsxIn0.eyJzdWIiOiJzeXN0ZW06c2VydmljZWFjY291bnQ6dmVyaWZpZXI6ZW50cmEtdmVyaWZpZXIiLCJuIjoyfQ.c2lnbmF0dXJlLTI"
)

// assertionIdentity serves the identity platform fake over TLS, accepting only a client assertion, with tokens
// that live 60 s: MSAL refreshes a token within 5 minutes of its expiry, so every Token call is a token request.
func assertionIdentity(t *testing.T) (*sandbox.IdentityPlatform, string, *http.Client) {
	idp := &sandbox.IdentityPlatform{ClientID: "c", ClientAssertion: firstAssertion, ExpiresIn: 60}
	srv := httptest.NewTLSServer(idp)
	t.Cleanup(srv.Close)
	pool := x509.NewCertPool()
	pool.AddCert(srv.Certificate())
	return idp, srv.URL, &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
}

func TestAssertionFileIsReadAtEveryTokenRequest(t *testing.T) {
	idp, authority, hc := assertionIdentity(t)
	path := filepath.Join(t.TempDir(), "azure-identity-token")
	require.NoError(t, os.WriteFile(path, []byte(firstAssertion+"\n"), 0o600))
	tokens, err := verifier.NewTokenSource(config.Entra{TenantID: "t", ClientID: "c", ClientAssertionFile: path, AuthorityHost: authority}, hc)
	require.NoError(t, err)

	steps := []struct {
		name, file, accepted, wantSent string
	}{
		{"the file as projected", firstAssertion + "\n", firstAssertion, firstAssertion},
		{"the rotated file at the next token request", secondAssertion, secondAssertion, secondAssertion},
	}
	for i, step := range steps {
		t.Run(step.name, func(t *testing.T) {
			require.NoError(t, os.WriteFile(path, []byte(step.file), 0o600))
			idp.SetClientAssertion(step.accepted)
			token, err := tokens.Token(t.Context())
			require.NoError(t, err)
			roles, ok := idp.TokenRoles(token)
			require.True(t, ok, "a token the identity platform issued")
			assert.Equal(t, sandbox.DefaultRoles, roles)

			forms := idp.TokenForms()
			require.Len(t, forms, i+1, "one token request per Token call")
			form := forms[i]
			assert.Equal(t, step.wantSent, form.Get("client_assertion"))
			assert.Equal(t, "urn:ietf:params:oauth:client-assertion-type:jwt-bearer", form.Get("client_assertion_type"))
			assert.False(t, form.Has("client_secret"), "no client_secret in the token form")
			assert.Equal(t, "client_credentials", form.Get("grant_type"))
			assert.Equal(t, config.Scope, form.Get("scope")[:len(config.Scope)])
		})
	}
}

func TestAssertionFileProblems(t *testing.T) {
	idp, authority, hc := assertionIdentity(t)
	dir := t.TempDir()
	tests := []struct {
		name    string
		content *string // nil: no file
		// atStart: NewTokenSource refuses; otherwise the file breaks after start and Token fails.
		atStart bool
		want    string
	}{
		{"missing at start", nil, true, "ENTRA_CLIENT_ASSERTION_FILE: open "},
		{"empty at start", ptr("  \n"), true, "is empty"},
		{"emptied after start", ptr(""), false, "is empty"},
		{"a stale token after start", ptr("eyJ.stale.token"), false, "invalid_client"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(dir, tc.name)
			if !tc.atStart {
				require.NoError(t, os.WriteFile(path, []byte(firstAssertion), 0o600))
			} else if tc.content != nil {
				require.NoError(t, os.WriteFile(path, []byte(*tc.content), 0o600))
			}
			tokens, err := verifier.NewTokenSource(config.Entra{TenantID: "t", ClientID: "c", ClientAssertionFile: path, AuthorityHost: authority}, hc)
			if tc.atStart {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tc.want)
				return
			}
			require.NoError(t, err)
			require.NoError(t, os.WriteFile(path, []byte(*tc.content), 0o600))
			calls := idp.TokenCalls()
			_, err = tokens.Token(t.Context())
			require.ErrorIs(t, err, verifier.ErrToken)
			assert.Contains(t, err.Error(), tc.want)
			assert.NotContains(t, err.Error(), firstAssertion)
			if *tc.content == "" {
				assert.Equal(t, calls, idp.TokenCalls(), "no token request without an assertion")
			}
		})
	}
}

func ptr(s string) *string { return &s }
