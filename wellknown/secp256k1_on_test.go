//go:build jwx_es256k

package wellknown

import (
	"testing"

	"github.com/decred/dcrd/dcrec/secp256k1/v4"
	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/stretchr/testify/require"
)

// newSecp256k1Key generates a secp256k1 (ES256K) key, the curve of older Entra authorities.
func newSecp256k1Key(t testing.TB) testKey {
	t.Helper()
	priv, err := secp256k1.GeneratePrivateKey()
	require.NoError(t, err)
	return importKey(t, "secp256k1", priv.ToECDSA(), jwa.ES256K(), "EcdsaSecp256k1VerificationKey2019", newSecp256k1Key)
}
