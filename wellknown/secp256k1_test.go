package wellknown

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"testing"

	"github.com/decred/dcrd/dcrec/secp256k1/v4"
	secpecdsa "github.com/decred/dcrd/dcrec/secp256k1/v4/ecdsa"
	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jwk"
	"github.com/lestrrat-go/jwx/v3/jws"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// newSecp256k1Key generates a secp256k1 (ES256K) key, the curve of older Entra authorities.
func newSecp256k1Key(t testing.TB) testKey {
	t.Helper()
	priv, err := secp256k1.GeneratePrivateKey()
	require.NoError(t, err)
	return importKey(t, "secp256k1", priv.ToECDSA(), jwa.ES256K(), "EcdsaSecp256k1VerificationKey2019", newSecp256k1Key)
}

// es256kJWS signs header.payload with decred's secp256k1 directly (not through jwx), as Entra's key vault
// does: the signature is r||s, 32 bytes each.
func es256kJWS(t *testing.T, priv *secp256k1.PrivateKey) string {
	t.Helper()
	enc := base64.RawURLEncoding
	input := enc.EncodeToString([]byte(`{"alg":"ES256K","kid":"did:web:verifier.example.com#key-1"}`)) + "." +
		enc.EncodeToString([]byte(`{"iss":"did:web:verifier.example.com"}`))
	digest := sha256.Sum256([]byte(input))
	sig := secpecdsa.Sign(priv, digest[:])
	r, s := sig.R(), sig.S()
	rb, sb := r.Bytes(), s.Bytes()
	return input + "." + enc.EncodeToString(append(rb[:], sb[:]...))
}

// TestES256KWithoutTheBuildTag: this test runs without -tags jwx_es256k (the Makefile no longer gives it), so
// a secp256k1 publicKeyJwk parses and an ES256K signature made outside jwx verifies through es256k.go's
// registration; a tampered signature or a key on another curve does not.
func TestES256KWithoutTheBuildTag(t *testing.T) {
	priv, err := secp256k1.GeneratePrivateKey()
	require.NoError(t, err)
	p256, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	jwkJSON := func(raw any) json.RawMessage {
		k, err := jwk.Import(raw)
		require.NoError(t, err)
		b, err := json.Marshal(k)
		require.NoError(t, err)
		return b
	}
	token := es256kJWS(t, priv)
	tampered := []byte(token)
	first := bytes.LastIndexByte(tampered, '.') + 1 // the signature's first character: 6 bits of r
	if tampered[first] == 'A' {
		tampered[first] = 'B'
	} else {
		tampered[first] = 'A'
	}
	tests := []struct {
		name    string
		token   string
		key     any // a publicKeyJwk, parsed and pinned like did.json's, or a raw key
		wantErr string
	}{
		{"secp256k1 JWK as in did.json", token, jwkJSON(priv.PubKey().ToECDSA()), ""},
		{"raw secp256k1 public key", token, priv.PubKey().ToECDSA(), ""},
		{"tampered signature", string(tampered), jwkJSON(priv.PubKey().ToECDSA()), "invalid ECDSA signature"},
		{"P-256 key for ES256K", token, &p256.PublicKey, "failed to verify signature"},
		{"another secp256k1 key", es256kJWS(t, func() *secp256k1.PrivateKey { k, _ := secp256k1.GeneratePrivateKey(); return k }()), priv.PubKey().ToECDSA(), "invalid ECDSA signature"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			key := tc.key
			if raw, ok := key.(json.RawMessage); ok {
				pinned, err := parseAssertionKey("did:web:verifier.example.com#key-1", raw)
				require.NoError(t, err)
				require.Equal(t, jwa.ES256K(), pinned.alg)
				key = pinned.key
			}
			payload, err := jws.Verify([]byte(tc.token), jws.WithKey(jwa.ES256K(), key))
			if tc.wantErr != "" {
				assert.ErrorContains(t, err, tc.wantErr)
				return
			}
			require.NoError(t, err)
			assert.JSONEq(t, `{"iss":"did:web:verifier.example.com"}`, string(payload))
		})
	}
}
