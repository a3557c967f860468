package sandbox

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
)

// Constraints returns the claim constraints of request requestID's first requested credential
// (configuration.validation.constraints), claim name → accepted values.
func (s *RequestService) Constraints(requestID string) (map[string][]string, error) {
	rec, ok := s.Request(requestID)
	if !ok {
		return nil, fmt.Errorf("sandbox: no request %s", requestID)
	}
	var body struct {
		RequestedCredentials []struct {
			Configuration struct {
				Validation struct {
					Constraints []struct {
						ClaimName string   `json:"claimName"`
						Values    []string `json:"values"`
					} `json:"constraints"`
				} `json:"validation"`
			} `json:"configuration"`
		} `json:"requestedCredentials"`
	}
	if err := json.Unmarshal(rec.Body, &body); err != nil || len(body.RequestedCredentials) == 0 {
		return nil, fmt.Errorf("sandbox: request %s has no requested credential", requestID)
	}
	out := map[string][]string{}
	for _, c := range body.RequestedCredentials[0].Configuration.Validation.Constraints {
		out[c.ClaimName] = c.Values
	}
	return out, nil
}

// Present makes the holder present cred for request requestID as the Request Service would: a credential
// whose claims break one of the request's claim constraints is refused (presentation_error, code
// claimValidationError), any other is presentation_verified. It returns the status our service answered.
func (s *RequestService) Present(ctx context.Context, requestID string, cred Credential) (int, error) {
	constraints, err := s.Constraints(requestID)
	if err != nil {
		return 0, err
	}
	for name, values := range constraints {
		got, _ := cred.Claims[name].(string)
		if !slices.Contains(values, got) {
			return s.SendCallback(ctx, requestID, PresentationError("claimValidationError",
				fmt.Sprintf("The claim %s does not match the value the verifier requires.", name)))
		}
	}
	return s.SendCallback(ctx, requestID, Verified(cred))
}
