package verifier_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/entra-verifier/entra-verifier/config"
	"github.com/entra-verifier/entra-verifier/sandbox"
	"github.com/entra-verifier/entra-verifier/verifier"
)

// upstream serves the identity platform and Request Service fakes over TLS and returns a Client for them
// whose sleeps are recorded instead of slept.
func upstream(t *testing.T) (*verifier.Client, *sandbox.IdentityPlatform, *sandbox.RequestService, *[]time.Duration) {
	idp := &sandbox.IdentityPlatform{ClientID: "c", ClientSecret: "s"}
	idpSrv := httptest.NewTLSServer(idp)
	t.Cleanup(idpSrv.Close)
	rs := &sandbox.RequestService{Identity: idp}
	rsSrv := httptest.NewTLSServer(rs)
	t.Cleanup(rsSrv.Close)
	pool := x509.NewCertPool()
	pool.AddCert(idpSrv.Certificate())
	pool.AddCert(rsSrv.Certificate())
	hc := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	tokens, err := verifier.NewTokenSource(config.Entra{TenantID: "t", ClientID: "c", ClientSecret: "s", AuthorityHost: idpSrv.URL}, hc)
	require.NoError(t, err)
	var slept []time.Duration
	c := &verifier.Client{BaseURL: rsSrv.URL + "/v1.0", HTTP: hc, Tokens: tokens,
		Sleep: func(_ context.Context, d time.Duration) error { slept = append(slept, d); return nil }}
	return c, idp, rs, &slept
}

func request() *verifier.PresentationRequest {
	return &verifier.PresentationRequest{
		Authority:            "did:web:verifier.example.com",
		Callback:             verifier.CallbackSpec{URL: "https://verifier.example.com/api/verifier/callback", State: "s", Headers: map[string]string{"api-key": "k"}},
		RequestedCredentials: []verifier.RequestedCredential{{Type: "VerifiedIdentity", AcceptedIssuers: []string{"did:web:us.did.idemia.io"}}},
	}
}

func TestRetries(t *testing.T) {
	tests := []struct {
		name      string
		failures  []sandbox.Failure
		wantErr   string
		wantCalls int
		wantSleep []time.Duration // nil: only check the count
		sleeps    int
	}{
		{"429 honours Retry-After", []sandbox.Failure{sandbox.Throttled}, "", 2, []time.Duration{time.Second}, 1},
		{"Retry-After beyond the 10 s budget is not waited for",
			[]sandbox.Failure{{Status: 429, Code: "tooManyRequests", Inner: "transientError", Message: "slow down", RetryAfter: "30"}},
			"429 tooManyRequests", 1, nil, 0},
		{"transientError on a 400 is retried", []sandbox.Failure{{Status: 400, Code: "badRequest", Inner: "transientError", Message: "try again"}}, "", 2, nil, 1},
		{"at most 3 attempts", []sandbox.Failure{sandbox.Unavailable, sandbox.Unavailable, sandbox.Unavailable, sandbox.Unavailable}, "503 serviceUnavailable", 3, nil, 2},
		{"404 is final", []sandbox.Failure{{Status: 404, Code: "notFound", Inner: "notFound", Message: "no such tenant"}}, "404 notFound", 1, nil, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, _, rs, slept := upstream(t)
			rs.Fail(tc.failures...)
			created, err := c.CreatePresentationRequest(t.Context(), request())
			assert.Equal(t, tc.wantCalls, rs.Calls())
			assert.Len(t, *slept, tc.sleeps)
			if tc.wantSleep != nil {
				assert.Equal(t, tc.wantSleep, *slept)
			}
			if tc.wantErr == "" {
				require.NoError(t, err)
				assert.NotEmpty(t, created.RequestID)
				return
			}
			require.Error(t, err)
			assert.ErrorIs(t, err, verifier.ErrUpstream)
			assert.Contains(t, err.Error(), tc.wantErr)
		})
	}
}

func TestMissingRolesSaySo(t *testing.T) {
	c, idp, _, _ := upstream(t)
	idp.SetRoles("User.Read")
	_, err := c.CreatePresentationRequest(t.Context(), request())
	var apiErr *verifier.APIError
	require.ErrorAs(t, err, &apiErr)
	assert.Equal(t, http.StatusUnauthorized, apiErr.Status)
	assert.Contains(t, err.Error(), "invalid_aad_access_token")
	assert.Contains(t, err.Error(), "admin consent")
}

func TestTokenFailureIsErrToken(t *testing.T) {
	c, idp, rs, _ := upstream(t)
	idp.SetClientSecret("rotated")
	_, err := c.CreatePresentationRequest(t.Context(), request())
	assert.True(t, errors.Is(err, verifier.ErrToken), err)
	assert.Equal(t, 0, rs.Calls())
}

func TestBadRequestNamesTheField(t *testing.T) {
	c, _, _, _ := upstream(t)
	req := request()
	req.Authority = "not-a-did"
	_, err := c.CreatePresentationRequest(t.Context(), req)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "badOrMissingField: The request does not contain a valid authority DID., target authority")
}
