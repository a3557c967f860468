package wellknown

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// An Entra-like authority: did:web DID, relative key id, v0.0 context.
const (
	testDID  = "did:web:verifier.contoso.com"
	testURL  = "https://verifier.contoso.com/"
	testFrag = "#0e3a4f2c1b7d4e5fa6b7c8d9e0f1a2b3vcSigningKey-f0a5b"
	testKid  = testDID + testFrag
)

// testNow is the injected clock of every linkage test.
var testNow = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)

// scenario is one did.json + did-configuration.json pair, built as Entra
// builds them, for a test to break in one place.
type scenario struct {
	key     testKey        // key published in did.json under testFrag
	signer  testKey        // key that signs the credential
	doc     map[string]any // did.json
	header  map[string]any // protected header besides alg
	claims  map[string]any // JWT payload
	config  map[string]any // did-configuration.json without linked_dids
	token   string         // when set, replaces the signed credential
	entries func(token string) any
	url     string
}

// newScenario returns a valid scenario for key.
func newScenario(key testKey) *scenario {
	return &scenario{
		key:    key,
		signer: key,
		doc: map[string]any{
			"id":       testDID,
			"@context": []any{"https://www.w3.org/ns/did/v1", map[string]any{"@base": testDID}},
			"verificationMethod": []any{map[string]any{
				"id": testFrag, "controller": testDID, "type": key.vmType, "publicKeyJwk": key.pub,
			}},
			"authentication":  []any{testFrag},
			"assertionMethod": []any{testFrag},
		},
		header: map[string]any{"kid": testKid},
		claims: map[string]any{
			"iss": testDID,
			"sub": testDID,
			"nbf": testNow.Add(-time.Hour).Unix(),
			"exp": testNow.AddDate(25, 0, 0).Unix(),
			"vc": map[string]any{
				"@context":       []any{"https://www.w3.org/2018/credentials/v1", ContextV0},
				"issuer":         testDID,
				"issuanceDate":   testNow.Add(-time.Hour).Format(time.RFC3339),
				"expirationDate": testNow.AddDate(25, 0, 0).Format(time.RFC3339),
				"type":           []any{"VerifiableCredential", "DomainLinkageCredential"},
				"credentialSubject": map[string]any{
					"id":     testDID,
					"origin": testURL,
				},
			},
		},
		config:  map[string]any{"@context": ContextV0},
		entries: func(token string) any { return []any{token} },
		url:     testURL,
	}
}

// subject returns the credentialSubject of the payload, for changing it.
func (s *scenario) subject() map[string]any {
	return s.claims["vc"].(map[string]any)["credentialSubject"].(map[string]any)
}

// files returns did.json and did-configuration.json.
func (s *scenario) files(t testing.TB) (didJSON, configJSON []byte) {
	t.Helper()
	token := s.token
	if token == "" {
		token = signJWT(t, s.signer, s.header, s.claims)
	}
	config := map[string]any{"linked_dids": s.entries(token)}
	for k, v := range s.config {
		config[k] = v
	}
	didJSON, err := json.Marshal(s.doc)
	require.NoError(t, err)
	configJSON, err = json.Marshal(config)
	require.NoError(t, err)
	return didJSON, configJSON
}

// check runs CheckLinkage on the scenario at testNow.
func (s *scenario) check(t testing.TB) (LinkageResult, error) {
	t.Helper()
	didJSON, configJSON := s.files(t)
	return CheckLinkage(Linkage{
		DIDDocument:   didJSON,
		Configuration: configJSON,
		PublicURL:     s.url,
		Now:           func() time.Time { return testNow },
	})
}
