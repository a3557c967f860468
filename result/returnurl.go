package result

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
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
		if err != nil || !webURL(u) || u.RawQuery != "" || u.Fragment != "" {
			return nil, fmt.Errorf("VERIFIER_RETURN_URL_ALLOWLIST: %q is not an https URL prefix such as https://rp.example.com/onboarding/", raw)
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
// the entry's path; anything else (another host or scheme, javascript:, //host, a user part, a path
// elsewhere or climbing out with "..") wraps ErrReturnURL.
func (a Allowlist) Check(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil || !webURL(u) || strings.Contains(raw, "\\") {
		return nil, fmt.Errorf("%w: %q", ErrReturnURL, raw)
	}
	clean := u.EscapedPath()
	if clean == "" {
		clean = "/"
	}
	if strings.Contains(clean, "/../") || strings.HasSuffix(clean, "/..") || strings.Contains(strings.ToLower(clean), "%2e") {
		return nil, fmt.Errorf("%w: %q", ErrReturnURL, raw)
	}
	for _, e := range a {
		if u.Scheme != e.Scheme || !strings.EqualFold(u.Host, e.Host) {
			continue
		}
		prefix := e.EscapedPath()
		if clean == prefix || strings.HasPrefix(clean, strings.TrimSuffix(prefix, "/")+"/") {
			return u, nil
		}
	}
	return nil, fmt.Errorf("%w: %q", ErrReturnURL, raw)
}

// Origin is the audience of a token for u.
func Origin(u *url.URL) string { return u.Scheme + "://" + strings.ToLower(u.Host) }

// WithToken returns u with result=token added to its query.
func WithToken(u *url.URL, token string) string {
	c := *u
	q := c.Query()
	q.Set("result", token)
	c.RawQuery = q.Encode()
	return c.String()
}
