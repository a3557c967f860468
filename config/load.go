package config

import (
	"bufio"
	"fmt"
	"github.com/entra-verifier/entra-verifier/i18n"
	"net/netip"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/entra-verifier/entra-verifier/logging"
)

// Getenv looks a variable up; os.Getenv, or a file's values under the environment's (see WithFile).
type Getenv func(name string) string

// WithFile returns a Getenv reading the environment first, then the KEY=VALUE lines of the file at path
// (blank lines and lines starting with # are ignored; values may be quoted).
func WithFile(env Getenv, path string) (Getenv, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("config file: %w", err)
	}
	defer f.Close()
	values := map[string]string{}
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			return nil, fmt.Errorf("config file %s line %d: want NAME=value", path, n)
		}
		v = strings.TrimSpace(v)
		if uq, err := strconv.Unquote(v); err == nil {
			v = uq
		}
		values[strings.TrimSpace(k)] = v
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("config file: %w", err)
	}
	return func(name string) string {
		if v := env(name); v != "" {
			return v
		}
		return values[name]
	}, nil
}

// Load reads every setting in Variables, taking defaults from there. Values that do not parse are reported by
// Validate.
func Load(getenv Getenv) *Config {
	l := loader{getenv: getenv}
	c := &Config{
		ListenAddr:        l.str("VERIFIER_LISTEN_ADDR"),
		Region:            strings.ToLower(l.str("VERIFIER_REGION")),
		Store:             strings.ToLower(l.str("VERIFIER_STORE")),
		RedisURL:          l.str("REDIS_URL"),
		RedisMode:         l.str("VERIFIER_REDIS_MODE"),
		RedisPrefix:       l.str("REDIS_KEY_PREFIX"),
		Sandbox:           l.boolean("VERIFIER_SANDBOX"),
		TrustedProxies:    l.cidrs("VERIFIER_TRUSTED_PROXIES"),
		RateLimitPerIP:    l.rate("VERIFIER_RATE_LIMIT_PER_IP"),
		RateLimitGlobal:   l.rate("VERIFIER_RATE_LIMIT_GLOBAL"),
		ClaimsRetention:   l.duration("VERIFIER_CLAIMS_RETENTION"),
		StreamsPerBrowser: l.integer("VERIFIER_STREAMS_PER_BROWSER"),
		MetricsAddr:       l.str("VERIFIER_METRICS_ADDR"),
		APIKeys:           l.apiKeys("VERIFIER_API_KEYS"),
		LaunchLinkTTL:     l.launchTTL("VERIFIER_LAUNCH_LINK_TTL"),
		Entra: Entra{
			TenantID:             l.str("ENTRA_TENANT_ID"),
			ClientID:             l.str("ENTRA_CLIENT_ID"),
			ClientSecret:         l.str("ENTRA_CLIENT_SECRET"),
			ClientCertificate:    l.str("ENTRA_CLIENT_CERTIFICATE"),
			ClientAssertionFile:  l.str("ENTRA_CLIENT_ASSERTION_FILE"),
			ValidateLinkedDomain: l.boolean("ENTRA_VALIDATE_LINKED_DOMAIN"),
			AuthorityHost:        l.str("ENTRA_AUTHORITY_HOST"),
			RequestServiceURL:    strings.TrimSuffix(l.str("ENTRA_REQUEST_SERVICE_URL"), "/"),
			VerifierDID:          l.str("ENTRA_VERIFIER_DID"),
			ClientName:           l.str("ENTRA_CLIENT_NAME"),
			Purpose:              l.str("ENTRA_PURPOSE"),
			CallbackSecret:       l.raw("ENTRA_CALLBACK_SECRET"), // as written: the HMAC key's bytes
			FaceCheck:            l.boolean("ENTRA_FACE_CHECK"),
			FaceCheckThreshold:   l.integer("ENTRA_FACE_CHECK_THRESHOLD"),
			FaceCheckPhotoClaim:  l.str("ENTRA_FACE_CHECK_PHOTO_CLAIM"),
		},
		IPA: IPA{
			CognitoURL:       strings.TrimSuffix(l.str("IPA_COGNITO_URL"), "/"),
			ClientID:         l.str("IPA_CLIENT_ID"),
			ClientSecret:     l.str("IPA_CLIENT_SECRET"),
			CreateSessionURL: l.str("IPA_CREATE_SESSION_URL"),
			StartURL:         l.str("IPA_START_URL"),
			ApplicationID:    l.str("IPA_APPLICATION_ID"),
			IDVURL:           l.str("IDV_URL"),
			GIPSAPIKey:       l.str("GIPS_RS_API_KEY"),
		},
		Result: Result{
			WebhookURL:         l.str("VERIFIER_RESULT_WEBHOOK_URL"),
			WebhookSecret:      l.raw("VERIFIER_RESULT_WEBHOOK_SECRET"),
			WebhookIPA:         l.boolean("VERIFIER_RESULT_WEBHOOK_IPA"),
			Claims:             l.str("VERIFIER_RESULT_CLAIMS"),
			ReturnURLAllowlist: l.str("VERIFIER_RETURN_URL_ALLOWLIST"),
			SigningKey:         l.raw("VERIFIER_RESULT_SIGNING_KEY"),
		},
		Page: Page{
			TermsURL:   l.str("VERIFIER_TERMS_URL"),
			PrivacyURL: l.str("VERIFIER_PRIVACY_URL"),
			BrandName:  l.str("VERIFIER_BRAND_NAME"),
			BrandLogo:  l.str("VERIFIER_BRAND_LOGO"),
			BrandColor: strings.ToLower(l.str("VERIFIER_BRAND_COLOR")),
		},
		WellKnown: WellKnown{
			DIDJSON:              l.str("WELLKNOWN_DID_JSON"),
			DIDConfigurationJSON: l.str("WELLKNOWN_DID_CONFIGURATION_JSON"),
		},
	}
	c.PublicURL = l.publicURL("VERIFIER_PUBLIC_URL")
	c.AcceptedRegions = l.list("VERIFIER_ACCEPTED_REGIONS", c.Region)
	c.IDEMIAStage = strings.ToLower(l.str("VERIFIER_IDEMIA_STAGE"))
	c.Issuers = l.caseList("VERIFIER_ACCEPTED_ISSUERS")
	c.Page.Languages = l.list("VERIFIER_LANGUAGES", strings.Join(i18n.Shipped, ","))
	// Azure Workload Identity injects AZURE_FEDERATED_TOKEN_FILE: it is the credential of a presentation half
	// configured without one of its own.
	if azure := l.str("AZURE_FEDERATED_TOKEN_FILE"); azure != "" && c.Entra.Enabled() && c.Entra.credentials() == 0 {
		c.Entra.ClientAssertionFile = azure
	}
	c.problems, c.values = l.problems, l.seen
	return c
}

// loader reads variables through Variables: reading a name missing from the list panics, so the list (and
// README's table made from it) cannot fall behind Load.
type loader struct {
	getenv   Getenv
	problems []error
	seen     map[string]string // every value read, for Config.LogValue
}

// raw returns the variable exactly as set, or its default.
func (l *loader) raw(name string) string {
	s := l.getenv(name)
	if s == "" {
		s = variable(name).Default
	}
	l.remember(name, s)
	return s
}

// get returns the variable with surrounding space trimmed, or its default.
func (l *loader) get(name string) string {
	s := strings.TrimSpace(l.getenv(name))
	if s == "" {
		s = variable(name).Default
	}
	l.remember(name, s)
	return s
}

func (l *loader) remember(name, value string) {
	if l.seen == nil {
		l.seen = map[string]string{}
	}
	l.seen[name] = value
}

func (l *loader) bad(name, format string, args ...any) {
	l.problems = append(l.problems, fmt.Errorf("%s: %s", name, fmt.Sprintf(format, args...)))
}

func (l *loader) str(name string) string { return l.get(name) }

func (l *loader) boolean(name string) bool {
	v := l.get(name)
	if v == "" {
		return false
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		l.bad(name, "must be true or false, got %q", v)
	}
	return b
}

func (l *loader) duration(name string) time.Duration {
	v := l.get(name)
	d, err := time.ParseDuration(v)
	if err != nil || d < 0 {
		l.bad(name, "must be a duration such as 5m or 30s, got %q", v)
		d, _ = time.ParseDuration(variable(name).Default)
	}
	return d
}

func (l *loader) integer(name string) int {
	v := l.get(name)
	if v == "" {
		return 0
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		l.bad(name, "must be an integer, got %q", v)
		def, _ := strconv.Atoi(variable(name).Default)
		return def
	}
	return n
}

// list splits a comma list; def stands in when the variable and its listed default are both empty.
func (l *loader) list(name, def string) []string {
	raw := l.get(name)
	if raw == "" {
		raw = def
	}
	var out []string
	for _, s := range strings.Split(strings.ToLower(raw), ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

// caseList splits a comma list keeping each item's case (DIDs are case-sensitive).
func (l *loader) caseList(name string) []string {
	var out []string
	for _, s := range strings.Split(l.get(name), ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

func (l *loader) cidrs(name string) []string {
	out := l.list(name, "")
	for _, s := range out {
		if _, err := netip.ParsePrefix(s); err != nil {
			if _, err := netip.ParseAddr(s); err != nil {
				l.bad(name, "%q is not a CIDR or an IP address", s)
			}
		}
	}
	return out
}

var ratePeriods = map[string]time.Duration{"s": time.Second, "sec": time.Second, "min": time.Minute, "m": time.Minute, "h": time.Hour, "hour": time.Hour}

func (l *loader) rate(name string) Rate {
	v := l.str(name)
	n, unit, ok := strings.Cut(v, "/")
	count, err := strconv.Atoi(strings.TrimSpace(n))
	per, known := ratePeriods[strings.TrimSpace(unit)]
	if !ok || err != nil || count <= 0 || !known {
		l.bad(name, "must look like 20/min (a positive count per s, min or h), got %q", v)
		return Rate{}
	}
	return Rate{N: count, Per: per}
}

func (l *loader) publicURL(name string) *url.URL {
	v := l.get(name)
	if v == "" {
		return nil
	}
	u, err := url.Parse(strings.TrimSuffix(v, "/"))
	if err != nil || !u.IsAbs() {
		l.bad(name, "must be an absolute URL such as https://verifier.example.com, got %q", logging.URL(v))
		return nil
	}
	return u
}
