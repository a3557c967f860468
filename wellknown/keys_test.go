package wellknown

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"testing"

	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jwk"
	"github.com/lestrrat-go/jwx/v3/jws"
	"github.com/stretchr/testify/require"
)

// testKey is a signing key generated for one test, with its public JWK.
type testKey struct {
	name    string
	priv    jwk.Key
	pub     json.RawMessage
	alg     jwa.SignatureAlgorithm
	vmType  string
	newPeer func(t testing.TB) testKey // another key of the same kind
}

// importKey wraps a raw private key as a testKey.
func importKey(t testing.TB, name string, raw any, alg jwa.SignatureAlgorithm, vmType string, peer func(testing.TB) testKey) testKey {
	t.Helper()
	priv, err := jwk.Import(raw)
	require.NoError(t, err)
	pub, err := jwk.PublicKeyOf(priv)
	require.NoError(t, err)
	pubJSON, err := json.Marshal(pub)
	require.NoError(t, err)
	return testKey{name: name, priv: priv, pub: pubJSON, alg: alg, vmType: vmType, newPeer: peer}
}

// newP256Key generates a P-256 (ES256) key.
func newP256Key(t testing.TB) testKey {
	t.Helper()
	raw, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	return importKey(t, "P-256", raw, jwa.ES256(), "JsonWebKey2020", newP256Key)
}

// newP384Key generates a P-384 (ES384) key.
func newP384Key(t testing.TB) testKey {
	t.Helper()
	raw, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	require.NoError(t, err)
	return importKey(t, "P-384", raw, jwa.ES384(), "JsonWebKey2020", newP384Key)
}

// newEd25519Key generates an Ed25519 (EdDSA) key.
func newEd25519Key(t testing.TB) testKey {
	t.Helper()
	_, raw, err := ed25519.GenerateKey(rand.Reader)
	require.NoError(t, err)
	return importKey(t, "Ed25519", raw, jwa.EdDSA(), "JsonWebKey2020", newEd25519Key)
}

// signJWT signs claims with key under a protected header holding hdr and the key's alg.
func signJWT(t testing.TB, key testKey, hdr, claims map[string]any) string {
	t.Helper()
	payload, err := json.Marshal(claims)
	require.NoError(t, err)
	h := jws.NewHeaders()
	for k, v := range hdr {
		require.NoError(t, h.Set(k, v))
	}
	out, err := jws.Sign(payload, jws.WithKey(key.alg, key.priv, jws.WithProtectedHeaders(h)))
	require.NoError(t, err)
	return string(out)
}

// rawJWT builds a compact JWT with any header and the given signature bytes.
func rawJWT(t testing.TB, hdr, claims map[string]any, sig []byte) string {
	t.Helper()
	hb, err := json.Marshal(hdr)
	require.NoError(t, err)
	pb, err := json.Marshal(claims)
	require.NoError(t, err)
	enc := base64.RawURLEncoding
	return enc.EncodeToString(hb) + "." + enc.EncodeToString(pb) + "." + enc.EncodeToString(sig)
}
