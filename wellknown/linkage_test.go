package wellknown

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// keyKinds are the curves Entra uses: secp256k1 (older authorities) and P-256.
var keyKinds = []func(testing.TB) testKey{newSecp256k1Key, newP256Key}

func TestCheckLinkageValid(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(t *testing.T, s *scenario)
		others []string
	}{
		{name: "as Entra generates it"},
		{name: "typ JWT and iat (Microsoft interop)", mutate: func(_ *testing.T, s *scenario) {
			s.header["typ"] = "JWT"
			s.claims["iat"] = testNow.Add(-time.Hour).Unix()
		}},
		{name: "relative kid", mutate: func(_ *testing.T, s *scenario) { s.header["kid"] = testFrag }},
		{name: "absolute assertionMethod reference", mutate: func(_ *testing.T, s *scenario) {
			s.doc["assertionMethod"] = []any{testKid}
		}},
		{name: "embedded assertionMethod", mutate: func(_ *testing.T, s *scenario) {
			s.doc["assertionMethod"] = []any{map[string]any{
				"id": testKid, "controller": testDID, "type": s.key.vmType, "publicKeyJwk": s.key.pub,
			}}
			s.doc["verificationMethod"] = []any{}
		}},
		{name: "v1 context", mutate: func(_ *testing.T, s *scenario) { s.config["@context"] = ContextV1 }},
		{name: "context array", mutate: func(_ *testing.T, s *scenario) {
			s.config["@context"] = []any{"https://www.w3.org/2018/credentials/v1", ContextV1}
		}},
		{name: "origin without trailing slash", mutate: func(_ *testing.T, s *scenario) {
			s.subject()["origin"] = "https://verifier.contoso.com"
		}},
		{name: "origin without scheme, upper case", mutate: func(_ *testing.T, s *scenario) {
			s.subject()["origin"] = "Verifier.Contoso.com"
		}},
		{name: "public URL with a path and no slash", mutate: func(_ *testing.T, s *scenario) {
			s.url = "https://verifier.contoso.com/app"
		}},
		{name: "nbf is now", mutate: func(_ *testing.T, s *scenario) { s.claims["nbf"] = testNow.Unix() }},
		{name: "exp one second ahead", mutate: func(_ *testing.T, s *scenario) { s.claims["exp"] = testNow.Unix() + 1 }},
		{name: "second DID on the same domain", mutate: func(t *testing.T, s *scenario) {
			other := s.key.newPeer(t)
			claims := map[string]any{"iss": "did:web:other.example", "sub": "did:web:other.example"}
			foreign := signJWT(t, other, map[string]any{"kid": "did:web:other.example#key-1"}, claims)
			s.entries = func(token string) any { return []any{foreign, token} }
		}, others: []string{"did:web:other.example"}},
	}
	kinds := append([]func(testing.TB) testKey{newP384Key, newEd25519Key}, keyKinds...)
	for _, newKey := range kinds {
		key := newKey(t)
		for _, tt := range tests {
			t.Run(key.name+"/"+tt.name, func(t *testing.T) {
				s := newScenario(key)
				if tt.mutate != nil {
					tt.mutate(t, s)
				}
				res, err := s.check(t)
				require.NoError(t, err)
				assert.Equal(t, testDID, res.DID)
				assert.Equal(t, 1, res.Valid)
				assert.Equal(t, tt.others, res.Others)
			})
		}
	}
}

func TestCheckLinkageFaults(t *testing.T) {
	hmacToken := func(t *testing.T, s *scenario) {
		hdr := map[string]any{"alg": "HS256", "kid": testKid}
		unsigned := rawJWT(t, hdr, s.claims, nil)
		mac := hmac.New(sha256.New, s.key.pub) // the public key as a shared secret
		mac.Write([]byte(strings.TrimSuffix(unsigned, ".")))
		s.token = unsigned + base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
	}
	tests := []struct {
		name   string
		mutate func(t *testing.T, s *scenario)
		want   []string // {alg} is replaced by the key's algorithm
		valid  int      // entries still valid besides the fault
	}{
		{name: "bad signature", mutate: func(t *testing.T, s *scenario) { s.signer = s.key.newPeer(t) },
			want: []string{`linked_dids[0]: signature does not verify with key "` + testKid + `" ({alg})`}},
		{name: "unknown kid", mutate: func(_ *testing.T, s *scenario) { s.header["kid"] = testDID + "#k2" },
			want: []string{`linked_dids[0]: kid "did:web:verifier.contoso.com#k2" is not a key of did.json: regenerate did-configuration.json after publishing the new did.json`}},
		{name: "key not in assertionMethod", mutate: func(_ *testing.T, s *scenario) { s.doc["assertionMethod"] = []any{"#other"} },
			want: []string{`linked_dids[0]: kid "` + testKid + `" is a key of did.json but is not listed under assertionMethod: add it to assertionMethod`}},
		{name: "assertionMethod without its key", mutate: func(_ *testing.T, s *scenario) { s.doc["verificationMethod"] = []any{} },
			want: []string{`kid "` + testKid + `" is listed under assertionMethod but did.json has no verificationMethod with that id`}},
		{name: "wrong origin", mutate: func(_ *testing.T, s *scenario) { s.subject()["origin"] = "https://evil.example/" },
			want: []string{`linked_dids[0]: vc.credentialSubject.origin "https://evil.example/" is not https://verifier.contoso.com, the origin of VERIFIER_PUBLIC_URL: regenerate did-configuration.json for domain https://verifier.contoso.com/`}},
		{name: "origin on another port", mutate: func(_ *testing.T, s *scenario) { s.subject()["origin"] = "https://verifier.contoso.com:8443" },
			want: []string{`vc.credentialSubject.origin "https://verifier.contoso.com:8443" is not https://verifier.contoso.com`}},
		{name: "origin with a path", mutate: func(_ *testing.T, s *scenario) { s.subject()["origin"] = "https://verifier.contoso.com/app" },
			want: []string{`vc.credentialSubject.origin "https://verifier.contoso.com/app" is not an origin (scheme://host[:port])`}},
		{name: "no origin", mutate: func(_ *testing.T, s *scenario) { delete(s.subject(), "origin") },
			want: []string{`vc.credentialSubject.origin is missing`}},
		{name: "other iss", mutate: func(_ *testing.T, s *scenario) { s.claims["iss"] = "did:web:other.example" },
			want: []string{`linked_dids[0]: iss "did:web:other.example" is not the DID "` + testDID + `" of did.json: the credential was issued for another DID: regenerate did-configuration.json for ` + testDID}},
		{name: "other sub", mutate: func(_ *testing.T, s *scenario) { s.claims["sub"] = "did:web:other.example" },
			want: []string{`linked_dids[0]: sub "did:web:other.example" is not the DID "` + testDID + `"`}},
		{name: "other credentialSubject.id", mutate: func(_ *testing.T, s *scenario) { s.subject()["id"] = "did:web:other.example" },
			want: []string{`linked_dids[0]: vc.credentialSubject.id "did:web:other.example" is not the DID "` + testDID + `"`}},
		{name: "expired", mutate: func(_ *testing.T, s *scenario) { s.claims["exp"] = testNow.Add(-time.Minute).Unix() },
			want: []string{`linked_dids[0]: expired at 2026-11-25T11:59:00Z (exp), now is 2026-11-25T12:00:00Z: regenerate did-configuration.json`}},
		{name: "expires now", mutate: func(_ *testing.T, s *scenario) { s.claims["exp"] = testNow.Unix() },
			want: []string{`linked_dids[0]: expired at 2026-11-25T12:00:00Z (exp)`}},
		{name: "not yet valid", mutate: func(_ *testing.T, s *scenario) { s.claims["nbf"] = testNow.Add(time.Hour).Unix() },
			want: []string{`linked_dids[0]: not valid before 2026-11-25T13:00:00Z (nbf), now is 2026-11-25T12:00:00Z: check this machine's clock, or wait`}},
		{name: "no exp", mutate: func(_ *testing.T, s *scenario) { delete(s.claims, "exp") },
			want: []string{`linked_dids[0]: has no exp claim`}},
		{name: "no nbf", mutate: func(_ *testing.T, s *scenario) { delete(s.claims, "nbf") },
			want: []string{`linked_dids[0]: has no nbf claim`}},
		{name: "unknown context", mutate: func(_ *testing.T, s *scenario) { s.config["@context"] = "https://example.com/ctx" },
			want: []string{`did-configuration.json @context ["https://example.com/ctx"] is unknown: use ` + ContextV0}, valid: 1},
		{name: "no context", mutate: func(_ *testing.T, s *scenario) { delete(s.config, "@context") },
			want: []string{`did-configuration.json has no @context`}, valid: 1},
		{name: "alg none", mutate: func(t *testing.T, s *scenario) {
			s.token = rawJWT(t, map[string]any{"alg": "none", "kid": testKid}, s.claims, nil)
		}, want: []string{`linked_dids[0]: alg "none" is refused: an unsigned token proves nothing`}},
		{name: "HS256 keyed with the public key", mutate: hmacToken,
			want: []string{`linked_dids[0]: alg "HS256" is refused: a shared-secret MAC cannot prove control of a DID`}},
		{name: "token chooses another algorithm", mutate: func(t *testing.T, s *scenario) {
			if s.key.name == "P-256" {
				s.signer = newSecp256k1Key(t)
			} else {
				s.signer = newP256Key(t)
			}
		}, want: []string{`is not {alg}, the only algorithm of key "` + testKid + `" (the token never chooses it)`}},
		{name: "no kid", mutate: func(_ *testing.T, s *scenario) { delete(s.header, "kid") },
			want: []string{`linked_dids[0]: header has no kid`}},
		{name: "kid of another DID, iss ours", mutate: func(_ *testing.T, s *scenario) { s.header["kid"] = "did:web:other.example#k" },
			want: []string{`linked_dids[0]: kid "did:web:other.example#k" names a key of another DID than "` + testDID + `"`}},
		{name: "not a compact JWT", mutate: func(_ *testing.T, s *scenario) { s.token = "abc.def" },
			want: []string{`linked_dids[0]: not a compact JWT (header.payload.signature)`}},
		{name: "a JSON-LD entry only", mutate: func(_ *testing.T, s *scenario) {
			s.entries = func(string) any { return []any{map[string]any{"proof": "x"}} }
		}, want: []string{`linked_dids[0] is not a JWT string (a JSON-LD credential?): not used`}},
		{name: "no linked_dids", mutate: func(_ *testing.T, s *scenario) { s.entries = func(string) any { return nil } },
			want: []string{`did-configuration.json has no linked_dids array`}},
		{name: "empty linked_dids", mutate: func(_ *testing.T, s *scenario) { s.entries = func(string) any { return []any{} } },
			want: []string{`did-configuration.json has no valid linked_dids entry for "` + testDID + `": generate it for origin https://verifier.contoso.com`}},
		{name: "entries for another DID only", mutate: func(t *testing.T, s *scenario) {
			s.token = signJWT(t, s.key.newPeer(t), map[string]any{"kid": "did:web:other.example#key-1"},
				map[string]any{"iss": "did:web:other.example"})
		}, want: []string{`has no valid linked_dids entry for "` + testDID + `" (it holds entries for did:web:other.example only): generate it for origin`}},
		{name: "private key published", mutate: func(t *testing.T, s *scenario) {
			vm := s.doc["verificationMethod"].([]any)[0].(map[string]any)
			priv, err := json.Marshal(s.key.priv)
			require.NoError(t, err)
			vm["publicKeyJwk"] = json.RawMessage(priv)
		}, want: []string{`publicKeyJwk of "` + testKid + `" holds private key material: remove it from did.json now and rotate the key`}},
	}
	for _, newKey := range keyKinds {
		key := newKey(t)
		for _, tt := range tests {
			t.Run(key.name+"/"+tt.name, func(t *testing.T) {
				s := newScenario(key)
				tt.mutate(t, s)
				res, err := s.check(t)
				require.Error(t, err)
				assert.Equal(t, tt.valid, res.Valid)
				for _, want := range tt.want {
					assert.Contains(t, err.Error(), strings.ReplaceAll(want, "{alg}", key.alg.String()))
				}
				if tt.valid == 0 {
					assert.Contains(t, err.Error(), "has no valid linked_dids entry")
				}
			})
		}
	}
}
