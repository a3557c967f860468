package result

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jwk"
	"github.com/lestrrat-go/jwx/v3/jwt"
)

// TokenLifetime is how long a result token is accepted: long enough for one redirect, no longer.
const TokenLifetime = 2 * time.Minute

// Signer signs result tokens with one ES256 key and publishes its public half as a JWK set.
type Signer struct {
	key  jwk.Key
	jwks []byte
	// Ephemeral says the key was generated at start (tokens do not verify across restarts or replicas).
	Ephemeral bool
}

// NewSigner loads the P-256 private key of VERIFIER_RESULT_SIGNING_KEY: PEM (PKCS #8 or SEC 1) or the path
// of a file holding it. An empty value generates an ephemeral key.
func NewSigner(pemOrPath string) (*Signer, error) {
	if pemOrPath == "" {
		raw, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return nil, err
		}
		s, err := newSigner(raw)
		if s != nil {
			s.Ephemeral = true
		}
		return s, err
	}
	data := []byte(pemOrPath)
	if !strings.Contains(pemOrPath, "-----BEGIN") {
		b, err := os.ReadFile(pemOrPath)
		if err != nil {
			return nil, fmt.Errorf("VERIFIER_RESULT_SIGNING_KEY: %w", err)
		}
		data = b
	}
	block, _ := pem.Decode(data)
	if block == nil {
		return nil, errors.New("VERIFIER_RESULT_SIGNING_KEY: no PEM block")
	}
	var raw *ecdsa.PrivateKey
	if k, err := x509.ParsePKCS8PrivateKey(block.Bytes); err == nil {
		ec, ok := k.(*ecdsa.PrivateKey)
		if !ok {
			return nil, errors.New("VERIFIER_RESULT_SIGNING_KEY: not an EC key")
		}
		raw = ec
	} else if raw, err = x509.ParseECPrivateKey(block.Bytes); err != nil {
		return nil, fmt.Errorf("VERIFIER_RESULT_SIGNING_KEY: %w", err)
	}
	if raw.Curve != elliptic.P256() {
		return nil, errors.New("VERIFIER_RESULT_SIGNING_KEY: want a P-256 key (ES256)")
	}
	return newSigner(raw)
}

func newSigner(raw *ecdsa.PrivateKey) (*Signer, error) {
	key, err := jwk.Import(raw)
	if err != nil {
		return nil, err
	}
	pub, err := jwk.PublicKeyOf(key)
	if err != nil {
		return nil, err
	}
	thumb, err := pub.Thumbprint(cryptoSHA256)
	if err != nil {
		return nil, err
	}
	kid := b64(thumb)
	for _, k := range []jwk.Key{key, pub} {
		if err := errors.Join(k.Set(jwk.KeyIDKey, kid), k.Set(jwk.AlgorithmKey, jwa.ES256())); err != nil {
			return nil, err
		}
	}
	if err := pub.Set(jwk.KeyUsageKey, "sig"); err != nil {
		return nil, err
	}
	set := jwk.NewSet()
	if err := set.AddKey(pub); err != nil {
		return nil, err
	}
	jwks, err := json.Marshal(set)
	if err != nil {
		return nil, err
	}
	return &Signer{key: key, jwks: jwks}, nil
}

// JWKS returns the public key set served at /.well-known/jwks.json.
func (s *Signer) JWKS() []byte { return s.jwks }

// Token signs the result of a finished presentation request for the relying party at audience (the
// return URL's origin): iss is our public URL, sub the request id, return_to the exact URL the journey was
// started for (so the relying party can tie it to its own session), a short expiry and a fresh jti.
func (s *Signer) Token(issuer, audience, returnTo string, d Data, now time.Time) (string, error) {
	b := jwt.NewBuilder().Issuer(issuer).Audience([]string{audience}).Subject(d.RequestID).
		IssuedAt(now).NotBefore(now).Expiration(now.Add(TokenLifetime)).JwtID(rand.Text()).
		Claim("status", d.Status).Claim("return_to", returnTo)
	if d.Reason != "" {
		b = b.Claim("reason", d.Reason)
	}
	if d.Issuer != "" {
		b = b.Claim("credential_issuer", d.Issuer)
	}
	if d.Claims != nil {
		b = b.Claim("claims", d.Claims)
	}
	tok, err := b.Build()
	if err != nil {
		return "", fmt.Errorf("build result token: %w", err)
	}
	signed, err := jwt.Sign(tok, jwt.WithKey(jwa.ES256(), s.key))
	if err != nil {
		return "", fmt.Errorf("sign result token: %w", err)
	}
	return string(signed), nil
}
