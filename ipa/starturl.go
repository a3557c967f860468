package ipa

import (
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/entra-verifier/entra-verifier/logging"
)

// StartURL returns base (IPA_START_URL) with the query parameter session-id=sessionID added, keeping any
// query base already has. It is the link, or QR code, given to the person.
func StartURL(base, sessionID string) (string, error) {
	u, err := url.Parse(base)
	if err != nil || !u.IsAbs() || u.Host == "" {
		return "", fmt.Errorf("ipa: start URL %q is not an absolute URL", logging.URL(base))
	}
	if sessionID == "" {
		return "", errors.New("ipa: start URL: empty session id")
	}
	q, err := url.ParseQuery(u.RawQuery)
	if err != nil || !q.Has("session-id") {
		// Append, so the base's own query stays byte for byte.
		if u.RawQuery != "" && !strings.HasSuffix(u.RawQuery, "&") {
			u.RawQuery += "&"
		}
		u.RawQuery += "session-id=" + url.QueryEscape(sessionID)
		return u.String(), nil
	}
	q.Set("session-id", sessionID)
	u.RawQuery = q.Encode()
	return u.String(), nil
}

// canonicalUUID reports whether s is a UUID in its 8-4-4-4-12 hex form and returns it in lower case.
func canonicalUUID(s string) (string, bool) {
	if len(s) != 36 {
		return "", false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return "", false
			}
		default:
			if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
				return "", false
			}
		}
	}
	return strings.ToLower(s), true
}
