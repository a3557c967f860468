package main

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestSandboxIssuerFollowsTheAcceptedIssuers: the simulated credential comes from what the settings accept.
func TestSandboxIssuerFollowsTheAcceptedIssuers(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		want string
	}{
		{"production", nil, "did:web:us.did.idemia.io"},
		{"eu", map[string]string{"VERIFIER_REGION": "eu"}, "did:web:eu.did.idemia.io"},
		{"stage", map[string]string{"VERIFIER_IDEMIA_STAGE": "stg"}, "did:web:us.did-stg.idemia.io"},
		{"explicit", map[string]string{"VERIFIER_ACCEPTED_ISSUERS": "did:web:verifiedid.entra.microsoft.com:t:idemia"}, "did:web:verifiedid.entra.microsoft.com:t:idemia"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			env := map[string]string{"VERIFIER_LISTEN_ADDR": "127.0.0.1:0"}
			for k, v := range tc.env {
				env[k] = v
			}
			sb, _, err := startSandbox(func(k string) string { return env[k] })
			require.NoError(t, err)
			t.Cleanup(sb.Close)
			assert.Equal(t, tc.want, sb.IssuerDID())
		})
	}
}
