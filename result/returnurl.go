package result

import (
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/entra-verifier/entra-verifier/logging"
)

// ErrReturnURL marks a return_to that is not on VERIFIER_RETURN_URL_ALLOWLIST.
var ErrReturnURL = errors.New("return URL not allowed")

// Allowlist holds the return URLs a relying party may send people back to: each entry is an exact origin
// plus a path prefix.
type Allowlist []*url.URL

// ParseAllowlist reads VERIFIER_RETURN_URL_ALLOWLIST: a comma list of absolute https URLs (http only for
// localhost and 127.0.0.1), without user, query or fragment.
func ParseAllowlist(list string) (Allowlist, error) {
	var out Allowlist
	for _, raw := range strings.Split(list, ",") {
		if raw = strings.TrimSpace(raw); raw == "" {
			continue
		}
		u, err := url.Parse(raw)
		if err != nil || !webURL(u) || !ascii(u.Host) || u.RawQuery != "" || u.Fragment != "" {
			return nil, fmt.Errorf("VERIFIER_RETURN_URL_ALLOWLIST: %q is not an https URL prefix such as https://rp.example.com/onboarding/", logging.URL(raw))
		}
		if u.Path == "" {
			u.Path = "/"
		}
		out = append(out, u)
	}
	return out, nil
}

func webURL(u *url.URL) bool {
	loopback := u.Hostname() == "localhost" || u.Hostname() == "127.0.0.1"
	return (u.Scheme == "https" || u.Scheme == "http" && loopback) && u.Host != "" && u.User == nil && u.Opaque == ""
}

// Check returns raw parsed when it is an absolute URL with the exact origin of an entry and a path under
// the entry's path; anything else (another host or scheme, javascript:, //host, a user part, a non-ASCII
// host, a path elsewhere, or one that could climb out on some server: dot segments, ";", encoded "/", "\\",
// "." or NUL; or a URL already carrying a result parameter, see carriesResult) wraps ErrReturnURL.
func (a Allowlist) Check(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil || !webURL(u) || strings.Contains(raw, "\\") || !ascii(u.Host) || unsafePath(u.EscapedPath()) || carriesResult(u) {
		return nil, fmt.Errorf("%w: %q", ErrReturnURL, logging.URL(raw))
	}
	clean := u.EscapedPath()
	if clean == "" {
		clean = "/"
	}
	for _, e := range a {
		if u.Scheme != e.Scheme || !strings.EqualFold(u.Host, e.Host) { // both ASCII: no Unicode folding
			continue
		}
		prefix := e.EscapedPath()
		if clean == prefix || strings.HasPrefix(clean, strings.TrimSuffix(prefix, "/")+"/") {
			return u, nil
		}
	}
	return nil, fmt.Errorf("%w: %q", ErrReturnURL, logging.URL(raw))
}

// resultParam is the query parameter WithToken adds.
const resultParam = "result"

// carriesResult reports whether u already has a parameter that some server could read as the result token
// WithToken appends: a relying party reading the first result would read the attacker's. Query pairs are
// split on "&" and ";" (older servers split on both); a name counts as "result" once percent- and
// "+"-decoded, trimmed of spaces, cut at "[" (PHP's result[]) and compared without case (ASP.NET's query is
// case-insensitive). Fragment pairs with a value count too, for relying parties reading location.hash; a
// bare "#result" anchor does not.
func carriesResult(u *url.URL) bool {
	return hasResultParam(u.RawQuery, false) || hasResultParam(u.EscapedFragment(), true)
}

func hasResultParam(raw string, needValue bool) bool {
	for _, pair := range strings.FieldsFunc(raw, func(r rune) bool { return r == '&' || r == ';' }) {
		name, _, hasValue := strings.Cut(pair, "=")
		if needValue && !hasValue {
			continue
		}
		if n, err := url.QueryUnescape(name); err == nil {
			name = n
		}
		name, _, _ = strings.Cut(strings.TrimSpace(name), "[")
		if strings.EqualFold(strings.TrimSpace(name), resultParam) {
			return true
		}
	}
	return false
}

// unsafePath reports a path some server could resolve outside its prefix.
func unsafePath(escaped string) bool {
	lower := strings.ToLower(escaped)
	for _, bad := range []string{";", "%2f", "%5c", "%00", "%2e"} {
		if strings.Contains(lower, bad) {
			return true
		}
	}
	for _, seg := range strings.Split(escaped, "/") {
		if seg == "." || seg == ".." {
			return true
		}
	}
	return false
}

func ascii(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

// Origin is the audience of a token for u.
func Origin(u *url.URL) string { return u.Scheme + "://" + strings.ToLower(u.Host) }

// WithToken returns u with result=token appended to its query, leaving the relying party's own query as it
// wrote it.
func WithToken(u *url.URL, token string) string {
	c := *u
	if c.RawQuery != "" {
		c.RawQuery += "&"
	}
	c.RawQuery += resultParam + "=" + url.QueryEscape(token)
	return c.String()
}
