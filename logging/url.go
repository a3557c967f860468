package logging

import (
	"net/url"
	"regexp"
	"strings"
)

// QueryMark stands for the query a redacted URL had: its parameters are never shown.
const QueryMark = "?…"

// URL is raw as every log line and error message shows a URL: scheme://host/path, followed by QueryMark when
// it had a query. Userinfo (user and password), query and fragment never appear: a webhook, Redis or proof URL
// may carry a secret in any of them. Text that does not parse as a URL is cut the same way by hand.
func URL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Opaque != "" {
		return cutURL(raw)
	}
	hadQuery := u.RawQuery != "" || u.ForceQuery
	u.User, u.RawQuery, u.ForceQuery, u.Fragment, u.RawFragment = nil, "", false, "", ""
	out := u.String()
	if hadQuery {
		out += QueryMark
	}
	return out
}

// cutURL redacts text that url.Parse refuses: everything from the first "?" or "#" goes, and so does
// everything between "//" and the last "@" before the path.
func cutURL(raw string) string {
	rest, hadQuery := raw, false
	if i := strings.IndexAny(rest, "?#"); i >= 0 {
		hadQuery = rest[i] == '?'
		rest = rest[:i]
	}
	if scheme, after, ok := strings.Cut(rest, "//"); ok {
		authority, path := after, ""
		if i := strings.Index(after, "/"); i >= 0 {
			authority, path = after[:i], after[i:]
		}
		if i := strings.LastIndex(authority, "@"); i >= 0 {
			authority = authority[i+1:]
		}
		rest = scheme + "//" + authority + path
	} else if i := strings.LastIndex(rest, "@"); i >= 0 && !strings.Contains(rest[:i], "/") {
		rest = rest[i+1:] // user:pass@host without a scheme
	}
	if hadQuery {
		rest += QueryMark
	}
	return rest
}

// urlInText matches what looks like an absolute URL inside free text (error messages, go-redis's own log
// lines): a scheme, "://", and everything up to white space or a quote.
var urlInText = regexp.MustCompile(`[A-Za-z][A-Za-z0-9+.-]*://[^\s"'<>\\` + "`" + `]+`)

// URLs returns text with every URL in it redacted by URL; use it on messages that do not go through the
// logger (the logger applies it itself), such as errors printed before it is set up.
func URLs(text string) string {
	if !strings.Contains(text, "://") {
		return text
	}
	return urlInText.ReplaceAllStringFunc(text, URL)
}

// Printable reports whether s holds only printable ASCII: no control character, nothing to forge a log line
// with. Input checks use it on the identifiers clients send.
func Printable(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return false
		}
	}
	return true
}
