package logging_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/entra-verifier/entra-verifier/logging"
)

// status is a named string, as store's statuses are.
type status string

// masked is a named string that formats itself.
type masked string

func (m masked) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte("***")) }

func TestRedaction(t *testing.T) {
	const jwt = "eyJhbGciOiJSUzI1NiJ9.eyJyb2xlcyI6WyJWZXJpZmlhYmxlQ3JlZGVudGlhbC5DcmVhdGUuQWxsIl19.c2lnbmF0dXJlLXBsYWNlaG9sZGVy"
	portrait := "_9j_4AAQSkZJRgABAQAAAQABAAD_2wBDAAgGBgcGBQgHBwcJCQgKDBQNDAsLDBkSEw8UHRofHh0aHBwgJC4nICIsIxwc"
	tests := []struct {
		name   string
		log    func(l *slog.Logger)
		secret string // must not appear
		keep   string // must appear
	}{
		{"claims map", func(l *slog.Logger) { l.Info("x", "claims", map[string]any{"firstName": "Megan"}) }, "Megan", `"claims":"[REDACTED]"`},
		{"portrait key", func(l *slog.Logger) { l.Info("x", "portrait", portrait) }, portrait, `"portrait":"[REDACTED]"`},
		{"api-key", func(l *slog.Logger) { l.Info("x", "api-key", "3C1wU0d4aZlJ2bq9Vf8m8yHk9o1m0iYxZ6m1yB8b5kE") }, "3C1wU0d4", ""},
		{"client secret in a group", func(l *slog.Logger) { l.Info("x", slog.Group("cfg", "ENTRA_CLIENT_SECRET", "hunter2hunter2")) }, "hunter2", `"region"`},
		{"bearer token inside an error", func(l *slog.Logger) { l.Error("x", "err", errors.New("upstream said: Bearer "+jwt+" was refused")) }, jwt, "was refused"},
		{"form secret inside an error", func(l *slog.Logger) {
			l.Error("x", "err", errors.New(`POST token: client_id=a&client_secret=s3cr3t-value&grant_type=client_credentials`))
		}, "s3cr3t-value", "grant_type=client_credentials"},
		{"blob in a message", func(l *slog.Logger) { l.Info("decoded " + portrait) }, portrait, "decoded"},
		{"raw body bytes", func(l *slog.Logger) { l.Info("x", "payload", []byte(`{"firstName":"Megan"}`)) }, "Megan", ""},
		{"with attrs", func(l *slog.Logger) { l.With("token", jwt).Info("x") }, jwt, ""},
		{"http header", func(l *slog.Logger) {
			l.Info("x", "h", http.Header{"Api-Key": {"3C1wU0d4aZlJ2bq9Vf8m8yHk9o1m0iYxZ6m1yB8b5kE"}})
		}, "3C1wU0d4", ""},
		{"string map of claims", func(l *slog.Logger) { l.Info("x", "c", map[string]string{"firstName": "Megan"}) }, "Megan", ""},
		{"form values", func(l *slog.Logger) { l.Info("x", "form", url.Values{"client_secret": {"s3cr3t"}}) }, "s3cr3t", ""},
		{"struct", func(l *slog.Logger) { l.Info("x", "rec", struct{ Name string }{"Megan"}) }, "Megan", ""},
		{"named string", func(l *slog.Logger) { l.Info("x", "to", status("verified")) }, "[REDACTED]", `"to":"verified"`},
		{"named string that formats itself", func(l *slog.Logger) { l.Info("x", "pin", masked("1234")) }, "1234", `"pin":"***"`},
		{"named string holding a token", func(l *slog.Logger) { l.Info("x", "to", status("Bearer "+jwt)) }, jwt, `"to":"Bearer [REDACTED]"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			l := logging.New(&buf, slog.LevelInfo)
			if tc.name == "client secret in a group" {
				l = l.With("region", "us")
			}
			tc.log(l)
			out := buf.String()
			assert.NotContains(t, out, tc.secret)
			assert.Contains(t, out, tc.keep)
		})
	}
}

func TestRequestIDOnEveryLine(t *testing.T) {
	var buf bytes.Buffer
	l := logging.New(&buf, slog.LevelInfo)
	ctx := logging.WithRequestID(context.Background(), "req-123")
	l.InfoContext(ctx, "one")
	l.With("k", "v").WarnContext(ctx, "two")
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	assert.Len(t, lines, 2)
	for _, line := range lines {
		assert.Contains(t, line, `"request_id":"req-123"`)
	}
}

// TestVettedGroup: a vetted group (the logged configuration) keeps setting names that look sensitive, still
// loses URLs' secrets, and reads as a plain group in a handler that does not redact.
func TestVettedGroup(t *testing.T) {
	group := logging.Vetted(slog.String("VERIFIER_CLAIMS_RETENTION", "5m"), slog.String("REDIS_URL", "redis://u:pw@redis:6379/0?x=1"))
	tests := []struct {
		name    string
		handler func(*bytes.Buffer) *slog.Logger
		want    []string
	}{
		{"redacting JSON", func(b *bytes.Buffer) *slog.Logger { return logging.New(b, slog.LevelInfo) },
			[]string{`"config":{"VERIFIER_CLAIMS_RETENTION":"5m","REDIS_URL":"redis://redis:6379/0?…"}`}},
		{"plain text", func(b *bytes.Buffer) *slog.Logger { return slog.New(slog.NewTextHandler(b, nil)) },
			[]string{"config.VERIFIER_CLAIMS_RETENTION=5m"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			tc.handler(&buf).Info("x", "config", group)
			for _, w := range tc.want {
				assert.Contains(t, buf.String(), w)
			}
		})
	}
	var buf bytes.Buffer
	logging.New(&buf, slog.LevelInfo).Info("x", "claims", group)
	assert.Contains(t, buf.String(), `"claims":"[REDACTED]"`, "a vetted value under a sensitive name is still hidden")
}
