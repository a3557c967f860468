package verifier_test

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/entra-verifier/entra-verifier/verifier"
)

// FuzzDecodeCallback feeds arbitrary bodies to the presentation callback decoder and the policy check:
// neither may panic, and a decoded callback always carries the three fields we rely on.
func FuzzDecodeCallback(f *testing.F) {
	files, _ := filepath.Glob("testdata/callback-*.json")
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(`{"requestId":"r","state":"s","requestStatus":"presentation_verified","verifiedCredentialsData":[{"claims":{"a":1}}],"receipt":{"vp_token":["x"]}}`))
	policy := verifier.Policy{AcceptedIssuers: []string{"did:web:us.did.idemia.io"}, FaceCheckThreshold: 70}
	now := time.Date(2026, 11, 25, 0, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, body []byte) {
		cb, err := verifier.DecodeCallback(body)
		if err != nil {
			return
		}
		if cb.RequestID == "" || cb.State == "" || cb.RequestStatus == "" {
			t.Fatalf("decoded without a required field: %+v", cb)
		}
		_ = policy.Check(cb, now)
		_, _ = cb.Claims()
	})
}
