package config

import (
	"bufio"
	"fmt"
	"net/netip"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"
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

// Load reads every setting, applying defaults. Values that do not parse are reported by Validate.
func Load(getenv Getenv) *Config {
	l := loader{get: func(name string) string { return strings.TrimSpace(getenv(name)) }}
	c := &Config{
		ListenAddr:      l.str("VERIFIER_LISTEN_ADDR", ":8080"),
		Region:          strings.ToLower(l.str("VERIFIER_REGION", "us")),
		Store:           strings.ToLower(l.str("VERIFIER_STORE", "memory")),
		RedisURL:        l.str("REDIS_URL", ""),
		RedisPrefix:     l.str("REDIS_KEY_PREFIX", "entra-verifier:"),
		Sandbox:         l.boolean("VERIFIER_SANDBOX", false),
		TrustedProxies:  l.cidrs("VERIFIER_TRUSTED_PROXIES"),
		RateLimitPerIP:  l.rate("VERIFIER_RATE_LIMIT_PER_IP", "20/min"),
		RateLimitGlobal: l.rate("VERIFIER_RATE_LIMIT_GLOBAL", "600/min"),
		Entra: Entra{
			TenantID:            l.str("ENTRA_TENANT_ID", ""),
			ClientID:            l.str("ENTRA_CLIENT_ID", ""),
			ClientSecret:        l.str("ENTRA_CLIENT_SECRET", ""),
			ClientCertificate:   l.str("ENTRA_CLIENT_CERTIFICATE", ""),
			AuthorityHost:       l.str("ENTRA_AUTHORITY_HOST", "https://login.microsoftonline.com"),
			RequestServiceURL:   strings.TrimSuffix(l.str("ENTRA_REQUEST_SERVICE_URL", "https://verifiedid.did.msidentity.com/v1.0"), "/"),
			VerifierDID:         l.str("ENTRA_VERIFIER_DID", ""),
			ClientName:          l.str("ENTRA_CLIENT_NAME", "Idemia DID"),
			Purpose:             l.str("ENTRA_PURPOSE", ""),
			CallbackSecret:      getenv("ENTRA_CALLBACK_SECRET"), // as written: the HMAC key's bytes
			FaceCheck:           l.boolean("ENTRA_FACE_CHECK", false),
			FaceCheckThreshold:  l.integer("ENTRA_FACE_CHECK_THRESHOLD", 70),
			FaceCheckPhotoClaim: l.str("ENTRA_FACE_CHECK_PHOTO_CLAIM", "portrait"),
		},
		IPA: IPA{
			CognitoURL:       strings.TrimSuffix(l.str("IPA_COGNITO_URL", ""), "/"),
			ClientID:         l.str("IPA_CLIENT_ID", ""),
			ClientSecret:     l.str("IPA_CLIENT_SECRET", ""),
			CreateSessionURL: l.str("IPA_CREATE_SESSION_URL", "https://rp-handler.did.idemia.io/api/v1/sessions"),
			StartURL:         l.str("IPA_START_URL", "https://rp-handler.did.idemia.io/api/v1/ipa/start"),
			ApplicationID:    l.str("IPA_APPLICATION_ID", ""),
			IDVURL:           l.str("IDV_URL", ""),
			GIPSAPIKey:       l.str("GIPS_RS_API_KEY", ""),
		},
		WellKnown: WellKnown{
			DIDJSON:              l.str("WELLKNOWN_DID_JSON", ""),
			DIDConfigurationJSON: l.str("WELLKNOWN_DID_CONFIGURATION_JSON", ""),
		},
	}
	c.PublicURL = l.publicURL("VERIFIER_PUBLIC_URL")
	c.AcceptedRegions = l.list("VERIFIER_ACCEPTED_REGIONS", c.Region)
	c.problems = l.problems
	return c
}

type loader struct {
	get      func(string) string
	problems []error
}

func (l *loader) bad(name, format string, args ...any) {
	l.problems = append(l.problems, fmt.Errorf("%s: %s", name, fmt.Sprintf(format, args...)))
}

func (l *loader) str(name, def string) string {
	if v := l.get(name); v != "" {
		return v
	}
	return def
}

func (l *loader) boolean(name string, def bool) bool {
	v := l.get(name)
	if v == "" {
		return def
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		l.bad(name, "must be true or false, got %q", v)
	}
	return b
}

func (l *loader) integer(name string, def int) int {
	v := l.get(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		l.bad(name, "must be an integer, got %q", v)
		return def
	}
	return n
}

func (l *loader) list(name, def string) []string {
	var out []string
	for _, s := range strings.Split(strings.ToLower(l.str(name, def)), ",") {
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

func (l *loader) rate(name, def string) Rate {
	v := l.str(name, def)
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
		l.bad(name, "must be an absolute URL such as https://verifier.example.com, got %q", v)
		return nil
	}
	return u
}
