package sandbox

// Retrieved is the request_retrieved callback event (QR scanned).
func Retrieved() map[string]any { return map[string]any{"requestStatus": "request_retrieved"} }

// Credential describes one presented credential for a Verified event.
type Credential struct {
	Issuer           string
	Type             []string
	Claims           map[string]any
	RevocationStatus string
	ExpirationDate   string
	// FaceCheckScore is sent when non-nil.
	FaceCheckScore *float64
}

// Verified is the presentation_verified callback event for the given credentials.
func Verified(creds ...Credential) map[string]any {
	data := make([]map[string]any, 0, len(creds))
	for _, c := range creds {
		d := map[string]any{
			"issuer":           c.Issuer,
			"type":             c.Type,
			"claims":           c.Claims,
			"credentialState":  map[string]any{"revocationStatus": c.RevocationStatus},
			"domainValidation": map[string]any{"url": "https://" + trimDIDWeb(c.Issuer) + "/"},
			"issuanceDate":     "2025-11-20T09:12:44Z",
		}
		if c.ExpirationDate != "" {
			d["expirationDate"] = c.ExpirationDate
		}
		if c.FaceCheckScore != nil {
			d["faceCheck"] = map[string]any{"matchConfidenceScore": *c.FaceCheckScore, "sourcePhotoQuality": "HIGH"}
		}
		data = append(data, d)
	}
	return map[string]any{"requestStatus": "presentation_verified", "subject": "did:web:holder.sandbox.invalid", "verifiedCredentialsData": data}
}

// PresentationError is the presentation_error callback event.
func PresentationError(code, message string) map[string]any {
	return map[string]any{"requestStatus": "presentation_error", "error": map[string]any{"code": code, "message": message}}
}

// VerifiedIdentity returns a valid VerifiedIdentity credential from issuer with claims.
func VerifiedIdentity(issuer string, claims map[string]any) Credential {
	return Credential{Issuer: issuer, Type: []string{"VerifiableCredential", "VerifiedIdentity"}, Claims: claims,
		RevocationStatus: "VALID", ExpirationDate: "2035-11-20T09:12:44Z"}
}

func trimDIDWeb(did string) string {
	const p = "did:web:"
	if len(did) > len(p) && did[:len(p)] == p {
		return did[len(p):]
	}
	return did
}
