package ipa_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/entra-verifier/entra-verifier/ipa"
	"github.com/entra-verifier/entra-verifier/sandbox"
)

const (
	testClientID      = "ipa-client"
	testClientSecret  = "ipa-secret"
	testApplicationID = "1l5lv91ugi401pieqpcd77bc1l"
	testAPIKey        = "gips-rs-key"
)

// fakes is IDEMIA on three TLS servers (Cognito, rp-handler, GIPS) and a Client pointed at them.
type fakes struct {
	cognito    *sandbox.Cognito
	ipa        *sandbox.IPA
	gips       *sandbox.GIPS
	cognitoSrv *httptest.Server
	ipaSrv     *httptest.Server
	gipsSrv    *httptest.Server
	// hc trusts the fakes' certificate (httptest servers share one).
	hc  *http.Client
	cfg ipa.Config
}

// newFakes starts the fakes; tests may change f.cfg before making the Client with client().
func newFakes(t *testing.T) *fakes {
	t.Helper()
	f := &fakes{
		cognito: sandbox.NewCognito(testClientID, testClientSecret),
		gips:    sandbox.NewGIPS(testAPIKey),
	}
	f.ipa = sandbox.NewIPA(f.cognito, testApplicationID)
	f.cognitoSrv = httptest.NewTLSServer(f.cognito)
	t.Cleanup(f.cognitoSrv.Close)
	f.gipsSrv = httptest.NewTLSServer(f.gips)
	t.Cleanup(f.gipsSrv.Close)
	f.ipaSrv = httptest.NewTLSServer(f.ipa)
	t.Cleanup(f.ipaSrv.Close)
	f.hc = f.cognitoSrv.Client()
	f.ipa.SetGIPS(f.gips, f.gipsSrv.URL)
	f.ipa.SetCallbackClient(f.hc)
	f.cfg = ipa.Config{
		CognitoURL:       f.cognitoSrv.URL,
		ClientID:         testClientID,
		ClientSecret:     testClientSecret,
		CreateSessionURL: f.ipaSrv.URL + "/api/v1/sessions",
		ApplicationID:    testApplicationID,
		IDVURL:           f.gipsSrv.URL,
		GIPSAPIKey:       testAPIKey,
		HTTPClient:       f.hc,
	}
	return f
}

// client returns a Client for f.cfg.
func (f *fakes) client(t *testing.T) *ipa.Client {
	t.Helper()
	c, err := ipa.New(f.cfg)
	require.NoError(t, err)
	return c
}
