package verifier

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"
)

// ErrMalformed marks a callback body that is not JSON or lacks what we rely on (answered 400).
var ErrMalformed = errors.New("malformed callback")

// Callback statuses the Request Service sends.
const (
	StatusRequestRetrieved     = "request_retrieved"
	StatusPresentationVerified = "presentation_verified"
	StatusPresentationError    = "presentation_error"
)

// Callback is Microsoft's presentation callback body. Unknown fields are ignored.
type Callback struct {
	RequestID               string           `json:"requestId"`
	RequestStatus           string           `json:"requestStatus"`
	State                   string           `json:"state"`
	Subject                 string           `json:"subject"`
	VerifiedCredentialsData []CredentialData `json:"verifiedCredentialsData"`
	Error                   *CallbackError   `json:"error"`
	Receipt                 *Receipt         `json:"receipt"`
}

// CredentialData is one presented credential, as verified by Microsoft.
type CredentialData struct {
	Issuer          string         `json:"issuer"`
	Type            []string       `json:"type"`
	Claims          map[string]any `json:"claims"`
	CredentialState struct {
		RevocationStatus string `json:"revocationStatus"`
	} `json:"credentialState"`
	DomainValidation struct {
		URL string `json:"url"`
	} `json:"domainValidation"`
	IssuanceDate   string `json:"issuanceDate"`
	ExpirationDate string `json:"expirationDate"`
	FaceCheck      *struct {
		MatchConfidenceScore float64 `json:"matchConfidenceScore"`
	} `json:"faceCheck"`
}

// CallbackError is the error of a presentation_error callback.
type CallbackError struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// Receipt is the wallet's raw answer; debugging only, never used for decisions.
type Receipt struct {
	IDToken string  `json:"id_token"`
	VPToken Strings `json:"vp_token"`
	State   string  `json:"state"`
}

// Strings decodes a JSON string or array of strings (vp_token comes in both shapes).
type Strings []string

// UnmarshalJSON implements json.Unmarshaler: the value's first byte tells its shape.
func (s *Strings) UnmarshalJSON(b []byte) error {
	switch {
	case bytes.Equal(b, []byte("null")):
		*s = nil
		return nil
	case len(b) > 0 && b[0] == '"':
		var one string
		if err := json.Unmarshal(b, &one); err != nil {
			return err
		}
		*s = Strings{one}
		return nil
	}
	var many []string
	if err := json.Unmarshal(b, &many); err != nil {
		return fmt.Errorf("want a string or an array of strings")
	}
	*s = many
	return nil
}

// DecodeCallback parses a callback body, requiring requestId, requestStatus and state.
func DecodeCallback(body []byte) (*Callback, error) {
	var cb Callback
	if err := json.Unmarshal(body, &cb); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	switch {
	case cb.RequestID == "":
		return nil, fmt.Errorf("%w: missing requestId", ErrMalformed)
	case cb.RequestStatus == "":
		return nil, fmt.Errorf("%w: missing requestStatus", ErrMalformed)
	case cb.State == "":
		return nil, fmt.Errorf("%w: missing state", ErrMalformed)
	}
	return &cb, nil
}

// Reason codes for a presentation that ends in failed.
const (
	ReasonNoCredential      = "no_credential"
	ReasonIssuerNotAccepted = "issuer_not_accepted"
	ReasonTypeMismatch      = "type_mismatch"
	ReasonRevoked           = "credential_revoked"
	ReasonExpired           = "credential_expired"
	ReasonFaceCheckFailed   = "face_check_failed"
	ReasonPresentationError = "presentation_error"
)

// CredentialType is the type we request and require.
const CredentialType = "VerifiedIdentity"

// Policy is what we re-check on a presentation_verified callback.
type Policy struct {
	AcceptedIssuers []string
	// FaceCheckThreshold is the minimum match score; 0 when face check is off.
	FaceCheckThreshold float64
}

// Check returns the reason code of the first rule cb breaks, or "" when every credential passes.
func (p Policy) Check(cb *Callback, now time.Time) string {
	if len(cb.VerifiedCredentialsData) == 0 {
		return ReasonNoCredential
	}
	for _, vc := range cb.VerifiedCredentialsData {
		switch {
		case !slices.Contains(p.AcceptedIssuers, vc.Issuer):
			return ReasonIssuerNotAccepted
		case !slices.Contains(vc.Type, CredentialType):
			return ReasonTypeMismatch
		case vc.CredentialState.RevocationStatus != "VALID":
			return ReasonRevoked
		case expired(vc.ExpirationDate, now):
			return ReasonExpired
		case p.FaceCheckThreshold > 0 && (vc.FaceCheck == nil || vc.FaceCheck.MatchConfidenceScore < p.FaceCheckThreshold):
			return ReasonFaceCheckFailed
		}
	}
	return ""
}

// expired reports whether an expirationDate is present and not in the future; an unreadable date counts
// as expired, since we cannot show it is not.
func expired(date string, now time.Time) bool {
	if date == "" {
		return false
	}
	t, err := time.Parse(time.RFC3339, date)
	return err != nil || !t.After(now)
}

// Claims merges the claims of every credential, and returns the first issuer.
func (cb *Callback) Claims() (claims map[string]any, issuer string) {
	claims = map[string]any{}
	for _, vc := range cb.VerifiedCredentialsData {
		for k, v := range vc.Claims {
			claims[k] = v
		}
	}
	if len(cb.VerifiedCredentialsData) > 0 {
		issuer = cb.VerifiedCredentialsData[0].Issuer
	}
	return claims, issuer
}
