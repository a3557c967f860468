package logging_test

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/entra-verifier/entra-verifier/logging"
)

// TestURL: a URL loses its userinfo, query and fragment, parsed or not.
func TestURL(t *testing.T) {
	tests := []struct{ raw, want string }{
		{"https://u:p@hook.example/x?token=SECRETTOKEN", "https://hook.example/x?…"},
		{"https://hook.example/x", "https://hook.example/x"},
		{"https://hook.example/x?", "https://hook.example/x?…"},
		{"https://hook.example/x#frag", "https://hook.example/x"},
		{"redis://default:s3cret@redis:6379/0?pool_size=10", "redis://redis:6379/0?…"},
		{"rediss://:s3cret@redis:6380", "rediss://redis:6380"},
		{"redis://user:pass@sentinel:26379/0?master_name=m&password=MASTERPW", "redis://sentinel:26379/0?…"},
		{"https://u:p@host/%zz?token=SECRETTOKEN", "https://host/%zz?…"}, // does not parse
		{"https://u:p@ho st/x?token=SECRETTOKEN", "https://ho st/x?…"},   // does not parse
		{"https://u:p@[::1/x#token=SECRETTOKEN", "https://[::1/x"},       // does not parse
		{"u:p@hook.example:443?token=SECRETTOKEN", "hook.example:443?…"}, // no scheme
		{"mailto:someone@example.com?subject=x", "example.com?…"},        // opaque: cut by hand
		{"proofing.idemia.io", "proofing.idemia.io"},
		{"", ""},
	}
	for _, tc := range tests {
		assert.Equal(t, tc.want, logging.URL(tc.raw), tc.raw)
	}
}

// TestURLsInText: every URL inside free text is redacted, the text around it kept.
func TestURLsInText(t *testing.T) {
	in := `VERIFIER_RESULT_WEBHOOK_URL: must be https, got "http://u:p@hook.example/x?token=SECRETTOKEN"; ` +
		`Post "https://u:***@hook.example/x?token=SECRETTOKEN": dial tcp: refused (redis://a:b@r:6379/0)`
	out := logging.URLs(in)
	assert.NotContains(t, out, "SECRETTOKEN")
	assert.NotContains(t, out, "u:p@")
	assert.NotContains(t, out, "a:b@")
	assert.Contains(t, out, `got "http://hook.example/x?…"`)
	assert.Contains(t, out, `Post "https://hook.example/x?…": dial tcp: refused (redis://r:6379/0)`)
	assert.Equal(t, "no url here", logging.URLs("no url here"))
}

// TestLoggerRedactsURLs: whatever carries a URL (message, string attribute, error, group, the go-redis
// adapter's formatted message), the logger drops its password and query.
func TestLoggerRedactsURLs(t *testing.T) {
	const hook = "https://u:p@hook.example/x?token=SECRETTOKEN"
	logs := []func(l *slog.Logger){
		func(l *slog.Logger) { l.Info("posting to " + hook) },
		func(l *slog.Logger) { l.Info("x", "url", hook) },
		func(l *slog.Logger) {
			l.Warn("x", "err", fmt.Errorf("deliver: %w", errors.New(`Post "`+hook+`": EOF`)))
		},
		func(l *slog.Logger) { l.Info("x", slog.Group("config", "VERIFIER_RESULT_WEBHOOK_URL", hook)) },
		func(l *slog.Logger) { l.With("target", hook).Info("x") },
		func(l *slog.Logger) {
			l.Warn("redis client", "message", "redis: dial redis://default:p@redis:6379/0?x=SECRETTOKEN failed")
		},
		func(l *slog.Logger) { l.Info("x", "u", "https://a:p@h") }, // short
	}
	for i, log := range logs {
		var buf bytes.Buffer
		log(logging.New(&buf, slog.LevelInfo))
		out := buf.String()
		assert.NotContains(t, out, "SECRETTOKEN", "line %d: %s", i, out)
		assert.NotContains(t, out, ":p@", "line %d: %s", i, out)
		assert.Contains(t, out, "://", "line %d keeps the URL's scheme and host: %s", i, out)
	}
}
