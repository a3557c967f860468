package verifier

import "context"

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

// LinkedDomain is a Creator that sets validateLinkedDomain of every credential a request asks for to
// Validate (ENTRA_VALIDATE_LINKED_DOMAIN) before Next creates it.
type LinkedDomain struct {
	Next     Creator
	Validate bool
}

// CreatePresentationRequest implements Creator.
func (l LinkedDomain) CreatePresentationRequest(ctx context.Context, req *PresentationRequest) (*Created, error) {
	for i := range req.RequestedCredentials {
		req.RequestedCredentials[i].Configuration.Validation.ValidateLinkedDomain = l.Validate
	}
	return l.Next.CreatePresentationRequest(ctx, req)
}
