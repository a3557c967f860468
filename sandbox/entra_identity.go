package sandbox

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"
)

// RequestServiceScope is the scope a Request Service token is asked for.
const RequestServiceScope = "3db474b9-6a0c-4840-96ac-1fceb342124f/.default"

// DefaultRoles are the app roles an admin-consented verifier app carries.
var DefaultRoles = []string{"VerifiableCredential.Create.All"}

// IdentityPlatform fakes what MSAL Go calls on the Microsoft identity platform for a confidential client:
// the tenant's OpenID configuration and the v2.0 token endpoint (client-credentials grant). Tokens are
// JWT-shaped (unsigned) and carry the configured roles, so a missing admin consent can be simulated.
type IdentityPlatform struct {
	// ClientID and ClientSecret are the accepted credentials; a client assertion is accepted for ClientID
	// when ClientSecret is empty or an assertion is sent.
	ClientID, ClientSecret string
	// ClientAssertion, when set, is the only client assertion accepted (a federated token; change it with
	// SetClientAssertion to simulate its rotation); otherwise any JWT-shaped assertion is.
	ClientAssertion string
	// Roles go into every issued token; nil means DefaultRoles. Change them with SetRoles once serving.
	Roles []string
	// ExpiresIn is the token lifetime in seconds; 0 means 3599.
	ExpiresIn int

	mu     sync.Mutex
	calls  int
	forms  []url.Values
	issued map[string][]string
}

// AssertionType is the client_assertion_type of a JWT client assertion (RFC 7523).
const AssertionType = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

// ServeHTTP implements http.Handler.
func (p *IdentityPlatform) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	parts := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	switch {
	case r.Method == http.MethodGet && len(parts) == 4 && parts[1] == "v2.0" && parts[2] == ".well-known" && parts[3] == "openid-configuration":
		base := "https://" + r.Host + "/" + parts[0]
		writeJSON(w, http.StatusOK, map[string]string{
			"issuer":                 base + "/v2.0",
			"token_endpoint":         base + "/oauth2/v2.0/token",
			"authorization_endpoint": base + "/oauth2/v2.0/authorize",
			"tenant_region_scope":    "EU",
		})
	case r.Method == http.MethodPost && len(parts) == 4 && parts[1] == "oauth2" && parts[2] == "v2.0" && parts[3] == "token":
		p.token(w, r, parts[0])
	default:
		http.NotFound(w, r)
	}
}

func (p *IdentityPlatform) token(w http.ResponseWriter, r *http.Request, tenant string) {
	if err := r.ParseForm(); err != nil {
		oauthError(w, http.StatusBadRequest, "invalid_request", "body is not a form")
		return
	}
	f := r.PostForm
	p.mu.Lock()
	p.calls++
	p.forms = append(p.forms, cloneValues(f))
	clientID, secret, assertion, roles, expiresIn := p.ClientID, p.ClientSecret, p.ClientAssertion, p.Roles, p.ExpiresIn
	p.mu.Unlock()
	switch {
	case f.Has("client_assertion") && f.Get("client_assertion_type") != AssertionType:
		oauthError(w, http.StatusBadRequest, "invalid_request", "AADSTS50027: client_assertion_type must be "+AssertionType)
		return
	case assertion != "" && f.Has("client_assertion") && f.Get("client_assertion") != assertion:
		oauthError(w, http.StatusUnauthorized, "invalid_client", "AADSTS700024: Client assertion is not within its valid time range.")
		return
	case f.Get("grant_type") != "client_credentials":
		oauthError(w, http.StatusBadRequest, "unsupported_grant_type", "only client_credentials")
		return
	case !strings.Contains(" "+f.Get("scope")+" ", " "+RequestServiceScope+" "):
		oauthError(w, http.StatusBadRequest, "invalid_scope", "AADSTS70011: scope must include "+RequestServiceScope)
		return
	case f.Get("client_id") != clientID || !authenticated(secret, f.Get("client_secret"), f.Get("client_assertion")):
		oauthError(w, http.StatusUnauthorized, "invalid_client", "AADSTS7000215: Invalid client secret provided.")
		return
	}
	if roles == nil {
		roles = DefaultRoles
	}
	if expiresIn == 0 {
		expiresIn = 3599
	}
	token := fakeJWT(map[string]any{
		"aud": "3db474b9-6a0c-4840-96ac-1fceb342124f", "tid": tenant, "appid": clientID, "roles": roles,
		"exp": time.Now().Add(time.Duration(expiresIn) * time.Second).Unix(), "jti": rand.Text(),
	})
	p.mu.Lock()
	if p.issued == nil {
		p.issued = map[string][]string{}
	}
	p.issued[token] = roles
	p.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{"token_type": "Bearer", "expires_in": expiresIn, "ext_expires_in": expiresIn, "access_token": token})
}

func authenticated(want, secret, assertion string) bool {
	if assertion != "" {
		return strings.Count(assertion, ".") == 2 // a signed JWT; the fake does not check the certificate
	}
	return want != "" && secret == want
}

// SetClientAssertion changes the accepted client assertion (simulates the rotation of a federated token).
func (p *IdentityPlatform) SetClientAssertion(assertion string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.ClientAssertion = assertion
}

// TokenForms returns the form of every token request received, in order (tests check what a client sent).
func (p *IdentityPlatform) TokenForms() []url.Values {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]url.Values, len(p.forms))
	for i, f := range p.forms {
		out[i] = cloneValues(f)
	}
	return out
}

func cloneValues(v url.Values) url.Values {
	out := url.Values{}
	for k, vs := range v {
		out[k] = slices.Clone(vs)
	}
	return out
}

// SetRoles changes the roles of tokens issued from now on (simulates admin consent given or withdrawn).
func (p *IdentityPlatform) SetRoles(roles ...string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.Roles = roles
}

// SetClientSecret changes the accepted client secret (simulates a rotation).
func (p *IdentityPlatform) SetClientSecret(secret string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.ClientSecret = secret
}

// TokenCalls counts token requests received.
func (p *IdentityPlatform) TokenCalls() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.calls
}

// Tokens returns every access token issued so far (tests check none of them leaks).
func (p *IdentityPlatform) Tokens() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Collect(maps.Keys(p.issued))
}

// TokenRoles returns the roles of a token this platform issued, and whether it did issue it.
func (p *IdentityPlatform) TokenRoles(token string) ([]string, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	roles, ok := p.issued[token]
	return roles, ok
}

func fakeJWT(claims map[string]any) string {
	enc := func(v any) string {
		b, _ := json.Marshal(v)
		return base64.RawURLEncoding.EncodeToString(b)
	}
	return enc(map[string]string{"typ": "JWT", "alg": "RS256", "kid": "sandbox"}) + "." + enc(claims) + "." +
		base64.RawURLEncoding.EncodeToString([]byte("sandbox-signature-"+rand.Text()))
}

func oauthError(w http.ResponseWriter, status int, code, desc string) {
	writeJSON(w, status, map[string]string{"error": code, "error_description": desc})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
