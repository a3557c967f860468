package verifier_test

import (
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/entra-verifier/entra-verifier/verifier"
)

func TestDecodeFixtures(t *testing.T) {
	tests := []struct {
		file, status string
		vpTokens     int
	}{
		{"callback-request-retrieved.json", verifier.StatusRequestRetrieved, 0},
		{"callback-presentation-verified.json", verifier.StatusPresentationVerified, 1},
		{"callback-presentation-error.json", verifier.StatusPresentationError, 0},
	}
	for _, tc := range tests {
		t.Run(tc.file, func(t *testing.T) {
			raw, err := os.ReadFile("testdata/" + tc.file)
			require.NoError(t, err)
			cb, err := verifier.DecodeCallback(raw)
			require.NoError(t, err)
			assert.Equal(t, tc.status, cb.RequestStatus)
			assert.Equal(t, "q1n1X5p2mXo7Qb3V0mT1tA", cb.State)
			if cb.Receipt != nil {
				assert.Len(t, cb.Receipt.VPToken, tc.vpTokens)
			}
		})
	}
}

func TestPolicyOnTheFixture(t *testing.T) {
	raw, err := os.ReadFile("testdata/callback-presentation-verified.json")
	require.NoError(t, err)
	cb, err := verifier.DecodeCallback(raw)
	require.NoError(t, err)
	now := time.Date(2026, 11, 25, 0, 0, 0, 0, time.UTC)
	us := []string{"did:web:us.did.idemia.io"}
	tests := []struct {
		name   string
		policy verifier.Policy
		mutate func(*verifier.CredentialData)
		want   string
	}{
		{"passes", verifier.Policy{AcceptedIssuers: us}, nil, ""},
		{"face check 86.3 ≥ 70", verifier.Policy{AcceptedIssuers: us, FaceCheckThreshold: 70}, nil, ""},
		{"face check 86.3 < 90", verifier.Policy{AcceptedIssuers: us, FaceCheckThreshold: 90}, nil, verifier.ReasonFaceCheckFailed},
		{"eu only", verifier.Policy{AcceptedIssuers: []string{"did:web:eu.did.idemia.io"}}, nil, verifier.ReasonIssuerNotAccepted},
		{"unreadable expirationDate", verifier.Policy{AcceptedIssuers: us}, func(c *verifier.CredentialData) { c.ExpirationDate = "soon" }, verifier.ReasonExpired},
		{"no expirationDate", verifier.Policy{AcceptedIssuers: us}, func(c *verifier.CredentialData) { c.ExpirationDate = "" }, ""},
		{"revocation unknown", verifier.Policy{AcceptedIssuers: us}, func(c *verifier.CredentialData) { c.CredentialState.RevocationStatus = "" }, verifier.ReasonRevoked},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := *cb
			c.VerifiedCredentialsData = append([]verifier.CredentialData(nil), cb.VerifiedCredentialsData...)
			if tc.mutate != nil {
				tc.mutate(&c.VerifiedCredentialsData[0])
			}
			assert.Equal(t, tc.want, tc.policy.Check(&c, now))
		})
	}
}

func TestAPIKeyIsHMACOfState(t *testing.T) {
	// RFC 4231 test case 2: HMAC-SHA256("Jefe", "what do ya want for nothing?").
	assert.Equal(t, "W9zBRr9gdU5qBCQmCJV1x1oAPwidJzmDnexYuWTsOEM", verifier.APIKey([]byte("Jefe"), "what do ya want for nothing?"))
}
