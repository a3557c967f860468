package verifier_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/entra-verifier/entra-verifier/store"
	"github.com/entra-verifier/entra-verifier/verifier"
)

const usDID = "did:web:us.did.idemia.io"

var (
	t0       = time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	usPolicy = verifier.Policy{AcceptedIssuers: []string{usDID}}
)

// credential is a VerifiedIdentity from IDEMIA US that passes every check at t0; mut changes it.
func credential(mut func(*verifier.CredentialData)) verifier.CredentialData {
	c := verifier.CredentialData{
		Issuer: usDID, Type: []string{"VerifiableCredential", "VerifiedIdentity"},
		Claims:         map[string]any{"firstName": "Megan", "lastName": "Bowen"},
		ExpirationDate: "2030-11-20T09:12:44Z",
	}
	c.CredentialState.RevocationStatus = "VALID"
	if mut != nil {
		mut(&c)
	}
	return c
}

func withScore(score float64) func(*verifier.CredentialData) {
	return func(c *verifier.CredentialData) {
		c.FaceCheck = &struct {
			MatchConfidenceScore float64 `json:"matchConfidenceScore"`
		}{score}
	}
}

func retrieved() *verifier.Callback {
	return &verifier.Callback{RequestID: "r", State: "s", RequestStatus: verifier.StatusRequestRetrieved}
}

func verified(creds ...verifier.CredentialData) *verifier.Callback {
	return &verifier.Callback{RequestID: "r", State: "s", RequestStatus: verifier.StatusPresentationVerified, VerifiedCredentialsData: creds}
}

func presentationError(code string) *verifier.Callback {
	cb := &verifier.Callback{RequestID: "r", State: "s", RequestStatus: verifier.StatusPresentationError}
	if code != "" {
		cb.Error = &verifier.CallbackError{Code: code, Message: "no"}
	}
	return cb
}

// TestTransition walks every row of the presentation state machine (SPEC section 3).
func TestTransition(t *testing.T) {
	faceCheck := verifier.Rules{Policy: verifier.Policy{AcceptedIssuers: []string{usDID}, FaceCheckThreshold: 70}}
	plain := verifier.Rules{Policy: usPolicy}
	retain := verifier.Rules{Policy: usPolicy, ClaimsRetention: 5 * time.Minute}
	tests := []struct {
		name        string
		from        store.PresentationStatus
		rules       verifier.Rules
		cb          *verifier.Callback
		wantChanged bool
		wantStatus  store.PresentationStatus
		wantReason  string
		wantDetail  string
		wantClaims  bool
	}{
		{"created → retrieved", store.PresentationCreated, plain, retrieved(), true, store.PresentationRetrieved, "", "", false},
		{"created → verified directly", store.PresentationCreated, plain, verified(credential(nil)), true, store.PresentationVerified, "", "", true},
		{"created → failed directly", store.PresentationCreated, plain, presentationError("claimValidationError"), true, store.PresentationFailed, verifier.ReasonPresentationError, "claimValidationError", false},
		{"retrieved → verified", store.PresentationRetrieved, plain, verified(credential(nil)), true, store.PresentationVerified, "", "", true},
		{"retrieved → failed", store.PresentationRetrieved, plain, presentationError("userCanceled"), true, store.PresentationFailed, verifier.ReasonPresentationError, "userCanceled", false},
		{"presentation_error without error object", store.PresentationRetrieved, plain, presentationError(""), true, store.PresentationFailed, verifier.ReasonPresentationError, "", false},
		{"repeat of request_retrieved", store.PresentationRetrieved, plain, retrieved(), false, store.PresentationRetrieved, "", "", false},
		{"late request_retrieved after verified", store.PresentationVerified, plain, retrieved(), false, store.PresentationVerified, "", "", false},
		{"late request_retrieved after failed", store.PresentationFailed, plain, retrieved(), false, store.PresentationFailed, "", "", false},
		{"repeat of presentation_verified", store.PresentationVerified, plain, verified(credential(nil)), false, store.PresentationVerified, "", "", false},
		{"verified after failed", store.PresentationFailed, plain, verified(credential(nil)), false, store.PresentationFailed, "", "", false},
		{"error after verified", store.PresentationVerified, plain, presentationError("x"), false, store.PresentationVerified, "", "", false},
		{"expired never moves", store.PresentationExpired, plain, verified(credential(nil)), false, store.PresentationExpired, "", "", false},
		{"unknown requestStatus", store.PresentationCreated, plain, &verifier.Callback{RequestStatus: "issuance_successful"}, false, store.PresentationCreated, "", "", false},
		{"unknown requestStatus once retrieved", store.PresentationRetrieved, plain, &verifier.Callback{RequestStatus: "Presentation_Verified"}, false, store.PresentationRetrieved, "", "", false},
		{"no credential", store.PresentationCreated, plain, verified(), true, store.PresentationFailed, verifier.ReasonNoCredential, "", false},
		{"issuer_not_accepted", store.PresentationCreated, plain, verified(credential(func(c *verifier.CredentialData) { c.Issuer = "did:web:eu.did.idemia.io" })), true, store.PresentationFailed, verifier.ReasonIssuerNotAccepted, "", false},
		{"issuer_not_accepted on a second credential", store.PresentationRetrieved, plain, verified(credential(nil), credential(func(c *verifier.CredentialData) { c.Issuer = "did:web:evil.example" })), true, store.PresentationFailed, verifier.ReasonIssuerNotAccepted, "", false},
		{"type_mismatch", store.PresentationCreated, plain, verified(credential(func(c *verifier.CredentialData) { c.Type = []string{"VerifiableCredential", "VerifiedEmployee"} })), true, store.PresentationFailed, verifier.ReasonTypeMismatch, "", false},
		{"credential_revoked", store.PresentationCreated, plain, verified(credential(func(c *verifier.CredentialData) { c.CredentialState.RevocationStatus = "REVOKED" })), true, store.PresentationFailed, verifier.ReasonRevoked, "", false},
		{"credential_expired", store.PresentationCreated, plain, verified(credential(func(c *verifier.CredentialData) { c.ExpirationDate = "2026-11-25T10:00:00Z" })), true, store.PresentationFailed, verifier.ReasonExpired, "", false},
		{"face_check_failed below threshold", store.PresentationCreated, faceCheck, verified(credential(withScore(69.99))), true, store.PresentationFailed, verifier.ReasonFaceCheckFailed, "", false},
		{"face_check_failed without a score", store.PresentationCreated, faceCheck, verified(credential(nil)), true, store.PresentationFailed, verifier.ReasonFaceCheckFailed, "", false},
		{"face check at the threshold", store.PresentationCreated, faceCheck, verified(credential(withScore(70))), true, store.PresentationVerified, "", "", true},
		{"verified with claims retention", store.PresentationRetrieved, retain, verified(credential(nil)), true, store.PresentationVerified, "", "", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			earlier := t0.Add(-time.Minute)
			p := &store.Presentation{ID: "r", State: "s", Status: tc.from, CreatedAt: earlier, UpdatedAt: earlier, ExpiresAt: t0.Add(10 * time.Minute)}
			before := *p
			changed := verifier.Transition(p, tc.cb, t0, tc.rules)
			assert.Equal(t, tc.wantChanged, changed)
			if !tc.wantChanged {
				assert.Equal(t, before, *p, "a no-op leaves the request as it was")
				return
			}
			assert.Equal(t, tc.wantStatus, p.Status)
			assert.Equal(t, tc.wantReason, p.Reason)
			assert.Equal(t, tc.wantDetail, p.Detail)
			assert.Equal(t, t0, p.UpdatedAt)
			if !tc.wantClaims {
				assert.Nil(t, p.Claims, "only a verified request holds claims")
				assert.Empty(t, p.Issuer)
				assert.True(t, p.ClaimsUntil.IsZero())
				return
			}
			assert.Equal(t, map[string]any{"firstName": "Megan", "lastName": "Bowen"}, p.Claims)
			assert.Equal(t, usDID, p.Issuer)
			if tc.rules.ClaimsRetention > 0 {
				assert.Equal(t, t0.Add(tc.rules.ClaimsRetention), p.ClaimsUntil)
			} else {
				assert.True(t, p.ClaimsUntil.IsZero(), "no retention: claims live until the request expires")
			}
		})
	}
}

// TestTransitionMergesClaimsOfEveryCredential: claims of all presented credentials are kept, the issuer
// is the first credential's.
func TestTransitionMergesClaimsOfEveryCredential(t *testing.T) {
	second := credential(func(c *verifier.CredentialData) { c.Claims = map[string]any{"dateOfBirth": "1990-04-12"} })
	p := &store.Presentation{Status: store.PresentationCreated}
	assert.True(t, verifier.Transition(p, verified(credential(nil), second), t0, verifier.Rules{Policy: usPolicy}))
	assert.Equal(t, map[string]any{"firstName": "Megan", "lastName": "Bowen", "dateOfBirth": "1990-04-12"}, p.Claims)
	assert.Equal(t, usDID, p.Issuer)
}
