package ipa

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
)

// NewCallbackToken returns a fresh 128-bit random token for a session's callback URL (base64url without
// padding) and its hash, which is all the store keeps.
func NewCallbackToken() (token, hash string) {
	b := make([]byte, 16)
	_, _ = rand.Read(b) // crypto/rand.Read never fails; it crashes the program instead.
	token = base64.RawURLEncoding.EncodeToString(b)
	return token, HashCallbackToken(token)
}

// HashCallbackToken returns the hex SHA-256 of a presented callback token, the key to look its session up by.
func HashCallbackToken(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}
