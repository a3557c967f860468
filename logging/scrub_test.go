package logging

import (
	"context"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
)

// scrubAll is scrub without its prefilters: every pattern on every text of 20 bytes or more.
func scrubAll(s string) string {
	s = URLs(s)
	if len(s) < 20 {
		return s
	}
	s = jwtLike.ReplaceAllString(s, Redacted)
	s = secretParam.ReplaceAllString(s, "${1}"+Redacted)
	return blobLike.ReplaceAllString(s, Redacted)
}

var scrubCases = []string{
	"0f3c2a1e-8d2b-4c1a-9a51-5f2d9c3b7e10",
	"presentation request moved",
	strings.Repeat("a", blobRun-1) + " " + strings.Repeat("b", blobRun-1),
	strings.Repeat("a", blobRun),
	"x " + strings.Repeat("Zz09+/_-", blobRun/8) + "== y",
	"upstream said: Bearer eyJhbGciOi.eyJzdWIiOi.c2ln was refused",
	"token eyJ but not a jwt at all, just text",
	"POST token: client_id=a&client_secret=s3cr3t&API-KEY=k&grant_type=x",
	"a=b with no secret parameter in it at all",
	"redis://user:pw@host:6379/0?password=x then " + strings.Repeat("Q", 60),
}

// TestScrubPrefiltersChangeNothing: the prefilters only skip patterns that could not have matched.
func TestScrubPrefiltersChangeNothing(t *testing.T) {
	for _, s := range scrubCases {
		assert.Equal(t, scrubAll(s), scrub(s), s)
	}
	assert.False(t, hasBlobRun(strings.Repeat("a", blobRun-1)+"."+strings.Repeat("a", blobRun-1)))
	assert.True(t, hasBlobRun("."+strings.Repeat("-", blobRun)))
}

func FuzzScrubPrefilters(f *testing.F) {
	for _, s := range scrubCases {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := scrub(s), scrubAll(s); got != want {
			t.Fatalf("scrub(%q) = %q, the patterns alone give %q", s, got, want)
		}
	})
}

// BenchmarkScrub compares an ordinary line's attribute (a request id) with and without the prefilters.
func BenchmarkScrub(b *testing.B) {
	for _, bc := range []struct {
		name string
		fn   func(string) string
	}{{"prefiltered", scrub}, {"patterns-only", scrubAll}} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				_ = bc.fn("0f3c2a1e-8d2b-4c1a-9a51-5f2d9c3b7e10")
			}
		})
	}
}

// BenchmarkLine logs the line an accepted callback writes, through the redactor and through the bare JSON
// handler it wraps (the floor).
func BenchmarkLine(b *testing.B) {
	ctx := WithRequestID(context.Background(), "0f3c2a1e-8d2b-4c1a-9a51-5f2d9c3b7e10")
	for _, bc := range []struct {
		name string
		wrap func(slog.Handler) slog.Handler
	}{{"redacted", Redact}, {"bare", func(h slog.Handler) slog.Handler { return h }}} {
		b.Run(bc.name, func(b *testing.B) {
			log := slog.New(bc.wrap(slog.NewJSONHandler(io.Discard, nil)))
			b.ReportAllocs()
			for b.Loop() {
				log.InfoContext(ctx, "presentation request moved", "requestId", "e4ef27ca-eb8c-4b63-823b-3b95140eac11",
					"from", "request_retrieved", "to", "verified", "reason", "", "webhook_id", "")
			}
		})
	}
}

// TestSensitiveNamesPastTheCache: names beyond the remembered ones get the same answers.
func TestSensitiveNamesPastTheCache(t *testing.T) {
	for i := range maxNames + 10 {
		n := strconv.Itoa(i)
		assert.False(t, sensitive("field"+n))
		assert.True(t, sensitive("Client_Secret_"+n))
		assert.True(t, sensitive("X-API-Key-"+n))
	}
	assert.LessOrEqual(t, namesKept.Load(), int32(maxNames+1))
	assert.True(t, sensitive("idToken"))
	assert.False(t, sensitive("requestId"))
}
