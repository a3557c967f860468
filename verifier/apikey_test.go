package verifier_test

import (
	"strconv"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/entra-verifier/entra-verifier/verifier"
)

// TestAPIKeysAgreeWithAPIKey: the pooled keys are APIKey's, under concurrent use, and Valid refuses every
// other key: another state's, a cut one, one with a byte changed, the empty one.
func TestAPIKeysAgreeWithAPIKey(t *testing.T) {
	secret := []byte("callback-secret-of-32-bytes-long")
	keys := verifier.NewAPIKeys(secret)
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := range 200 {
				state := strconv.Itoa(g) + "-" + strconv.Itoa(i)
				want := verifier.APIKey(secret, state)
				assert.Len(t, want, 43)
				assert.Equal(t, want, keys.Key(state))
				assert.True(t, keys.Valid(state, want))
				changed := []byte(want)
				changed[i%len(changed)] ^= 1
				for _, wrong := range []string{verifier.APIKey(secret, state+"x"), want[:42], want + "A", string(changed), ""} {
					assert.False(t, keys.Valid(state, wrong), wrong)
				}
			}
		})
	}
	wg.Wait()
	assert.False(t, verifier.NewAPIKeys([]byte("another secret")).Valid("s", keys.Key("s")))
}
