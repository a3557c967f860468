package config_test

import (
	"encoding/json"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/entra-verifier/entra-verifier/config"
	"github.com/entra-verifier/entra-verifier/logging"
)

func env(m map[string]string) config.Getenv { return func(k string) string { return m[k] } }

// valid returns a complete configuration with both halves on.
func valid() map[string]string {
	return map[string]string{
		"VERIFIER_PUBLIC_URL": "https://verifier.example.com/",
		"ENTRA_TENANT_ID":     "tenant", "ENTRA_CLIENT_ID": "client", "ENTRA_CLIENT_SECRET": "s3cret",
		"ENTRA_VERIFIER_DID": "did:web:verifier.example.com",
		"IPA_COGNITO_URL":    "https://cognito.example.com", "IPA_CLIENT_ID": "ipa", "IPA_CLIENT_SECRET": "ipa-secret",
	}
}

func with(m map[string]string, kv ...string) map[string]string {
	out := map[string]string{}
	for k, v := range m {
		out[k] = v
	}
	for i := 0; i < len(kv); i += 2 {
		if kv[i+1] == "" {
			delete(out, kv[i])
		} else {
			out[kv[i]] = kv[i+1]
		}
	}
	return out
}

func TestDefaults(t *testing.T) {
	c := config.Load(env(valid()))
	require.NoError(t, c.Validate())
	assert.Equal(t, ":8080", c.ListenAddr)
	assert.Equal(t, "https://verifier.example.com", c.PublicURL.String())
	assert.Equal(t, []string{"did:web:us.did.idemia.io"}, c.AcceptedIssuers())
	assert.Equal(t, "https://login.microsoftonline.com/tenant", c.Entra.Authority())
	assert.Equal(t, "https://verifiedid.did.msidentity.com/v1.0", c.Entra.RequestServiceURL)
	assert.Equal(t, "Idemia DID", c.Entra.ClientName)
	assert.Equal(t, 70, c.Entra.FaceCheckThreshold)
	assert.Equal(t, "portrait", c.Entra.FaceCheckPhotoClaim)
	assert.Equal(t, "https://rp-handler.did.idemia.io/api/v1/ipa/start", c.IPA.StartURL)
	assert.Equal(t, config.Rate{N: 20, Per: 60e9}, c.RateLimitPerIP)
	assert.Equal(t, "memory", c.Store)
	assert.Equal(t, 8, c.StreamsPerBrowser)
	assert.Empty(t, c.MetricsAddr, "metrics on the public listener unless asked")
	assert.Equal(t, "https://verifier.example.com/api/verifier/callback", c.URL("/api/verifier/callback"))
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		want []string // every line of the message, in order
	}{
		{"empty environment names every missing variable", map[string]string{}, []string{
			"VERIFIER_PUBLIC_URL: missing",
			"nothing to verify with: configure the presentation half (ENTRA_TENANT_ID,",
		}},
		{"only the presentation half", with(valid(), "IPA_COGNITO_URL", "", "IPA_CLIENT_ID", "", "IPA_CLIENT_SECRET", ""), nil},
		{"only the IPA half", with(valid(), "ENTRA_TENANT_ID", "", "ENTRA_CLIENT_ID", "", "ENTRA_CLIENT_SECRET", "", "ENTRA_VERIFIER_DID", ""), nil},
		{"half of each half", map[string]string{"VERIFIER_PUBLIC_URL": "http://localhost:8080", "ENTRA_CLIENT_ID": "c", "IPA_CLIENT_SECRET": "x"}, []string{
			"ENTRA_TENANT_ID: missing",
			"ENTRA_VERIFIER_DID: missing",
			"ENTRA_CLIENT_SECRET: missing",
			"IPA_COGNITO_URL: missing",
			"IPA_CLIENT_ID: missing",
		}},
		{"http off loopback", with(valid(), "VERIFIER_PUBLIC_URL", "http://verifier.example.com"), []string{"VERIFIER_PUBLIC_URL: must be an https URL"}},
		{"http on 127.0.0.1 is fine", with(valid(), "VERIFIER_PUBLIC_URL", "http://127.0.0.1:9000"), nil},
		{"redis needs its URL and a shared callback secret", with(valid(), "VERIFIER_STORE", "redis"), []string{
			"REDIS_URL: missing", "ENTRA_CALLBACK_SECRET: missing",
		}},
		{"redis complete", with(valid(), "VERIFIER_STORE", "redis", "REDIS_URL", "redis://127.0.0.1:6379/0", "ENTRA_CALLBACK_SECRET", "0123456789abcdef0123"), nil},
		{"redis sentinel", with(valid(), "VERIFIER_STORE", "redis", "VERIFIER_REDIS_MODE", "sentinel", "ENTRA_CALLBACK_SECRET", "0123456789abcdef0123",
			"REDIS_URL", "redis://s1:26379/0?master_name=mymaster&addr=s2:26379&addr=s3:26379"), nil},
		{"redis cluster", with(valid(), "VERIFIER_STORE", "redis", "VERIFIER_REDIS_MODE", "cluster", "ENTRA_CALLBACK_SECRET", "0123456789abcdef0123",
			"REDIS_URL", "rediss://user:pw@n1:6379?addr=n2:6379&addr=n3:6379"), nil},
		{"redis URL of another mode", with(valid(), "VERIFIER_STORE", "redis", "VERIFIER_REDIS_MODE", "sentinel", "ENTRA_CALLBACK_SECRET", "0123456789abcdef0123",
			"REDIS_URL", "redis://127.0.0.1:6379/0", "REDIS_KEY_PREFIX", "a{b}:"), []string{
			"REDIS_URL: not a VERIFIER_REDIS_MODE=sentinel URL", "REDIS_KEY_PREFIX: may not contain { or }",
		}},
		{"redis unknown mode", with(valid(), "VERIFIER_STORE", "redis", "VERIFIER_REDIS_MODE", "ring", "ENTRA_CALLBACK_SECRET", "0123456789abcdef0123",
			"REDIS_URL", "http://127.0.0.1:6379/0"), []string{"VERIFIER_REDIS_MODE: must be single, sentinel or cluster"}},
		{"bad values", with(valid(), "VERIFIER_REGION", "asia", "VERIFIER_ACCEPTED_REGIONS", "us,mars", "ENTRA_FACE_CHECK_THRESHOLD", "101",
			"ENTRA_FACE_CHECK", "maybe", "VERIFIER_STORE", "disk", "VERIFIER_RATE_LIMIT_PER_IP", "lots", "VERIFIER_TRUSTED_PROXIES", "10.0.0.0/8,nope"), []string{
			"VERIFIER_TRUSTED_PROXIES: \"nope\" is not a CIDR",
			"VERIFIER_RATE_LIMIT_PER_IP: must look like 20/min",
			"ENTRA_FACE_CHECK: must be true or false",
			"VERIFIER_REGION: must be us or eu",
			"VERIFIER_ACCEPTED_REGIONS: unknown region \"mars\"",
			"VERIFIER_STORE: must be memory or redis",
			"ENTRA_FACE_CHECK_THRESHOLD: must be an integer from 50 to 100",
		}},
		{"both secret and certificate, IDEMIA's DID as ours", with(valid(), "ENTRA_CLIENT_CERTIFICATE", "cert.pem", "ENTRA_VERIFIER_DID", "did:web:eu.did.idemia.io"), []string{
			"ENTRA_CLIENT_CERTIFICATE: set exactly one",
			"ENTRA_VERIFIER_DID: is IDEMIA's issuer DID",
		}},
		{"secret and assertion file", with(valid(), "ENTRA_CLIENT_ASSERTION_FILE", "/var/run/token"), []string{"ENTRA_CLIENT_CERTIFICATE: set exactly one"}},
		{"no credential", with(valid(), "ENTRA_CLIENT_SECRET", ""), []string{"ENTRA_CLIENT_SECRET: missing: the presentation half needs one credential"}},
		{"bad stage, bad issuers, a stage DID as ours", with(valid(), "VERIFIER_IDEMIA_STAGE", "st-g", "VERIFIER_ACCEPTED_ISSUERS", "did:web:ok.example,us.did.idemia.io,did:web:",
			"ENTRA_VALIDATE_LINKED_DOMAIN", "sometimes"), []string{
			"ENTRA_VALIDATE_LINKED_DOMAIN: must be true or false",
			"VERIFIER_IDEMIA_STAGE: must be 1 to 16 lower-case letters or digits",
			"VERIFIER_ACCEPTED_ISSUERS: \"us.did.idemia.io\" is not a DID",
			"VERIFIER_ACCEPTED_ISSUERS: \"did:web:\" is not a DID",
		}},
		{"an accepted stage issuer as ours", with(valid(), "VERIFIER_IDEMIA_STAGE", "stg", "ENTRA_VERIFIER_DID", "did:web:us.did-stg.idemia.io"), []string{
			"ENTRA_VERIFIER_DID: is IDEMIA's issuer DID",
		}},
		{"plain http upstreams", with(valid(), "ENTRA_AUTHORITY_HOST", "http://login.example", "IPA_CREATE_SESSION_URL", "http://ipa.example"), []string{
			"ENTRA_AUTHORITY_HOST: must be an https URL",
			"IPA_CREATE_SESSION_URL: must be an https URL",
		}},
		{"metrics on their own address", with(valid(), "VERIFIER_METRICS_ADDR", ":9090", "VERIFIER_STREAMS_PER_BROWSER", "2"), nil},
		{"bad listeners and stream bound", with(valid(), "VERIFIER_METRICS_ADDR", ":8080", "VERIFIER_STREAMS_PER_BROWSER", "0"), []string{
			"VERIFIER_STREAMS_PER_BROWSER: must be a positive integer, got 0",
			"VERIFIER_METRICS_ADDR: must differ from VERIFIER_LISTEN_ADDR",
		}},
		{"unparsable listeners and stream bound", with(valid(), "VERIFIER_METRICS_ADDR", "9090", "VERIFIER_STREAMS_PER_BROWSER", "many"), []string{
			"VERIFIER_STREAMS_PER_BROWSER: must be an integer",
			"VERIFIER_METRICS_ADDR: must be an address such as :9090",
		}},
		{"identity retrieval needs both settings", with(valid(), "IDV_URL", "https://proofing.idemia.io/x"), []string{
			"IDV_URL: IDV_URL and GIPS_RS_API_KEY go together",
			"IDV_URL: must be a host",
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			requireProblems(t, config.Load(env(tc.env)).Validate(), tc.want)
		})
	}
}

// requireProblems checks Validate's answer: no error for want == nil, else one line per want, in order,
// each starting with its want.
func requireProblems(t *testing.T, err error, want []string) {
	t.Helper()
	if want == nil {
		require.NoError(t, err)
		return
	}
	require.Error(t, err)
	lines := strings.Split(err.Error(), "\n")
	require.Len(t, lines, len(want), err.Error())
	for i, w := range want {
		assert.True(t, strings.HasPrefix(lines[i], w), "line %d: %q does not start with %q", i, lines[i], w)
	}
}

func TestWithFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "verifier.env")
	require.NoError(t, os.WriteFile(path, []byte("# comment\nVERIFIER_REGION=eu\nENTRA_PURPOSE=\"Open your account\"\n\nVERIFIER_STORE=redis\n"), 0o600))
	get, err := config.WithFile(env(map[string]string{"VERIFIER_STORE": "memory"}), path)
	require.NoError(t, err)
	c := config.Load(get)
	assert.Equal(t, "eu", c.Region)
	assert.Equal(t, "Open your account", c.Entra.Purpose)
	assert.Equal(t, "memory", c.Store, "the environment wins over the file")

	require.NoError(t, os.WriteFile(path, []byte("not a setting\n"), 0o600))
	_, err = config.WithFile(env(nil), path)
	assert.ErrorContains(t, err, "line 1: want NAME=value")
}

func TestLogValueHidesSecrets(t *testing.T) {
	c := config.Load(env(with(valid(), "REDIS_URL", "redis://user:p4ssw0rd@redis:6379/0?password=M4STER", "ENTRA_CALLBACK_SECRET", "0123456789abcdef-secret",
		"VERIFIER_RESULT_WEBHOOK_URL", "https://u:hunter2@hook.example/x?token=SECRETTOKEN", "VERIFIER_RESULT_WEBHOOK_SECRET", "0123456789abcdef",
		"VERIFIER_RETURN_URL_ALLOWLIST", "https://rp.example.com/a/,https://rp.example.com/b/")))
	var buf strings.Builder
	slog.New(slog.NewTextHandler(&buf, nil)).Info("configuration", "config", c)
	out := buf.String()
	for _, secret := range []string{"s3cret", "ipa-secret", "p4ssw0rd", "M4STER", "0123456789abcdef-secret", "hunter2", "SECRETTOKEN", "user"} {
		assert.NotContains(t, out, secret)
	}
	for _, shown := range []string{"config.ENTRA_CLIENT_SECRET=(set)", "config.REDIS_URL=redis://redis:6379/0?…", "config.VERIFIER_REGION=us",
		"config.ENTRA_TENANT_ID=tenant", "config.VERIFIER_RESULT_WEBHOOK_URL=https://hook.example/x?…",
		"config.VERIFIER_RETURN_URL_ALLOWLIST=https://rp.example.com/a/,https://rp.example.com/b/"} {
		assert.Contains(t, out, shown)
	}
}

// TestValidationErrorsRedactURLs: a refused URL is named in the error without its user, password or query.
func TestValidationErrorsRedactURLs(t *testing.T) {
	const userinfo, token = "u:p4ssw0rd@", "SECRETTOKEN"
	err := config.Load(env(with(valid(),
		"VERIFIER_RESULT_WEBHOOK_URL", "http://"+userinfo+"hook.example/x?token="+token, "VERIFIER_RESULT_WEBHOOK_SECRET", "0123456789abcdef",
		"VERIFIER_PUBLIC_URL", "http://"+userinfo+"verifier.example.com/?token="+token,
		"ENTRA_AUTHORITY_HOST", "http://"+userinfo+"login.example/?token="+token,
		"IPA_START_URL", "ftp://"+userinfo+"ipa.example/?token="+token,
		"IDV_URL", "https://"+userinfo+"idv.example/x?token="+token, "GIPS_RS_API_KEY", "k",
	))).Validate()
	require.Error(t, err)
	msg := err.Error()
	assert.NotContains(t, msg, token)
	assert.NotContains(t, msg, "p4ssw0rd")
	for _, shown := range []string{`got "http://hook.example/x?…"`, `got "http://verifier.example.com/?…"`, `got "http://login.example/?…"`, `got "ftp://ipa.example/?…"`, `got "https://idv.example/x?…"`} {
		assert.Contains(t, msg, shown)
	}
}

// TestWebhookURLMayCarryCredentials: a user and password in the webhook URL are sent as HTTP Basic auth, so
// they are accepted (and never logged, see TestLogValueHidesSecrets).
func TestWebhookURLMayCarryCredentials(t *testing.T) {
	err := config.Load(env(with(valid(), "VERIFIER_RESULT_WEBHOOK_URL", "https://u:p@hook.example/x?token=SECRETTOKEN",
		"VERIFIER_RESULT_WEBHOOK_SECRET", "0123456789abcdef"))).Validate()
	assert.NoError(t, err)
}

// TestLogValueHidesOnlySecrets logs a configuration through the service's redacting logger: config.Variables
// alone decides what is hidden, so settings whose names merely look sensitive (VERIFIER_CLAIMS_RETENTION,
// ENTRA_FACE_CHECK_PHOTO_CLAIM, ENTRA_CLIENT_ASSERTION_FILE) are shown as they are.
func TestLogValueHidesOnlySecrets(t *testing.T) {
	set := map[string]string{}
	for _, v := range config.Variables {
		set[v.Name] = "value-of-" + strings.ToLower(v.Name)
	}
	var buf strings.Builder
	logging.New(&buf, slog.LevelInfo).Info("verifier listening", "config", config.Load(env(set)))
	var line struct {
		Config map[string]string `json:"config"`
	}
	require.NoError(t, json.Unmarshal([]byte(buf.String()), &line), buf.String())
	for _, v := range config.Variables {
		t.Run(v.Name, func(t *testing.T) {
			want := set[v.Name]
			if v.Secret {
				want = "(set)"
			}
			assert.Equal(t, want, line.Config[v.Name])
		})
	}
	assert.NotContains(t, buf.String(), logging.Redacted)
}
