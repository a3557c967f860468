package ipa

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/entra-verifier/entra-verifier/logging"
	"github.com/entra-verifier/entra-verifier/store"
)

// FuzzDecodeCallback feeds arbitrary bodies to IDEMIA's end-of-process decoder: it may not panic, and a
// decoded notification always has a known status, a canonical session id and printable fields.
func FuzzDecodeCallback(f *testing.F) {
	files, _ := filepath.Glob("testdata/callback-*.json")
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(`{"applicationId":"a","sessionId":"BA7CE9DC-C182-4907-875C-CE1942239099","timestamp":1e9,"status":null}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		cb, err := DecodeCallback(body)
		if err != nil {
			return
		}
		switch cb.Status {
		case store.IPACompleted, store.IPAError, store.IPATimeout:
		default:
			t.Fatalf("unknown status %q decoded", cb.Status)
		}
		if id, ok := canonicalUUID(cb.SessionID); !ok || id != cb.SessionID {
			t.Fatalf("session id %q is not canonical", cb.SessionID)
		}
		if !logging.Printable(cb.ApplicationID) || !logging.Printable(cb.IdentityID) || !logging.Printable(cb.ProofURL) || !logging.Printable(cb.Detail) {
			t.Fatal("a control character got through")
		}
	})
}
