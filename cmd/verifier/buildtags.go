//go:build !jwx_es256k || !nomsgpack

package main

// Entra's older DIDs sign with secp256k1 (ES256K), which jwx verifies only when built with its opt-in tag,
// and gin's msgpack codec is dead weight here: refuse to build without both tags.
// Build with: go build -tags jwx_es256k,nomsgpack ./cmd/verifier
var _ = build_with_tags_jwx_es256k_and_nomsgpack
