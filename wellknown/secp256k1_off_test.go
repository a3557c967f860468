//go:build !jwx_es256k

package wellknown

import "testing"

// newSecp256k1Key fails the test: jwx handles secp256k1 only with -tags jwx_es256k.
func newSecp256k1Key(t testing.TB) testKey {
	t.Helper()
	t.Fatal("secp256k1 (ES256K) needs jwx's build tag: go test -tags jwx_es256k,nomsgpack ./wellknown/...")
	return testKey{}
}
