package result_test

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwk"
	"github.com/lestrrat-go/jwx/v3/jws"
	"github.com/lestrrat-go/jwx/v3/jwt"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/entra-verifier/entra-verifier/result"
)

func pemOf(t *testing.T, typ string, der []byte) string {
	t.Helper()
	return string(pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}))
}

func ecKey(t *testing.T, c elliptic.Curve) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(c, rand.Reader)
	require.NoError(t, err)
	return k
}

func pkcs8(t *testing.T, k any) []byte {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(k)
	require.NoError(t, err)
	return der
}

func sec1(t *testing.T, k *ecdsa.PrivateKey) []byte {
	t.Helper()
	der, err := x509.MarshalECPrivateKey(k)
	require.NoError(t, err)
	return der
}

// jwksKey is the one key of a published JWK set, as JSON.
type jwksKey struct {
	Kty, Crv, X, Y, D, Kid, Alg, Use string
}

func publishedKey(t *testing.T, s *result.Signer) jwksKey {
	t.Helper()
	var set struct{ Keys []jwksKey }
	require.NoError(t, json.Unmarshal(s.JWKS(), &set))
	require.Len(t, set.Keys, 1)
	return set.Keys[0]
}

// thumbprint is the RFC 7638 thumbprint of a P-256 public key, computed by hand.
func thumbprint(pub *ecdsa.PublicKey) string {
	pt, _ := pub.Bytes() // 0x04 || X || Y
	enc := base64.RawURLEncoding.EncodeToString
	sum := sha256.Sum256([]byte(`{"crv":"P-256","kty":"EC","x":"` + enc(pt[1:33]) + `","y":"` + enc(pt[33:]) + `"}`))
	return enc(sum[:])
}

func TestNewSignerLoadsP256Keys(t *testing.T) {
	key := ecKey(t, elliptic.P256())
	dir := t.TempDir()
	file := filepath.Join(dir, "result-signing.pem")
	require.NoError(t, os.WriteFile(file, []byte(pemOf(t, "PRIVATE KEY", pkcs8(t, key))), 0o600))
	tests := []struct {
		name, value string
	}{
		{"PKCS #8 PEM", pemOf(t, "PRIVATE KEY", pkcs8(t, key))},
		{"SEC 1 PEM", pemOf(t, "EC PRIVATE KEY", sec1(t, key))},
		{"PEM with text around it", "key for staging\n" + pemOf(t, "EC PRIVATE KEY", sec1(t, key)) + "\n"},
		{"path of a PEM file", file},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, err := result.NewSigner(tc.value)
			require.NoError(t, err)
			assert.False(t, s.Ephemeral)
			k := publishedKey(t, s)
			pt, err := key.PublicKey.Bytes()
			require.NoError(t, err)
			enc := base64.RawURLEncoding.EncodeToString
			assert.Equal(t, jwksKey{Kty: "EC", Crv: "P-256", X: enc(pt[1:33]), Y: enc(pt[33:]), Kid: thumbprint(&key.PublicKey), Alg: "ES256", Use: "sig"}, k,
				"the public half only (no d), kid = RFC 7638 thumbprint")
		})
	}
}

func TestNewSignerRefuses(t *testing.T) {
	_, edKey, err := ed25519.GenerateKey(rand.Reader)
	require.NoError(t, err)
	garbage := filepath.Join(t.TempDir(), "garbage.pem")
	require.NoError(t, os.WriteFile(garbage, []byte("not a key"), 0o600))
	tests := []struct {
		name, value, want string
	}{
		{"missing file", filepath.Join(t.TempDir(), "absent.pem"), "no such file"},
		{"file without PEM", garbage, "no PEM block"},
		{"a PEM marker but no block", "-----BEGIN PRIVATE KEY-----\nnot base64\n", "no PEM block"},
		{"not an EC key", pemOf(t, "PRIVATE KEY", pkcs8(t, edKey)), "not an EC key"},
		{"P-384 in PKCS #8", pemOf(t, "PRIVATE KEY", pkcs8(t, ecKey(t, elliptic.P384()))), "want a P-256 key"},
		{"P-384 in SEC 1", pemOf(t, "EC PRIVATE KEY", sec1(t, ecKey(t, elliptic.P384()))), "want a P-256 key"},
		{"garbage DER", pemOf(t, "PRIVATE KEY", []byte("garbage")), "VERIFIER_RESULT_SIGNING_KEY: x509"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, err := result.NewSigner(tc.value)
			require.Error(t, err)
			assert.Nil(t, s)
			assert.Contains(t, err.Error(), "VERIFIER_RESULT_SIGNING_KEY")
			assert.Contains(t, err.Error(), tc.want)
		})
	}
}

func TestEphemeralSigners(t *testing.T) {
	a, err := result.NewSigner("")
	require.NoError(t, err)
	b, err := result.NewSigner("")
	require.NoError(t, err)
	assert.True(t, a.Ephemeral)
	assert.NotEqual(t, publishedKey(t, a).Kid, publishedKey(t, b).Kid, "a fresh key each start")
	assert.Empty(t, publishedKey(t, a).D, "never the private half")
}

func TestTokenClaims(t *testing.T) {
	s, err := result.NewSigner(pemOf(t, "EC PRIVATE KEY", sec1(t, ecKey(t, elliptic.P256()))))
	require.NoError(t, err)
	set, err := jwk.Parse(s.JWKS())
	require.NoError(t, err)
	now := time.Date(2026, 3, 14, 9, 26, 53, 0, time.UTC)
	at := func(t time.Time) jwt.ParseOption { return jwt.WithClock(jwt.ClockFunc(func() time.Time { return t })) }
	const iss, aud, ret = "https://verifier.example.com", "https://rp.example.com", "https://rp.example.com/onboarding/finish?step=2"

	tests := []struct {
		name string
		data result.Data
		want map[string]any // private claims; absent ones must be absent
	}{
		{"verified with claims", result.Data{RequestID: "req-1", Status: "verified", Issuer: "did:web:us.did.idemia.io",
			Claims: map[string]any{"firstName": "Megan"}},
			map[string]any{"status": "verified", "return_to": ret, "credential_issuer": "did:web:us.did.idemia.io",
				"claims": map[string]any{"firstName": "Megan"}}},
		{"failed with a reason", result.Data{RequestID: "req-2", Status: "failed", Reason: "presentation_error", Detail: "not in the token"},
			map[string]any{"status": "failed", "return_to": ret, "reason": "presentation_error"}},
		{"verified, no claims allowed", result.Data{RequestID: "req-3", Status: "verified"},
			map[string]any{"status": "verified", "return_to": ret}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			signed, err := s.Token(iss, aud, ret, tc.data, now)
			require.NoError(t, err)

			msg, err := jws.Parse([]byte(signed))
			require.NoError(t, err)
			hdr := msg.Signatures()[0].ProtectedHeaders()
			alg, _ := hdr.Algorithm()
			kid, _ := hdr.KeyID()
			assert.Equal(t, "ES256", alg.String())
			assert.Equal(t, publishedKey(t, s).Kid, kid)

			tok, err := jwt.Parse([]byte(signed), jwt.WithKeySet(set), jwt.WithIssuer(iss), jwt.WithAudience(aud), at(now))
			require.NoError(t, err)
			sub, _ := tok.Subject()
			assert.Equal(t, tc.data.RequestID, sub)
			iat, _ := tok.IssuedAt()
			nbf, _ := tok.NotBefore()
			exp, _ := tok.Expiration()
			assert.True(t, iat.Equal(now) && nbf.Equal(now), "iat %v nbf %v", iat, nbf)
			assert.True(t, exp.Equal(now.Add(result.TokenLifetime)), "exp %v", exp)
			assert.Equal(t, 2*time.Minute, result.TokenLifetime)

			var payload map[string]any
			require.NoError(t, json.Unmarshal(msg.Payload(), &payload))
			for _, registered := range []string{"iss", "aud", "sub", "iat", "nbf", "exp", "jti"} {
				assert.Contains(t, payload, registered)
				delete(payload, registered)
			}
			assert.Equal(t, tc.want, payload, "exactly these private claims (no detail)")

			again, err := s.Token(iss, aud, ret, tc.data, now)
			require.NoError(t, err)
			tok2, err := jwt.Parse([]byte(again), jwt.WithKeySet(set), at(now))
			require.NoError(t, err)
			jti, _ := tok.JwtID()
			jti2, _ := tok2.JwtID()
			assert.NotEmpty(t, jti)
			assert.NotEqual(t, jti, jti2, "a fresh jti per token")
		})
	}

	signed, err := s.Token(iss, aud, ret, result.Data{RequestID: "req-1", Status: "verified"}, now)
	require.NoError(t, err)
	refusals := []struct {
		name string
		opts []jwt.ParseOption
		tok  string
	}{
		{"expired", []jwt.ParseOption{at(now.Add(result.TokenLifetime))}, signed},
		{"not yet valid", []jwt.ParseOption{at(now.Add(-time.Second))}, signed},
		{"another issuer", []jwt.ParseOption{at(now), jwt.WithIssuer("https://evil.example")}, signed},
		{"another audience", []jwt.ParseOption{at(now), jwt.WithAudience("https://evil.example")}, signed},
		{"tampered payload", []jwt.ParseOption{at(now)}, tamper(t, signed)},
	}
	for _, tc := range refusals {
		t.Run(tc.name, func(t *testing.T) {
			_, err := jwt.Parse([]byte(tc.tok), append([]jwt.ParseOption{jwt.WithKeySet(set)}, tc.opts...)...)
			assert.Error(t, err)
		})
	}
	_, err = jwt.Parse([]byte(signed), jwt.WithKeySet(set), at(now.Add(result.TokenLifetime-time.Second)))
	assert.NoError(t, err, "still valid in the last second of its lifetime")
}

// tamper swaps the token's status claim for another without signing again.
func tamper(t *testing.T, signed string) string {
	t.Helper()
	parts := strings.Split(signed, ".")
	require.Len(t, parts, 3)
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	require.NoError(t, err)
	changed := strings.Replace(string(payload), `"verified"`, `"VERIFIED"`, 1)
	require.NotEqual(t, string(payload), changed)
	parts[1] = base64.RawURLEncoding.EncodeToString([]byte(changed))
	return strings.Join(parts, ".")
}
