package result_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwk"
	"github.com/lestrrat-go/jwx/v3/jwt"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/entra-verifier/entra-verifier/result"
)

func TestAllowlist(t *testing.T) {
	a, err := result.ParseAllowlist("https://rp.example.com/onboarding/, http://localhost:3000/back, https://kiosk.example.com/")
	require.NoError(t, err)
	tests := []struct {
		raw string
		ok  bool
	}{
		{"https://rp.example.com/onboarding/", true},
		{"https://rp.example.com/onboarding/done?step=2", true},
		{"https://RP.example.com/onboarding/x", true},
		{"http://localhost:3000/back", true},
		{"http://localhost:3000/back/more", true},
		{"http://localhost:3000/backdoor", false},
		{"https://rp.example.com/other/", false},
		{"https://rp.example.com/onboarding", false},
		{"https://rp.example.com/onboarding/../admin", false},
		{"https://rp.example.com/onboarding/%2e%2e/admin", false},
		{"http://rp.example.com/onboarding/", false},
		{"https://rp.example.com:8443/onboarding/", false},
		{"https://rp.example.com.evil.example/onboarding/", false},
		{"https://user@rp.example.com/onboarding/", false},
		{"https://evil.example/onboarding/", false},
		{"//evil.example/onboarding/", false},
		{"/onboarding/", false},
		{"javascript:alert(1)", false},
		{"https:\\\\evil.example/onboarding/", false},
		{"https://rp.example.com/onboarding/..;/admin", false},
		{"https://rp.example.com/onboarding/..%2fadmin", false},
		{"https://rp.example.com/onboarding/..%5cadmin", false},
		{"https://rp.example.com/onboarding/./x", false},
		{"https://rp.example.com/onboarding/x%00", false},
		{"https://\u212Aiosk.example.com/", false}, // a Kelvin sign folds to "k" in Unicode, not in ASCII
		{"https://KIOSK.example.com/welcome", true},
		{"https://rp.example.com/onboarding/x?a=1;b=2", true},
		{"", false},
	}
	for _, tc := range tests {
		_, err := a.Check(tc.raw)
		assert.Equal(t, tc.ok, err == nil, "%q: %v", tc.raw, err)
	}
	_, err = result.ParseAllowlist("javascript:alert(1)")
	assert.Error(t, err)
}

func TestClaimsFilter(t *testing.T) {
	all := map[string]any{"firstName": "Megan", "lastName": "Bowen", "portrait": "_9j_"}
	assert.Equal(t, map[string]any{"firstName": "Megan"}, result.ParseClaims(" firstName , dateOfBirth").Filter(all))
	assert.Nil(t, result.ParseClaims("").Filter(all))
	assert.Contains(t, result.ParseClaims("portrait").Filter(all), "portrait", "the portrait only when listed")
}

func TestBackoffGrowsAndIsBounded(t *testing.T) {
	prev := time.Duration(0)
	for n := 1; n <= 12; n++ {
		d := result.Backoff(n)
		assert.Greater(t, d, time.Duration(0))
		assert.LessOrEqual(t, d, 6*time.Minute)
		if n <= 8 {
			assert.Greater(t, d, prev*13/10, "attempt %d waits longer than the one before", n)
		}
		prev = d
	}
}

func TestWebhookSecret(t *testing.T) {
	key, err := result.WebhookSecret("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
	require.NoError(t, err)
	assert.Len(t, key, 24)
	raw, err := result.WebhookSecret("plain-secret-value")
	require.NoError(t, err)
	assert.Equal(t, []byte("plain-secret-value"), raw)
	_, err = result.WebhookSecret("whsec_not base64!")
	assert.Error(t, err)
}

func TestTokenVerifiesWithTheJWKS(t *testing.T) {
	raw, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	der, err := x509.MarshalPKCS8PrivateKey(raw)
	require.NoError(t, err)
	s, err := result.NewSigner(string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})))
	require.NoError(t, err)
	assert.False(t, s.Ephemeral)
	now := time.Now()
	tok, err := s.Token("https://verifier.example.com", "https://rp.example.com", "https://rp.example.com/onboarding/",
		result.Data{RequestID: "req-1", Status: "verified", Claims: map[string]any{"firstName": "Megan"}}, now)
	require.NoError(t, err)

	set, err := jwk.Parse(s.JWKS())
	require.NoError(t, err)
	parsed, err := jwt.Parse([]byte(tok), jwt.WithKeySet(set), jwt.WithIssuer("https://verifier.example.com"), jwt.WithAudience("https://rp.example.com"))
	require.NoError(t, err)
	sub, _ := parsed.Subject()
	assert.Equal(t, "req-1", sub)
	var claims map[string]any
	require.NoError(t, parsed.Get("claims", &claims))
	assert.Equal(t, "Megan", claims["firstName"])
	_, err = jwt.Parse([]byte(tok), jwt.WithKeySet(set), jwt.WithAudience("https://evil.example"))
	assert.Error(t, err, "another audience is refused")

	other, err := result.NewSigner("")
	require.NoError(t, err)
	assert.True(t, other.Ephemeral)
	otherSet, err := jwk.Parse(other.JWKS())
	require.NoError(t, err)
	_, err = jwt.Parse([]byte(tok), jwt.WithKeySet(otherSet))
	assert.Error(t, err, "a token does not verify with another key")
}
