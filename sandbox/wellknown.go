package sandbox

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"net/url"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jwk"
	"github.com/lestrrat-go/jwx/v3/jws"

	"github.com/entra-verifier/entra-verifier/wellknown"
)

// Descriptors generates a did.json and a did-configuration.json for publicURL's did:web DID, the way the
// Entra admin API shapes them: a fresh P-256 key with a relative id, and one Domain Linkage Credential JWT
// (context v0.0) valid for a year. It returns the DID with both files.
func Descriptors(publicURL string) (did string, didJSON, didConfiguration []byte, err error) {
	did, err = wellknown.DIDForURL(publicURL)
	if err != nil {
		return "", nil, nil, err
	}
	didJSON, didConfiguration, err = DescriptorsForDID(did, publicURL)
	return did, didJSON, didConfiguration, err
}

// DescriptorsForDID is Descriptors for a given did:web DID on publicURL's host, such as one with a path
// (did:web:host:verifier:eu, Entra's did:web path setup).
func DescriptorsForDID(did, publicURL string) (didJSON, didConfiguration []byte, err error) {
	u, err := url.Parse(publicURL)
	if err != nil {
		return nil, nil, err
	}
	raw, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	priv, err := jwk.Import(raw)
	if err != nil {
		return nil, nil, err
	}
	pub, err := jwk.PublicKeyOf(priv)
	if err != nil {
		return nil, nil, err
	}
	const frag = "#sandboxSigningKey-1"
	doc := map[string]any{
		"id":       did,
		"@context": []any{"https://www.w3.org/ns/did/v1", map[string]any{"@base": did}},
		"service": []any{map[string]any{"id": "#linkeddomains", "type": "LinkedDomains",
			"serviceEndpoint": map[string]any{"origins": []string{u.Scheme + "://" + u.Host + "/"}}}},
		"verificationMethod": []any{map[string]any{"id": frag, "controller": did, "type": "JsonWebKey2020", "publicKeyJwk": pub}},
		"authentication":     []string{frag},
		"assertionMethod":    []string{frag},
	}
	now := time.Now().UTC()
	claims := map[string]any{
		"iss": did, "sub": did, "nbf": now.Add(-time.Minute).Unix(), "exp": now.AddDate(1, 0, 0).Unix(),
		"vc": map[string]any{
			"@context":          []string{"https://www.w3.org/2018/credentials/v1", wellknown.ContextV0},
			"issuer":            did,
			"issuanceDate":      now.Format(time.RFC3339),
			"expirationDate":    now.AddDate(1, 0, 0).Format(time.RFC3339),
			"type":              []string{"VerifiableCredential", "DomainLinkageCredential"},
			"credentialSubject": map[string]any{"id": did, "origin": u.Scheme + "://" + u.Host + "/"},
		},
	}
	payload, err := json.Marshal(claims)
	if err != nil {
		return nil, nil, err
	}
	hdr := jws.NewHeaders()
	if err := hdr.Set(jws.KeyIDKey, did+frag); err != nil {
		return nil, nil, err
	}
	token, err := jws.Sign(payload, jws.WithKey(jwa.ES256(), priv, jws.WithProtectedHeaders(hdr)))
	if err != nil {
		return nil, nil, fmt.Errorf("sign domain linkage credential: %w", err)
	}
	if didJSON, err = json.MarshalIndent(doc, "", "  "); err != nil {
		return nil, nil, err
	}
	didConfiguration, err = json.MarshalIndent(map[string]any{"@context": wellknown.ContextV0, "linked_dids": []string{string(token)}}, "", "  ")
	return didJSON, didConfiguration, err
}
