package wellknown

import (
	"os"
	"testing"
	"time"
)

// FuzzCheckLinkage feeds arbitrary descriptor pairs and public URLs to the
// checks: they must never panic, and a pass must mean a valid linked DID.
func FuzzCheckLinkage(f *testing.F) {
	didJSON, err := os.ReadFile("testdata/did.json")
	if err != nil {
		f.Fatal(err)
	}
	configJSON, err := os.ReadFile("testdata/did-configuration.json")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(didJSON, configJSON, testURL)
	f.Add(didJSON, configJSON, "http://localhost:8080")
	for _, newKey := range []func(testing.TB) testKey{newP256Key, newSecp256k1Key, newEd25519Key} {
		s := newScenario(newKey(f))
		d, c := s.files(f)
		f.Add(d, c, testURL)
		s.header["typ"] = "JWT"
		s.config["@context"] = []any{ContextV1}
		s.entries = func(token string) any { return []any{token, 7, "a.b.c", "did:web:x"} }
		d, c = s.files(f)
		f.Add(d, c, "https://verifier.contoso.com:443")
	}
	f.Add([]byte(`{"id":"did:web:x","assertionMethod":[{"id":"#k","publicKeyJwk":{}}]}`),
		[]byte(`{"@context":null,"linked_dids":["eyJhbGciOiJub25lIn0.e30."]}`), "https://x")

	now := func() time.Time { return testNow }
	f.Fuzz(func(t *testing.T, didJSON, configJSON []byte, publicURL string) {
		res, err := CheckLinkage(Linkage{DIDDocument: didJSON, Configuration: configJSON, PublicURL: publicURL, Now: now})
		if err == nil && (res.Valid < 1 || res.DID == "") {
			t.Fatalf("CheckLinkage passed without a valid linked DID: %+v", res)
		}
		status, err := CheckDID(didJSON, publicURL, res.DID)
		if err == nil && status == DIDServed && res.DID == "" {
			t.Fatalf("CheckDID passed a did.json without id")
		}
	})
}
