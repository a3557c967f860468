// Package config loads the verifier's settings from the environment (and an optional file mirroring it) into
// a Config, and validates them all at once, naming every bad setting by its variable.
package config

import (
	"encoding/base64"
	"errors"
	"fmt"
	"maps"
	"net"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/entra-verifier/entra-verifier/logging"
	redisstore "github.com/entra-verifier/entra-verifier/store/redis"
)

// Regions maps an IDEMIA platform region to the DID that issues its VerifiedIdentity credentials.
var Regions = map[string]string{
	"us": "did:web:us.did.idemia.io",
	"eu": "did:web:eu.did.idemia.io",
}

// Scope is the Verified ID Request Service's application scope for the client-credentials grant.
const Scope = "3db474b9-6a0c-4840-96ac-1fceb342124f/.default"

// Config is the whole configuration. Load fills it; Validate checks it.
type Config struct {
	ListenAddr      string
	PublicURL       *url.URL // without a trailing slash
	Region          string
	AcceptedRegions []string
	// IDEMIAStage is VERIFIER_IDEMIA_STAGE: an IDEMIA lower stage ("" for production).
	IDEMIAStage string
	// Issuers is VERIFIER_ACCEPTED_ISSUERS as given (case kept); when set it replaces the region DIDs.
	Issuers         []string
	Store           string // "memory" or "redis"
	RedisURL        string
	RedisMode       string // "single", "sentinel" or "cluster"
	RedisPrefix     string
	Sandbox         bool
	TrustedProxies  []string
	RateLimitPerIP  Rate
	RateLimitGlobal Rate
	ClaimsRetention time.Duration
	// StreamsPerBrowser bounds the event streams one binding cookie holds open at once, on each replica.
	StreamsPerBrowser int
	// MetricsAddr, when set, is the only listener serving /metrics.
	MetricsAddr string
	// APIKeys are VERIFIER_API_KEYS: without any, the backend routes answer 404.
	APIKeys []APIKey
	// LaunchLinkTTL is how long a journey's launch link waits to be opened.
	LaunchLinkTTL time.Duration

	Entra     Entra
	IPA       IPA
	WellKnown WellKnown
	Result    Result
	Page      Page

	problems []error           // parse errors found by Load, reported by Validate
	values   map[string]string // the settings as read, for LogValue
}

// Entra holds the presentation half's settings.
type Entra struct {
	TenantID, ClientID string
	ClientSecret       string
	// ClientCertificate is a PEM certificate with its private key, or the path of a file holding one.
	ClientCertificate string
	// ClientAssertionFile is the path of a federated client assertion (workload identity), read at every token
	// request; ENTRA_CLIENT_ASSERTION_FILE, or AZURE_FEDERATED_TOKEN_FILE when no other credential is set.
	ClientAssertionFile string
	// ValidateLinkedDomain is validateLinkedDomain of every presentation request.
	ValidateLinkedDomain bool
	AuthorityHost        string
	RequestServiceURL    string
	VerifierDID          string
	ClientName           string
	Purpose              string
	CallbackSecret       string
	FaceCheck            bool
	FaceCheckThreshold   int
	FaceCheckPhotoClaim  string
}

// IPA holds the IDEMIA half's settings.
type IPA struct {
	CognitoURL, ClientID, ClientSecret string
	CreateSessionURL                   string
	StartURL                           string
	ApplicationID                      string
	IDVURL, GIPSAPIKey                 string
}

// Result holds the hand-off of results to the relying party's own systems.
type Result struct {
	WebhookURL, WebhookSecret string
	WebhookIPA                bool
	Claims                    string // comma allow-list
	ReturnURLAllowlist        string // comma list, parsed by result.ParseAllowlist
	SigningKey                string // PEM or path
}

// Page holds the person's page's settings (SPEC section 11).
type Page struct {
	// TermsURL, when set, must be accepted before an IPA session starts; PrivacyURL is linked beside it.
	TermsURL, PrivacyURL string
	// BrandName is the page's heading and title; DefaultBrandName means unset (the page translates it).
	BrandName string
	// BrandLogo is the path of an SVG or PNG file shown in the header ("" for none).
	BrandLogo string
	// BrandColor is the accent colour, #rrggbb.
	BrandColor string
	// Languages are the offered page languages, the fallback first.
	Languages []string
}

// WellKnown holds the paths of the DID descriptors we serve.
type WellKnown struct {
	DIDJSON, DIDConfigurationJSON string
}

// Rate is a count of events allowed per period.
type Rate struct {
	N   int
	Per time.Duration
}

// Enabled reports whether the presentation half has any of its settings.
func (e Entra) Enabled() bool {
	return e.TenantID != "" || e.ClientID != "" || e.ClientSecret != "" || e.ClientCertificate != "" ||
		e.ClientAssertionFile != "" || e.VerifierDID != ""
}

// Credential forms of the presentation half, as CredentialForm names them.
const (
	CredentialSecret        = "secret"
	CredentialCertificate   = "certificate"
	CredentialAssertionFile = "assertion file"
)

// CredentialForm names the credential the presentation half authenticates with ("" when none is set).
func (e Entra) CredentialForm() string {
	switch {
	case e.ClientSecret != "":
		return CredentialSecret
	case e.ClientCertificate != "":
		return CredentialCertificate
	case e.ClientAssertionFile != "":
		return CredentialAssertionFile
	}
	return ""
}

// credentials counts the credentials set, which must be exactly one.
func (e Entra) credentials() int {
	n := 0
	for _, s := range []string{e.ClientSecret, e.ClientCertificate, e.ClientAssertionFile} {
		if s != "" {
			n++
		}
	}
	return n
}

// Enabled reports whether the IPA half has any of its settings.
func (i IPA) Enabled() bool { return i.CognitoURL != "" || i.ClientID != "" || i.ClientSecret != "" }

// IdentityRetrieval reports whether identities are fetched from IDEMIA's ID&V platform.
func (i IPA) IdentityRetrieval() bool { return i.IDVURL != "" && i.GIPSAPIKey != "" }

// Authority is the MSAL authority URL of the tenant.
func (e Entra) Authority() string {
	return strings.TrimSuffix(e.AuthorityHost, "/") + "/" + e.TenantID
}

// URL joins path to the public URL.
func (c *Config) URL(path string) string {
	if c.PublicURL == nil {
		return path
	}
	return c.PublicURL.String() + path
}

// Validate returns every missing or invalid setting at once, each named by its variable, or nil.
func (c *Config) Validate() error {
	v := &validator{problems: append([]error(nil), c.problems...)}
	v.publicURL(c)
	v.regions(c)
	v.issuers(c)
	v.store(c)
	v.listeners(c)
	v.halves(c)
	v.result(c)
	v.page(c)
	return errors.Join(v.problems...)
}

type validator struct{ problems []error }

func (v *validator) addf(name, format string, args ...any) {
	v.problems = append(v.problems, fmt.Errorf("%s: %s", name, fmt.Sprintf(format, args...)))
}

func (v *validator) publicURL(c *Config) {
	u := c.PublicURL
	switch {
	case u == nil:
		v.addf("VERIFIER_PUBLIC_URL", "missing: set the external base URL, e.g. https://verifier.example.com")
	case secureOrLocal(u):
	default:
		v.addf("VERIFIER_PUBLIC_URL", "must be an https URL (http only for localhost or 127.0.0.1), got %q", logging.URL(u.String()))
	}
	if u != nil && (u.RawQuery != "" || u.Fragment != "" || u.User != nil) {
		v.addf("VERIFIER_PUBLIC_URL", "must have no user, query or fragment")
	}
}

// listeners checks the metrics address and the event-stream bound.
func (v *validator) listeners(c *Config) {
	if c.StreamsPerBrowser < 1 {
		v.addf("VERIFIER_STREAMS_PER_BROWSER", "must be a positive integer, got %d", c.StreamsPerBrowser)
	}
	if c.MetricsAddr == "" {
		return
	}
	if _, port, err := net.SplitHostPort(c.MetricsAddr); err != nil || port == "" {
		v.addf("VERIFIER_METRICS_ADDR", "must be an address such as :9090, got %q", c.MetricsAddr)
	} else if c.MetricsAddr == c.ListenAddr {
		v.addf("VERIFIER_METRICS_ADDR", "must differ from VERIFIER_LISTEN_ADDR (%s): metrics are kept off the public listener", c.ListenAddr)
	}
}

func isLoopbackHost(h string) bool { return h == "localhost" || h == "127.0.0.1" }

// secureOrLocal reports whether u is an https URL, or an http one on localhost or 127.0.0.1.
func secureOrLocal(u *url.URL) bool {
	return u.Host != "" && (u.Scheme == "https" || u.Scheme == "http" && isLoopbackHost(u.Hostname()))
}

// secureOrLocalURL checks that the variable name holds a URL secureOrLocal accepts.
func (v *validator) secureOrLocalURL(name, raw string) {
	if u, err := url.Parse(raw); err != nil || !secureOrLocal(u) {
		v.addf(name, "must be an https URL (http only for localhost or 127.0.0.1), got %q", logging.URL(raw))
	}
}

func (v *validator) regions(c *Config) {
	if _, ok := Regions[c.Region]; !ok {
		v.addf("VERIFIER_REGION", "must be us or eu, got %q", c.Region)
	}
	if len(c.AcceptedRegions) == 0 {
		v.addf("VERIFIER_ACCEPTED_REGIONS", "must name at least one region (us, eu)")
	}
	for _, r := range c.AcceptedRegions {
		if _, ok := Regions[r]; !ok {
			v.addf("VERIFIER_ACCEPTED_REGIONS", "unknown region %q (use us, eu)", r)
		}
	}
}

func (v *validator) redis(c *Config) {
	mode := redisstore.Mode(c.RedisMode)
	form := redisstore.URLForm(mode)
	if form == "" {
		v.addf("VERIFIER_REDIS_MODE", "must be single, sentinel or cluster, got %q", c.RedisMode)
	}
	switch {
	case c.RedisURL == "":
		v.addf("REDIS_URL", "missing: required when VERIFIER_STORE=redis")
	case form != "" && redisstore.CheckURL(c.RedisURL, mode) != nil: // its message is the store's own
		v.addf("REDIS_URL", "not a VERIFIER_REDIS_MODE=%s URL (%s, or rediss:// for TLS)", c.RedisMode, form)
	}
	if err := redisstore.CheckPrefix(c.RedisPrefix); err != nil {
		v.addf("REDIS_KEY_PREFIX", "may not contain { or } (they would change the keys' hash tags)")
	}
}

func (v *validator) store(c *Config) {
	switch c.Store {
	case "memory":
	case "redis":
		v.redis(c)
		if c.Entra.Enabled() && c.Entra.CallbackSecret == "" {
			v.addf("ENTRA_CALLBACK_SECRET", "missing: required with VERIFIER_STORE=redis, so every replica checks the same callback api-key")
		}
	default:
		v.addf("VERIFIER_STORE", "must be memory or redis, got %q", c.Store)
	}
	if s := c.Entra.CallbackSecret; s != "" && len(s) < 16 {
		v.addf("ENTRA_CALLBACK_SECRET", "too short: use at least 16 characters (32 random bytes recommended)")
	}
}

func (v *validator) halves(c *Config) {
	e, i := c.Entra, c.IPA
	if !e.Enabled() && !i.Enabled() {
		v.problems = append(v.problems, errors.New("nothing to verify with: configure the presentation half (ENTRA_TENANT_ID, "+
			"ENTRA_CLIENT_ID, ENTRA_VERIFIER_DID and one of ENTRA_CLIENT_SECRET, ENTRA_CLIENT_CERTIFICATE, ENTRA_CLIENT_ASSERTION_FILE), "+
			"the IPA half (IPA_COGNITO_URL, IPA_CLIENT_ID, IPA_CLIENT_SECRET), or both"))
	}
	if e.Enabled() {
		v.required("ENTRA_TENANT_ID", e.TenantID, "the presentation half")
		v.required("ENTRA_CLIENT_ID", e.ClientID, "the presentation half")
		v.required("ENTRA_VERIFIER_DID", e.VerifierDID, "the presentation half")
		switch e.credentials() {
		case 0:
			v.addf("ENTRA_CLIENT_SECRET", "missing: the presentation half needs one credential: ENTRA_CLIENT_SECRET, ENTRA_CLIENT_CERTIFICATE or ENTRA_CLIENT_ASSERTION_FILE")
		case 1:
		default:
			v.addf("ENTRA_CLIENT_CERTIFICATE", "set exactly one of ENTRA_CLIENT_SECRET, ENTRA_CLIENT_CERTIFICATE and ENTRA_CLIENT_ASSERTION_FILE, not several")
		}
		if e.VerifierDID != "" && !strings.HasPrefix(e.VerifierDID, "did:") {
			v.addf("ENTRA_VERIFIER_DID", "must be a DID (did:web:…), got %q", e.VerifierDID)
		}
		if e.VerifierDID != "" && (slices.Contains(c.AcceptedIssuers(), e.VerifierDID) || slices.Contains(slices.Collect(maps.Values(Regions)), e.VerifierDID)) {
			v.addf("ENTRA_VERIFIER_DID", "is IDEMIA's issuer DID: use your own tenant's verifier DID (Verified ID → Organization settings)")
		}
		v.httpsURL("ENTRA_AUTHORITY_HOST", e.AuthorityHost)
		v.httpsURL("ENTRA_REQUEST_SERVICE_URL", e.RequestServiceURL)
		if e.FaceCheckThreshold < 50 || e.FaceCheckThreshold > 100 {
			v.addf("ENTRA_FACE_CHECK_THRESHOLD", "must be an integer from 50 to 100, got %d", e.FaceCheckThreshold)
		}
		if e.FaceCheck && e.FaceCheckPhotoClaim == "" {
			v.addf("ENTRA_FACE_CHECK_PHOTO_CLAIM", "must not be empty when ENTRA_FACE_CHECK is true")
		}
	}
	if i.Enabled() {
		v.required("IPA_COGNITO_URL", i.CognitoURL, "the IPA half")
		v.required("IPA_CLIENT_ID", i.ClientID, "the IPA half")
		v.required("IPA_CLIENT_SECRET", i.ClientSecret, "the IPA half")
		if i.CognitoURL != "" {
			v.httpsURL("IPA_COGNITO_URL", i.CognitoURL)
		}
		v.httpsURL("IPA_CREATE_SESSION_URL", i.CreateSessionURL)
		v.secureOrLocalURL("IPA_START_URL", i.StartURL)
	}
	if (i.IDVURL == "") != (i.GIPSAPIKey == "") {
		v.addf("IDV_URL", "IDV_URL and GIPS_RS_API_KEY go together: set both for identity retrieval, or neither")
	}
	if i.IDVURL != "" {
		if _, err := IDVHost(i.IDVURL); err != nil {
			v.addf("IDV_URL", "%v", err)
		}
	}
}

func (v *validator) result(c *Config) {
	r := c.Result
	switch {
	case r.WebhookURL == "" && r.WebhookSecret != "":
		v.addf("VERIFIER_RESULT_WEBHOOK_URL", "missing: VERIFIER_RESULT_WEBHOOK_SECRET is set without it")
	case r.WebhookURL != "":
		v.secureOrLocalURL("VERIFIER_RESULT_WEBHOOK_URL", r.WebhookURL)
		key := []byte(r.WebhookSecret)
		if b64, ok := strings.CutPrefix(r.WebhookSecret, "whsec_"); ok {
			var err error
			if key, err = base64.StdEncoding.DecodeString(b64); err != nil {
				v.addf("VERIFIER_RESULT_WEBHOOK_SECRET", "whsec_ secret is not base64")
			}
		}
		if len(key) < 16 {
			v.addf("VERIFIER_RESULT_WEBHOOK_SECRET", "missing or too short: the webhook needs a signing key of at least 16 bytes (whsec_<base64>, or 16 characters)")
		}
	}
	if r.ReturnURLAllowlist != "" && r.SigningKey == "" && c.Store == "redis" {
		v.addf("VERIFIER_RESULT_SIGNING_KEY", "missing: required with VERIFIER_STORE=redis and return URLs, so every replica signs with the same key")
	}
}

func (v *validator) required(name, value, half string) {
	if value == "" {
		v.addf(name, "missing: %s is partly configured and needs it", half)
	}
}

func (v *validator) httpsURL(name, raw string) {
	u, err := url.Parse(raw)
	if err != nil || u.Scheme != "https" || u.Host == "" {
		v.addf(name, "must be an https URL, got %q", logging.URL(raw))
	}
}

// IDVHost returns the ID&V host from IDV_URL, given as a host or as https://host.
func IDVHost(raw string) (string, error) {
	s := raw
	if !strings.Contains(s, "://") {
		s = "https://" + s
	}
	u, err := url.Parse(s)
	if err != nil || u.Scheme != "https" || u.Host == "" || u.User != nil || strings.Trim(u.Path, "/") != "" || u.RawQuery != "" {
		return "", fmt.Errorf("must be a host such as proofing.idemia.io (or https://host), got %q", logging.URL(raw))
	}
	return strings.ToLower(u.Host), nil
}
