package ipa_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/entra-verifier/entra-verifier/ipa"
	"github.com/entra-verifier/entra-verifier/store"
)

// TestTransition walks every row of the IPA session state machine (SPEC section 2).
func TestTransition(t *testing.T) {
	now := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	completed := &ipa.Callback{SessionID: "s", Status: store.IPACompleted, IdentityID: "gips-1", ProofURL: "https://idv.example.com/gips/v1/identities/gips-1/proof"}
	failed := &ipa.Callback{SessionID: "s", Status: store.IPAError, IdentityID: "gips-ignored", ProofURL: "https://idv.example.com/ignored"}
	timeout := &ipa.Callback{SessionID: "s", Status: store.IPATimeout}
	tests := []struct {
		name         string
		from         store.IPAStatus
		cb           *ipa.Callback
		wantChanged  bool
		wantStatus   store.IPAStatus
		wantIdentity string
		wantProof    string
	}{
		{"pending → completed with identity", store.IPAPending, completed, true, store.IPACompleted, "gips-1", completed.ProofURL},
		{"pending → completed without identity", store.IPAPending, &ipa.Callback{Status: store.IPACompleted}, true, store.IPACompleted, "", ""},
		{"pending → error keeps no identity", store.IPAPending, failed, true, store.IPAError, "", ""},
		{"pending → timeout", store.IPAPending, timeout, true, store.IPATimeout, "", ""},
		{"completed repeat", store.IPACompleted, completed, false, store.IPACompleted, "", ""},
		{"completed then error", store.IPACompleted, failed, false, store.IPACompleted, "", ""},
		{"error then completed", store.IPAError, completed, false, store.IPAError, "", ""},
		{"error repeat", store.IPAError, failed, false, store.IPAError, "", ""},
		{"timeout then completed", store.IPATimeout, completed, false, store.IPATimeout, "", ""},
		{"timeout then error", store.IPATimeout, failed, false, store.IPATimeout, "", ""},
		{"expired never moves", store.IPAExpired, completed, false, store.IPAExpired, "", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			earlier := now.Add(-time.Minute)
			sess := &store.IPASession{ID: "s", TokenHash: "h", Status: tc.from, CreatedAt: earlier, UpdatedAt: earlier, ExpiresAt: now.Add(time.Hour)}
			before := *sess
			assert.Equal(t, tc.wantChanged, ipa.Transition(sess, tc.cb, now))
			if !tc.wantChanged {
				assert.Equal(t, before, *sess, "a final session never changes")
				return
			}
			assert.Equal(t, tc.wantStatus, sess.Status)
			assert.Equal(t, tc.wantIdentity, sess.IdentityID)
			assert.Equal(t, tc.wantProof, sess.ProofURL)
			assert.Equal(t, now, sess.UpdatedAt)
			assert.Nil(t, sess.Identity, "the summary comes later, from retrieval")
		})
	}
}

// TestFinalStatusesAreFinal: whatever arrives after the first outcome, the session keeps it.
func TestFinalStatusesAreFinal(t *testing.T) {
	now := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	outcomes := []store.IPAStatus{store.IPACompleted, store.IPAError, store.IPATimeout}
	for _, first := range outcomes {
		sess := &store.IPASession{Status: store.IPAPending}
		assert.True(t, ipa.Transition(sess, &ipa.Callback{Status: first, IdentityID: "gips-1"}, now))
		for _, next := range outcomes {
			assert.False(t, ipa.Transition(sess, &ipa.Callback{Status: next, IdentityID: "gips-2"}, now.Add(time.Second)), "%s after %s", next, first)
		}
		assert.Equal(t, first, sess.Status)
		assert.Equal(t, now, sess.UpdatedAt)
		assert.True(t, sess.Status.Final())
	}
}

// TestTransitionKeepsAnUndocumentedStatus: an abnormal end IDEMIA did not document ends the session in error
// with the value as its detail.
func TestTransitionKeepsAnUndocumentedStatus(t *testing.T) {
	now := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	sess := &store.IPASession{Status: store.IPAPending}
	require.True(t, ipa.Transition(sess, &ipa.Callback{Status: store.IPAError, Detail: "DOCUMENT_EXPIRED"}, now))
	assert.Equal(t, store.IPAError, sess.Status)
	assert.Equal(t, "DOCUMENT_EXPIRED", sess.Detail)
	assert.Equal(t, now, sess.UpdatedAt)
}
