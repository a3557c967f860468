package verifier

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// Roles that let an app create presentation requests.
const (
	RoleCreateAll      = "VerifiableCredential.Create.All"
	RolePresentRequest = "VerifiableCredential.Create.PresentRequest"
)

// CheckRoles reads the roles of a Request Service access token (its payload only: the token came from
// the identity platform over TLS) and fails, explaining the missing admin consent, when none allows
// presentation requests.
func CheckRoles(token string) ([]string, error) {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return nil, errors.New("the access token is not a JWT")
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return nil, fmt.Errorf("the access token's payload is not base64url: %w", err)
	}
	var claims struct {
		Roles []string `json:"roles"`
	}
	if err := json.Unmarshal(payload, &claims); err != nil {
		return nil, fmt.Errorf("the access token's payload is not JSON: %w", err)
	}
	if !slices.Contains(claims.Roles, RoleCreateAll) && !slices.Contains(claims.Roles, RolePresentRequest) {
		return claims.Roles, fmt.Errorf("the token has no %s or %s role (roles: %v): admin consent is missing; "+
			"grant the application permission on the \"Verifiable Credentials Service Request\" service principal "+
			"and give admin consent", RoleCreateAll, RolePresentRequest, claims.Roles)
	}
	return claims.Roles, nil
}
