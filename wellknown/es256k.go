//go:build !jwx_es256k

package wellknown

import (
	"crypto/ecdsa"
	"fmt"

	"github.com/lestrrat-go/dsig"
	dsigsecp256k1 "github.com/lestrrat-go/dsig-secp256k1"
	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jwk"
	jwkecdsa "github.com/lestrrat-go/jwx/v3/jwk/ecdsa"
	"github.com/lestrrat-go/jwx/v3/jws"
)

// DIDs created by Entra's Advanced Setup before 2024 sign with secp256k1 (ES256K). jwx leaves that curve out
// unless built with its jwx_es256k tag, and then fails only at verification, with a message a reader takes
// for a bad signature. Instead of asking every build for the tag, this file plugs the curve and the
// algorithm in through jwx's own registration API, with the same dsig-secp256k1 module the tag would link:
// the curve for jwk (parsing "crv": "secp256k1"), ES256K for EC keys in jws, and a signer and verifier. A
// build that does give the tag uses jwx's registration instead (this file is then left out).
func init() {
	crv := jwa.NewEllipticCurveAlgorithm("secp256k1")
	jwa.RegisterEllipticCurveAlgorithm(crv)
	jwkecdsa.RegisterCurve(crv, dsigsecp256k1.Curve())
	jws.RegisterAlgorithmForKeyType(jwa.EC(), jwa.ES256K())
	if err := jws.RegisterVerifier(jwa.ES256K(), es256k{}); err != nil {
		panic(err)
	}
	if err := jws.RegisterSigner(jwa.ES256K(), es256k{}); err != nil {
		panic(err)
	}
}

// es256k signs and verifies ES256K (ECDSA on secp256k1 with SHA-256, signature r||s) for jws.
type es256k struct{}

// Algorithm names ES256K, as jws.Signer2 requires.
func (es256k) Algorithm() jwa.SignatureAlgorithm { return jwa.ES256K() }

// Verify checks signature over payload with a secp256k1 public key (raw or a jwk.Key); any other key fails.
func (es256k) Verify(key any, payload, signature []byte) error {
	var pub ecdsa.PublicKey
	if err := exportECDSA(key, &pub); err != nil {
		return err
	}
	if pub.Curve != dsigsecp256k1.Curve() {
		return fmt.Errorf("ES256K needs a secp256k1 key, got %s", pub.Curve.Params().Name)
	}
	return dsig.Verify(&pub, dsigsecp256k1.ECDSAWithSecp256k1AndSHA256, payload, signature)
}

// Sign signs payload with a secp256k1 private key (raw or a jwk.Key).
func (es256k) Sign(key any, payload []byte) ([]byte, error) {
	var priv ecdsa.PrivateKey
	if err := exportECDSA(key, &priv); err != nil {
		return nil, err
	}
	if priv.Curve != dsigsecp256k1.Curve() {
		return nil, fmt.Errorf("ES256K needs a secp256k1 key, got %s", priv.Curve.Params().Name)
	}
	return dsig.Sign(&priv, dsigsecp256k1.ECDSAWithSecp256k1AndSHA256, payload, nil)
}

// exportECDSA stores key, a jwk.Key or a raw *ecdsa key of dst's kind, in dst.
func exportECDSA[K ecdsa.PublicKey | ecdsa.PrivateKey](key any, dst *K) error {
	switch k := key.(type) {
	case jwk.Key:
		if err := jwk.Export(k, dst); err != nil {
			return fmt.Errorf("ES256K: %w", err)
		}
		return nil
	case *K:
		if k == nil {
			return fmt.Errorf("ES256K: nil key")
		}
		*dst = *k
		return nil
	}
	return fmt.Errorf("ES256K: unsupported key type %T", key)
}
