package verifier_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/entra-verifier/entra-verifier/e2e"
	"github.com/entra-verifier/entra-verifier/sandbox"
	"github.com/entra-verifier/entra-verifier/verifier"
)

// TestCallbackTable drives every row of SPEC section 3's callback table.
func TestCallbackTable(t *testing.T) {
	h := e2e.New(t, nil)
	key := func(state string) string { return verifier.APIKey([]byte(e2e.TestSecret), state) }
	body := func(id, state, status string, extra string) string {
		return fmt.Sprintf(`{"requestId":%q,"state":%q,"requestStatus":%q%s}`, id, state, status, extra)
	}
	verified := `,"verifiedCredentialsData":[{"issuer":"did:web:us.did.idemia.io","type":["VerifiableCredential","VerifiedIdentity"],` +
		`"claims":{"firstName":"Megan","age":35,"portrait":"_9j_4AAQ"},"credentialState":{"revocationStatus":"VALID"},"expirationDate":"2035-01-01T00:00:00Z"}]`

	tests := []struct {
		name string
		// before moves a fresh request first (requestStatus values, sent authentically).
		before []string
		// call builds the callback from the request's id and state.
		call       func(id, state string) (apiKey, body string)
		wantCode   int
		wantStatus string
		wantReason string
	}{
		{"body over 4 MiB", nil, func(id, s string) (string, string) {
			return key(s), body(id, s, "request_retrieved", `,"pad":"`+strings.Repeat("x", 4<<20)+`"`)
		}, 413, "created", ""},
		{"not JSON", nil, func(id, s string) (string, string) { return key(s), "{not json" }, 400, "created", ""},
		{"missing state", nil, func(id, s string) (string, string) {
			return key(s), fmt.Sprintf(`{"requestId":%q,"requestStatus":"request_retrieved"}`, id)
		}, 400, "created", ""},
		{"missing requestId", nil, func(id, s string) (string, string) {
			return key(s), fmt.Sprintf(`{"state":%q,"requestStatus":"request_retrieved"}`, s)
		}, 400, "created", ""},
		{"missing requestStatus", nil, func(id, s string) (string, string) {
			return key(s), fmt.Sprintf(`{"requestId":%q,"state":%q}`, id, s)
		}, 400, "created", ""},
		{"state of the wrong type", nil, func(id, s string) (string, string) {
			return key(s), fmt.Sprintf(`{"requestId":%q,"state":12,"requestStatus":"request_retrieved"}`, id)
		}, 400, "created", ""},
		{"verifiedCredentialsData of the wrong type", nil, func(id, s string) (string, string) {
			return key(s), body(id, s, "presentation_verified", `,"verifiedCredentialsData":"oops"`)
		}, 400, "created", ""},
		{"vp_token of the wrong type", nil, func(id, s string) (string, string) {
			return key(s), body(id, s, "presentation_verified", verified+`,"receipt":{"vp_token":42}`)
		}, 400, "created", ""},
		{"api-key missing", nil, func(id, s string) (string, string) { return "", body(id, s, "request_retrieved", "") }, 401, "created", ""},
		{"api-key wrong", nil, func(id, s string) (string, string) { return "not-the-key", body(id, s, "request_retrieved", "") }, 401, "created", ""},
		{"api-key of another state", nil, func(id, s string) (string, string) {
			return key("other-state"), body(id, s, "request_retrieved", "")
		}, 401, "created", ""},
		{"state unknown", nil, func(id, s string) (string, string) {
			return key("unknown-state"), body(id, "unknown-state", "request_retrieved", "")
		}, 404, "created", ""},
		{"requestId differs", nil, func(id, s string) (string, string) {
			return key(s), body("00000000-0000-4000-8000-000000000000", s, "request_retrieved", "")
		}, 404, "created", ""},
		{"created → retrieved", nil, func(id, s string) (string, string) { return key(s), body(id, s, "request_retrieved", "") }, 200, "retrieved", ""},
		{"retrieved → verified", []string{"request_retrieved"}, func(id, s string) (string, string) {
			return key(s), body(id, s, "presentation_verified", verified)
		}, 200, "verified", ""},
		{"created → verified directly, vp_token as string", nil, func(id, s string) (string, string) {
			return key(s), body(id, s, "presentation_verified", verified+`,"receipt":{"vp_token":"eyJ.a.b","id_token":"x"}`)
		}, 200, "verified", ""},
		{"vp_token as array, unknown fields", nil, func(id, s string) (string, string) {
			return key(s), body(id, s, "presentation_verified", verified+`,"receipt":{"vp_token":["eyJ.a.b"]},"futureField":{"x":1}`)
		}, 200, "verified", ""},
		{"created → failed by presentation_error", nil, func(id, s string) (string, string) {
			return key(s), body(id, s, "presentation_error", `,"error":{"code":"claimValidationError","message":"no"}`)
		}, 200, "failed", "presentation_error"},
		{"repeat of request_retrieved", []string{"request_retrieved"}, func(id, s string) (string, string) {
			return key(s), body(id, s, "request_retrieved", "")
		}, 200, "retrieved", ""},
		{"repeat of presentation_verified", []string{"presentation_verified"}, func(id, s string) (string, string) {
			return key(s), body(id, s, "presentation_verified", verified)
		}, 200, "verified", ""},
		{"late request_retrieved after the end", []string{"presentation_verified"}, func(id, s string) (string, string) {
			return key(s), body(id, s, "request_retrieved", "")
		}, 200, "verified", ""},
		{"verified after failed changes nothing", []string{"presentation_error"}, func(id, s string) (string, string) {
			return key(s), body(id, s, "presentation_verified", verified)
		}, 200, "failed", "presentation_error"},
		{"unknown requestStatus", nil, func(id, s string) (string, string) { return key(s), body(id, s, "issuance_successful", "") }, 200, "created", ""},
	}
	events := map[string]map[string]any{
		"request_retrieved":     sandbox.Retrieved(),
		"presentation_verified": sandbox.Verified(sandbox.VerifiedIdentity(e2e.USDID, e2e.Person())),
		"presentation_error":    sandbox.PresentationError("claimValidationError", "no"),
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := h.Create()
			for _, step := range tc.before {
				require.Equal(t, http.StatusOK, h.Send(c.RequestID, events[step]))
			}
			before := h.StatusOf(c.RequestID)
			rec, ok := h.RS.Request(c.RequestID)
			require.True(t, ok)
			apiKey, b := tc.call(c.RequestID, rec.Request.Callback.State)
			code, answer := h.Callback(apiKey, b)
			assert.Equal(t, tc.wantCode, code, string(answer))
			if code == http.StatusOK {
				assert.Empty(t, answer, "callbacks are answered with an empty body")
			} else {
				e2e.ErrorCode(t, answer)
			}
			after := h.StatusOf(c.RequestID)
			assert.Equal(t, tc.wantStatus, after["status"])
			assert.Equal(t, tc.wantReason, stringOr(after["reason"]))
			if code != http.StatusOK || len(tc.before) > 0 && tc.wantStatus == before["status"] {
				assert.Equal(t, before, after, "a refused or repeated callback changes nothing")
			}
		})
	}
}

func stringOr(v any) string {
	s, _ := v.(string)
	return s
}

// TestExpiredRequestAnswersCallbacksAndChangesNothing: an authentic callback after the request expired is
// answered 200 (Authenticator would show the person an error otherwise) and changes nothing.
func TestExpiredRequestAnswersCallbacksAndChangesNothing(t *testing.T) {
	h := e2e.New(t, nil)
	h.RS.Lifetime = time.Second
	c := h.Create()
	exp, err := time.Parse(time.RFC3339, c.ExpiresAt)
	require.NoError(t, err)
	time.Sleep(time.Until(exp) + 50*time.Millisecond)
	assert.Equal(t, http.StatusOK, h.Send(c.RequestID, sandbox.Retrieved()))
	assert.Equal(t, http.StatusOK, h.Send(c.RequestID, sandbox.Verified(sandbox.VerifiedIdentity(e2e.USDID, e2e.Person()))))
	after := h.StatusOf(c.RequestID)
	assert.Equal(t, "expired", after["status"])
	assert.Nil(t, after["claims"])
}

// TestExpiredQRIsGone: the QR of a request past its expiry answers 410 expired (moved from e2e/ipa_test.go).
func TestExpiredQRIsGone(t *testing.T) {
	h := e2e.New(t, nil)
	h.RS.Lifetime = time.Second
	c := h.Create()
	status, _, _ := h.Do(h.Browser, http.MethodGet, c.QRCodeURL, nil, nil)
	require.Equal(t, http.StatusOK, status)
	exp, err := time.Parse(time.RFC3339, c.ExpiresAt)
	require.NoError(t, err)
	time.Sleep(time.Until(exp) + 50*time.Millisecond)
	status, body, _ := h.Do(h.Browser, http.MethodGet, c.QRCodeURL, nil, nil)
	assert.Equal(t, http.StatusGone, status)
	assert.Equal(t, "expired", e2e.ErrorCode(t, body))
}

// TestPolicyReasons checks each of our own policy rules on presentation_verified.
func TestPolicyReasons(t *testing.T) {
	faceCheck := e2e.New(t, map[string]string{"ENTRA_FACE_CHECK": "true"})
	plain := e2e.New(t, nil)
	score := func(f float64) *float64 { return &f }
	cred := func(mut func(*sandbox.Credential)) sandbox.Credential {
		c := sandbox.VerifiedIdentity(e2e.USDID, e2e.Person())
		if mut != nil {
			mut(&c)
		}
		return c
	}
	tests := []struct {
		name   string
		h      *e2e.Harness
		event  map[string]any
		status string
		reason string
	}{
		{"valid", plain, sandbox.Verified(cred(nil)), "verified", ""},
		{"issuer of another region", plain, sandbox.Verified(cred(func(c *sandbox.Credential) { c.Issuer = e2e.EUDID })), "failed", "issuer_not_accepted"},
		{"issuer not IDEMIA", plain, sandbox.Verified(cred(func(c *sandbox.Credential) { c.Issuer = "did:web:evil.example" })), "failed", "issuer_not_accepted"},
		{"other credential type", plain, sandbox.Verified(cred(func(c *sandbox.Credential) { c.Type = []string{"VerifiableCredential", "VerifiedEmployee"} })), "failed", "type_mismatch"},
		{"revoked", plain, sandbox.Verified(cred(func(c *sandbox.Credential) { c.RevocationStatus = "REVOKED" })), "failed", "credential_revoked"},
		{"expired credential", plain, sandbox.Verified(cred(func(c *sandbox.Credential) { c.ExpirationDate = "2020-01-01T00:00:00Z" })), "failed", "credential_expired"},
		{"second credential breaks policy", plain, sandbox.Verified(cred(nil), cred(func(c *sandbox.Credential) { c.Issuer = "did:web:evil.example" })), "failed", "issuer_not_accepted"},
		{"no credential", plain, sandbox.Verified(), "failed", "no_credential"},
		{"face check met", faceCheck, sandbox.Verified(cred(func(c *sandbox.Credential) { c.FaceCheckScore = score(70) })), "verified", ""},
		{"face check below threshold", faceCheck, sandbox.Verified(cred(func(c *sandbox.Credential) { c.FaceCheckScore = score(69.9) })), "failed", "face_check_failed"},
		{"face check score missing", faceCheck, sandbox.Verified(cred(nil)), "failed", "face_check_failed"},
		{"presentation_error", plain, sandbox.PresentationError("claimValidationError", "Match confidence score failing to meet the threshold."), "failed", "presentation_error"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := tc.h.Create()
			require.Equal(t, http.StatusOK, tc.h.Send(c.RequestID, tc.event))
			got := tc.h.StatusOf(c.RequestID)
			assert.Equal(t, tc.status, got["status"])
			assert.Equal(t, tc.reason, stringOr(got["reason"]))
			if tc.status == "verified" {
				assert.Equal(t, e2e.USDID, got["issuer"])
				assert.Equal(t, "Megan", got["claims"].(map[string]any)["firstName"])
			} else {
				assert.Nil(t, got["claims"], "a failed presentation exposes no claims")
			}
			if tc.reason == "presentation_error" {
				assert.Equal(t, "claimValidationError", got["detail"])
			}
		})
	}
}
