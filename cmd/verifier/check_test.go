package main

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/entra-verifier/entra-verifier/e2e"
)

var update = flag.Bool("update", false, "rewrite testdata/check/*.golden from the output of verifier check")

// TestCheckGolden runs `verifier check` on configurations a person meets on the first day and compares
// what it prints with testdata/check/NAME.golden (go test -run CheckGolden ./cmd/verifier -update rewrites
// them). The unreachable upstream is a closed port on loopback, named PORT in the files.
func TestCheckGolden(t *testing.T) {
	closed := e2e.FreeAddr(t) // nothing listens there
	unreachable := map[string]string{
		"VERIFIER_PUBLIC_URL": "https://verifier.example.com",
		"ENTRA_TENANT_ID":     "11111111-2222-3333-4444-555555555555", "ENTRA_CLIENT_ID": "client-id", "ENTRA_CLIENT_SECRET": "client-secret",
		"ENTRA_VERIFIER_DID":   "did:web:verifiedid.entra.microsoft.com:tenant:authority",
		"ENTRA_AUTHORITY_HOST": "https://" + closed,
		"IPA_COGNITO_URL":      "https://" + closed, "IPA_CLIENT_ID": "ipa-client", "IPA_CLIENT_SECRET": "ipa-secret",
	}
	tests := []struct {
		name    string
		env     map[string]string
		verbose bool
		code    int
	}{
		{"empty", map[string]string{}, false, 1},
		{"half-configured", map[string]string{
			"VERIFIER_PUBLIC_URL": "http://verifier.example.com", "ENTRA_TENANT_ID": "tenant", "ENTRA_CLIENT_ID": "client",
			"IPA_CLIENT_ID": "ipa-client",
		}, false, 1},
		{"sandbox-variable", map[string]string{"VERIFIER_SANDBOX": "true"}, false, 1},
		{"unreachable", unreachable, false, 1},
		{"unreachable-verbose", unreachable, true, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var out strings.Builder
			code := check(t.Context(), func(k string) string { return tc.env[k] }, &out, tc.verbose)
			assert.Equal(t, tc.code, code, out.String())
			_, port, _ := strings.Cut(closed, ":")
			got := strings.ReplaceAll(out.String(), ":"+port, ":PORT")
			golden := filepath.Join("testdata", "check", tc.name+".golden")
			if *update {
				require.NoError(t, os.WriteFile(golden, []byte(got), 0o644))
			}
			want, err := os.ReadFile(golden)
			require.NoError(t, err)
			assert.Equal(t, string(want), got)
			for _, secret := range []string{"client-secret", "ipa-secret"} {
				assert.NotContains(t, got, secret)
			}
		})
	}
}
