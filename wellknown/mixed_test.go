package wellknown

import (
	"maps"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// mixedEntries returns, beside the valid token of s when withValid, the entries real did-configuration.json
// files carry: a DIF JSON-LD credential, another tenant's JWT, a stale (expired) JWT and one signed with a
// rotated-out key, each with the warning it must produce.
func mixedEntries(t *testing.T, s *scenario, withValid bool) (entries func(string) any, want []string) {
	expired := maps.Clone(s.claims)
	expired["exp"] = testNow.Add(-24 * time.Hour).Unix()
	stale := signJWT(t, s.key, s.header, expired)
	rotated := signJWT(t, s.key.newPeer(t), s.header, s.claims)
	foreign := signJWT(t, s.key.newPeer(t), map[string]any{"kid": "did:web:other.example#key-1"},
		map[string]any{"iss": "did:web:other.example", "sub": "did:web:other.example"})
	jsonLD := map[string]any{"@context": []any{"https://www.w3.org/2018/credentials/v1"}, "type": []any{"VerifiableCredential", "DomainLinkageCredential"},
		"credentialSubject": map[string]any{"id": testDID, "origin": testURL}, "proof": map[string]any{"type": "Ed25519Signature2018"}}
	want = []string{
		`linked_dids[0] is not a JWT string (a JSON-LD credential?): not used`,
		`linked_dids[1] is for another DID, did:web:other.example: not checked`,
		`linked_dids[2]: expired at 2026-11-24T12:00:00Z (exp)`,
		`linked_dids[3]: signature does not verify with key "` + testKid + `"`,
	}
	return func(token string) any {
		out := []any{jsonLD, foreign, stale, rotated}
		if withValid {
			out = append(out, token)
		}
		return out
	}, want
}

func TestCheckLinkageMixedEntries(t *testing.T) {
	for _, newKey := range keyKinds {
		key := newKey(t)
		t.Run(key.name+"/a valid entry among others passes with warnings", func(t *testing.T) {
			s := newScenario(key)
			var want []string
			s.entries, want = mixedEntries(t, s, true)
			res, err := s.check(t)
			require.NoError(t, err)
			assert.Equal(t, 1, res.Valid)
			assert.Equal(t, []string{"did:web:other.example"}, res.Others)
			require.Len(t, res.Warnings, len(want))
			for i, w := range want {
				assert.True(t, strings.HasPrefix(res.Warnings[i], w), "warning %d: %q does not start with %q", i, res.Warnings[i], w)
			}
		})
		t.Run(key.name+"/without a valid entry it fails saying why for each", func(t *testing.T) {
			s := newScenario(key)
			var want []string
			s.entries, want = mixedEntries(t, s, false)
			res, err := s.check(t)
			require.Error(t, err)
			assert.Zero(t, res.Valid)
			assert.Empty(t, res.Warnings)
			msg := err.Error()
			for _, w := range append(want[:1:1], want[2:]...) {
				assert.Contains(t, msg, w)
			}
			assert.Contains(t, msg, `has no valid linked_dids entry for "`+testDID+`" (it holds entries for did:web:other.example only)`)
		})
	}
}
