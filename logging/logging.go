// Package logging is the service's log/slog setup: JSON lines carrying the request id from the context,
// and a redaction layer that never lets personal data or secrets through — claims, portraits, tokens,
// api-keys, client secrets, cookies or request bodies — whatever attribute name or error text they hide in.
package logging

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
)

type ctxKey struct{}

// WithRequestID returns ctx carrying a request id for every line logged with it.
func WithRequestID(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, ctxKey{}, id)
}

// RequestID returns the request id ctx carries, or "".
func RequestID(ctx context.Context) string {
	id, _ := ctx.Value(ctxKey{}).(string)
	return id
}

// New returns the service's logger: JSON lines on w at level, redacted, with request ids.
func New(w io.Writer, level slog.Leveler) *slog.Logger {
	return slog.New(Redact(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: level})))
}

// Redact wraps h so that no record, attribute or group reaches it unredacted, and adds request_id.
func Redact(h slog.Handler) slog.Handler { return redactor{h} }

type redactor struct{ next slog.Handler }

func (r redactor) Enabled(ctx context.Context, l slog.Level) bool { return r.next.Enabled(ctx, l) }

func (r redactor) Handle(ctx context.Context, rec slog.Record) error {
	out := slog.NewRecord(rec.Time, rec.Level, scrub(rec.Message), rec.PC)
	var buf [8]slog.Attr // an ordinary line's attributes, redacted, added at once (one growth at most)
	attrs := buf[:0]
	rec.Attrs(func(a slog.Attr) bool {
		attrs = append(attrs, redact(a))
		return true
	})
	if id := RequestID(ctx); id != "" {
		attrs = append(attrs, slog.String("request_id", id))
	}
	out.AddAttrs(attrs...)
	return r.next.Handle(ctx, out)
}

func (r redactor) WithAttrs(attrs []slog.Attr) slog.Handler {
	clean := make([]slog.Attr, len(attrs))
	for i, a := range attrs {
		clean[i] = redact(a)
	}
	return redactor{r.next.WithAttrs(clean)}
}

func (r redactor) WithGroup(name string) slog.Handler { return redactor{r.next.WithGroup(name)} }

// Redacted is what replaces a value that must not be logged.
const Redacted = "[REDACTED]"

// sensitiveKeys are attribute-name fragments whose values are never logged.
var sensitiveKeys = []string{"claim", "portrait", "photo", "token", "api-key", "apikey", "api_key", "secret",
	"password", "authorization", "cookie", "body", "assertion", "credential"}

// sensitive reports whether an attribute named key must not show its value. Names come from code, a few
// dozen in all, so answers are remembered (up to maxNames names of at most maxNameLen bytes: past them, a
// name made from data, each is worked out again).
func sensitive(key string) bool {
	if v, ok := names.Load(key); ok {
		return v.(bool)
	}
	k := strings.ToLower(key)
	answer := slices.ContainsFunc(sensitiveKeys, func(s string) bool { return strings.Contains(k, s) })
	if len(key) <= maxNameLen && namesKept.Load() < maxNames && namesKept.Add(1) <= maxNames {
		names.Store(key, answer)
	}
	return answer
}

const (
	maxNames   = 1024
	maxNameLen = 64
)

var (
	names     sync.Map // attribute name → sensitive's answer
	namesKept atomic.Int32
)

// Vetted is a group whose producer has already hidden its secrets, by its own list rather than by name
// fragments: config.Config.LogValue, where config.Variables marks the secrets, so VERIFIER_CLAIMS_RETENTION
// or ENTRA_FACE_CHECK_PHOTO_CLAIM (settings, not claims or photos) are shown. Its attribute names are not
// matched against the sensitive fragments; its string values still lose URLs' userinfo and query.
// Any other handler sees a plain group.
func Vetted(attrs ...slog.Attr) slog.Value { return slog.AnyValue(vetted(attrs)) }

type vetted []slog.Attr

// LogValue is the plain group, for handlers that do not redact.
func (g vetted) LogValue() slog.Value { return slog.GroupValue(g...) }

// resolve is slog.Value.Resolve, stopping at a vetted group (returned as such, with true).
func resolve(v slog.Value) (slog.Value, vetted, bool) {
	for range 100 {
		if v.Kind() != slog.KindLogValuer {
			return v, nil, false
		}
		if g, ok := v.LogValuer().(vetted); ok {
			return v, g, true
		}
		v = logValue(v.LogValuer())
	}
	return v.Resolve(), nil, false
}

// logValue is lv.LogValue(), a panic turned into an error value as slog.Value.Resolve does.
func logValue(lv slog.LogValuer) (v slog.Value) {
	defer func() {
		if r := recover(); r != nil {
			v = slog.AnyValue(fmt.Errorf("LogValue panicked: %v", r))
		}
	}()
	return lv.LogValue()
}

func redact(a slog.Attr) slog.Attr {
	if sensitive(a.Key) {
		return slog.String(a.Key, Redacted)
	}
	v, group, ok := resolve(a.Value)
	if ok {
		clean := make([]any, len(group))
		for i, g := range group {
			clean[i] = slog.String(g.Key, URLs(g.Value.String()))
		}
		return slog.Group(a.Key, clean...)
	}
	switch v.Kind() {
	case slog.KindGroup:
		attrs := v.Group()
		clean := make([]any, len(attrs))
		for i, g := range attrs {
			clean[i] = redact(g)
		}
		return slog.Group(a.Key, clean...)
	case slog.KindString:
		return slog.String(a.Key, scrub(v.String()))
	case slog.KindAny:
		if err, ok := v.Any().(error); ok {
			return slog.String(a.Key, scrub(err.Error()))
		}
		switch rv := reflect.ValueOf(v.Any()); rv.Kind() {
		case reflect.Map, reflect.Slice, reflect.Array, reflect.Struct, reflect.Pointer, reflect.Interface:
			return slog.String(a.Key, Redacted) // headers, bodies, claims, records: never logged
		case reflect.String:
			switch v.Any().(type) {
			case fmt.Stringer, fmt.Formatter: // fmt shows what these choose
			default: // a named string, such as a status: its text, without fmt
				return slog.String(a.Key, scrub(rv.String()))
			}
		}
		return slog.String(a.Key, scrub(v.String()))
	}
	return slog.Attr{Key: a.Key, Value: v}
}

var (
	// jwtLike matches compact JWS/JWT (tokens, receipts, linkage credentials).
	jwtLike = regexp.MustCompile(`eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*`)
	// blobLike matches long base64 runs: portraits, keys, secrets.
	blobLike = regexp.MustCompile(`[A-Za-z0-9+/_-]{48,}={0,2}`) // keep in step with hasBlobRun
	// secretParam matches secrets passed as query or form values.
	secretParam = regexp.MustCompile(`(?i)((?:client_secret|client_assertion|api[-_]?key|access_token|password)=)[^&\s"]+`)
)

// scrub removes URLs' userinfo and queries (see URL) and token-, secret- and blob-looking runs from free
// text such as error messages. Each pattern runs only on text holding what it cannot match without (a JWT's
// "eyJ", a parameter's "=", a 48-character run), so the ids and statuses of ordinary lines cost a scan.
func scrub(s string) string {
	s = URLs(s)
	if len(s) < 20 {
		return s
	}
	if strings.Contains(s, "eyJ") {
		s = jwtLike.ReplaceAllString(s, Redacted)
	}
	if strings.IndexByte(s, '=') >= 0 {
		s = secretParam.ReplaceAllString(s, "${1}"+Redacted)
	}
	if hasBlobRun(s) {
		s = blobLike.ReplaceAllString(s, Redacted)
	}
	return s
}

// blobRun is the shortest run of blobLike's characters it matches.
const blobRun = 48

// hasBlobRun reports whether s holds blobRun consecutive characters of blobLike's class [A-Za-z0-9+/_-].
func hasBlobRun(s string) bool {
	run := 0
	for i := range len(s) {
		switch c := s[i]; {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '+', c == '/', c == '_', c == '-':
			if run++; run == blobRun {
				return true
			}
		default:
			run = 0
		}
	}
	return false
}
