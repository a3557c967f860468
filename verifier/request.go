package verifier

// PresentationRequest is the body of createPresentationRequest, as SPEC section 3 gives it. Booleans are
// plain (never omitted): Microsoft changed their defaults over time.
type PresentationRequest struct {
	Authority            string                `json:"authority"`
	IncludeQRCode        bool                  `json:"includeQRCode"`
	IncludeReceipt       bool                  `json:"includeReceipt"`
	Registration         Registration          `json:"registration"`
	Callback             CallbackSpec          `json:"callback"`
	RequestedCredentials []RequestedCredential `json:"requestedCredentials"`
}

// Registration is what Authenticator shows about us.
type Registration struct {
	ClientName string `json:"clientName"`
	Purpose    string `json:"purpose,omitempty"`
}

// CallbackSpec tells the Request Service where to post status and what header to echo.
type CallbackSpec struct {
	URL     string            `json:"url"`
	State   string            `json:"state"`
	Headers map[string]string `json:"headers"`
}

// RequestedCredential asks for one credential type from the accepted issuers.
type RequestedCredential struct {
	Type            string        `json:"type"`
	Purpose         string        `json:"purpose,omitempty"`
	AcceptedIssuers []string      `json:"acceptedIssuers"`
	Configuration   Configuration `json:"configuration"`
}

// Configuration wraps the validation settings.
type Configuration struct {
	Validation Validation `json:"validation"`
}

// Validation is what the Request Service checks before it reports presentation_verified.
type Validation struct {
	AllowRevoked         bool       `json:"allowRevoked"`
	ValidateLinkedDomain bool       `json:"validateLinkedDomain"`
	FaceCheck            *FaceCheck `json:"faceCheck,omitempty"`
	// Constraints are a backend journey's expected claims: Microsoft refuses a credential whose claims
	// differ (presentation_error, claimValidationError).
	Constraints []Constraint `json:"constraints,omitempty"`
}

// Constraint is one of Microsoft's claim constraints: the claim must hold one of Values.
type Constraint struct {
	ClaimName string   `json:"claimName"`
	Values    []string `json:"values"`
}

// FaceCheck asks Microsoft to match the holder's face against a photo claim.
type FaceCheck struct {
	SourcePhotoClaimName     string `json:"sourcePhotoClaimName"`
	MatchConfidenceThreshold int    `json:"matchConfidenceThreshold"`
}

// Created is the Request Service's 201 answer.
type Created struct {
	RequestID string `json:"requestId"`
	URL       string `json:"url"`
	Expiry    int64  `json:"expiry"`
}
