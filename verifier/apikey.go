package verifier

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"hash"
	"slices"
	"sync"
)

// APIKey is the per-request callback secret: base64url(HMAC-SHA256(secret, state)), unpadded. It keys an HMAC
// for each call: the service makes and checks keys with APIKeys; this one-shot form is for callers that know
// one state, and the reference against which APIKeys is tested.
func APIKey(secret []byte, state string) string {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(state))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// APIKeys makes and checks the api-keys of one secret with pooled HMACs: keying a new one hashes the
// secret's two pads, a pooled one is reset to that keyed state. Safe for concurrent use; make one with
// NewAPIKeys (the zero value has no secret).
type APIKeys struct{ pool sync.Pool }

// NewAPIKeys returns the APIKeys of secret (a copy: a later change to the caller's slice changes nothing).
func NewAPIKeys(secret []byte) *APIKeys {
	secret = slices.Clone(secret)
	k := &APIKeys{}
	k.pool.New = func() any { return hmac.New(sha256.New, secret) }
	return k
}

// apiKeyLen is the length of an api-key: 32 bytes in unpadded base64url.
const apiKeyLen = 43

func (k *APIKeys) sum(state string, dst *[apiKeyLen]byte) {
	var sum [sha256.Size]byte
	m := k.pool.Get().(hash.Hash)
	m.Reset()
	m.Write([]byte(state))
	m.Sum(sum[:0])
	k.pool.Put(m)
	base64.RawURLEncoding.Encode(dst[:], sum[:])
}

// Key is state's api-key, as APIKey.
func (k *APIKeys) Key(state string) string {
	var key [apiKeyLen]byte
	k.sum(state, &key)
	return string(key[:])
}

// Valid reports, in constant time, whether key is state's api-key.
func (k *APIKeys) Valid(state, key string) bool {
	var want [apiKeyLen]byte
	k.sum(state, &want)
	return subtle.ConstantTimeCompare([]byte(key), want[:]) == 1
}
